"""Fixture chain: data -> config -> settings -> registry -> trained (promoted) version; and the stores and
revisions the schema-upgrade tests start from (tests/fixtures/)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from driftline.core import Migrations, Registry, Settings, Store, load_settings
from retrain import TrainingOutcome, train
from tests.factories import make_loans, write_config
from tests.processes import MotoS3, moto_server, postgres_server


@pytest.fixture
def loans() -> pd.DataFrame:
    return make_loans()


@pytest.fixture
def loans_csv(tmp_path: Path, loans: pd.DataFrame) -> Path:
    path = tmp_path / "loans.csv"
    loans.to_csv(path, index=False)
    return path


@pytest.fixture
def config_file(tmp_path: Path, loans_csv: Path) -> Path:
    return write_config(tmp_path, loans_csv)


@pytest.fixture
def settings(config_file: Path) -> Settings:
    return load_settings(config_file)


@pytest.fixture
def registry(settings: Settings) -> Iterator[Registry]:
    store = Store(settings.store.url)
    yield Registry.configured(store, settings.store)
    store.dispose()


@pytest.fixture
def trained(settings: Settings, registry: Registry) -> TrainingOutcome:
    return train(settings, registry, trigger="test")


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def unversioned_store(tmp_path: Path) -> Path:
    """A copy of the store made before migrations (`driftline.sqlite`, `bentoml/`; see its make_ script)."""
    folder = tmp_path / "unversioned-store"
    shutil.copytree(FIXTURES / "unversioned-store", folder)
    return folder


@pytest.fixture(scope="session")
def next_release() -> Migrations:
    """The package's revisions plus a throwaway one after them (t0002): what a newer release would bring."""
    return Migrations([FIXTURES / "next_revision"])


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    admin.dispose()


# the PostgreSQL half starts a real server, so it carries the `integration` mark and `make test-fast` needs none
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every store test runs on a SQLite file and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3]:
    """moto's S3 server, shared by the session (tests that stop it start their own with `moto_server()`)."""
    with moto_server() as server:
        yield server

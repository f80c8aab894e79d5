"""The shadow in a worker: it predicts beside the champion, its outputs are logged under the champion's request ids,
clients get only the champion's answers, and a shadow that fails is dropped and rejected without touching them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from driftline.core import Registry, Settings
from driftline.core.store import shadow_predictions
from retrain import TrainingOutcome, train
from service.runtime import ServingRuntime
from tests.factories import feature_row, make_loans
from tests.processes import Served, wait_for
from tests.service.conftest import register_failing_version, serving, start_candidate_shadow


@pytest.fixture
def runtime(trained: TrainingOutcome, settings: Settings) -> Iterator[ServingRuntime]:
    serving = ServingRuntime(settings, watch=False)
    yield serving
    serving.close()


def shadow_outputs(registry: Registry) -> dict[str, dict[str, object]]:
    """The shadow's logged outputs by request id."""
    with registry.store.engine.connect() as conn:
        rows = conn.execute(sa.select(shadow_predictions.c.request_id, shadow_predictions.c.output)).all()
    return {request_id: output for request_id, output in rows}


def test_the_shadow_is_logged_under_the_champions_request_ids(
    runtime: ServingRuntime, settings: Settings, registry: Registry, loans: pd.DataFrame
) -> None:
    """Every row the champion answers gets the shadow's output logged with the same request id."""
    start_candidate_shadow(registry, train(settings, registry, trigger="test").version.version)
    runtime.shadow.follow()
    answer = asyncio.run(runtime.predict([feature_row(loans, i) for i in range(4)]))
    ids = {p["request_id"] for p in answer["predictions"]}
    logged = wait_for("the shadow's outputs", lambda: shadow_outputs(registry) or None, 5)
    assert ids == set(logged)


def test_clients_get_the_champions_answers_during_a_shadow(
    runtime: ServingRuntime, settings: Settings, registry: Registry, loans: pd.DataFrame
) -> None:
    """With a shadow running, the answers are the production version's, with its version number."""
    rows = [feature_row(loans, i) for i in range(4)]
    alone = asyncio.run(runtime.predict(rows))
    start_candidate_shadow(registry, train(settings, registry, trigger="test").version.version)
    runtime.shadow.follow()
    beside = asyncio.run(runtime.predict(rows))
    strip = lambda answer: [{k: v for k, v in p.items() if k != "request_id"} for p in answer["predictions"]]  # noqa: E731
    assert (1, strip(alone)) == (beside["model_version"], strip(beside))


def test_a_shadow_that_raises_leaves_the_answers_alone(
    runtime: ServingRuntime, registry: Registry, loans: pd.DataFrame
) -> None:
    """A shadow raising at predict changes nothing in the answer: same outputs as without it."""
    rows = [feature_row(loans, i) for i in range(3)]
    alone = asyncio.run(runtime.predict(rows))
    start_candidate_shadow(registry, register_failing_version(registry))
    runtime.shadow.follow()
    beside = asyncio.run(runtime.predict(rows))
    assert [p["probability"] for p in alone["predictions"]] == [p["probability"] for p in beside["predictions"]]


def test_a_shadow_that_raises_is_rejected(runtime: ServingRuntime, registry: Registry, loans: pd.DataFrame) -> None:
    """The worker's next look at the store records the failed shadow as rejected, naming the stage and error type."""
    shadow_id = start_candidate_shadow(registry, register_failing_version(registry))
    runtime.shadow.follow()
    asyncio.run(runtime.predict([feature_row(loans, 0)]))
    wait_for("the shadow to fail", lambda: runtime.shadow.current is None, 5)
    runtime.shadow.follow()
    ended = registry.store.shadow_history()[0]
    assert (shadow_id, "rejected", "the shadow failed at predict in a service worker: TypeError") == (
        ended["id"],
        ended["status"],
        ended["reason"],
    )


def test_a_shadow_whose_files_are_tampered_with_is_rejected_at_load(
    runtime: ServingRuntime, settings: Settings, registry: Registry
) -> None:
    """A shadow failing its hash check is never loaded, and is rejected."""
    version = train(settings, registry, trigger="test").version
    path = registry.model_dir / version.artifact_dir / "pipeline.joblib"
    path.write_bytes(path.read_bytes() + b"tampered")
    start_candidate_shadow(registry, version.version)
    runtime.shadow.follow()
    assert (None, "rejected") == (runtime.shadow.current, registry.store.shadow_history()[0]["status"])


def test_the_model_description_names_the_shadow_and_its_progress(
    runtime: ServingRuntime, settings: Settings, registry: Registry
) -> None:
    """GET /model shows the running shadow, the champion it predicts beside and its labelled requests so far."""
    version = train(settings, registry, trigger="test").version.version
    start_candidate_shadow(registry, version, needed_rows=50)
    shadow = runtime.model_info()["shadow"]
    assert (version, 1, "candidate", 0, 50) == (
        shadow["version"],
        shadow["champion_version"],
        shadow["purpose"],
        shadow["labelled_rows"],
        shadow["needed_rows"],
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("shadowed"), serving__poll_seconds=0.5) as running:
        yield running


@pytest.mark.integration
def test_a_real_service_answers_every_request_while_its_shadow_raises(served: Served, tmp_path: Path) -> None:
    """Two workers, a shadow that raises at every prediction: every request is a 200 with the champion's answer,
    and the shadow ends rejected."""
    registry = served.registry
    loans = make_loans(60, seed=5)
    rows = [feature_row(loans, i) for i in range(len(loans))]
    expected = [o["probability"] for o in registry.load(1).predict_rows(rows)]
    start_candidate_shadow(registry, register_failing_version(registry))
    time.sleep(1.5)  # both workers load the shadow at their next poll
    answers = [httpx.post(f"{served.url}/predict", json=row, timeout=30) for row in rows]
    wait_for("the shadow's rejection", lambda: registry.store.active_shadow() is None, 20)
    assert ([200] * len(rows), expected, "rejected") == (
        [a.status_code for a in answers],
        [a.json()["predictions"][0]["probability"] for a in answers],
        registry.store.shadow_history()[0]["status"],
    )

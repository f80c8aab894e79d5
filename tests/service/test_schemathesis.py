"""Schemathesis against a real `driftline serve`, driven by the service's own OpenAPI document (/docs.json).

Every operation gets generated valid and invalid requests; every check schemathesis has must pass (no 5xx,
documented status codes, content types and bodies, invalid data refused, valid data accepted, auth enforced),
with one exception, named where it is made.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.processes import Served
from tests.service.conftest import serving

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "schemathesis-admin-token-0123456789"
EXAMPLES = 25  # per operation and mode: about a minute and a half in all on two busy cores


@pytest.fixture(scope="module")
def served_with_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("schemathesis"), serving__admin_token=ADMIN_TOKEN) as served:
        yield served


@pytest.fixture(scope="module")
def api_schema(served_with_admin: Served) -> Any:
    return schemathesis.openapi.from_url(f"{served_with_admin.url}/docs.json", timeout=30)


def exercise(
    operation: Any, mode: GenerationMode, url: str, headers: dict[str, str] | None, excluded: list[Any]
) -> None:
    """Run schemathesis' checks on EXAMPLES generated requests to one operation."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case: Any) -> None:
        case.call_and_validate(base_url=url, headers=headers, excluded_checks=excluded, timeout=30)

    check()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_service_conforms_to_its_openapi_document(
    api_schema: Any, served_with_admin: Served, mode: GenerationMode
) -> None:
    """Generated requests to every operation never get a 5xx, and every answer is one the document describes."""
    # schemathesis' own pytest loader for fixtures (`from_fixture`) does not run on pytest 9, so each operation's
    # strategy is driven by hypothesis here; the checks are schemathesis' own
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert 19 == len(operations)
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and not operation.body:
            continue  # nothing to get wrong in a GET without parameters
        excluded: list[Any] = []
        if operation.path == "/predict_batch":
            # The upload is a binary field: no schema can say "a CSV, Parquet or JSON table with these columns",
            # so a schema-valid upload (an arbitrary PNG, say) is rightly refused with a 400 naming the problem.
            excluded.append(positive_data_acceptance)
        if operation.path.endswith("/infer") or "{version}" in operation.path:
            # An inference request needs exactly one input per feature, all of one length, each shape matching its
            # data: constraints across items no JSON Schema can state. And the version a path may name is the
            # production version at the time of the request, which the document cannot pin. Schema-valid requests
            # without those are rightly refused with a 400 or 404 naming the problem.
            excluded.append(positive_data_acceptance)
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"} if operation.path.startswith("/admin/") else None

        try:
            exercise(operation, mode, served_with_admin.url, headers, excluded)
        except Exception as exc:  # collected so one run reports every failing operation
            failures[operation.label] = str(exc)[:3000]
    assert {} == failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())


def test_the_document_describes_what_the_service_really_does(served_with_admin: Served, tmp_path: Path) -> None:
    """The completed document lists /model, the admin API and /v2, our error body and the guard's 413 and 415."""
    document = httpx.get(f"{served_with_admin.url}/docs.json", timeout=30).json()
    assert {
        "/predict",
        "/predict_batch",
        "/feedback",
        "/model",
        "/admin/promote",
        "/admin/rollback",
        "/v2/models/{name}/infer",
    } <= set(document["paths"])
    predict = document["paths"]["/predict"]["post"]
    assert {"400", "413", "415", "503"} <= set(predict["responses"])
    assert "anyOf" in predict["requestBody"]["content"]["application/json"]["schema"]
    assert "string" == document["components"]["schemas"]["predict_batch__Input"]["properties"]["file"]["type"]
    assert {"enum": [0, 1, "0", "1"]}.items() <= document["components"]["schemas"]["FeedbackItem"]["properties"][
        "label"
    ].items()
    assert [{"adminBearer": []}] == document["paths"]["/admin/promote"]["post"]["security"]

"""The admin HTTP API on a real `driftline serve`: off without a token, 401 without the right one, and with it a
promotion or rollback exactly as the CLI makes them, which every worker then serves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.testclient import TestClient

from driftline.core import ConfigError, Registry, load_settings
from retrain import TrainingOutcome, train
from service.admin import MAX_ADMIN_BODY_BYTES, AdminAPI
from service.openapi import complete_document
from tests.factories import feature_row, make_loans
from tests.processes import Served, wait_for
from tests.service.conftest import serving

TOKEN = "admin-token-for-tests-0123456789abcdef"


@pytest.fixture(scope="module")
def without_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("admin-off")) as served:
        yield served


@pytest.fixture(scope="module")
def with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("admin-on"), serving__admin_token=TOKEN) as served:
        yield served


def production_state(served: Served) -> tuple[int | None, int]:
    """The production pointer and the length of the promotion history."""
    store = served.registry.store
    return store.production_version(), len(store.promotion_history())


def admin(served: Served, action: str, body: dict[str, Any] | None = None, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(f"{served.url}/admin/{action}", json=body, headers=headers, timeout=60)


def served_version(served: Served, wanted: int, seconds: float = 10) -> int:
    """The model_version predictions come back with, once it is `wanted`."""
    row = feature_row(make_loans(3, seed=1), 0)

    def version() -> int | None:
        answered = int(httpx.post(f"{served.url}/predict", json=row, timeout=30).json()["model_version"])
        return answered if answered == wanted else None

    return int(wait_for(f"predictions by version {wanted}", version, seconds, every=0.3))


@pytest.mark.integration
def test_without_a_configured_token_the_admin_api_is_off(without_token: Served) -> None:
    """Both endpoints answer 403, whatever token a request carries, and production does not move."""
    second = train(without_token.settings, without_token.registry, trigger="test").version.version
    before = production_state(without_token)
    for action, body in (("promote", {"version": second}), ("rollback", None)):
        for token in (None, "anything-at-all-0123456789"):
            response = admin(without_token, action, body, token)
            assert 403 == response.status_code
            assert "admin API is off" in response.json()["error"]
    assert before == production_state(without_token)


@pytest.mark.integration
def test_a_missing_or_wrong_token_is_a_401_and_changes_nothing(with_token: Served) -> None:
    """No header, a wrong token, or another scheme: 401 with WWW-Authenticate: Bearer; production unchanged."""
    before = production_state(with_token)
    wrong = [
        {},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ]
    for headers in wrong:
        for action in ("promote", "rollback"):
            response = httpx.post(f"{with_token.url}/admin/{action}", json={"version": 1}, headers=headers, timeout=30)
            assert 401 == response.status_code, headers
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in response.text
    assert before == production_state(with_token)


@pytest.mark.integration
def test_the_right_token_promotes_and_rolls_back_like_the_cli(with_token: Served) -> None:
    """Promotion is recorded as manual from http and reaches the workers; rollback returns to the version before."""
    first = with_token.registry.production().version
    second = train(with_token.settings, with_token.registry, trigger="test").version.version
    history = len(with_token.registry.store.promotion_history())

    response = admin(with_token, "promote", {"version": second, "reason": "canary looked good"}, TOKEN)
    assert 200 == response.status_code, response.text
    assert {"model_version": second, "previous_version": first, "promotion_kind": "manual"}.items() <= (
        response.json().items()
    )
    promoted = with_token.registry.store.promotion_history()[-1]
    assert (second, "manual", "canary looked good", "http") == (
        promoted["version"],
        promoted["kind"],
        promoted["reason"],
        promoted["evidence"]["who"],
    )
    assert second == served_version(with_token, second)

    response = admin(with_token, "rollback", None, TOKEN)
    assert 200 == response.status_code, response.text
    rolled = with_token.registry.store.promotion_history()[-1]
    assert (first, "rollback", "http", second) == (
        rolled["version"],
        rolled["kind"],
        rolled["evidence"]["who"],
        rolled["evidence"]["from_version"],
    )
    assert history + 2 == len(with_token.registry.store.promotion_history())
    assert first == served_version(with_token, first)


@pytest.mark.integration
def test_refused_changes_say_why_and_leave_production_alone(with_token: Served) -> None:
    """Unknown version 404, the production version itself 409, a bad body 400; nothing moves."""
    before = production_state(with_token)
    current = before[0]
    unknown = admin(with_token, "promote", {"version": 9999}, TOKEN)
    assert 404 == unknown.status_code and "9999 is not registered" in unknown.json()["error"]
    same = admin(with_token, "promote", {"version": current}, TOKEN)
    assert 409 == same.status_code and "already in production" in same.json()["error"]
    for body in ({"version": "2"}, {"version": True}, {"version": 2**40}, {"version": 2, "who": "me"}, {}):
        response = admin(with_token, "promote", body, TOKEN)
        assert 400 == response.status_code, body
        assert "field" in response.json()
    assert before == production_state(with_token)


def test_the_token_comes_from_the_environment_and_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DRIFTLINE_SERVING__ADMIN_TOKEN sets it; repr and errors hide it; a short one is refused without echoing it."""
    config = tmp_path / "c.yaml"
    config.write_text("serving:\n  workers: 1\n", encoding="utf-8")
    monkeypatch.setenv("DRIFTLINE_SERVING__ADMIN_TOKEN", TOKEN)
    settings = load_settings(config)
    assert settings.serving.admin_token is not None and TOKEN == settings.serving.admin_token.get_secret_value()
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())
    monkeypatch.setenv("DRIFTLINE_SERVING__ADMIN_TOKEN", "short-secret")
    with pytest.raises(ConfigError, match="at least 16 characters") as refused:
        load_settings(config)
    assert "short-secret" not in str(refused.value)


@pytest.fixture
def admin_app(registry: Registry, trained: TrainingOutcome) -> Iterator[TestClient]:
    """The admin API alone, in front of a registry with version 1 in production."""
    api = AdminAPI(SecretStr(TOKEN), lambda: registry)
    with TestClient(Starlette(routes=api.routes()), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


VERSION = "expected a registered model version number (an integer from 1)"
REASON = "expected text of 1 to 500 characters saying why (recorded in the promotion history)"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"version": "2"}', f"field 'version': input should be a valid integer; {VERSION}"),
        ('{"version": true}', f"field 'version': input should be a valid integer; {VERSION}"),
        ('{"version": 2.5}', f"field 'version': input should be a valid integer; {VERSION}"),
        ('{"version": 1099511627776}', f"field 'version': input should be less than or equal to 2147483647; {VERSION}"),
        ('{"version": 0}', f"field 'version': input should be greater than or equal to 1; {VERSION}"),
        ("{}", f"field 'version': field required; {VERSION}"),
        (
            '{"version": 2, "x": 1}',
            "field 'x': unknown field; the fields are version (required), reason (optional), watch_rows (optional)",
        ),
        ('{"version": 2, "reason": ""}', f"field 'reason': string should have at least 1 character; {REASON}"),
        ('{"version": 2, "reason": 7}', f"field 'reason': input should be a valid string; {REASON}"),
        ("[2]", "field 'body': expected a JSON object"),
        ('{"version": 2', "field 'body': malformed JSON: EOF while parsing an object at line 1 column 13"),
        ("", "field 'body': empty; send a JSON object"),
    ],
)
def test_a_bad_promote_body_is_a_400_naming_the_field(admin_app: TestClient, body: str, message: str) -> None:
    """Each way a promote body can be wrong is a 400 whose message names the field and what it should be."""
    response = admin_app.post("/admin/promote", content=body, headers={"content-type": "application/json"})
    assert (400, message) == (response.status_code, response.json()["error"])


def test_a_bad_rollback_body_names_the_only_field_it_takes(admin_app: TestClient) -> None:
    """A rollback body with another field is refused naming that field and the one it takes."""
    answer = admin_app.post("/admin/rollback", json={"version": 1}).json()
    assert "field 'version': unknown field; the fields are reason (optional)" == answer["error"]


def test_a_body_over_the_limit_is_a_413(admin_app: TestClient) -> None:
    """An admin body over MAX_ADMIN_BODY_BYTES is refused with a 413 before it is parsed."""
    body = b'{"reason": "' + b"x" * MAX_ADMIN_BODY_BYTES + b'"}'
    assert 413 == admin_app.post("/admin/rollback", content=body).status_code


def test_a_promotion_answers_the_change_it_recorded(admin_app: TestClient, registry: Registry, settings: Any) -> None:
    """The answer of a promotion names the new and the previous version, and how and why it is recorded."""
    second = train(settings, registry, trigger="test").version.version
    answer = admin_app.post("/admin/promote", json={"version": second, "reason": "canary looked good"}).json()
    expected = {"model_version": second, "previous_version": 1, "promotion_kind": "manual"}
    assert {**expected, "promotion_reason": "canary looked good"} == answer


def test_a_promotion_with_watch_rows_watches_the_new_version(
    admin_app: TestClient, registry: Registry, settings: Any
) -> None:
    """`watch_rows` runs the replaced version as the shadow of the promoted one for that many labelled requests."""
    second = train(settings, registry, trigger="test").version.version
    admin_app.post("/admin/promote", json={"version": second, "watch_rows": 200})
    shadow = registry.store.active_shadow()
    assert shadow is not None
    assert (1, second, "watch", 200) == (
        shadow["version"],
        shadow["champion_version"],
        shadow["purpose"],
        shadow["needed_rows"],
    )


def test_the_documented_admin_bodies_are_the_models_schemas() -> None:
    """The OpenAPI document's admin request schemas are generated from the models that validate the bodies."""
    document: dict[str, Any] = {"paths": {}}
    complete_document(document, json_paths=(), upload_paths=())
    promote = document["paths"]["/admin/promote"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = document["components"]["schemas"][promote["$ref"].rsplit("/", 1)[1]]
    assert (["version"], False, 500) == (
        schema["required"],
        schema["additionalProperties"],
        schema["properties"]["reason"]["maxLength"],
    )

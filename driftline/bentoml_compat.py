"""Every hook into BentoML's private internals, in one module, so a BentoML upgrade that moves one fails here.

BentoML 1.4 has no public way to do what these do: replace its traffic timeout middleware (see
`service/deadline.py` for the defect), build a root input or output spec whose JSON schema is computed once,
write a model into a model store other than the process-wide one, and name the logger its server logs request
errors on. Each hook has a test in `tests/test_bentoml_compat.py` that fails naming the internal that changed.
Only the service and the retrain code use this module; core and monitoring stay free of BentoML.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from bentoml import Model
    from bentoml._internal.models import ModelStore
    from starlette.types import ASGIApp

# the logger of bentoml._internal.server.http_app.log_exception, which BentoML's server calls on every request error
ERROR_LOGGER = "bentoml._internal.server.http_app"
# the module `bentoml serve` runs each worker process as (`python -m …`)
WORKER_MODULE = "_bentoml_impl.worker.service"


def replace_traffic_timeout(middleware: Callable[..., ASGIApp]) -> None:
    """Make BentoML build the middleware behind `traffic.timeout` as `middleware(app, seconds=timeout)`.

    BentoML imports `traffic.TimeoutMiddleware` when it builds the app and calls it as `(app, timeout=…)`.
    """
    from bentoml._internal.server.http import traffic

    def build(app: ASGIApp, timeout: float) -> ASGIApp:
        return middleware(app, seconds=timeout)

    traffic.TimeoutMiddleware = build  # type: ignore[misc,assignment]


def json_root_spec(annotation: Any, title: str, *, is_input: bool) -> type[Any]:
    """A BentoML root spec (the body is the value itself) whose JSON schema is computed once.

    BentoML 1.4 rebuilds the JSON schema of a root input or output on every request, only to learn whether the
    body is a string or a file; for small requests that is a large share of their cost. The schema cannot change
    after start, so it is built here once, and outputs declare their media type outright. `IORootModel` is
    BentoML's own base for root inputs and outputs; `__root_input__` and the schema's `root_input` key are how
    its server and clients tell a root input from a model of named fields.
    """
    from _bentoml_sdk.io_models import IORootModel

    base: Any = IORootModel[annotation]
    schema = base.model_json_schema()
    if is_input:
        schema["root_input"] = True

    def model_json_schema(cls: type, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return dict(schema) if not args and not kwargs else base.model_json_schema(*args, **kwargs)

    namespace: dict[str, Any] = {"model_json_schema": classmethod(model_json_schema)}
    if is_input:
        namespace["__root_input__"] = True
    else:
        namespace["media_type"] = "application/json"
    spec: type[Any] = type(title, (base,), namespace)
    return spec


def model_store(folder: Path) -> ModelStore:
    """A BentoML model store kept in `folder`, beside (not instead of) the one BENTOML_HOME names."""
    from bentoml._internal.models import ModelStore

    folder.mkdir(parents=True, exist_ok=True)
    return ModelStore(str(folder))


def create_model(store: ModelStore, name: str, **options: Any) -> AbstractContextManager[Model]:
    """`bentoml.models.create` into `store`: the files written inside the block become one model there on exit."""
    import bentoml

    return bentoml.models.create(name, _model_store=store, **options)

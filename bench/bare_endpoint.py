"""The two peers bench/serving.py measures Driftline against, on the same machine in the same run.

`floor` is the HTTP floor of a Python server: Starlette under uvicorn (uvloop, httptools) answering a constant,
so no server doing real work can be faster. `PlainBentoML` is what BentoML offers without Driftline: one
`batchable=True` API (BentoML's adaptive batching) calling the same fitted pipeline, whose path it reads from
BENCH_PIPELINE.
"""

from __future__ import annotations

import os
from typing import Any

import bentoml
import joblib
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CONSTANT = b'{"model_version":1,"predictions":[{"request_id":"x","prediction":0,"probability":0.5}]}'


async def _constant(request: Request) -> Response:
    await request.body()  # read like a real endpoint would, then ignore
    return Response(CONSTANT, media_type="application/json")


floor = Starlette(routes=[Route("/predict", _constant, methods=["POST"]), Route("/", _constant, methods=["GET"])])


@bentoml.service(name="plain-bentoml", workers=2, logging={"access": {"enabled": False}})
class PlainBentoML:
    """The pipeline behind one adaptive-batching API, as BentoML's documentation builds one."""

    def __init__(self) -> None:
        self.pipeline = joblib.load(os.environ["BENCH_PIPELINE"])

    @bentoml.api(route="/predict", batchable=True, max_batch_size=256, max_latency_ms=1000)
    def predict(self, rows: list[dict[str, Any]]) -> list[float]:
        """The positive class's probability of each row."""
        return [float(p) for p in self.pipeline.predict_proba(pd.DataFrame(rows))[:, 1]]

"""The baseline: a bare Starlette endpoint that builds a DataFrame and calls the pipeline once per request.

Run by bench/serving.py with uvicorn; reads the pipeline path from BENCH_PIPELINE.
"""

from __future__ import annotations

import os

import joblib
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PIPELINE = joblib.load(os.environ["BENCH_PIPELINE"])


async def predict(request: Request) -> JSONResponse:
    body = await request.json()
    rows = body if isinstance(body, list) else [body]
    probabilities = PIPELINE.predict_proba(pd.DataFrame(rows))
    return JSONResponse({"probabilities": probabilities[:, 1].tolist()})


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from pydantic import TypeAdapter

from driftline.core import Settings
from retrain import TrainingOutcome
from service.direct import DirectPredict
from service.request_models import row_model
from service.runtime import ServingRuntime
from tests.factories import feature_row


@pytest.fixture
def runtime(trained: TrainingOutcome, settings: Settings) -> Iterator[ServingRuntime]:
    serving = ServingRuntime(settings, watch=False)
    yield serving
    serving.close()


def direct(runtime: ServingRuntime, answered: list[bool]) -> DirectPredict:
    rows: TypeAdapter[list[Any]] = TypeAdapter(list[row_model(runtime.schema)])  # type: ignore[misc]
    return DirectPredict(rows, lambda: runtime, lambda: answered.append(True))


def test_a_valid_body_is_answered_with_the_runtimes_predictions(runtime: ServingRuntime, loans: pd.DataFrame) -> None:
    """A body the request model accepts gets a 200 JSON answer with one prediction per row, and is reported."""
    answered: list[bool] = []
    response = asyncio.run(direct(runtime, answered)("/predict", json.dumps([feature_row(loans, 0)]).encode()))
    assert response is not None
    body = json.loads(response.body)
    assert (200, "application/json", 1, 1, [True]) == (
        response.status_code,
        response.media_type,
        body["model_version"],
        len(body["predictions"]),
        answered,
    )


def test_a_body_the_request_model_refuses_is_handed_on(runtime: ServingRuntime, loans: pd.DataFrame) -> None:
    """An unknown field is not answered here: BentoML's route refuses it with its own error."""
    row = {**feature_row(loans, 0), "surprise": 1}
    assert asyncio.run(direct(runtime, [])("/predict", json.dumps([row]).encode())) is None

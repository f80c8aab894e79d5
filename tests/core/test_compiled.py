from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from driftline.core import FeatureSchema, Registry
from driftline.core.compiled import CompiledPreprocessing
from retrain import TrainingOutcome
from retrain.pipeline import build_pipeline
from tests.factories import make_loans


def random_rows(count: int, seed: int) -> list[dict[str, Any]]:
    """Rows with missing numbers, missing, unseen and rare categories."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        rows.append(
            {
                "income": None if rng.random() < 0.1 else float(rng.normal(50, 30)),
                "age": float(rng.integers(10, 90)),
                "debt_ratio": None if rng.random() < 0.2 else float(rng.uniform(-1, 2)),
                "purpose": rng.choice(["car", "home", "education", "other", "boat", "rare"])
                if rng.random() > 0.1
                else None,
                "region": str(rng.choice(["north", "south", "east", "west", "moon"])),
            }
        )
    return rows


@pytest.mark.parametrize(
    "estimator", ["sklearn.linear_model.LogisticRegression", "sklearn.ensemble.HistGradientBoostingClassifier"]
)
def test_the_fast_path_gives_exactly_the_pipeline_predictions(estimator: str) -> None:
    """On 2,000 random rows the numpy preprocessing plus the estimator equals the full pipeline, to 1e-9."""
    train = make_loans(1500)
    train.loc[:4, "purpose"] = "rare"  # below min_frequency: goes to the infrequent column
    schema = FeatureSchema(("income", "age", "debt_ratio"), ("purpose", "region"), "default", "classification")
    pipeline = build_pipeline(schema, estimator, {})
    pipeline.fit(schema.coerce(train), train["default"])
    compiled = CompiledPreprocessing.compile(pipeline, schema)
    assert compiled is not None
    rows = random_rows(2000, seed=1)
    expected = pipeline.predict_proba(schema.frame(rows))
    actual = pipeline.named_steps["estimator"].predict_proba(compiled.transform(rows))
    np.testing.assert_allclose(expected, actual, rtol=0, atol=1e-9)


def test_loaded_models_use_the_fast_path_and_agree_with_the_slow_one(
    registry: Registry, trained: TrainingOutcome
) -> None:
    """predict_rows (fast) and predict on a DataFrame (pipeline) answer the same."""
    model = registry.load(trained.version.version)
    rows = random_rows(200, seed=2)
    assert model.fast is not None
    assert model.predict(model.schema.frame(rows)) == model.predict_rows(rows)


def test_pipelines_of_another_shape_get_no_fast_path() -> None:
    """Anything but the pipeline Driftline builds is served through the pipeline itself."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    schema = FeatureSchema(("income",), (), "default", "classification")
    other = Pipeline([("columns", FunctionTransformer()), ("estimator", HistGradientBoostingClassifier(max_iter=5))])
    frame = make_loans(100)
    other.fit(frame[["income"]], frame["default"])
    assert CompiledPreprocessing.compile(other, schema) is None

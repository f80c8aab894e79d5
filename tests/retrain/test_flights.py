from __future__ import annotations

from pathlib import Path

from driftline.core import Registry, Store, load_settings
from driftline.core.settings import DEFAULT_CONFIG
from retrain import train


def test_the_builtin_defaults_train_a_useful_flights_model(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On January-February 2013 the default model beats the baseline on the most recent holdout."""
    monkeypatch.setenv("DRIFTLINE_STORE__URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("DRIFTLINE_STORE__MODEL_DIR", str(tmp_path / "bentoml"))
    monkeypatch.setenv("DRIFTLINE_MODEL__PARAMS", '{"max_iter": 50}')
    settings = load_settings(DEFAULT_CONFIG)
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    outcome = train(settings, registry)
    details = outcome.version.details
    assert outcome.promoted
    assert details["metrics"]["roc_auc"] > 0.6 > details["baseline_metrics"]["roc_auc"]
    assert details["time_range"]["end"] < "2013-03-01"
    assert outcome.version.schema.categorical == ("carrier", "origin", "dest")
    assert outcome.version.schema.classes == (0, 1)

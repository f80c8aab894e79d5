"""`model.estimator` from a config file: only scikit-learn or explicitly allowed modules are ever imported."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from driftline.core import ConfigError, load_settings
from driftline.core.schema import infer_schema
from retrain.pipeline import build_pipeline, estimator_class
from tests.factories import CATEGORICAL, NUMERIC, make_loans

SIDE_EFFECT_MODULE = """
from pathlib import Path
Path({marker!r}).write_text("imported")


class Thing:
    def fit(self, X, y):
        return self
"""

CUSTOM_ESTIMATOR_MODULE = """
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class TinyClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        self.inner_ = LogisticRegression(C=self.C, max_iter=200).fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict(self, X):
        return self.inner_.predict(X)

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)


def not_a_class():
    return None
"""


@pytest.fixture
def on_path(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for throwaway modules; they are forgotten again afterwards."""
    folder = tmp_path / "modules"
    folder.mkdir()
    sys.path.insert(0, str(folder))
    before = set(sys.modules)
    yield folder
    sys.path.remove(str(folder))
    for name in set(sys.modules) - before:
        if name.startswith(("dl_sidefx", "dl_custom")):
            del sys.modules[name]


def config_with(tmp_path: Path, **model: object) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model": model}), encoding="utf-8")
    return path


@pytest.mark.parametrize("path", ["os.system", "subprocess.Popen", "builtins.eval", "sklearnx.evil.Thing", "os"])
def test_config_naming_a_non_sklearn_callable_fails_at_load(tmp_path: Path, path: str) -> None:
    """Config load refuses the path with a ConfigError naming model.estimator."""
    with pytest.raises(ConfigError) as refused:
        load_settings(config_with(tmp_path, estimator=path))
    assert "model.estimator" == refused.value.field
    assert "model.allowed_estimator_modules" in refused.value.reason or "<module>.<Class>" in refused.value.reason


def test_a_module_with_import_side_effects_is_never_imported(tmp_path: Path, on_path: Path) -> None:
    """Neither the config load nor a direct resolution imports an unlisted module: its marker file never appears."""
    marker = tmp_path / "imported.marker"
    (on_path / "dl_sidefx.py").write_text(SIDE_EFFECT_MODULE.format(marker=str(marker)), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not listed in model\.allowed_estimator_modules"):
        load_settings(config_with(tmp_path, estimator="dl_sidefx.Thing"))
    with pytest.raises(ConfigError, match="not a scikit-learn estimator"):
        estimator_class("dl_sidefx.Thing")
    with pytest.raises(ConfigError, match="not a scikit-learn estimator"):
        estimator_class("dl_sidefx.Thing", allowed_modules=["dl_side"])  # a prefix of the name is not its module
    assert not marker.exists()
    assert "dl_sidefx" not in sys.modules


def test_allowed_module_names_must_be_module_names(tmp_path: Path) -> None:
    """An entry that is not a dotted module name is refused, naming the list field."""
    with pytest.raises(ConfigError) as refused:
        load_settings(config_with(tmp_path, allowed_estimator_modules=["../evil"]))
    assert "model.allowed_estimator_modules" == refused.value.field


def test_a_listed_custom_module_is_allowed_and_trains(tmp_path: Path, on_path: Path) -> None:
    """With its module listed, a custom estimator class loads from config and fits in the standard pipeline."""
    (on_path / "dl_custom").mkdir()
    (on_path / "dl_custom" / "__init__.py").write_text("", encoding="utf-8")
    (on_path / "dl_custom" / "models.py").write_text(CUSTOM_ESTIMATOR_MODULE, encoding="utf-8")
    settings = load_settings(
        config_with(tmp_path, estimator="dl_custom.models.TinyClassifier", allowed_estimator_modules=["dl_custom"])
    )
    loans = make_loans(300)
    schema = infer_schema(loans, "default", "classification", numeric=NUMERIC, categorical=CATEGORICAL)
    pipeline = build_pipeline(
        schema, settings.model.estimator, {"C": 0.5}, settings.model.allowed_estimator_modules
    ).fit(loans[NUMERIC + CATEGORICAL], loans["default"])
    assert (300, 2) == pipeline.predict_proba(loans[NUMERIC + CATEGORICAL]).shape
    with pytest.raises(ConfigError, match="not an estimator class"):
        estimator_class("dl_custom.models.not_a_class", ["dl_custom"])


def test_scikit_learn_functions_are_not_estimator_classes() -> None:
    """A path inside sklearn that names no class with fit is refused after import."""
    with pytest.raises(ConfigError, match="not an estimator class"):
        estimator_class("sklearn.utils.shuffle")
    assert "HistGradientBoostingRegressor" == estimator_class("sklearn.ensemble.HistGradientBoostingRegressor").__name__

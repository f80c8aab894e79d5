from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftline.core import ConfigError, Registry, Settings, Store, load_settings
from driftline.core.settings import SearchSettings
from retrain import TrainingOutcome, retrain, train
from retrain.tune import candidates, cv_folds
from tests.factories import write_config
from tests.monitoring.conftest import log_predictions

TREE = "sklearn.tree.DecisionTreeClassifier"


def search(**fields: object) -> SearchSettings:
    return SearchSettings.model_validate(fields)


def registry_for(settings: Settings) -> Registry:
    return Registry(Store(settings.store.url), settings.store.model_dir)


@pytest.fixture
def tree_settings(tmp_path: Path, loans_csv: Path) -> Settings:
    """Loans with a decision tree whose depth is searched: unlimited depth overfits, a shallow tree does not."""
    space = {"max_depth": [None, 3], "min_samples_leaf": [1, 2]}
    return load_settings(
        write_config(
            tmp_path,
            loans_csv,
            model__estimator=TREE,
            model__params={"random_state": 0},
            model__search={"method": "grid", "space": space, "folds": 3},
        )
    )


def test_time_ordered_folds_validate_on_later_rows(loans: pd.DataFrame) -> None:
    """Each fold trains on a prefix of the rows and validates on the block right after it; the last ends the data."""
    folds = list(cv_folds(loans, loans["default"], 4, task="classification", time_ordered=True, seed=0))
    assert 4 == len(folds)
    for fit_rows, check_rows in folds:
        assert fit_rows.max() < check_rows.min()
        assert list(range(fit_rows.max() + 1)) == fit_rows.tolist()
    assert len(loans) - 1 == folds[-1][1].max()


def test_without_time_order_folds_are_shuffled_and_cover_every_row(loans: pd.DataFrame) -> None:
    """Shuffled folds validate on every row once, not on contiguous blocks."""
    folds = list(cv_folds(loans, loans["default"], 3, task="classification", time_ordered=False, seed=0))
    validated = np.sort(np.concatenate([check for _, check in folds]))
    assert list(range(len(loans))) == validated.tolist()
    assert folds[0][1].max() - folds[0][1].min() + 1 > len(folds[0][1])


def test_a_grid_lists_every_combination() -> None:
    """Two values by three values make six candidates, each once."""
    combos = candidates(search(method="grid", space={"a": [1, 2], "b": ["x", "y", "z"]}), seed=0)
    assert 6 == len(combos) == len({tuple(sorted(c.items())) for c in combos})


def test_random_draws_stay_in_their_ranges_and_repeat_with_the_seed() -> None:
    """Log and integer ranges are honoured; the same seed draws the same combinations."""
    space = {
        "learning_rate": {"low": 0.001, "high": 0.3, "log": True},
        "max_leaf_nodes": {"low": 8, "high": 64, "integer": True},
        "max_depth": {"low": 2, "high": 200, "integer": True, "log": True},
        "loss": ["log_loss"],
    }
    drawn = candidates(search(method="random", space=space, iterations=40), seed=7)
    assert 40 == len(drawn)
    assert all(0.001 <= c["learning_rate"] <= 0.3 for c in drawn)
    assert all(isinstance(c["max_leaf_nodes"], int) and 8 <= c["max_leaf_nodes"] <= 64 for c in drawn)
    assert all(isinstance(c["max_depth"], int) and 2 <= c["max_depth"] <= 200 for c in drawn)
    assert sum(c["learning_rate"] < 0.02 for c in drawn) >= 10  # log scale: small rates are drawn often
    assert drawn == candidates(search(method="random", space=space, iterations=40), seed=7)
    assert drawn != candidates(search(method="random", space=space, iterations=40), seed=8)


def test_random_search_over_lists_never_repeats_and_stops_at_the_grid_size() -> None:
    """Asking for more draws than combinations tries each combination once."""
    drawn = candidates(search(method="random", space={"a": [1, 2], "b": [3, 4]}, iterations=10), seed=0)
    assert 4 == len({tuple(sorted(c.items())) for c in drawn}) == len(drawn)


@pytest.mark.parametrize(
    ("model_search", "message"),
    [
        ({"space": {"max_depth": {"low": 2, "high": 8}}}, "a grid takes lists of values"),
        ({"method": "random", "space": {"max_depth": {"low": 8, "high": 2}}}, "must be below high"),
        ({"method": "random", "space": {"C": {"low": 0, "high": 1, "log": True}}}, "log range needs low > 0"),
        ({"space": {"max_depth": []}}, "space.max_depth lists no value"),
        ({"space": {}}, "names no parameter"),
        ({"method": "bayes", "space": {"C": [1]}}, "grid"),
    ],
)
def test_a_bad_search_space_fails_at_config_load(
    tmp_path: Path, loans_csv: Path, model_search: dict[str, object], message: str
) -> None:
    """The error names the search field and what is wrong with it."""
    with pytest.raises(ConfigError, match=r"model\.search") as caught:
        load_settings(write_config(tmp_path, loans_csv, model__search=model_search))
    assert message in str(caught.value)


def test_training_with_a_search_keeps_the_best_parameters_and_every_trial(tree_settings: Settings) -> None:
    """Four trials on three time-ordered folds; the version is fitted with the winner and stores the evidence."""
    registry = registry_for(tree_settings)
    messages: list[str] = []
    outcome = train(tree_settings, registry, progress=messages.append)
    tuning = outcome.version.details["tuning"]
    assert (4, 3, True, "grid") == (len(tuning["trials"]), tuning["folds"], tuning["time_ordered"], tuning["method"])
    scores = {(t["params"]["max_depth"], t["params"]["min_samples_leaf"]): t["score"] for t in tuning["trials"]}
    assert max(scores.values()) == tuning["best_score"]
    assert max(scores[(None, 1)], scores[(None, 2)]) < min(
        scores[(3, 1)], scores[(3, 2)]
    )  # the unpruned tree overfits the earlier rows
    assert tuning["best_params"]["max_depth"] == 3
    fitted = outcome.version.details["params"]
    assert tuning["best_params"] == {name: fitted[name] for name in tuning["best_params"]}
    assert 0 == fitted["random_state"]  # the fixed params stay
    assert 4 == sum(m.startswith("trial ") for m in messages)
    assert any(m.startswith("searching 4 parameter combinations (grid) with 3 time-ordered folds") for m in messages)


def test_an_unknown_search_parameter_fails_the_run_naming_it(tmp_path: Path, loans_csv: Path) -> None:
    """A typo in the space is a config error naming the parameter; the failed run is recorded."""
    settings = load_settings(
        write_config(
            tmp_path, loans_csv, model__estimator=TREE, model__params={}, model__search={"space": {"max_dept": [2, 3]}}
        )
    )
    registry = registry_for(settings)
    with pytest.raises(ConfigError, match="DecisionTreeClassifier has no parameter 'max_dept'"):
        train(settings, registry)
    assert ("failed", []) == (registry.store.list_runs()[0]["status"], registry.versions())


def test_a_retrain_searches_on_time_ordered_folds(
    settings: Settings, registry: Registry, trained: TrainingOutcome, loans: pd.DataFrame
) -> None:
    """The candidate of a retrain is tuned too, its folds in arrival order, and the trials are in its evidence."""
    settings.retrain.min_labeled_rows = 300
    settings.model.search = search(method="random", space={"C": {"low": 0.001, "high": 10, "log": True}}, iterations=3)
    live = loans.iloc[:900]
    log_predictions(registry, live, labels=live["default"])
    decision = retrain(settings, registry, trigger="test")
    tuning = decision.evidence["tuning"]
    assert decision.outcome in {"promoted", "rejected"}
    assert (3, True) == (len(tuning["trials"]), tuning["time_ordered"])
    assert tuning["best_params"]["C"] == decision.evidence["params"]["C"]


def test_a_search_on_a_scorer_name_picks_the_highest_scorer_value(tmp_path: Path, loans_csv: Path) -> None:
    """With neg_log_loss the best trial is the one with the largest (least negative) score: the pruned tree."""
    space = {"max_depth": [None, 3]}
    settings = load_settings(
        write_config(
            tmp_path,
            loans_csv,
            model__estimator=TREE,
            model__params={"random_state": 0},
            model__metric="neg_log_loss",
            model__search={"method": "grid", "space": space, "folds": 3},
        )
    )
    tuning = train(settings, registry_for(settings)).version.details["tuning"]
    scores = {t["params"]["max_depth"]: t["score"] for t in tuning["trials"]}
    assert (3, scores[3]) == (tuning["best_params"]["max_depth"], tuning["best_score"])
    assert scores[None] < scores[3] < 0

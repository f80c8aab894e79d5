from __future__ import annotations

from pathlib import Path

import pytest

from driftline.core import ConfigError, load_settings
from driftline.core.settings import DEFAULT_CONFIG


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_builtin_defaults_name_the_flights_data() -> None:
    """The shipped driftline.yaml loads and trains on the built-in flights data."""
    settings = load_settings(DEFAULT_CONFIG)
    assert (settings.data.builtin, settings.data.target, settings.data.task) == ("flights", "late", "classification")


def test_environment_variables_override_nested_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DRIFTLINE_SECTION__FIELD wins over the YAML file."""
    monkeypatch.setenv("DRIFTLINE_MONITORING__WINDOW_ROWS", "123")
    settings = load_settings(write(tmp_path, "monitoring:\n  window_rows: 5000\n  min_rows: 10\n"))
    assert settings.monitoring.window_rows == 123
    assert settings.monitoring.min_rows == 10


def test_driftline_config_variable_picks_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --config, DRIFTLINE_CONFIG names the file."""
    monkeypatch.setenv("DRIFTLINE_CONFIG", str(write(tmp_path, "retrain:\n  min_gain: 0.05\n")))
    assert load_settings().retrain.min_gain == 0.05


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("monitoring:\n  window_rows: -5\n", "monitoring.window_rows", "greater than 0"),
        ("monitoring:\n  windw_rows: 5\n", "monitoring.windw_rows", "Extra inputs"),
        ("model:\n  estimator: os.system\n", "model.estimator", "not a scikit-learn estimator"),
        ("model:\n  metric: mae\n", "(top level)", "does not fit task"),
        ("model:\n  metric: neg_mean_absolute_error\n", "(top level)", "model.metric 'neg_mean_absolute_error'"),
        ("model:\n  metric: adjusted_rand_score\n", "(top level)", "does not fit task 'classification'"),
        ("model:\n  metric: no_such_scorer\n", "model.metric", "unknown metric"),
        ("data:\n  id_column: late\n", "data", "id_column 'late' is also the target"),
        ("data:\n  id_column: ''\n", "data.id_column", "at least 1 character"),
        (
            "data:\n  id_column: carrier\n  features: {numeric: [distance], categorical: [carrier]}\n",
            "data",
            "also listed as a feature",
        ),
        ("data:\n  path: data.txt\n", "data", "must end in .csv or .parquet"),
        ("store:\n  url: mysql://x\n", "store.url", "sqlite"),
        ("store:\n  artifacts_url: nosuch://bucket\n", "store.artifacts_url", "names no storage fsspec knows"),
        ("retrain:\n  backoff_max_seconds: -1\n", "retrain.backoff_max_seconds", "greater than or equal to 0"),
        ("retrain:\n  backoff_max_seconds: 9999999\n", "retrain.backoff_max_seconds", "less than or equal to"),
        ("monitoring:\n  estimation: {threshold: 1.5}\n", "(top level)", "outside 0..1, the range of roc_auc"),
        ("monitoring:\n  estimation: {threshold: .nan}\n", "monitoring.estimation.threshold", "finite"),
        ("monitoring:\n  estimation: {reference_chunks: 1}\n", "monitoring.estimation.reference_chunks", "3"),
        (
            "model:\n  metric: log_loss\nmonitoring:\n  estimation: {threshold: 0.5}\n",
            "(top level)",
            "model.metric 'log_loss' is not estimated",
        ),
        (
            "retrain:\n  trigger: sometimes\n",
            "retrain.trigger",
            "'drift_share', 'weighted_drift', 'estimated_performance' or 'any'",
        ),
        ("monitoring:\n  multivariate_auc: 0.4\n", "monitoring.multivariate_auc", "greater than 0.5"),
        ("retention:\n  predictions_days: 0\n", "retention.predictions_days", "greater than 0"),
        ("retention:\n  batch_rows: 50000\n", "retention.batch_rows", "less than or equal to 10000"),
        ("retention:\n  predictions_max_rows: 100\n", "(top level)", "below monitoring.window_rows (5000)"),
    ],
)
def test_bad_config_names_the_field_and_reason(tmp_path: Path, text: str, field: str, reason: str) -> None:
    """One message with the field and why it is wrong."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert field == caught.value.field
    assert reason in caught.value.reason


def test_unreadable_config_files_are_refused_clearly(tmp_path: Path) -> None:
    """Missing files, broken YAML and non-mapping documents each get their own message."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, "data: [unclosed\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(write(tmp_path, "- a\n- b\n"))


def test_relative_data_paths_are_read_from_the_config_folder(tmp_path: Path) -> None:
    """`path: loans.csv` next to the config resolves there, whatever the working directory."""
    settings = load_settings(write(tmp_path, "data:\n  path: loans.csv\n  target: y\n"))
    assert tmp_path / "loans.csv" == settings.data.path


def test_a_regression_scorer_is_refused_for_a_classifier_naming_model_metric(tmp_path: Path) -> None:
    """A scorer of the other task fails at load with a message naming model.metric and the task."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "model:\n  metric: neg_root_mean_squared_error\n"))
    expected = (
        "model.metric 'neg_root_mean_squared_error' is a regression scorer and does not fit task 'classification'; "
        "choose one of roc_auc, accuracy, f1, log_loss, brier or a classification scorer name"
    )
    assert expected == caught.value.reason


def test_scorer_names_that_fit_the_task_load(tmp_path: Path) -> None:
    """Classification scorers load for a classifier, regression scorers for a regression task."""
    classifier = load_settings(write(tmp_path, "model:\n  metric: balanced_accuracy\n"))
    regressor = load_settings(
        write(tmp_path, "data:\n  task: regression\n  target: arr_delay\nmodel:\n  metric: neg_mean_absolute_error\n")
    )
    assert ("balanced_accuracy", "neg_mean_absolute_error") == (classifier.model.metric, regressor.model.metric)


def test_duplicate_handling_defaults_keep_identical_rows_without_an_id(tmp_path: Path) -> None:
    """Without settings, identical rows are kept and no id column is read."""
    settings = load_settings(write(tmp_path, "retrain:\n  min_gain: 0.0\n"))
    assert (None, False) == (settings.data.id_column, settings.data.drop_duplicate_rows)


def test_a_refused_artifacts_url_is_not_echoed_with_its_credentials(tmp_path: Path) -> None:
    """The message about a bad artifact store URL shows it without user, password or query."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "store:\n  artifacts_url: nosuch://key:hunter2@bucket/x?sig=s3cret\n"))
    assert "'nosuch://bucket/x' names no storage fsspec knows (nosuch://)" == caught.value.reason


def test_artifact_store_options_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DRIFTLINE_STORE__ARTIFACTS_OPTIONS takes a JSON object, e.g. the S3 endpoint of a MinIO server."""
    monkeypatch.setenv("DRIFTLINE_STORE__ARTIFACTS_OPTIONS", '{"endpoint_url": "http://minio:9000"}')
    settings = load_settings(write(tmp_path, "store:\n  artifacts_url: s3://artifacts/driftline\n"))
    assert {"endpoint_url": "http://minio:9000"} == settings.store.artifacts_options

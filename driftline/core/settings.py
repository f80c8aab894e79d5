"""The one settings class: a YAML file, overridden field by field by `DRIFTLINE_` environment variables.

`driftline.yaml` at the repository root holds the built-in defaults; it ships inside this package as package data, so
an installed wheel finds it as a checkout does. `--config PATH` or `DRIFTLINE_CONFIG` picks
another file. Nested fields are overridden with a double underscore, e.g. `DRIFTLINE_MONITORING__WINDOW_ROWS=200`.
Bad config fails at start with one message naming the field and the reason (`ConfigError`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from driftline.core.errors import ConfigError

# a regular (unzipped) install gives a real file, as `bentoml serve` and the config loader need
DEFAULT_CONFIG = Path(str(resources.files("driftline.core").joinpath("driftline.yaml")))
CONFIG_ENV = "DRIFTLINE_CONFIG"

Task = Literal["classification", "regression"]
# what drift counts towards a retrain (RetrainSettings.trigger)
TriggerPolicy = Literal["drift_share", "weighted_drift", "estimated_performance", "any"]

# metric name -> True when larger is better
METRIC_DIRECTIONS: dict[str, bool] = {
    "roc_auc": True,
    "accuracy": True,
    "f1": True,
    "log_loss": False,
    "brier": False,
    "mae": False,
    "rmse": False,
    "r2": True,
}
CLASSIFICATION_METRICS = ("roc_auc", "accuracy", "f1", "log_loss", "brier")
REGRESSION_METRICS = ("mae", "rmse", "r2")
# what label-free performance estimation estimates, by task (CBPE for classifiers, DLE for regressors)
ESTIMATED_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("roc_auc", "accuracy", "f1"),
    "regression": ("mae", "rmse"),
}


def greater_is_better(metric: str) -> bool:
    """Whether a larger value of `metric` is better: per METRIC_DIRECTIONS for the short names; always for a
    scikit-learn scorer name, whose value carries the scorer's sign (`neg_mean_absolute_error` is -MAE)."""
    return METRIC_DIRECTIONS.get(metric, True)


_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def estimator_refusal(import_path: str, allowed_modules: Sequence[str]) -> str | None:
    """Why `import_path` may not be imported as the estimator, or None when it may; imports nothing itself.

    Allowed: `sklearn.<module>.<Class>`, or `<module>.<Class>` where the module is one of `allowed_modules` or
    inside one of them.
    """
    if not _MODULE_NAME.fullmatch(import_path) or "." not in import_path:
        return f"{import_path!r} is not an import path of the form <module>.<Class>"
    module = import_path.rpartition(".")[0]
    if module.startswith("sklearn."):
        return None
    if any(module == allowed or module.startswith(allowed + ".") for allowed in allowed_modules):
        return None
    return (
        f"{import_path!r} is not a scikit-learn estimator (sklearn.<module>.<Class>) and its module {module!r} is "
        "not listed in model.allowed_estimator_modules"
    )


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeatureLists(_Section):
    numeric: list[str] = Field(default_factory=list)
    """Columns treated as numbers (imputed with the median, scaled)."""
    categorical: list[str] = Field(default_factory=list)
    """Columns treated as categories (missing and unseen values allowed)."""


class DataSettings(_Section):
    builtin: Literal["flights"] | None = "flights"
    """A built-in dataset name; ignored when `path` is set."""
    path: Path | None = None
    """A CSV or Parquet file with the user's own data."""
    target: str = "late"
    """The column to predict."""
    task: Task = "classification"
    """Classification (binary or multiclass) or regression."""
    time_column: str | None = None
    """Optional; orders the holdout split and replay."""
    train_until: str | None = None
    """Optional timestamp: rows before it train the first model, the rest are held out as live traffic."""
    features: FeatureLists | None = None
    """Feature lists; inferred from the data when absent."""
    max_rows: int | None = Field(default=None, gt=0)
    """Optional cap on training rows (the most recent ones are kept)."""
    id_column: str | None = Field(default=None, min_length=1)
    """Optional column identifying a row: a row whose id repeats an earlier one is dropped (the first is kept).
    Never a feature."""
    drop_duplicate_rows: bool = False
    """Drop rows identical to an earlier one in every column read. Off by default: identical rows are usually
    real observations (flights sharing every feature and the label), and dropping them would skew the training
    distribution and the drift reference. Their share is reported either way."""

    @model_validator(mode="after")
    def _id_is_not_read_otherwise(self) -> DataSettings:
        if self.id_column is None:
            return self
        if self.id_column == self.target:
            raise ValueError(f"id_column {self.id_column!r} is also the target")
        if self.id_column == self.time_column:
            raise ValueError(f"id_column {self.id_column!r} is also the time_column")
        if self.features is not None and self.id_column in self.features.numeric + self.features.categorical:
            raise ValueError(f"id_column {self.id_column!r} is also listed as a feature")
        return self

    @model_validator(mode="after")
    def _needs_a_source(self) -> DataSettings:
        if self.path is None and self.builtin is None:
            raise ValueError("name a dataset: `builtin: flights` or `path: your.csv`")
        if self.path is not None and self.path.suffix.lower() not in {".csv", ".parquet", ".pq"}:
            raise ValueError(f"path {self.path} must end in .csv or .parquet")
        return self


class SearchRange(_Section):
    low: float
    """Smallest value drawn."""
    high: float
    """Largest value drawn."""
    log: bool = False
    """Draw uniformly on a log scale (for learning rates, regularisation strengths)."""
    integer: bool = False
    """Draw whole numbers (for depths, leaf counts, iterations)."""

    @model_validator(mode="after")
    def _ordered(self) -> SearchRange:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0 (got {self.low})")
        return self


class SearchSettings(_Section):
    method: Literal["grid", "random"] = "grid"
    """Grid search tries every combination; random search draws `iterations` of them."""
    space: dict[str, list[Any] | SearchRange]
    """Estimator parameter -> the values to try (a list), or a range `{low, high, log, integer}` (random only)."""
    iterations: int = Field(default=10, gt=0, le=1000)
    """Combinations a random search tries."""
    folds: int = Field(default=3, ge=2, le=20)
    """Cross-validation folds. With a time column (and always in retrains) they are time-ordered: each fold
    validates on rows later than those it trained on."""

    @field_validator("space", mode="before")
    @classmethod
    def _values_or_ranges(cls, space: Any) -> Any:
        if not isinstance(space, dict):
            return space
        parsed: dict[str, Any] = {}
        for name, values in space.items():
            if isinstance(values, dict):
                try:
                    values = SearchRange.model_validate(values)
                except ValidationError as exc:
                    reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
                    raise ValueError(f"space.{name}: {reason}") from None
            elif not isinstance(values, list):
                raise ValueError(f"space.{name} must be a list of values or a range {{low, high}}")
            parsed[name] = values
        return parsed

    @model_validator(mode="after")
    def _usable_space(self) -> SearchSettings:
        if not self.space:
            raise ValueError("space names no parameter to search")
        for name, values in self.space.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"space.{name} lists no value")
            if isinstance(values, SearchRange) and self.method == "grid":
                raise ValueError(f"space.{name} is a range; a grid takes lists of values (or use method: random)")
        return self


class ModelSettings(_Section):
    name: str = "driftline-model"
    """Name of the model in the BentoML model store."""
    # declared before `estimator`, whose validator reads it
    allowed_estimator_modules: list[str] = Field(default_factory=list)
    """Modules besides scikit-learn whose estimator classes `estimator` may name (e.g. `mycompany.models`, which
    also allows its submodules). Checked before anything is imported, so a config file from an untrusted source
    cannot make Driftline import any other module."""
    estimator: str = "sklearn.ensemble.HistGradientBoostingClassifier"
    """Import path of the estimator class: a scikit-learn one (`sklearn.…`), or one in `allowed_estimator_modules`."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for the estimator."""
    metric: str = "roc_auc"
    """Metric champion and challenger are compared on (and tuning picks by): a short name (roc_auc, accuracy,
    f1, log_loss, brier, mae, rmse, r2) or any scikit-learn scorer name that fits the task (e.g.
    `neg_mean_absolute_error`, `balanced_accuracy`); a scorer's value is signed so larger is better."""
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=0.9)
    """Share of rows (the most recent, with a time column) kept out of training for evaluation."""
    reference_rows: int = Field(default=20_000, gt=0)
    """Rows of training features kept with each version as its drift reference."""
    importance_rows: int = Field(default=2000, ge=50)
    """Holdout rows (a random sample) that each feature is shuffled in to measure its permutation importance."""
    importance_repeats: int = Field(default=3, ge=1, le=50)
    """Shuffles per feature; the importance is the mean loss of `metric` over them."""
    random_state: int = 0
    """Seed for splits, sampling and estimators that take one."""
    search: SearchSettings | None = None
    """Optional hyperparameter search; `params` are the fixed ones, the best searched values are added to them."""

    @field_validator("allowed_estimator_modules")
    @classmethod
    def _module_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _MODULE_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a dotted module name")
        return value

    @field_validator("estimator")
    @classmethod
    def _estimator_is_allowed(cls, value: str, info: ValidationInfo) -> str:
        refusal = estimator_refusal(value, info.data.get("allowed_estimator_modules", []))
        if refusal is not None:
            raise ValueError(refusal)
        return value

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value in METRIC_DIRECTIONS:
            return value
        # imported here: scikit-learn's metrics are only needed for a scorer name
        from sklearn.metrics import get_scorer_names

        if value not in get_scorer_names():
            raise ValueError(
                f"unknown metric {value!r}; choose one of {', '.join(METRIC_DIRECTIONS)} "
                "or a scikit-learn scorer name (sklearn.metrics.get_scorer_names())"
            )
        return value


class StoreSettings(_Section):
    url: str = "sqlite:///.driftline/driftline.db"
    """SQLAlchemy URL: a SQLite file by default, `postgresql+psycopg://user@host/db` at scale."""
    model_dir: Path = Path(".driftline/bentoml")
    """BENTOML_HOME: where the BentoML model store keeps artifacts (with `artifacts_url` set: this host's cache)."""
    artifacts_url: str | None = None
    """Where every host finds version files, as an fsspec URL: `s3://bucket/prefix` (install `driftline[s3]`), a
    shared folder, `gs://…` or `az://…` with their fsspec packages. Unset: the local model store is the only copy,
    enough for one machine."""
    artifacts_options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for that URL's fsspec filesystem, e.g. `{endpoint_url: http://minio:9000}`. Prefer the
    client's own environment variables (AWS_ACCESS_KEY_ID, …) for credentials; these values are never shown."""

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql")):
            raise ValueError(f"{value!r} is not a sqlite:/// or postgresql URL")
        return value

    @field_validator("artifacts_url")
    @classmethod
    def _known_protocol(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # imported here: only a configured artifact store needs fsspec's registry of protocols
        import fsspec

        from driftline.core.artifact_store import shown_url

        protocol = value.partition("://")[0] if "://" in value else "file"
        try:
            fsspec.get_filesystem_class(protocol)
        except ValueError:
            raise ValueError(f"{shown_url(value)!r} names no storage fsspec knows ({protocol}://)") from None
        except ImportError:
            extra = " (pip install 'driftline[s3]')" if protocol in {"s3", "s3a"} else ""
            raise ValueError(f"{shown_url(value)!r} needs the fsspec package for {protocol}://{extra}") from None
        return value


class EstimationSettings(_Section):
    enabled: bool = True
    """Estimate the production model's metric on every window from its logged outputs alone, before labels arrive:
    CBPE for binary classifiers (roc_auc, accuracy, f1), DLE for regressors (mae, rmse). Other metrics and
    multiclass models are not estimated; the check says why."""
    threshold: float | None = None
    """Alert threshold of the estimate, overriding the one derived from the version's reference: the lowest
    acceptable value for roc_auc, accuracy and f1, the highest for mae and rmse."""
    threshold_std: float = Field(default=3.0, gt=0.0, le=10.0)
    """The derived threshold lies this many standard deviations of the metric over window-sized chunks of the
    reference below its mean (above it, for mae and rmse)."""
    band_standard_errors: float = Field(default=3.0, gt=0.0, le=10.0)
    """Half-width of the estimate's band (`lower`, `upper`) in standard errors of the metric on the window's rows."""
    reference_chunks: int = Field(default=10, ge=3, le=1000)
    """The reference is cut into at least this many chunks to measure the metric's spread; smaller than a window
    when the reference is short (the spread is then scaled to a window's size)."""

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("the threshold must be a finite number")
        return value


class MonitoringSettings(_Section):
    window_rows: int = Field(default=5000, gt=0)
    """Rows in a drift window (the most recent ones)."""
    window_seconds: int | None = Field(default=None, gt=0)
    """Window by age instead of by rows."""
    min_rows: int = Field(default=500, gt=0)
    """A window with fewer rows is skipped."""
    interval_seconds: int = Field(default=60, gt=0)
    """Seconds between drift checks."""
    drift_share: float = Field(default=0.3, gt=0.0, le=1.0)
    """Dataset drift when this share of features drifts."""
    stat_test: str = "auto"
    """Evidently stat test for every column (e.g. `wasserstein`, `psi`, `ks`), or `auto`."""
    weighted_drift: float = Field(default=0.3, gt=0.0, le=1.0)
    """Importance-weighted drift when the drifted features carry this share of the model's feature importance."""
    multivariate_auc: float = Field(default=0.65, gt=0.5, lt=1.0)
    """Multivariate drift when a classifier tells window rows from reference rows with a ROC AUC above this (0.5:
    it cannot tell them apart)."""
    multivariate_rows: int = Field(default=2000, ge=100)
    """Rows of the window's sample and of the reference's that the domain classifier sees (each)."""
    sample_rows: int = Field(default=5000, ge=100)
    """Rows sampled from the window and from the reference for a check."""
    reports_dir: Path = Path(".driftline/reports")
    """Where the HTML report of each check is saved."""
    reports_keep: int = Field(default=20, gt=0)
    """How many reports are kept (the newest)."""
    niceness: int = Field(default=19, ge=0, le=19)
    """The monitor lowers its CPU priority by this much (19: the lowest), so checks yield the cores to the service."""
    lease_seconds: float = Field(default=30.0, gt=0.0)
    """With several monitors on one store, the one holding the lease acts; others take over when it expires."""
    estimation: EstimationSettings = Field(default_factory=EstimationSettings)
    """Label-free performance estimation on every window."""


class RetrainSettings(_Section):
    trigger: TriggerPolicy = "drift_share"
    """Which drift counts towards a retrain: `drift_share` (dataset drift: `monitoring.drift_share` of the
    features drifted), `weighted_drift` (the drifted features carry `monitoring.weighted_drift` of the model's
    feature importance), `estimated_performance` (the label-free estimate of `model.metric` is worse than its
    threshold, see `monitoring.estimation`; this one needs no labels to start a retrain), or `any` of them."""
    consecutive_windows: int = Field(default=2, gt=0)
    """Drifted windows in a row before a retrain."""
    cooldown_seconds: int = Field(default=600, ge=0)
    """Minimum seconds between retrains."""
    backoff_max_seconds: int = Field(default=21_600, ge=0, le=30 * 86_400)
    """Longest wait before a drift-triggered retrain: after each one rejected in a row the cool-down doubles, up to
    this. A promotion, a manual retrain or a check without drift resets it; scheduled retrains are not held back.
    At or below `cooldown_seconds` there is no back-off."""
    min_labeled_rows: int = Field(default=1000, gt=0)
    """Labelled live rows needed before a retrain."""
    min_gain: float = 0.0
    """How much the candidate must beat the champion by on the metric."""
    schedule: str | None = None
    """Optional cron expression for periodic retrains."""
    live_rows: int = Field(default=20_000, gt=0)
    """Most recent labelled live rows a retrain uses (its holdout included)."""
    holdout_fraction: float = Field(default=0.3, gt=0.0, lt=0.9)
    """Share of those rows, the most recent, that champion and candidate are both evaluated on."""
    bootstrap_rounds: int = Field(default=200, ge=0)
    """Paired bootstrap rounds on the holdout; a candidate is promoted only if the lower bound of its gain (see
    `confidence`) is above `min_gain`. 0 turns the check off (the point estimate and `min_gain` alone decide)."""
    confidence: float = Field(default=0.99, gt=0.5, lt=1.0)
    """One-sided confidence of that lower bound: 0.99 takes the 1st percentile of the bootstrap gains."""
    reference_fraction: float = Field(default=0.5, ge=0.0, lt=1.0)
    """Share of the candidate's training rows drawn from the production version's reference (the rest are live)."""
    shadow_rows: int = Field(default=0, ge=0, le=1_000_000)
    """Labelled live requests a candidate that passed the holdout must be compared on, as a shadow predicting beside
    the champion, before it is promoted; 0 promotes on the holdout alone. Off by default: the promotion then waits
    for labels of requests served after the retrain, at whatever pace feedback comes back, which only the operator
    knows; where labels return within `shadow_max_seconds`, 500 (a check's `min_rows`) is a sensible start."""
    shadow_max_seconds: int = Field(default=86_400, gt=0)
    """A shadow still short of `shadow_rows` labelled requests this long after it started is rejected."""
    watch_rows: int = Field(default=0, ge=0, le=1_000_000)
    """After an automatic promotion the previous champion runs as the shadow for this many labelled requests; if
    the paired comparison on them says the new champion is worse, the monitor rolls back. 0 turns the watch off."""
    watch_confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    """One-sided confidence that the new champion is worse before a watch rolls it back."""
    watch_early_rows: int = Field(default=200, ge=0, le=1_000_000)
    """During a watch, when a check's label-free estimate of the new champion's metric is worse than its threshold
    (the estimate's `alert`), the paired comparison runs on the labelled watched requests so far, as soon as there
    are at least this many, instead of waiting for `watch_rows`: a confident loss rolls back at once, anything else
    waits for the rest. 0 turns the early comparison off; at or above `watch_rows` it never comes early."""


class RetentionSettings(_Section):
    enabled: bool = True
    """The leading monitor prunes old rows, reports and versions on a schedule; false keeps everything forever."""
    interval_seconds: int = Field(default=3600, gt=0)
    """Seconds between prunings."""
    predictions_days: float = Field(default=30.0, gt=0.0)
    """Logged predictions older than this are deleted, with their labels (never those of the current drift window
    nor the labelled rows a retrain would use)."""
    predictions_max_rows: int | None = Field(default=None, gt=0)
    """Optional cap: beyond this many logged predictions the oldest are deleted too, whatever their age (with the
    same exceptions)."""
    labels_days: float = Field(default=30.0, gt=0.0)
    """Labels received longer ago than this are deleted (never those of kept window or retrain rows)."""
    checks_days: float = Field(default=30.0, gt=0.0)
    """Recorded drift checks older than this are deleted (the latest is always kept)."""
    reports_days: float = Field(default=30.0, gt=0.0)
    """Drift report files older than this are deleted (`monitoring.reports_keep` bounds their number besides)."""
    rejected_versions: int = Field(default=10, ge=0)
    """Rejected versions kept (the newest); older ones lose their row and their files."""
    archived_versions: int = Field(default=5, ge=0)
    """Archived versions kept: the first this many distinct versions successive rollbacks reach from production.
    Other archived versions lose their row and their files; the production version is never pruned."""
    artifacts_grace_seconds: float = Field(default=86_400.0, gt=0.0)
    """With `store.artifacts_url` set, objects no version names are deleted once older than this; younger ones
    stay, since a version's files are uploaded before its row is written (a training in progress)."""
    batch_rows: int = Field(default=1000, gt=0, le=10_000)
    """Rows deleted per statement; each batch is its own short transaction, so the service's writes wait for one
    batch at most."""
    batch_pause_seconds: float = Field(default=0.05, ge=0.0, le=10.0)
    """Pause between batches, which lets the service's writes in; a batch that took longer is followed by a pause
    as long as it took, so a pruning keeps the database busy half the time at most."""
    vacuum: bool = True
    """On PostgreSQL, VACUUM the pruned tables after each pruning (not FULL: reads and writes go on), so new rows
    reuse the freed space at once rather than when autovacuum next runs. Off for stores whose autovacuum is tuned."""


class ServingSettings(_Section):
    workers: int = Field(default=2, gt=0, le=64)
    """BentoML worker processes."""
    max_rows_per_request: int = Field(default=1000, gt=0)
    """Rows accepted by one /predict call."""
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    """Request bodies above this size get 413 (batch uploads have their own limit)."""
    max_batch_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    """Upload size limit of /predict_batch."""
    max_batch_rows: int = Field(default=1_000_000, gt=0)
    """Row limit of /predict_batch."""
    poll_seconds: float = Field(default=2.0, gt=0.0, le=60.0)
    """How often each worker checks the production pointer."""
    log_predictions: bool = True
    """Write every prediction to the store (in the background)."""
    log_queue_size: int = Field(default=1_000_000, gt=0)
    """Records waiting to be written; beyond it records are dropped and counted."""
    log_batch_size: int = Field(default=1000, gt=0)
    """Records written per transaction."""
    log_flush_seconds: float = Field(default=0.5, gt=0.0)
    """Longest a record waits before being written."""
    log_retry_seconds: float = Field(default=2.0, ge=0.0, le=300.0)
    """A batch the store refuses is tried again (doubling pauses) for this long before it is dropped and counted."""
    request_timeout_seconds: float = Field(default=300.0, gt=0.0)
    """A request whose answer has not started after this long gets 504 (large batch uploads need minutes)."""
    access_log: bool = False
    """Log one line per HTTP request (BentoML's access log)."""
    micro_batch_rows: int = Field(default=256, gt=0)
    """Rows from concurrent requests predicted in one call."""
    admin_token: SecretStr | None = None
    """Bearer token of the admin HTTP API (POST /admin/promote, /admin/rollback); without one that API answers
    403. Set it from the environment (`DRIFTLINE_SERVING__ADMIN_TOKEN`) rather than the file; it is never logged."""

    @field_validator("admin_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the admin token must be at least 16 characters long")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_", env_nested_delimiter="__", extra="forbid")

    data: DataSettings = Field(default_factory=DataSettings)
    """What to train on."""
    model: ModelSettings = Field(default_factory=ModelSettings)
    """What to train and how models are compared."""
    store: StoreSettings = Field(default_factory=StoreSettings)
    """Where records and artifacts live."""
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    """Drift checks."""
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
    """When and how to retrain."""
    serving: ServingSettings = Field(default_factory=ServingSettings)
    """Limits and behaviour of the HTTP service."""
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    """What is pruned from the store, the reports folder and the model store, and when."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment variables win over the YAML file, which arrives as init kwargs
        return env_settings, init_settings

    @model_validator(mode="after")
    def _cap_holds_the_window(self) -> Settings:
        cap, window = self.retention.predictions_max_rows, self.monitoring.window_rows
        if cap is not None and cap < window:
            raise ValueError(
                f"retention.predictions_max_rows ({cap}) is below monitoring.window_rows ({window}): "
                "the log could never hold a full window"
            )
        return self

    @model_validator(mode="after")
    def _metric_fits_task(self) -> Settings:
        allowed = CLASSIFICATION_METRICS if self.data.task == "classification" else REGRESSION_METRICS
        metric = self.model.metric
        if metric in METRIC_DIRECTIONS and metric not in allowed:
            raise ValueError(
                f"model.metric {self.model.metric!r} does not fit task {self.data.task!r}; "
                f"choose one of {', '.join(allowed)}"
            )
        if metric not in METRIC_DIRECTIONS:
            from driftline.core.scoring import scorer_task

            fits = scorer_task(metric)
            if fits != self.data.task:
                kind = f"a {fits} scorer" if fits else "a scorer of neither classification nor regression"
                raise ValueError(
                    f"model.metric {metric!r} is {kind} and does not fit task {self.data.task!r}; "
                    f"choose one of {', '.join(allowed)} or a {self.data.task} scorer name"
                )
        return self

    @model_validator(mode="after")
    def _threshold_fits_metric(self) -> Settings:
        threshold, metric = self.monitoring.estimation.threshold, self.model.metric
        if threshold is None:
            return self
        if metric not in ESTIMATED_METRICS[self.data.task]:
            raise ValueError(
                f"monitoring.estimation.threshold is set but model.metric {metric!r} is not estimated; "
                f"{self.data.task} estimates {', '.join(ESTIMATED_METRICS[self.data.task])}"
            )
        if metric in ESTIMATED_METRICS["classification"] and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"monitoring.estimation.threshold {threshold} is outside 0..1, the range of {metric}")
        if threshold < 0.0:
            raise ValueError(f"monitoring.estimation.threshold {threshold} is negative; {metric} never is")
        return self


def config_path(explicit: str | Path | None = None) -> Path:
    """The config file to read: the explicit one, else DRIFTLINE_CONFIG, else the built-in default."""
    chosen = explicit or os.environ.get(CONFIG_ENV)
    return Path(chosen) if chosen else DEFAULT_CONFIG


def load_settings(path: str | Path | None = None) -> Settings:
    """Read the YAML config (see `config_path`) and apply environment overrides; raise `ConfigError` if bad."""
    source = config_path(path)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError("--config", f"file {source} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("--config", f"cannot read {source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError("--config", f"{source} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError("--config", f"{source} must hold a mapping of sections, not {type(raw).__name__}")
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        got = first.get("input")
        # a refused token, or an artifact store's URL or options (which may hold credentials), must not be echoed
        secret = "admin_token" in field or "artifacts_" in field
        shown = "" if isinstance(got, dict) or got is None or secret else f" (got {got!r})"
        raise ConfigError(field, f"{first['msg'].removeprefix('Value error, ')}{shown}") from None
    return _resolve_relative_paths(settings, source.parent)


def _resolve_relative_paths(settings: Settings, base: Path) -> Settings:
    """Relative data paths are read from the config file's folder; store paths from the working directory."""
    if settings.data.path is not None and not settings.data.path.is_absolute():
        settings.data.path = (base / settings.data.path).resolve()
    return settings

"""Framework-free pieces every package shares: settings, errors, data, feature schema, store and registry."""

from driftline.core.backoff import RetrainBackoff, RetrainHistory, decide_backoff, retrain_backoff
from driftline.core.dataset import Dataset, load_dataset, read_table
from driftline.core.errors import (
    ArtifactIntegrityError,
    ConfigError,
    DataError,
    DriftlineError,
    InvalidInput,
    NoProductionModel,
    PayloadTooLarge,
    PromotionRefused,
    StoreUnavailable,
    UnknownRequestIds,
    UnknownVersion,
)
from driftline.core.events import log_event
from driftline.core.jsonvalues import jsonable, plain
from driftline.core.model import LoadedModel
from driftline.core.records import PredictionRecord, prediction_records
from driftline.core.registry import PIPELINE_FILE, REFERENCE_FILE, ModelVersion, Registry
from driftline.core.schema import MAX_CATEGORY_LENGTH, MAX_MAGNITUDE, FeatureSchema, infer_schema
from driftline.core.scoring import metric_from_outputs
from driftline.core.settings import (
    CLASSIFICATION_METRICS,
    CONFIG_ENV,
    METRIC_DIRECTIONS,
    REGRESSION_METRICS,
    ModelSettings,
    RetrainSettings,
    SearchRange,
    SearchSettings,
    Settings,
    config_path,
    estimator_refusal,
    greater_is_better,
    load_settings,
)
from driftline.core.steps import (
    CATEGORICAL_BLOCK,
    COLUMNS_STEP,
    ENCODE_STEP,
    ESTIMATOR_STEP,
    IMPUTE_STEP,
    NUMERIC_BLOCK,
    PREDICTION_COLUMN,
    SCALE_STEP,
)
from driftline.core.store import Store

__all__ = [
    "CATEGORICAL_BLOCK",
    "CLASSIFICATION_METRICS",
    "COLUMNS_STEP",
    "CONFIG_ENV",
    "ENCODE_STEP",
    "ESTIMATOR_STEP",
    "IMPUTE_STEP",
    "MAX_CATEGORY_LENGTH",
    "MAX_MAGNITUDE",
    "METRIC_DIRECTIONS",
    "NUMERIC_BLOCK",
    "PIPELINE_FILE",
    "PREDICTION_COLUMN",
    "REFERENCE_FILE",
    "REGRESSION_METRICS",
    "SCALE_STEP",
    "ArtifactIntegrityError",
    "ConfigError",
    "DataError",
    "Dataset",
    "DriftlineError",
    "FeatureSchema",
    "InvalidInput",
    "LoadedModel",
    "ModelSettings",
    "ModelVersion",
    "NoProductionModel",
    "PayloadTooLarge",
    "PredictionRecord",
    "PromotionRefused",
    "Registry",
    "RetrainBackoff",
    "RetrainHistory",
    "RetrainSettings",
    "SearchRange",
    "SearchSettings",
    "Settings",
    "Store",
    "StoreUnavailable",
    "UnknownRequestIds",
    "UnknownVersion",
    "config_path",
    "decide_backoff",
    "estimator_refusal",
    "greater_is_better",
    "infer_schema",
    "jsonable",
    "load_dataset",
    "load_settings",
    "log_event",
    "metric_from_outputs",
    "plain",
    "prediction_records",
    "read_table",
    "retrain_backoff",
]

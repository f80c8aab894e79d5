"""Framework-free pieces every package shares: settings, errors, data, feature schema, store and registry."""

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
from driftline.core.model import LoadedModel
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
from driftline.core.store import Store

__all__ = [
    "CLASSIFICATION_METRICS",
    "CONFIG_ENV",
    "MAX_CATEGORY_LENGTH",
    "MAX_MAGNITUDE",
    "METRIC_DIRECTIONS",
    "PIPELINE_FILE",
    "REFERENCE_FILE",
    "REGRESSION_METRICS",
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
    "PromotionRefused",
    "Registry",
    "RetrainSettings",
    "SearchRange",
    "SearchSettings",
    "Settings",
    "Store",
    "StoreUnavailable",
    "UnknownRequestIds",
    "UnknownVersion",
    "config_path",
    "estimator_refusal",
    "greater_is_better",
    "infer_schema",
    "load_dataset",
    "load_settings",
    "metric_from_outputs",
    "read_table",
]

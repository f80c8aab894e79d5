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
    UnknownRequestIds,
    UnknownVersion,
)
from driftline.core.model import LoadedModel
from driftline.core.registry import ModelVersion, Registry
from driftline.core.schema import FeatureSchema, infer_schema
from driftline.core.settings import Settings, load_settings
from driftline.core.store import Store

__all__ = [
    "ArtifactIntegrityError",
    "ConfigError",
    "DataError",
    "Dataset",
    "DriftlineError",
    "FeatureSchema",
    "InvalidInput",
    "LoadedModel",
    "ModelVersion",
    "NoProductionModel",
    "PayloadTooLarge",
    "PromotionRefused",
    "Registry",
    "Settings",
    "Store",
    "UnknownRequestIds",
    "UnknownVersion",
    "infer_schema",
    "load_dataset",
    "load_settings",
    "read_table",
]

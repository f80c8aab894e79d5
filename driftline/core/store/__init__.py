"""The store: every record Driftline keeps, in one SQL database (SQLite file by default, PostgreSQL by URL).

SQLAlchemy Core, no ORM, one module per concern (see `facade.py`); `Store` is what the rest of Driftline uses.
The schema's revisions are Alembic migrations (`migrator.py`, `migrations/`); `Migrations` upgrades a store.
The tables are exported too, for benchmarks and tests that read the database directly.
"""

from driftline.core.store.engine import create_engine
from driftline.core.store.facade import Store
from driftline.core.store.migrator import BASELINE, Migrations, SchemaState
from driftline.core.store.planner import PruningPlan, plan_pruning, versions_to_prune
from driftline.core.store.retention import Protected
from driftline.core.store.rows import (
    CheckRow,
    LabelledRow,
    Payload,
    Picked,
    PromotionRow,
    RunRow,
    SampledRow,
    ShadowedRow,
    ShadowRow,
    VersionRow,
)
from driftline.core.store.tables import (
    SCHEDULER_JOBS_TABLE,
    checks,
    feedback,
    leases,
    metadata,
    model_versions,
    predictions,
    production,
    promotions,
    shadow_predictions,
    shadows,
    training_runs,
)

__all__ = [
    "BASELINE",
    "SCHEDULER_JOBS_TABLE",
    "CheckRow",
    "LabelledRow",
    "Migrations",
    "Payload",
    "Picked",
    "PromotionRow",
    "Protected",
    "PruningPlan",
    "RunRow",
    "SampledRow",
    "SchemaState",
    "ShadowRow",
    "ShadowedRow",
    "Store",
    "VersionRow",
    "checks",
    "create_engine",
    "feedback",
    "leases",
    "metadata",
    "model_versions",
    "plan_pruning",
    "predictions",
    "production",
    "promotions",
    "shadow_predictions",
    "shadows",
    "training_runs",
    "versions_to_prune",
]

"""The store's tables, in one place: the schema every concern of the store reads and writes.

SQLAlchemy Core tables on one `MetaData`; the migrations in `migrations/versions/` create and change them, and a
test checks that the newest revision and these tables agree. APScheduler's job table lives in the same
database but belongs to APScheduler (it creates and writes it); its name is fixed here because the monitor's
scheduler and `driftline status` must agree on it.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEDULER_JOBS_TABLE = "apscheduler_jobs"
"""The table APScheduler's SQLAlchemy job store keeps the monitor's jobs in."""

metadata = sa.MetaData()

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # registered | shadow | production | archived | rejected
    sa.Column("status_reason", sa.Text),
    sa.Column("artifact_dir", sa.Text, nullable=False),  # relative to the model store folder
    sa.Column("artifact_tag", sa.String(300), nullable=False),  # the BentoML model tag
    sa.Column("hashes", sa.JSON, nullable=False),  # file name -> sha256
    sa.Column("schema", sa.JSON, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),  # params, metrics, baseline, fingerprint, rows, duration …
)

production = sa.Table(
    "production",
    metadata,
    sa.Column("slot", sa.Integer, primary_key=True),  # always 1: one production pointer per store
    sa.Column("version", sa.Integer, sa.ForeignKey("model_versions.version"), nullable=False),
    sa.Column("promotion_id", sa.Integer, nullable=False),
)

promotions = sa.Table(
    "promotions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("previous_version", sa.Integer),
    sa.Column("kind", sa.String(20), nullable=False),  # initial | auto | manual | rollback
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
)

training_runs = sa.Table(
    "training_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("trigger", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # running | succeeded | waiting (for labels) | failed
    sa.Column("version", sa.Integer),
    sa.Column("message", sa.Text),
    sa.Column("details", sa.JSON),
)

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("output", sa.JSON, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Index("ix_predictions_version_id", "model_version", "id"),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False, index=True),  # retention prunes labels by age
)

shadows = sa.Table(
    "shadows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("version", sa.Integer, nullable=False),  # the version predicting beside the champion
    sa.Column("champion_version", sa.Integer, nullable=False),  # the production version it is compared with
    sa.Column("purpose", sa.String(20), nullable=False),  # candidate | watch
    sa.Column("status", sa.String(20), nullable=False),  # running | promoted | rejected | replaced | kept | rolled_back
    sa.Column("needed_rows", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Index("ix_shadows_status", "status"),
)

shadow_predictions = sa.Table(
    "shadow_predictions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, unique=True),  # the champion's logged prediction
    sa.Column("shadow_id", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("output", sa.JSON, nullable=False),
    sa.Index("ix_shadow_predictions_shadow_id", "shadow_id", "id"),
)

checks = sa.Table(
    "checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("checked_at", sa.Float, nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("drift_share", sa.Float),
    sa.Column("summary", sa.JSON, nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

# the columns of APScheduler's table that Driftline reads; outside `metadata`, so the migrations leave it alone
scheduler_jobs = sa.table(SCHEDULER_JOBS_TABLE, sa.column("id"), sa.column("next_run_time"))

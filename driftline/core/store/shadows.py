"""Shadows: a version predicting beside the champion on live traffic, and what it answered, until a decision.

A shadow is either a candidate that passed its holdout (`candidate`: promoted or rejected on labelled live
requests) or the champion a promotion replaced (`watch`: the new champion is rolled back if it does worse). One
runs at a time: starting a shadow ends the running one as `replaced`, in the same transaction. The shadow's
answers live in their own table, keyed by the champion's request id, so every read of `predictions` (drift
windows, retrain rows) keeps seeing only what clients were answered.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa

from driftline.core.store.engine import OnEngine, conflict_insert, new_id
from driftline.core.store.rows import ShadowedRow, ShadowRow
from driftline.core.store.tables import feedback, model_versions, predictions, shadow_predictions, shadows


class Shadows(OnEngine):
    """The running shadow, the history of shadows, and the labelled requests both models answered."""

    def start_shadow(
        self,
        version: int,
        *,
        champion_version: int,
        purpose: str,
        needed_rows: int,
        reason: str,
        evidence: Mapping[str, Any] | None = None,
    ) -> int:
        """Run `version` as the shadow of `champion_version`, ending a running shadow as replaced; returns its id.

        A candidate's version status becomes `shadow` (a replaced candidate's becomes `rejected`); a watched
        version keeps its status."""
        now = time.time()
        with self.engine.begin() as conn:
            for running in conn.execute(sa.select(shadows).where(shadows.c.status == "running")).all():
                because = f"replaced by a shadow of version {version}"
                self._end(conn, cast(ShadowRow, dict(running._mapping)), "replaced", because, {}, now)
            shadow_id = new_id(
                conn.execute(
                    shadows.insert().values(
                        started_at=now,
                        version=version,
                        champion_version=champion_version,
                        purpose=purpose,
                        status="running",
                        needed_rows=needed_rows,
                        reason=reason,
                        evidence=dict(evidence or {}),
                    )
                )
            )
            if purpose == "candidate":
                conn.execute(
                    model_versions.update()
                    .where(model_versions.c.version == version)
                    .values(status="shadow", status_reason=reason)
                )
            return shadow_id

    def finish_shadow(
        self, shadow_id: int, *, status: str, reason: str, evidence: Mapping[str, Any] | None = None
    ) -> bool:
        """End a running shadow with its decision; False when it had already ended (another worker or monitor)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(shadows).where(shadows.c.id == shadow_id, shadows.c.status == "running")
            ).first()
            if row is None:
                return False
            return self._end(conn, cast(ShadowRow, dict(row._mapping)), status, reason, evidence or {}, time.time())

    @staticmethod
    def _end(
        conn: sa.Connection, row: ShadowRow, status: str, reason: str, evidence: Mapping[str, Any], now: float
    ) -> bool:
        ended = conn.execute(
            shadows.update()
            .where(shadows.c.id == row["id"], shadows.c.status == "running")
            .values(status=status, finished_at=now, reason=reason, evidence={**row["evidence"], **evidence})
        )
        if ended.rowcount and row["purpose"] == "candidate" and status != "promoted":
            # only a version still waiting as a shadow: one promoted meanwhile keeps its status
            conn.execute(
                model_versions.update()
                .where(model_versions.c.version == row["version"], model_versions.c.status == "shadow")
                .values(status="rejected", status_reason=reason)
            )
        return bool(ended.rowcount)

    def active_shadow(self) -> ShadowRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(shadows).where(shadows.c.status == "running").order_by(shadows.c.id.desc()).limit(1)
            ).first()
        return cast(ShadowRow, dict(row._mapping)) if row else None

    def shadow_history(self, limit: int = 20) -> list[ShadowRow]:
        """The most recent shadows, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(shadows).order_by(shadows.c.id.desc()).limit(limit)).all()
        return [cast(ShadowRow, dict(row._mapping)) for row in rows]

    def shadow_statuses(self, ids: Sequence[int]) -> dict[int, str]:
        """The status of each of the shadows `ids` still recorded (running, promoted, rejected, ...)."""
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(shadows.c.id, shadows.c.status).where(shadows.c.id.in_(list(ids)))).all()
        return {int(row.id): str(row.status) for row in rows}

    def insert_shadow_predictions(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Write the shadow's outputs (request_id, shadow_id, created_at, output); a retried one is skipped."""
        if records:
            with self.engine.begin() as conn:
                skipping = conflict_insert(conn, shadow_predictions).on_conflict_do_nothing(
                    index_elements=["request_id"]
                )
                conn.execute(skipping, [dict(r) for r in records])

    def _shadowed(self, shadow: ShadowRow) -> sa.Select[Any]:
        """Requests the champion answered and the shadow predicted too, that got a label, oldest first."""
        return (
            sa.select(
                shadow_predictions.c.request_id,
                predictions.c.output.label("champion_output"),
                shadow_predictions.c.output.label("shadow_output"),
                feedback.c.label,
            )
            .select_from(
                shadow_predictions.join(predictions, predictions.c.request_id == shadow_predictions.c.request_id).join(
                    feedback, feedback.c.request_id == shadow_predictions.c.request_id
                )
            )
            .where(
                shadow_predictions.c.shadow_id == shadow["id"],
                predictions.c.model_version == shadow["champion_version"],
            )
            .order_by(shadow_predictions.c.id)
        )

    def shadowed_labelled(self, shadow: ShadowRow, limit: int) -> list[ShadowedRow]:
        """The first `limit` labelled requests both the champion and `shadow` answered."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._shadowed(shadow).limit(limit)).all()
        return [cast(ShadowedRow, dict(row._mapping)) for row in rows]

    def count_shadowed_labelled(self, shadow: ShadowRow) -> int:
        with self.engine.connect() as conn:
            counted = sa.select(sa.func.count()).select_from(self._shadowed(shadow).order_by(None).subquery())
            return int(conn.execute(counted).scalar_one())

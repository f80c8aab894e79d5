"""Model versions, the production pointer and its history: the records a promotion changes together.

Promotion moves the pointer, writes its history row and updates both versions' statuses in one transaction, so
every reader sees either the old production version or the new one with the reason it came.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa

from driftline.core.errors import PromotionRefused, UnknownVersion
from driftline.core.store.engine import OnEngine, locked, new_id
from driftline.core.store.rows import PromotionRow, VersionRow
from driftline.core.store.tables import model_versions, production, promotions


class Versions(OnEngine):
    """Registered versions, which one is in production, and every promotion that put one there."""

    def add_version(
        self,
        *,
        name: str,
        artifact_dir: str,
        artifact_tag: str,
        hashes: Mapping[str, str],
        schema: Mapping[str, Any],
        details: Mapping[str, Any],
        status: str = "registered",
        status_reason: str | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                model_versions.insert().values(
                    name=name,
                    created_at=time.time(),
                    status=status,
                    status_reason=status_reason,
                    artifact_dir=artifact_dir,
                    artifact_tag=artifact_tag,
                    hashes=dict(hashes),
                    schema=dict(schema),
                    details=dict(details),
                )
            )
            return new_id(result)

    def get_version(self, version: int) -> VersionRow:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(model_versions).where(model_versions.c.version == version)).first()
        if row is None:
            raise UnknownVersion(version)
        return cast(VersionRow, dict(row._mapping))

    def list_versions(self) -> list[VersionRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(model_versions).order_by(model_versions.c.version)).all()
        return [cast(VersionRow, dict(row._mapping)) for row in rows]

    def production_version(self) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(production.c.version).where(production.c.slot == 1)).scalar()

    def promote(self, version: int, *, kind: str, reason: str, evidence: Mapping[str, Any] | None = None) -> int:
        """Point production at `version` and record why, in one transaction; returns the promotion id."""
        with self.engine.begin() as conn:
            if (
                conn.execute(sa.select(model_versions.c.version).where(model_versions.c.version == version)).first()
                is None
            ):
                raise UnknownVersion(version)
            pointer = sa.select(production.c.version).where(production.c.slot == 1)
            previous = conn.execute(locked(conn, pointer)).scalar()
            if previous == version:
                raise PromotionRefused(f"version {version} is already in production")
            promotion_id = new_id(
                conn.execute(
                    promotions.insert().values(
                        at=time.time(),
                        version=version,
                        previous_version=previous,
                        kind=kind,
                        reason=reason,
                        evidence=dict(evidence or {}),
                    )
                )
            )
            if previous is None:
                conn.execute(production.insert().values(slot=1, version=version, promotion_id=promotion_id))
            else:
                conn.execute(
                    production.update().where(production.c.slot == 1).values(version=version, promotion_id=promotion_id)
                )
                conn.execute(
                    model_versions.update()
                    .where(model_versions.c.version == previous)
                    .values(status="archived", status_reason=f"replaced by version {version} ({kind})")
                )
            conn.execute(
                model_versions.update()
                .where(model_versions.c.version == version)
                .values(status="production", status_reason=reason)
            )
            return promotion_id

    def promotion_history(self) -> list[PromotionRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(promotions).order_by(promotions.c.id)).all()
        return [cast(PromotionRow, dict(row._mapping)) for row in rows]

    def rollback_lineage(self) -> list[int]:
        """The production versions successive rollbacks walk back through, oldest first, the current one last.

        Rollbacks undo promotions like a stack: v1 -> v2 -> v3 gives [1, 2, 3]; after a rollback (to v2), [1, 2].
        """
        lineage: list[int] = []
        for promotion in self.promotion_history():
            if promotion["kind"] == "rollback" and lineage:
                lineage.pop()
            else:
                lineage.append(int(promotion["version"]))
        return lineage

    def current_promotion(self) -> PromotionRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(promotions).join(production, production.c.promotion_id == promotions.c.id)
            ).first()
        return cast(PromotionRow, dict(row._mapping)) if row else None

"""Methodology versions: a module's parameters as data, approved by a second administrator."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import UTCDateTime, str_enum
from ..extensions import db
from ..timeutil import utcnow


class VersionStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETIRED = "retired"


class MethodologyVersion(db.Model):
    """One frozen parameter set of a methodology module, with its points rule.

    ``params`` maps parameter name -> decimal string; ``params_hash`` is what every
    reduction quantified with this version stores, so it can be re-derived years later.
    """

    __tablename__ = "methodology_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    number: Mapped[int] = mapped_column(Integer)
    module_version: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, str]] = mapped_column(JSON)
    params_hash: Mapped[str] = mapped_column(String(64))
    # Points per gram of CO2e, a decimal string (default "1": 1 point = 1 g, as Wuhan counts).
    points_per_gram: Mapped[str] = mapped_column(String(20), default="1")
    status: Mapped[VersionStatus] = mapped_column(str_enum(VersionStatus), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_comment: Mapped[str] = mapped_column(Text, default="")
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    proposed_by = relationship("User", foreign_keys=[proposed_by_id])
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id])

    __table_args__ = (UniqueConstraint("code", "number"),)

    @property
    def label(self) -> str:
        return f"v{self.number}"

    def decimal_params(self) -> dict[str, Decimal]:
        return {name: Decimal(value) for name, value in self.params.items()}

    @property
    def points_rate(self) -> Decimal:
        return Decimal(self.points_per_gram)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "number": self.number,
            "status": self.status.value,
            "params_hash": self.params_hash,
        }

"""Carbon-neutral events: the footprint, the neutralisation and its follow-through.

* ``Event``: what an organiser runs (name, dates, venue, district, expected participants).
* ``EventFootprint``: one computation of its emissions (planned estimate or actual), with the
  activity data, the methodology version id and parameter hash used and the per-source table,
  so the 碳计量报告 can be reproduced. Each submission is a new row; the latest of a stage is
  the one in force.
* ``PlantingPlan``: a 碳中和林 plan sized by the afforestation methodology, reviewed by an
  administrator (draft -> submitted -> approved | returned; a newer plan supersedes older
  drafts). At most one plan per event is approved (unique partial index).
* ``Planting`` and ``SurvivalCheck``: what was actually planted and how much of it survives.
* ``ReductionRetirement``: the retirement register (see its docstring).
* ``Donation``: a resident's points given to a planting project (one DONATE ledger entry each).
* ``Certificate``: the carbon-neutral certificate, found by its public verification code;
  suspended publicly, with its reason, while retirements and measured removals no longer
  cover what it certified.
* ``GrowthMeasurement`` and ``ForestCredit``: measured growth of a planted block, and the
  forest register that turns it into counted removals and a pooled buffer (see
  ``ForestCredit``).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import UTCDateTime, str_enum
from ..extensions import db
from ..timeutil import utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class FootprintStage(enum.StrEnum):
    PLANNED = "planned"  # estimate from the planned activity data, before the event
    ACTUAL = "actual"  # the 碳计量报告, from the actual data after the event


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # waiting for an administrator
    APPROVED = "approved"  # committed: the planting project
    RETURNED = "returned"  # sent back with a comment; the organiser makes a new plan
    SUPERSEDED = "superseded"  # replaced by a newer plan before approval


class CertificateStatus(enum.StrEnum):
    VALID = "valid"
    SUSPENDED = "suspended"  # no longer covered: a survival check or measurement lowered cover


class Event(db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    venue: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(10))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    expected_participants: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organiser = relationship("User")
    footprints: Mapped[list[EventFootprint]] = relationship(
        back_populates="event", order_by="EventFootprint.id"
    )
    plans: Mapped[list[PlantingPlan]] = relationship(
        back_populates="event", order_by="PlantingPlan.id"
    )
    certificate: Mapped[Certificate | None] = relationship(back_populates="event", uselist=False)

    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
        CheckConstraint("expected_participants >= 0", name="participants_not_negative"),
    )

    def footprint(self, stage: FootprintStage) -> EventFootprint | None:
        """The latest footprint of a stage (the one in force), if any."""
        rows = [f for f in self.footprints if f.stage is stage]
        return rows[-1] if rows else None

    @property
    def current_footprint(self) -> EventFootprint | None:
        """The actual footprint once reported, else the planned estimate."""
        return self.footprint(FootprintStage.ACTUAL) or self.footprint(FootprintStage.PLANNED)

    @property
    def approved_plan(self) -> PlantingPlan | None:
        return next((p for p in self.plans if p.status is PlanStatus.APPROVED), None)

    @property
    def latest_plan(self) -> PlantingPlan | None:
        """The approved plan, else the newest plan that is not superseded."""
        live = [p for p in self.plans if p.status is not PlanStatus.SUPERSEDED]
        return self.approved_plan or (live[-1] if live else None)


class EventFootprint(db.Model):
    __tablename__ = "event_footprints"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    stage: Mapped[FootprintStage] = mapped_column(str_enum(FootprintStage))
    participants: Mapped[int | None] = mapped_column(Integer)
    activity: Mapped[dict[str, Any]] = mapped_column(JSON)  # the methodology's input, verbatim
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # Footprint.as_dict()
    total_g: Mapped[int] = mapped_column(BigInteger)
    version_id: Mapped[int] = mapped_column(ForeignKey("methodology_versions.id"))
    module_version: Mapped[str] = mapped_column(String(20))
    params_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event] = relationship(back_populates="footprints")
    version = relationship("MethodologyVersion")

    __table_args__ = (CheckConstraint("total_g >= 0", name="total_not_negative"),)

    @property
    def per_participant_g(self) -> int | None:
        value = self.result.get("per_participant_g")
        return int(value) if value is not None else None


class PlantingPlan(db.Model):
    __tablename__ = "planting_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    footprint_id: Mapped[int] = mapped_column(ForeignKey("event_footprints.id"))
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus), index=True)
    district: Mapped[str] = mapped_column(String(10))
    site: Mapped[str] = mapped_column(String(200))
    species_mix: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{species, share}]
    planting_year: Mapped[int] = mapped_column(Integer)
    horizon_years: Mapped[int] = mapped_column(Integer)
    emissions_g: Mapped[int] = mapped_column(BigInteger)  # the footprint's total
    retired_g: Mapped[int] = mapped_column(BigInteger)  # covered by retirements when planned
    target_g: Mapped[int] = mapped_column(BigInteger)  # what the forest must absorb
    area_mu: Mapped[str] = mapped_column(String(20))  # decimal string, 0.1 mu steps
    area_ha: Mapped[str] = mapped_column(String(20))  # decimal string, 0.0001 ha
    seedlings: Mapped[int] = mapped_column(Integer)
    seedlings_by_species: Mapped[dict[str, int]] = mapped_column(JSON)
    removal_g: Mapped[int] = mapped_column(BigInteger)  # net removal at the horizon
    break_even_age: Mapped[int] = mapped_column(Integer)
    curve: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{age, year, cumulative_g}]
    version_id: Mapped[int] = mapped_column(ForeignKey("methodology_versions.id"))
    module_version: Mapped[str] = mapped_column(String(20))
    params_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_comment: Mapped[str] = mapped_column(Text, default="")

    event: Mapped[Event] = relationship(back_populates="plans")
    footprint: Mapped[EventFootprint] = relationship()
    version = relationship("MethodologyVersion")
    plantings: Mapped[list[Planting]] = relationship(
        back_populates="plan", order_by="Planting.planted_on, Planting.id"
    )

    __table_args__ = (
        CheckConstraint("target_g > 0", name="target_positive"),
        CheckConstraint("removal_g >= target_g", name="removal_covers_target"),
        CheckConstraint("seedlings > 0", name="seedlings_positive"),
        Index(
            "uq_planting_plans_one_approved",
            "event_id",
            unique=True,
            sqlite_where=text("status = 'approved'"),
            postgresql_where=text("status = 'approved'"),
        ),
    )

    @property
    def area_mu_decimal(self) -> Decimal:
        return Decimal(self.area_mu)

    @property
    def break_even_year(self) -> int:
        return self.planting_year + self.break_even_age


class Planting(db.Model):
    """One block actually planted for an approved plan: one species, its area and seedlings."""

    __tablename__ = "plantings"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("planting_plans.id"), index=True)
    planted_on: Mapped[date] = mapped_column(Date)
    species: Mapped[str] = mapped_column(String(30))
    area_mu: Mapped[str] = mapped_column(String(20))  # decimal string
    seedlings: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(200))
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)  # upload-relative paths
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[PlantingPlan] = relationship(back_populates="plantings")
    checks: Mapped[list[SurvivalCheck]] = relationship(
        back_populates="planting", order_by="SurvivalCheck.checked_on, SurvivalCheck.id"
    )

    __table_args__ = (CheckConstraint("seedlings > 0", name="seedlings_positive"),)

    @property
    def latest_check(self) -> SurvivalCheck | None:
        return self.checks[-1] if self.checks else None


class SurvivalCheck(db.Model):
    __tablename__ = "survival_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    planting_id: Mapped[int] = mapped_column(ForeignKey("plantings.id"), index=True)
    checked_on: Mapped[date] = mapped_column(Date)
    surviving: Mapped[int] = mapped_column(Integer)  # seedlings alive at the check
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    planting: Mapped[Planting] = relationship(back_populates="checks")

    __table_args__ = (CheckConstraint("surviving >= 0", name="surviving_not_negative"),)


class ReductionRetirement(db.Model):
    """The retirement register: verified 碳普惠 reductions retired to neutralise an event.

    Each row is also a RETIRE ledger entry, posted in the same transaction and keyed by the
    row's serial number, moving its grams from the ledger's reduction pool to the retirement
    account. Those two accounts count grams CO2e, not points (ledger/models.py, 5.): a
    resident's points were issued for the action and stay theirs, so no points move; the
    reduction itself is what the platform retires. ``flask ledger reconcile`` checks that the
    register and the entries agree. What must hold, and does in the database:

    * each reduction is retired at most once (``reduction_id`` UNIQUE), whole (``grams`` is its
      ``credited_g``): the last reduction of a request may retire more than was asked, and
      where retirements go beyond the footprint the pages, the report and the certificate say
      by how much (``queries.Standing.retired_beyond_g``);
    * every retirement has a unique public serial number ``QZCI-R-<year>-<nnnnnn>`` (the
      Asia/Shanghai year of retirement, numbered from 1 each year; UNIQUE (year, number)),
      which is also its ledger entry's unique idempotency key;
    * rows are append-only: never updated or deleted (a trigger on PostgreSQL, as for the
      ledger). A mistaken retirement stays retired; the event simply over-covers.
    """

    __tablename__ = "reduction_retirements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[str] = mapped_column(String(24), unique=True)
    serial_year: Mapped[int] = mapped_column(Integer)
    serial_no: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    reduction_id: Mapped[int] = mapped_column(BigId, ForeignKey("reductions.id"), unique=True)
    # The reduction's resident (partition key for scale-out, DESIGN.md).
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    grams: Mapped[int] = mapped_column(BigInteger)
    request_key: Mapped[str] = mapped_column(String(160))  # one retirement request
    retired_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("serial_year", "serial_no"),
        CheckConstraint("grams > 0", name="grams_positive"),
        Index("ix_reduction_retirements_request", "event_id", "request_key"),
    )


class Donation(db.Model):
    """A resident's points given to a planting project (resident -> forest fund)."""

    __tablename__ = "forest_donations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("planting_plans.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    ledger_entry_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("ledger_entries.id"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[PlantingPlan] = relationship()

    __table_args__ = (CheckConstraint("points > 0", name="points_positive"),)


class Certificate(db.Model):
    """The carbon-neutral certificate; ``snapshot`` is what was certified when it was issued."""

    __tablename__ = "event_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), unique=True)
    serial: Mapped[str] = mapped_column(String(24), unique=True)
    verify_code: Mapped[str] = mapped_column(String(32), unique=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[CertificateStatus] = mapped_column(
        str_enum(CertificateStatus), default=CertificateStatus.VALID
    )
    # Why it is suspended (bilingual {"zh_CN", "en"}), kept once restored for the history.
    status_reason: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship(back_populates="certificate")

    @property
    def suspended(self) -> bool:
        return self.status is CertificateStatus.SUSPENDED


class GrowthMeasurement(db.Model):
    """One measurement of a planted block's sample plots (the afforestation methodology's
    monitoring parameters: plot area and stock, or trees, mean DBH and height), with the
    stock it gives, the stock already credited before it (``basis_g``) and the version used."""

    __tablename__ = "growth_measurements"

    id: Mapped[int] = mapped_column(primary_key=True)
    planting_id: Mapped[int] = mapped_column(ForeignKey("plantings.id"), index=True)
    measured_on: Mapped[date] = mapped_column(Date)
    plots: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # as entered
    trees_alive: Mapped[int] = mapped_column(Integer)  # living trees of the block then
    volume_per_ha: Mapped[str] = mapped_column(String(40))  # m³/ha, decimal string
    stock_g: Mapped[int] = mapped_column(BigInteger)  # CO2 in the block's trees
    basis_g: Mapped[int] = mapped_column(BigInteger)  # credited before (issued − cancelled)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # MeasuredStock.as_dict()
    version_id: Mapped[int] = mapped_column(ForeignKey("methodology_versions.id"))
    module_version: Mapped[str] = mapped_column(String(20))
    params_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    planting: Mapped[Planting] = relationship()

    __table_args__ = (
        CheckConstraint("stock_g >= 0", name="stock_not_negative"),
        CheckConstraint("trees_alive >= 0", name="trees_not_negative"),
    )

    @property
    def change_g(self) -> int:
        return self.stock_g - self.basis_g


class ForestCreditKind(enum.StrEnum):
    COUNTED = "counted"  # QZCI-F: a measured removal counted for the event the block serves
    BUFFER = "buffer"  # QZCI-B: its share withheld in the pooled buffer
    CANCEL_BUFFER = "cancel_buffer"  # QZCI-X: buffer cancelled by a loss of stock
    CANCEL_COUNTED = "cancel_counted"  # QZCI-X: counted removals cancelled (buffer short)


SERIAL_PREFIX = {
    ForestCreditKind.COUNTED: "QZCI-F",
    ForestCreditKind.BUFFER: "QZCI-B",
    ForestCreditKind.CANCEL_BUFFER: "QZCI-X",
    ForestCreditKind.CANCEL_COUNTED: "QZCI-X",
}


class ForestCredit(db.Model):
    """The forest register: measured removals credited, buffered and cancelled.

    A growth measurement whose stock exceeds what the block has had credited issues the
    difference: ``buffer.share`` of it to the pooled buffer (a BUFFER row) and the rest as
    counted removals for the event the block's plan serves (a COUNTED row). A lower stock (a
    measurement, or a survival check scaling the last measurement to the surviving trees)
    cancels the loss from the pooled buffer first (CANCEL_BUFFER), then from the block's
    counted removals (CANCEL_COUNTED, with the event). Each row is also one ledger entry
    keyed by its serial (ledger/models.py, 6.), and ``flask ledger reconcile`` checks that
    they agree. Serials ``QZCI-F|B|X-<year>-<nnnnnn>`` are numbered from 1 each Asia/Shanghai
    year across the register (UNIQUE (year, number)); rows are append-only (a trigger on
    PostgreSQL).
    """

    __tablename__ = "forest_credits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[str] = mapped_column(String(24), unique=True)
    serial_year: Mapped[int] = mapped_column(Integer)
    serial_no: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ForestCreditKind] = mapped_column(str_enum(ForestCreditKind))
    planting_id: Mapped[int] = mapped_column(ForeignKey("plantings.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    grams: Mapped[int] = mapped_column(BigInteger)
    measurement_id: Mapped[int | None] = mapped_column(ForeignKey("growth_measurements.id"))
    survival_check_id: Mapped[int | None] = mapped_column(ForeignKey("survival_checks.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("serial_year", "serial_no"),
        CheckConstraint("grams > 0", name="grams_positive"),
        CheckConstraint(
            "kind NOT IN ('counted', 'cancel_counted') OR event_id IS NOT NULL",
            name="counted_has_event",
        ),
    )

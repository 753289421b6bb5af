"""Shared set-up for the events tests: the reference's worked example and a reductions pool."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from backend.accounts.models import User
from backend.actions.models import ActivityRecord, Channel, Outcome, Reduction
from backend.events import services
from backend.events.models import Event, FootprintStage
from backend.extensions import db
from backend.methodology_versions.models import MethodologyVersion, VersionStatus
from backend.methodology_versions.services import (
    active_version,
    approve_version,
    offer_module_versions,
    submit_version,
)

# shared/reference/events_forest.md §5: 2-day conference, 500 people, Quzhou.
WORKED_LINES: list[dict[str, Any]] = [
    {"category": "purchased_energy", "kind": "electricity", "amount": 20000, "unit": "kWh"},
    {"category": "travel", "kind": "hsr", "travellers": 300, "trips": 2, "distance_km": 300},
    {"category": "travel", "kind": "car", "travellers": 200, "trips": 2, "distance_km": 80},
    {"category": "accommodation", "kind": "hotel", "amount": 400, "unit": "room_night"},
    {"category": "catering", "kind": "meal", "amount": 3000},
]
# 10,612 + 7,200 + 3,690.667 + 12,000 + 6,000 kg = 39,502.667 kg (reference: ≈ 39.5 t)
WORKED_TOTAL_G = 39_502_667
FIR = [{"species": "chinese_fir", "share": 1}]
BROADLEAF = [{"species": "mixed_broadleaf", "share": 1}]

# A past event, so its actual data may be entered; plantings dated after it.
PAST = {"starts_on": date(2026, 5, 20), "ends_on": date(2026, 5, 21)}
PLANTED_ON = date(2026, 6, 1)


def event_data(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "2026 衢州数字经济大会",
        "venue": "衢州国际会议中心",
        "district": "柯城区",
        "expected_participants": 500,
        **PAST,
        **overrides,
    }


def make_event(organiser: User, **overrides: Any) -> Event:
    return services.create_event(organiser, event_data(**overrides))


def worked_event(organiser: User, stage: FootprintStage = FootprintStage.PLANNED) -> Event:
    event = make_event(organiser)
    services.record_footprint(organiser, event.id, FootprintStage.PLANNED, WORKED_LINES)
    if stage is FootprintStage.ACTUAL:
        services.record_footprint(organiser, event.id, stage, WORKED_LINES, 500)
    return event


def plan_data(mix: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    return {
        "district": "衢江区",
        "site": "衢江区 举村乡 宜林荒山",
        "species_mix": mix or FIR,
        "planting_year": 2027,
        "horizon_years": 20,
        **overrides,
    }


def reduction(resident: User, grams: int, *, age_days: int = 0) -> Reduction:
    """A verified reduction in the pool (the actions feature makes these for real)."""
    version = active_version("public_transit")
    when = datetime(2026, 4, 1, tzinfo=UTC) - timedelta(days=age_days)
    record = ActivityRecord(
        channel=Channel.PARTNER,
        action="public_transit",
        resident_id=resident.id,
        activity={},
        outcome=Outcome.CREDITED,
        received_at=when,
    )
    db.session.add(record)
    db.session.flush()
    row = Reduction(
        record_id=record.id,
        resident_id=resident.id,
        methodology_code="public_transit",
        module_version=version.module_version,
        version_id=version.id,
        params_hash=version.params_hash,
        activity={},
        baseline_g=grams,
        project_g=0,
        reduction_g=grams,
        credited_g=grams,
        points=grams,
        steps=[],
        local_day=when.date().isoformat(),
        created_at=when,
    )
    db.session.add(row)
    db.session.commit()
    return row


def approve_measuring_version(proposer: User, reviewer: User) -> MethodologyVersion:
    """Approve the afforestation module 1.1.0 version (buffer share, form factor), as an
    administrator does before growth is credited: offered as a draft by the module, submitted
    by one administrator and approved by another."""
    offer_module_versions()
    draft = db.session.scalar(
        select(MethodologyVersion).where(
            MethodologyVersion.code == "afforestation",
            MethodologyVersion.module_version == "1.1.0",
            MethodologyVersion.status == VersionStatus.DRAFT,
        )
    )
    assert draft is not None
    submit_version(proposer, draft.id)
    return approve_version(reviewer, draft.id, "measured crediting")

"""Donations of points to planting projects (approved plans): one DONATE ledger entry
resident -> forest fund, idempotent by key."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import Role, User
from ..audit.services import record_audit
from ..errors import Forbidden
from ..extensions import db, unit_of_work
from ..ledger.exceptions import IdempotencyConflict
from ..ledger.models import AccountKind, EntryKind
from ..ledger.services import Leg, post_entry, resident_account, system_account
from .exceptions import InvalidDonation, UnknownProject
from .models import Donation, PlanStatus, PlantingPlan


def get_project(plan_id: int) -> PlantingPlan:
    """An approved plan: a planting project residents can follow and donate to."""
    plan = db.session.get(PlantingPlan, plan_id)
    if plan is None or plan.status is not PlanStatus.APPROVED:
        raise UnknownProject()
    return plan


def _donation_by_key(key: str) -> Donation | None:
    return db.session.scalar(select(Donation).where(Donation.idempotency_key == key))


def _same_or_conflict(donation: Donation, plan_id: int, points: Any) -> Donation:
    if donation.plan_id != plan_id or str(donation.points) != str(points).strip():
        raise IdempotencyConflict()
    return donation


def donate_points(
    resident: User, plan_id: int, points: Any, idempotency_key: str | None = None
) -> Donation:
    """A resident gives points to a planting project: one DONATE ledger entry resident ->
    forest fund. A repeated key returns the first donation."""
    if resident.role is not Role.RESIDENT:
        raise Forbidden()
    key = f"donate:{resident.id}:{idempotency_key or uuid.uuid4().hex}"
    existing = _donation_by_key(key)
    if existing is not None:
        return _same_or_conflict(existing, plan_id, points)
    try:
        with unit_of_work():
            plan = get_project(plan_id)
            raw = str(points).strip() if points is not None else ""
            if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1:
                raise InvalidDonation(field="points")
            amount = int(raw)
            entry, _created = post_entry(
                EntryKind.DONATE,
                [
                    Leg(resident_account(resident.id), -amount),
                    Leg(system_account(AccountKind.FOREST_FUND), amount),
                ],
                key,
                resident_id=resident.id,
                memo=f"planting project {plan.id}",
                ref=("planting_plan", plan.id),
            )
            donation = Donation(
                plan_id=plan.id,
                resident_id=resident.id,
                points=amount,
                idempotency_key=key,
                ledger_entry_id=entry.id,
            )
            db.session.add(donation)
            db.session.flush()
            record_audit(
                resident, "donation.create", "planting_plan", plan.id, points=amount, key=key
            )
    except IntegrityError:
        # the same key raced in from another request and won
        existing = _donation_by_key(key)
        if existing is None:
            raise
        return existing
    return donation

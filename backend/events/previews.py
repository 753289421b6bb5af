"""What an irreversible step would do, computed without doing it: the page shows it, the
person confirms, and only then the service acts (the same rules decide both)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from ..accounts.models import User
from ..ledger.exceptions import InsufficientPoints
from ..ledger.queries import resident_balance
from .claims import retired_g
from .donations import get_project
from .exceptions import InvalidDonation, InvalidRetirement, NoFootprint
from .models import Event, PlantingPlan
from .retirements import _pick
from .services import _kg, _whole, own_event


@dataclass(frozen=True)
class DonationPreview:
    plan: PlantingPlan
    points: int
    balance: int

    @property
    def balance_after(self) -> int:
        return self.balance - self.points


def preview_donation(resident: User, plan_id: int, points: Any) -> DonationPreview:
    """The donation ``donate_points`` would make, or the error it would raise."""
    plan = get_project(plan_id)
    raw = str(points).strip() if points is not None else ""
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1:
        raise InvalidDonation(field="points")
    balance = resident_balance(resident.id)
    if int(raw) > balance:
        raise InsufficientPoints(needed=int(raw), available=balance)
    return DonationPreview(plan, int(raw), balance)


@dataclass(frozen=True)
class RetirementPreview:
    event: Event
    requested_g: int
    reductions: list[Any]  # rows of (id, resident_id, credited_g), oldest first

    @property
    def total_g(self) -> int:
        return sum(r.credited_g for r in self.reductions)

    @property
    def overshoot_g(self) -> int:
        return max(self.total_g - self.requested_g, 0)


def preview_retirement(organiser: User, event_id: int, grams: Any) -> RetirementPreview:
    """The reductions ``retire_reductions`` would retire now for ``grams``, or its error."""
    event = own_event(organiser, event_id)
    amount = _whole({"grams": grams}, "grams", InvalidRetirement, minimum=1, maximum=10**15)
    footprint = event.current_footprint
    if footprint is None:
        raise NoFootprint()
    open_g = footprint.total_g - retired_g(event.id)
    if amount > open_g:
        raise InvalidRetirement(
            problem=_(
                "at most the %(kg)s kg CO2e of the footprint not yet covered by retirements",
                kg=_kg(max(open_g, 0)),
            ),
            field="grams",
        )
    return RetirementPreview(event, amount, _pick(amount))

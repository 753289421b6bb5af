"""The resident's statement: their actions, points and vouchers as a CSV meant for people —
in the resident's language, in Beijing time, with plain words for every status (the JSON
export keeps the codes, for machines)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..actions.models import ActivityRecord
from ..actions.words import describe_activity
from ..extensions import db
from ..i18n import action_name
from ..ledger.queries import history
from ..rewards.models import Redemption
from ..timeutil import local
from .models import User

OUTCOMES = {
    "pending": _l("processing"),
    "review": _l("to be confirmed"),
    "credited": _l("points added"),
    "rejected": _l("not accepted"),
    "unmatched": _l("no linked resident"),
    "duplicate": _l("duplicate, no points"),
}
ENTRY_KINDS = {
    "credit": _l("Earned"),
    "hold": _l("Redeemed (held)"),
    "release": _l("Returned"),
    "settle": _l("Settled"),
    "refund": _l("Refunded"),
    "expire": _l("Expired"),
    "donate": _l("Donated"),
    "retire": _l("Retired"),
    "reversal": _l("Correction"),
}
REDEMPTION_STATUS = {
    "held": _l("ready to use"),
    "fulfilled": _l("used"),
    "cancelled": _l("cancelled"),
    "expired": _l("expired"),
    "refunded": _l("refunded"),
}


def _when(value: Any) -> str:
    return local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def statement_csv(user: User) -> str:
    """Actions, points movements and vouchers, one row each, newest last."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [_("Section"), _("Time (Beijing)"), _("What"), _("Details"), _("Status"), _("Points")]
    )
    records = db.session.scalars(
        select(ActivityRecord)
        .where(ActivityRecord.resident_id == user.id)
        .order_by(ActivityRecord.id)
    ).all()
    for r in records:
        outcome = (
            _("cancelled at the counter")
            if r.reason_code == "voided_at_counter"
            else str(OUTCOMES.get(r.outcome.value, r.outcome.value))
        )
        writer.writerow(
            [
                _("Green action"),
                _when(r.occurred_start or r.received_at),
                action_name(r.action),
                describe_activity(r.action, r.activity),
                outcome,
                r.reduction.points if r.reduction else "",
            ]
        )
    for h in reversed(history(user.id, 100_000)):
        kind = str(ENTRY_KINDS.get(h.kind.value, h.kind.value))
        writer.writerow([_("Points"), _when(h.at), kind, "", "", h.amount])
    for v in db.session.scalars(
        select(Redemption).where(Redemption.resident_id == user.id).order_by(Redemption.id)
    ):
        status = str(REDEMPTION_STATUS.get(v.status.value, v.status.value))
        title = v.offer.title_zh
        writer.writerow([_("Voucher"), _when(v.created_at), title, "", status, -v.points])
    return out.getvalue()

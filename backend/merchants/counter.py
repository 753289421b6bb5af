"""The counter: one code box for merchant staff.

Whatever the staff scan or type — a resident's voucher (redemption), the resident's own claim
QR or code, or a household card — ``confirm_at_counter`` works out what it is and does the one
thing it can mean: fulfil the voucher, or (at a waste station or restaurant) confirm the
resident's drop-off or meal with the details entered beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..accounts.models import User
from ..actions.catalogue import STATION_ACTIONS
from ..actions.claims import submit_claim
from ..actions.models import ActivityRecord
from ..extensions import db
from ..qr import InvalidQr, normalise_short_code, token_purpose
from ..rewards.exceptions import UnknownRedemption
from ..rewards.models import Redemption
from ..rewards.services import fulfil_redemption


@dataclass(frozen=True)
class CounterResult:
    redemption: Redemption | None = None
    record: ActivityRecord | None = None


def confirm_at_counter(
    staff: User,
    *,
    code: str | None = None,
    token: str | None = None,
    activity: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CounterResult:
    confirms_actions = staff.merchant is not None and staff.merchant.kind in STATION_ACTIONS
    if token:
        purpose = token_purpose(token)
        if purpose == "redeem":
            return CounterResult(
                redemption=fulfil_redemption(staff, token=token, idempotency_key=idempotency_key)
            )
        if purpose in ("claim", "card") and confirms_actions:
            kind = "card" if purpose == "card" else "token"
            return CounterResult(
                record=submit_claim(
                    staff, activity or {}, **{kind: token}, idempotency_key=idempotency_key
                )
            )
        raise InvalidQr()
    normalised = normalise_short_code(code)
    voucher = (
        db.session.scalar(select(Redemption.id).where(Redemption.short_code == normalised))
        if normalised
        else None
    )
    if voucher is not None or not confirms_actions:
        if not normalised:
            raise UnknownRedemption(field="code")
        return CounterResult(
            redemption=fulfil_redemption(staff, code=normalised, idempotency_key=idempotency_key)
        )
    return CounterResult(
        record=submit_claim(staff, activity or {}, code=normalised, idempotency_key=idempotency_key)
    )

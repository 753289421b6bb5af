"""Offers and redemptions: hold -> QR -> fulfil -> settle, or release, or refund.

Points move only through ``backend.ledger.services.post_entry``. Every state change of a
redemption is a conditional UPDATE (``WHERE status = 'held'``), so the same QR fulfilled twice
at once succeeds once, and stock is decremented with ``WHERE stock > 0`` so it never goes
below zero. Lock order everywhere: resident account -> offer -> redemption -> merchant.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..accounts.models import Role, User
from ..audit.services import record_audit
from ..errors import DomainError, Forbidden
from ..extensions import db, unit_of_work
from ..ledger.models import AccountKind, EntryKind
from ..ledger.services import (
    Leg,
    find_entry,
    lock_accounts,
    merchant_account,
    post_entry,
    resident_account,
    system_account,
)
from ..qr import InvalidQr, make_token, new_nonce, new_short_code, normalise_short_code, read_token
from ..schemas import MAX_INT
from ..timeutil import aware, utcnow
from .exceptions import (
    AlreadyFulfilled,
    InvalidOffer,
    LimitReached,
    NotRefundable,
    OfferUnavailable,
    OtherMerchant,
    OutOfStock,
    RedemptionCancelled,
    RedemptionExpired,
    UnknownOffer,
    UnknownRedemption,
)
from .models import Offer, OfferStatus, Redemption, RedemptionStatus

OPEN = (RedemptionStatus.HELD, RedemptionStatus.FULFILLED)


# --- offers ------------------------------------------------------------------------------


def _offer_fields(data: dict[str, Any]) -> dict[str, Any]:
    def text(name: str, limit: int, required: bool = False) -> str:
        value = str(data.get(name) or "").strip()
        if (required and not value) or len(value) > limit:
            raise InvalidOffer(problem=name, field=name)
        return value

    def integer(name: str, minimum: int) -> int:
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidOffer(problem=name, field=name)
        try:
            number = int(value)
        except ValueError:
            raise InvalidOffer(problem=name, field=name) from None
        if not minimum <= number <= MAX_INT:
            raise InvalidOffer(problem=name, field=name)
        return number

    valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
    if (
        not isinstance(valid_from, datetime)
        or not isinstance(valid_until, datetime)
        or aware(valid_until) <= aware(valid_from)
    ):
        raise InvalidOffer(problem="valid_until", field="valid_until")
    return {
        "title_zh": text("title_zh", 80, required=True),
        "title_en": text("title_en", 120),
        "description_zh": text("description_zh", 2000),
        "description_en": text("description_en", 2000),
        "points_price": integer("points_price", 1),
        "stock": integer("stock", 0),
        "per_resident_limit": integer("per_resident_limit", 1),
        "valid_from": aware(valid_from),
        "valid_until": aware(valid_until),
    }


def create_offer(staff: User, data: dict[str, Any], image_path: str | None = None) -> Offer:
    """A merchant proposes an offer; it goes live once an administrator approves it."""
    offer = Offer(
        merchant_id=staff.merchant_id,
        status=OfferStatus.PENDING,
        image_path=image_path,
        **_offer_fields(data),
    )
    db.session.add(offer)
    db.session.flush()
    record_audit(staff, "offer.create", "offer", offer.id)
    db.session.commit()
    return offer


def get_offer(offer_id: int) -> Offer:
    offer = db.session.get(Offer, offer_id)
    if offer is None:
        raise UnknownOffer()
    return offer


def _own_offer(staff: User, offer_id: int) -> Offer:
    offer = get_offer(offer_id)
    if offer.merchant_id != staff.merchant_id:
        raise OtherMerchant()
    return offer


def review_offer(admin: User, offer_id: int, approve: bool, comment: str = "") -> Offer:
    offer = get_offer(offer_id)
    if offer.status is not OfferStatus.PENDING:
        raise OfferUnavailable()
    offer.status = OfferStatus.ACTIVE if approve else OfferStatus.REJECTED
    offer.review_comment = comment.strip()[:200]
    record_audit(
        admin,
        "offer.approve" if approve else "offer.reject",
        "offer",
        offer.id,
        comment=offer.review_comment,
    )
    db.session.commit()
    return offer


def set_offer_paused(staff: User, offer_id: int, paused: bool) -> Offer:
    offer = _own_offer(staff, offer_id)
    allowed_from = OfferStatus.ACTIVE if paused else OfferStatus.PAUSED
    if offer.status is not allowed_from:
        raise OfferUnavailable()
    offer.status = OfferStatus.PAUSED if paused else OfferStatus.ACTIVE
    record_audit(staff, "offer.pause" if paused else "offer.resume", "offer", offer.id)
    db.session.commit()
    return offer


def is_available(offer: Offer, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (
        offer.status is OfferStatus.ACTIVE
        and offer.stock > 0
        and aware(offer.valid_from) <= now < aware(offer.valid_until)
    )


# --- redemptions --------------------------------------------------------------------------


def _by_key(key: str) -> Redemption | None:
    return db.session.scalar(select(Redemption).where(Redemption.idempotency_key == key))


def redeem_offer(resident: User, offer_id: int, idempotency_key: str | None = None) -> Redemption:
    """Hold the offer's price and issue a redemption code. A repeated key returns the first."""
    if resident.role is not Role.RESIDENT:
        raise Forbidden()
    key = f"redeem:{resident.id}:{idempotency_key or uuid.uuid4().hex}"
    existing = _by_key(key)
    if existing is not None:
        return existing
    try:
        with unit_of_work():
            account = resident_account(resident.id)
            lock_accounts([account])  # one resident's redemptions run one at a time
            existing = _by_key(key)
            if existing is not None:
                db.session.rollback()
                return existing
            offer = get_offer(offer_id)
            now = utcnow()
            if offer.status is not OfferStatus.ACTIVE or not (
                aware(offer.valid_from) <= now < aware(offer.valid_until)
            ):
                raise OfferUnavailable()
            used = db.session.scalar(
                select(func.count())
                .select_from(Redemption)
                .where(
                    Redemption.resident_id == resident.id,
                    Redemption.offer_id == offer.id,
                    Redemption.status.in_(OPEN),
                )
            )
            if (used or 0) >= offer.per_resident_limit:
                raise LimitReached()
            taken = db.session.execute(
                update(Offer)
                .where(Offer.id == offer.id, Offer.stock > 0, Offer.status == OfferStatus.ACTIVE)
                .values(stock=Offer.stock - 1)
            )
            if taken.rowcount == 0:
                raise OutOfStock()
            db.session.expire(offer, ["stock"])
            hours = current_app.config["REDEMPTION_HOLD_HOURS"]
            redemption = _insert_redemption(offer, resident, key, now + timedelta(hours=hours))
            post_entry(
                EntryKind.HOLD,
                [
                    Leg(account, -offer.points_price),
                    Leg(system_account(AccountKind.HOLDS), offer.points_price),
                ],
                f"hold:{redemption.id}",
                resident_id=resident.id,
                ref=("redemption", redemption.id),
                memo=f"redeem offer {offer.id}",
            )
            record_audit(
                resident,
                "redemption.create",
                "redemption",
                redemption.id,
                offer_id=offer.id,
                points=offer.points_price,
            )
    except IntegrityError:
        # The same key raced in from another request and won: answer with its result.
        existing = _by_key(key)
        if existing is None:
            raise
        return existing
    return redemption


def _insert_redemption(offer: Offer, resident: User, key: str, expires: datetime) -> Redemption:
    for _ in range(5):
        try:
            with db.session.begin_nested():
                redemption = Redemption(
                    offer_id=offer.id,
                    merchant_id=offer.merchant_id,
                    resident_id=resident.id,
                    points=offer.points_price,
                    status=RedemptionStatus.HELD,
                    short_code=new_short_code(),
                    nonce=new_nonce(),
                    idempotency_key=key,
                    expires_at=expires,
                )
                db.session.add(redemption)
            return redemption
        except IntegrityError:
            if _by_key(key) is not None:
                raise
    raise RuntimeError("could not allocate a unique short code")


def get_redemption(redemption_id: int) -> Redemption:
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None:
        raise UnknownRedemption()
    return redemption


def own_redemption(resident: User, redemption_id: int) -> Redemption:
    """A resident's own redemption; another resident's looks like it does not exist."""
    redemption = get_redemption(redemption_id)
    if redemption.resident_id != resident.id:
        raise UnknownRedemption()
    return redemption


def _closed_error(redemption: Redemption) -> DomainError:
    status = redemption.status
    if status in (RedemptionStatus.FULFILLED, RedemptionStatus.REFUNDED):
        return AlreadyFulfilled()
    if status is RedemptionStatus.CANCELLED:
        return RedemptionCancelled()
    return RedemptionExpired()


def redemption_token(redemption: Redemption) -> str | None:
    """The signed token of a held redemption's QR (minted afresh on each view), else None."""
    if redemption.status is not RedemptionStatus.HELD:
        return None
    return make_token("redeem", redemption.id, redemption.nonce)


def find_for_fulfilment(
    staff: User, *, code: str | None = None, token: str | None = None
) -> Redemption:
    if token:
        subject, nonce = read_token("redeem", token, current_app.config["REDEEM_QR_SECONDS"])
        redemption = db.session.get(Redemption, subject) if isinstance(subject, int) else None
        if redemption is None or redemption.nonce != nonce:
            raise InvalidQr()
    else:
        normalised = normalise_short_code(code)
        redemption = (
            db.session.scalar(select(Redemption).where(Redemption.short_code == normalised))
            if normalised
            else None
        )
        if redemption is None:
            raise UnknownRedemption()
    if redemption.merchant_id != staff.merchant_id:
        raise OtherMerchant()
    return redemption


def fulfil_redemption(
    staff: User,
    *,
    code: str | None = None,
    token: str | None = None,
    idempotency_key: str | None = None,
) -> Redemption:
    """The merchant confirms: held points move to the merchant, exactly once."""
    redemption = find_for_fulfilment(staff, code=code, token=token)
    fulfil_key = f"fulfil:{staff.id}:{idempotency_key}" if idempotency_key else None
    if fulfil_key and redemption.fulfil_key == fulfil_key:
        return redemption  # a retry of a fulfilment that already happened
    now = utcnow()
    changed = db.session.execute(
        update(Redemption)
        .where(
            Redemption.id == redemption.id,
            Redemption.status == RedemptionStatus.HELD,
            Redemption.expires_at > now,
        )
        .values(
            status=RedemptionStatus.FULFILLED,
            closed_at=now,
            fulfilled_by_id=staff.id,
            fulfil_key=fulfil_key,
        )
    )
    if changed.rowcount == 0:
        db.session.rollback()
        db.session.refresh(redemption)
        raise _closed_error(redemption)
    post_entry(
        EntryKind.SETTLE,
        [
            Leg(system_account(AccountKind.HOLDS), -redemption.points),
            Leg(merchant_account(redemption.merchant_id), redemption.points),
        ],
        f"settle:{redemption.id}",
        resident_id=redemption.resident_id,
        ref=("redemption", redemption.id),
        memo="fulfilled",
    )
    record_audit(staff, "redemption.fulfil", "redemption", redemption.id)
    db.session.commit()
    db.session.refresh(redemption)
    return redemption


def _release(redemption: Redemption, status: RedemptionStatus, actor: User | None) -> bool:
    """Close a held redemption as cancelled or expired and give the points back."""
    now = utcnow()
    account = resident_account(redemption.resident_id)
    lock_accounts([account])
    changed = db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.status == RedemptionStatus.HELD)
        .values(status=status, closed_at=now)
    )
    if changed.rowcount == 0:
        return False
    db.session.execute(
        update(Offer).where(Offer.id == redemption.offer_id).values(stock=Offer.stock + 1)
    )
    post_entry(
        EntryKind.RELEASE,
        [
            Leg(system_account(AccountKind.HOLDS), -redemption.points),
            Leg(account, redemption.points),
        ],
        f"release:{redemption.id}",
        resident_id=redemption.resident_id,
        ref=("redemption", redemption.id),
        memo=status.value,
    )
    record_audit(actor, f"redemption.{status.value}", "redemption", redemption.id)
    return True


def cancel_redemption(resident: User, redemption_id: int) -> Redemption:
    """The resident cancels a held redemption. Idempotent by state: cancelling a cancelled
    redemption returns it unchanged."""
    redemption = own_redemption(resident, redemption_id)
    if not _release(redemption, RedemptionStatus.CANCELLED, resident):
        db.session.rollback()
        db.session.refresh(redemption)
        if redemption.status is RedemptionStatus.CANCELLED:
            return redemption  # cancelling twice is harmless
        raise _closed_error(redemption)
    db.session.commit()
    db.session.refresh(redemption)
    return redemption


def expire_redemptions(now: datetime | None = None) -> int:
    """The scheduled job: held redemptions past their time give their points back."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Redemption)
        .where(Redemption.status == RedemptionStatus.HELD, Redemption.expires_at <= now)
        .order_by(Redemption.id)
    ).all()
    count = 0
    for redemption in due:
        if _release(redemption, RedemptionStatus.EXPIRED, None):
            count += 1
        db.session.commit()
    return count


def refund_redemption(staff: User, redemption_id: int, reason: str) -> Redemption:
    """The merchant gives the points back with a reversing entry linked to the settlement.

    Idempotent by state: refunding a refunded redemption returns it unchanged. The refund is
    dated (``refunded_at``) so the settlement shows it in its own period."""
    redemption = get_redemption(redemption_id)
    if redemption.merchant_id != staff.merchant_id:
        raise OtherMerchant()
    settle = find_entry(f"settle:{redemption.id}")
    changed = db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.status == RedemptionStatus.FULFILLED)
        .values(
            status=RedemptionStatus.REFUNDED,
            refund_reason=reason.strip()[:200],
            refunded_at=utcnow(),
        )
    )
    if changed.rowcount == 0 or settle is None:
        db.session.rollback()
        db.session.refresh(redemption)
        if redemption.status is RedemptionStatus.REFUNDED:
            return redemption
        raise NotRefundable()
    with unit_of_work():
        # Linked to the settlement it undoes; the points go back to the resident.
        post_entry(
            EntryKind.REFUND,
            [
                Leg(merchant_account(redemption.merchant_id), -redemption.points),
                Leg(resident_account(redemption.resident_id), redemption.points),
            ],
            f"refund:{redemption.id}",
            resident_id=redemption.resident_id,
            reverses=settle,
            ref=("redemption", redemption.id),
            memo=f"refund: {reason.strip()[:150]}",
        )
        record_audit(staff, "redemption.refund", "redemption", redemption.id, reason=reason[:200])
    db.session.refresh(redemption)
    return redemption

"""Offers and redemptions: hold -> QR -> fulfil -> settle, or release, or refund.

Points move only through ``backend.ledger.services.post_entry``. Every state change of a
redemption is a conditional UPDATE (``WHERE status = 'held'``), so the same QR fulfilled twice
at once succeeds once, and stock is decremented with ``WHERE stock > 0`` so it never goes
below zero. Lock order everywhere: resident account -> offer -> redemption -> merchant.
The rows every request of a kind shares (an offer's stock for redemptions, the merchant's
account for fulfilments) are written last in their transaction, right before the commit,
so each is locked for one statement and the commit, not for the whole request.

One idea in one file (about 700 lines, ~100 of them the statements each write builds once
per process): an offer's stock and a redemption's states are changed together under that one
lock order, so the functions are read, and kept, side by side.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from ..accounts.models import Role, User
from ..audit.services import record_audit
from ..bulk import rowcount
from ..errors import DomainError, Forbidden
from ..extensions import commit_keeping_loaded, db, unit_of_work
from ..ledger.models import Account, AccountKind, EntryKind
from ..ledger.services import (
    Leg,
    accounts,
    find_entry,
    found_or_created,
    lock_accounts,
    locked_account,
    merchant_account,
    merchant_spec,
    post_entry,
    resident_account,
    system_account,
    system_spec,
)
from ..merchants.models import Merchant
from ..notifications.models import NotificationKind as K
from ..notifications.services import notify
from ..qr import InvalidQr, make_token, new_nonce, new_short_code, normalise_short_code, read_token
from ..schemas import MAX_INT
from ..timeutil import aware, utcnow
from ..uploads import image_path as image_file
from ..uploads import read_image, save_image
from .exceptions import (
    AlreadyFulfilled,
    InvalidFundingRate,
    InvalidOffer,
    LimitReached,
    NotRefundable,
    OfferUnavailable,
    OtherMerchant,
    OutOfStock,
    RedemptionCancelled,
    RedemptionExpired,
    UnknownMerchant,
    UnknownOffer,
    UnknownRedemption,
)
from .models import Offer, OfferStatus, Redemption, RedemptionStatus

OPEN = (RedemptionStatus.HELD, RedemptionStatus.FULFILLED)


# --- offers ------------------------------------------------------------------------------


def _offer_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The offer's fields, checked all at once: every problem on its field, in words
    (``InvalidOffer.details``), never the field's name."""
    problems: dict[str, str] = {}
    fields: dict[str, Any] = {}

    def text(name: str, limit: int, required: bool = False) -> None:
        value = str(data.get(name) or "").strip()
        if required and not value:
            problems[name] = _("Enter a title in Chinese.")
        elif len(value) > limit:
            problems[name] = _("At most %(n)s characters.", n=limit)
        fields[name] = value

    def integer(name: str, minimum: int) -> None:
        value = data.get(name)
        number = None
        if isinstance(value, int | str) and not isinstance(value, bool):
            with suppress(ValueError):
                number = int(value)
        if number is None or not minimum <= number <= MAX_INT:
            problems[name] = _("Enter a whole number, %(min)s or more.", min=minimum)
        fields[name] = number

    text("title_zh", 80, required=True)
    text("title_en", 120)
    text("description_zh", 2000)
    text("description_en", 2000)
    integer("points_price", 1)
    integer("stock", 0)
    integer("per_resident_limit", 1)
    valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
    if not isinstance(valid_from, datetime):
        problems["valid_from"] = _("Enter the date and time the offer starts.")
    if not isinstance(valid_until, datetime):
        problems["valid_until"] = _("Enter the date and time the offer ends.")
    elif isinstance(valid_from, datetime) and aware(valid_until) <= aware(valid_from):
        problems["valid_until"] = _("The offer must end after it starts.")
    if problems or not isinstance(valid_from, datetime) or not isinstance(valid_until, datetime):
        raise InvalidOffer(
            details=problems, field=next(iter(problems)), problem=" ".join(problems.values())
        )
    return {**fields, "valid_from": aware(valid_from), "valid_until": aware(valid_until)}


def create_offer(staff: User, data: dict[str, Any], image: Any = None) -> Offer:
    """A merchant proposes an offer; it goes live once an administrator approves it. The
    offer's fields and then its image are checked before the image is stored, so a refused
    offer leaves no file behind."""
    fields = _offer_fields(data)
    picture = read_image(image) if image is not None and image.filename else None
    path = save_image(picture[0], "offers") if picture else None
    offer = Offer(
        merchant_id=staff.merchant_id, status=OfferStatus.PENDING, image_path=path, **fields
    )
    try:
        db.session.add(offer)
        db.session.flush()
        record_audit(staff, "offer.create", "offer", offer.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        if path:
            with suppress(FileNotFoundError):
                image_file(path).unlink()
        raise
    return offer


# Offers whose image anyone may see: approved ones (paused ones were approved).
PUBLIC_IMAGE = (OfferStatus.ACTIVE, OfferStatus.PAUSED)


def offer_image_visible(offer: Offer, viewer: Any) -> bool:
    """An offer's image is public once approved; before (or if rejected), only its
    merchant's staff and administrators see it."""
    if offer.status in PUBLIC_IMAGE:
        return True
    if not getattr(viewer, "is_authenticated", False):
        return False
    return bool(viewer.role is Role.ADMIN or viewer.merchant_id == offer.merchant_id)


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


# Accounts read with another row (LEFT OUTER JOIN), aliased once: an alias built per
# request costs more Python than the statement it saves.
_HOLDS_ROW = aliased(Account, name="holds_account")
_MERCHANT_ROW = aliased(Account, name="merchant_account")


@cache
def _offer_to_redeem() -> Any:
    """``redeem_offer``'s one statement (the offer, the resident's open redemptions of it, a
    redemption made with the key before, the holds account), built once per process with
    its values bound at execution: built per redemption it cost more Python than the rest
    of the statement's execution."""
    return (
        select(
            Offer,
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.resident_id == bindparam("resident_id"),
                Redemption.offer_id == Offer.id,
                Redemption.status.in_(OPEN),
            )
            .scalar_subquery(),
            select(Redemption.id)
            .where(Redemption.idempotency_key == bindparam("key"))
            .scalar_subquery(),
            _HOLDS_ROW,
        )
        .outerjoin(_HOLDS_ROW, _HOLDS_ROW.code == bindparam("holds"))
        .where(Offer.id == bindparam("offer"))
    )


def redeem_offer(resident: User, offer_id: int, idempotency_key: str | None = None) -> Redemption:
    """Hold the offer's price and issue a redemption code. A repeated key returns the first."""
    if resident.role is not Role.RESIDENT:
        raise Forbidden()
    key = f"redeem:{resident.id}:{idempotency_key or uuid.uuid4().hex}"
    try:
        # the answer is the redemption as inserted and its offer as read: kept at the commit
        with unit_of_work(keep_loaded=True):
            # one resident's redemptions run one at a time: a repeated key is found under it
            account, balances = locked_account(
                f"resident:{resident.id}", AccountKind.RESIDENT, user_id=resident.id
            )
            # One statement: the offer, the resident's open redemptions of it, a
            # redemption made with this key before (answered first, whatever the offer)
            # and the holds account.
            holds_spec = system_spec(AccountKind.HOLDS)
            found = db.session.execute(
                _offer_to_redeem(),
                {"resident_id": resident.id, "key": key, "holds": holds_spec[0], "offer": offer_id},
            ).first()
            if found is None:  # no such offer: a repeated key is still answered first
                existing = _by_key(key)
            elif found[2] is not None:
                existing = db.session.get(Redemption, found[2])
            else:
                existing = None
            if existing is not None:
                db.session.rollback()
                return existing
            if found is None:
                raise UnknownOffer()
            offer, used = found[0], found[1]
            now = utcnow()
            if offer.status is not OfferStatus.ACTIVE or not (
                aware(offer.valid_from) <= now < aware(offer.valid_until)
            ):
                raise OfferUnavailable()
            if (used or 0) >= offer.per_resident_limit:
                raise LimitReached()
            if offer.stock <= 0:
                raise OutOfStock()  # as read: the conditional UPDATE below decides
            hours = current_app.config["REDEMPTION_HOLD_HOURS"]
            redemption = _insert_redemption(offer, resident, key, now + timedelta(hours=hours))
            redemption_id = redemption.id
            post_entry(
                EntryKind.HOLD,
                [
                    Leg(account, -offer.points_price),
                    Leg(found_or_created(holds_spec, found[3]), offer.points_price),
                ],
                f"hold:{redemption_id}",  # a redemption made just now: never held before
                resident_id=resident.id,
                ref=("redemption", redemption_id),
                memo=f"redeem offer {offer.id}",
                balances=balances,
                new_key=True,
            )
            record_audit(
                resident,
                "redemption.create",
                "redemption",
                redemption_id,
                offer_id=offer.id,
                points=offer.points_price,
            )
            # Last, just before the commit: every redemption of this offer waits for this
            # row's lock, so it is held for this UPDATE and the COMMIT only, not for the
            # statements above (a thread of a busy worker may wait for the GIL between them).
            # No stock left: the whole transaction rolls back, hold and redemption with it.
            taken = db.session.execute(_take_one(), {"offer_id": offer.id})
            if rowcount(taken) == 0:
                raise OutOfStock()
            db.session.expire(offer, ["stock"])
    except IntegrityError:
        # The same key raced in from another request and won: answer with its result.
        existing = _by_key(key)
        if existing is None:
            raise
        return existing
    return redemption


@cache
def _take_one() -> Any:
    """The offer's stock taken by one, if any is left and the offer is still active: a Core
    ``UPDATE`` built once (the ORM's would also evaluate its criteria against the session's
    objects, a fifth of a redemption's Python, to change ``stock``, which is expired after)."""
    table = Offer.__table__
    return (
        update(table)
        .where(
            table.c.id == bindparam("offer_id"),
            table.c.stock > 0,
            table.c.status == OfferStatus.ACTIVE,
        )
        .values(stock=table.c.stock - 1)
    )


def _insert_redemption(offer: Offer, resident: User, key: str, expires: datetime) -> Redemption:
    """Insert a held redemption; returns it as stored (``RETURNING`` every column), with
    ``offer``. A short code already taken (rare) is drawn again without a savepoint: the
    insert skips the conflict on ``short_code`` and returns nothing. The same idempotency key
    is not skipped: it raises ``IntegrityError``."""
    statement = _redemption_insert(db.session.get_bind().dialect.name)
    for _attempt in range(5):
        inserted: Redemption | None = db.session.execute(
            statement,
            {
                "offer_id": offer.id,
                "merchant_id": offer.merchant_id,
                "resident_id": resident.id,
                "points": offer.points_price,
                "status": RedemptionStatus.HELD,
                "short_code": new_short_code(),
                "nonce": new_nonce(),
                "idempotency_key": key,
                "expires_at": expires,
                "created_at": utcnow(),
            },
        ).scalar()
        if inserted is not None:
            set_committed_value(inserted, "offer", offer)
            return inserted
    raise RuntimeError("could not allocate a unique short code")


_REDEMPTION_VALUES = (
    "offer_id",
    "merchant_id",
    "resident_id",
    "points",
    "status",
    "short_code",
    "nonce",
    "idempotency_key",
    "expires_at",
    "created_at",
)


@cache
def _redemption_insert(dialect: str) -> Any:
    """``_insert_redemption``'s statement, built once per process with its values as bound
    parameters: building it per redemption cost more Python than executing it. A Core
    ``INSERT ... RETURNING`` whose row the ORM loads (``from_statement``): the ORM's own
    INSERT of an entity took ~160 us more per redemption (its bulk-insert path)."""
    table = Redemption.__table__
    module = postgresql if dialect == "postgresql" else sqlite
    return select(Redemption).from_statement(
        module.insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in _REDEMPTION_VALUES})
        .on_conflict_do_nothing(index_elements=["short_code"])
        .returning(*table.c)
    )


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
) -> tuple[Redemption, list[Account | None]]:
    """The redemption a counter shows, with the accounts its settlement moves (the
    merchant's, holds) when they were read with it (a short code's one statement; None
    where not read or missing: ``found_or_created``)."""
    found: list[Account | None] = [None, None]
    if token:
        subject, nonce = read_token("redeem", token, current_app.config["REDEEM_QR_SECONDS"])
        redemption = db.session.get(Redemption, subject) if isinstance(subject, int) else None
        if redemption is None or redemption.nonce != nonce:
            raise InvalidQr()
    else:
        normalised = normalise_short_code(code)
        row = (
            db.session.execute(
                _to_fulfil(), {"code": normalised, "holds": system_spec(AccountKind.HOLDS)[0]}
            ).first()
            if normalised
            else None
        )
        if row is None:
            raise UnknownRedemption()
        redemption, found = row[0], [row[1], row[2]]
    if redemption.merchant_id != staff.merchant_id:
        # the same answer as a code nobody holds: a counter learns nothing of other shops' codes
        raise UnknownRedemption()
    return redemption, found


@cache
def _to_fulfil() -> Any:
    """``find_for_fulfilment``'s statement for a short code (the redemption, its offer, the
    merchant's and holds accounts), built once per process with its values bound at
    execution: its loader option and joins built per request cost more Python than its
    execution."""
    return (
        select(Redemption, _MERCHANT_ROW, _HOLDS_ROW)
        .options(joinedload(Redemption.offer))  # the notification names it
        .outerjoin(_MERCHANT_ROW, _MERCHANT_ROW.merchant_id == Redemption.merchant_id)
        .outerjoin(_HOLDS_ROW, _HOLDS_ROW.code == bindparam("holds"))
        .where(Redemption.short_code == bindparam("code"))
    )


def fulfil_redemption(
    staff: User,
    *,
    code: str | None = None,
    token: str | None = None,
    idempotency_key: str | None = None,
) -> Redemption:
    """The merchant confirms: held points move to the merchant, exactly once."""
    redemption, found = find_for_fulfilment(staff, code=code, token=token)
    fulfil_key = f"fulfil:{staff.id}:{idempotency_key}" if idempotency_key else None
    if fulfil_key and redemption.fulfil_key == fulfil_key:
        return redemption  # a retry of a fulfilment that already happened
    now = utcnow()
    fulfilled = {
        "status": RedemptionStatus.FULFILLED,
        "closed_at": now,
        "fulfilled_by_id": staff.id,
        "fulfil_key": fulfil_key,
    }
    changed = db.session.execute(
        _fulfil_held(), {"redemption_id": redemption.id, "now": now, **fulfilled}
    )
    if rowcount(changed) == 0:
        db.session.rollback()
        db.session.refresh(redemption)
        raise _closed_error(redemption)
    for name, value in fulfilled.items():  # the loaded redemption as the row now is
        set_committed_value(redemption, name, value)
    record_audit(staff, "redemption.fulfil", "redemption", redemption.id)
    notify(
        redemption.resident_id,
        K.VOUCHER_FULFILLED,
        {
            "redemption_id": redemption.id,
            "title_zh": redemption.offer.title_zh,
            "title_en": redemption.offer.title_en,
        },
    )
    # Every fulfilment at this merchant credits its one account: not locked here, its
    # balance moves by the entry's last statement, so its row is locked up to the commit only.
    # Both accounts read with the redemption (or in one statement), neither locked (holds
    # keeps no cached balance).
    specs = (merchant_spec(redemption.merchant_id), system_spec(AccountKind.HOLDS))
    if None in found:
        merchant, holds = accounts(*specs)
    else:
        merchant, holds = (found_or_created(spec, a) for spec, a in zip(specs, found, strict=True))
    post_entry(
        EntryKind.SETTLE,
        [Leg(holds, -redemption.points), Leg(merchant, redemption.points)],
        f"settle:{redemption.id}",  # the HELD -> FULFILLED update above happens once
        resident_id=redemption.resident_id,
        ref=("redemption", redemption.id),
        memo="fulfilled",
        balances={},
        new_key=True,
        credited=merchant,
    )
    # The redemption and its offer are loaded; the new status was set on the loaded
    # redemption above as the UPDATE set it on the row.
    commit_keeping_loaded()
    return redemption


@cache
def _fulfil_held() -> Any:
    """A held, unexpired redemption fulfilled: a Core ``UPDATE`` built once, its values bound
    at execution (``fulfil_redemption`` sets them on the loaded redemption itself; the ORM's
    UPDATE evaluated its criteria against the session's objects to do the same)."""
    table = Redemption.__table__
    return update(table).where(
        table.c.id == bindparam("redemption_id"),
        table.c.status == RedemptionStatus.HELD,
        table.c.expires_at > bindparam("now", type_=table.c.expires_at.type),
    )  # SET: the columns named by the parameters (status, closed_at, fulfilled_by_id, ...)


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
    if rowcount(changed) == 0:
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
    if rowcount(changed) == 0 or settle is None:
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


def set_funding_rate(
    admin: User, merchant_id: int, yuan_per_point: Any, offer_id: int | None = None
) -> Merchant:
    """Set the yuan the city pays per point redeemed at a merchant, or on one of its offers
    (which then takes precedence); blank clears it (not funded, or the merchant's rate)."""
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None:
        raise UnknownMerchant()
    offer = None
    if offer_id is not None:
        offer = db.session.get(Offer, offer_id)
        if offer is None or offer.merchant_id != merchant.id:
            raise UnknownOffer()
    raw = str(yuan_per_point if yuan_per_point is not None else "").strip()
    rate: str | None = None
    if raw:
        try:
            value = Decimal(raw)
        except ArithmeticError:
            raise InvalidFundingRate(field="yuan_per_point") from None
        if not value.is_finite() or not 0 <= value <= 100:
            raise InvalidFundingRate(field="yuan_per_point")
        rate = format(value.normalize(), "f")
    target = offer if offer is not None else merchant
    old = target.funded_yuan_per_point
    target.funded_yuan_per_point = rate
    record_audit(
        admin,
        "merchant.funding",
        "offer" if offer is not None else "merchant",
        target.id,
        old=old,
        new=rate,
    )
    db.session.commit()
    return merchant

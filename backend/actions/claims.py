"""Counter-signed claims: the resident shows a dynamic QR (or its short code, or a printed
household card at a staffed station); station or restaurant staff weigh the waste or confirm
the meal, and the staff member is recorded as the verifier.

A claim sent with an ``Idempotency-Key`` stores the key (unique per staff member) in the same
transaction as the record and its credit: a retry with the same key, however late, returns the
first record and credits nothing more. Without a key, or with another key, the verification's
dedupe rules decide.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, cast

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from methodologies.food_waste import KINDS, meal_slot
from methodologies.waste_sorting import CATEGORIES

from ..accounts.models import User
from ..audit.services import record_audit
from ..bulk import rowcount
from ..errors import DomainError
from ..extensions import commit_keeping_loaded, db
from ..ledger.exceptions import IdempotencyConflict
from ..merchants.models import MerchantKind
from ..methodology_versions.models import MethodologyVersion
from ..methodology_versions.services import history, in_force_at
from ..qr import make_token, new_nonce, new_short_code, normalise_short_code, read_token
from ..timeutil import utcnow
from .catalogue import RESIDENT_ACTIONS, STATION_ACTIONS
from .exceptions import ClaimCodeInvalid, CounterInputInvalid, InvalidActivity, WrongStation
from .models import ActivityRecord, Channel, ClaimCode, ClaimKey, HouseholdCard
from .verification import verify_stored
from .words import category_name, kg

GRACE = timedelta(seconds=10)  # the time it takes the attendant to type or scan


def new_claim_code(resident: User) -> ClaimCode:
    """A fresh dynamic code for the resident's claim QR (valid about a minute, used once).
    Expired codes are deleted by ``purge_claim_codes`` (a periodic job), not here."""
    now = utcnow()
    seconds = current_app.config["CLAIM_QR_SECONDS"]
    for _attempt in range(5):
        claim = ClaimCode(
            nonce=new_nonce(),
            code=new_short_code(8),
            resident_id=resident.id,
            expires_at=now + timedelta(seconds=seconds),
        )
        db.session.add(claim)
        try:
            commit_keeping_loaded()  # the answer is the code as inserted: not read again
            return claim
        except IntegrityError:  # a short-code collision: try another code
            db.session.rollback()
    raise RuntimeError("could not allocate a claim code")


def purge_claim_codes(now: datetime | None = None) -> int:
    """Delete claim codes a day after they expired (a periodic job). Each new code used to
    do it, a statement on every QR a resident opens; an expired code is refused by its
    ``expires_at`` whether it is still stored or not."""
    cutoff = (now or utcnow()) - timedelta(days=1)
    result = db.session.execute(db.delete(ClaimCode).where(ClaimCode.expires_at < cutoff))
    db.session.commit()
    return rowcount(result)


def issue_card(resident: User) -> HouseholdCard:
    """A printed household card; issuing a new one revokes the previous card."""
    now = utcnow()
    db.session.execute(
        update(HouseholdCard)
        .where(HouseholdCard.resident_id == resident.id, HouseholdCard.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    card = HouseholdCard(resident_id=resident.id, nonce=new_nonce())
    db.session.add(card)
    db.session.flush()
    record_audit(resident, "card.issue", "household_card", card.id)
    db.session.commit()
    return card


def claim_token(claim: ClaimCode) -> str:
    """The signed token of a claim QR (the page's and the API's alike)."""
    return make_token("claim", claim.resident_id, claim.nonce)


def card_token(card: HouseholdCard) -> str:
    """The signed token printed on a household card."""
    return make_token("card", card.resident_id, card.nonce)


def active_card(resident_id: int) -> HouseholdCard | None:
    return db.session.scalar(
        select(HouseholdCard).where(
            HouseholdCard.resident_id == resident_id, HouseholdCard.revoked_at.is_(None)
        )
    )


def use_claim(*, token: str | None, code: str | None) -> int:
    """The resident behind a claim QR or code, marking it used (atomically, once)."""
    now = utcnow()
    if token:
        max_age = current_app.config["CLAIM_QR_SECONDS"] + int(GRACE.total_seconds())
        _, nonce = read_token("claim", token, max_age)
        column, value = "nonce", nonce
    else:
        normalised = normalise_short_code(code)
        if not normalised:
            raise ClaimCodeInvalid(field="code")
        column, value = "code", normalised
    # One statement: the code is unique (as is the nonce), so the conditional UPDATE finds
    # it, uses it once and names its resident; unknown, used and expired are one answer.
    resident_id = db.session.execute(
        _use_code(column), {"value": value, "now": now, "since": now - GRACE}
    ).scalar()
    if resident_id is None:
        raise ClaimCodeInvalid(field="code")
    return int(resident_id)


@cache
def _use_code(column: str) -> Any:
    """``use_claim``'s conditional UPDATE of a claim code found by ``column`` (its code or
    its QR's nonce), built once per process, its values bound at execution."""
    table = ClaimCode.__table__
    return (
        update(table)
        .where(
            table.c[column] == bindparam("value"),
            table.c.used_at.is_(None),
            table.c.expires_at > bindparam("since", type_=table.c.expires_at.type),
        )
        .values(used_at=bindparam("now", type_=table.c.used_at.type))
        .returning(table.c.resident_id)
    )


def _use_card(token: str) -> int:
    _, nonce = read_token("card", token, max_age=10 * 365 * 24 * 3600)
    card = db.session.scalar(
        select(HouseholdCard).where(
            HouseholdCard.nonce == nonce, HouseholdCard.revoked_at.is_(None)
        )
    )
    if card is None:
        raise ClaimCodeInvalid(field="code")
    return cast(int, card.resident_id)


def _with_defaults(action: str, activity: dict[str, Any]) -> dict[str, Any]:
    now = utcnow().isoformat()
    activity = dict(activity)
    if action == "waste_sorting":
        activity.setdefault("collected_at", now)
        activity.setdefault("weighed", True)  # weighed by the attendant on the station's scale
    else:
        activity.setdefault("meal_at", now)
    return activity


def _number(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _caps(action: str, versions: dict[str, list[MethodologyVersion]]) -> dict[str, Decimal]:
    version = in_force_at(versions.get(action, []), utcnow())
    return version.decimal_params() if version is not None else {}


def _waste_problems(activity: dict[str, Any], caps: dict[str, Decimal]) -> dict[str, str]:
    problems: dict[str, str] = {}
    items = activity.get("items")
    if not isinstance(items, list) or not items:
        return {"items": _("Enter the weight of at least one kind of waste.")}
    item_cap = caps.get("max_item_weight_kg")
    total = Decimal(0)
    for item in items:
        category = item.get("category") if isinstance(item, dict) else None
        field = f"weight_{category}"
        weight = _number(item.get("weight_kg")) if isinstance(item, dict) else None
        if category not in CATEGORIES:
            problems["items"] = _("Only paper, plastic, metal, glass, textiles and kitchen waste.")
        elif weight is None:
            problems[field] = _("Enter the weight in kg as a number, for example 2.5.")
        elif weight <= 0:
            problems[field] = _("The weight must be more than 0 kg.")
        elif item_cap is not None and weight > item_cap:
            problems[field] = _(
                "%(kg)s kg of %(category)s is more than one household brings (at most "
                "%(cap)s kg). Please check the scale.",
                kg=kg(weight),
                category=category_name(category),
                cap=kg(item_cap),
            )
        else:
            total += weight
    total_cap = caps.get("max_collection_weight_kg")
    if not problems and total_cap is not None and total > total_cap:
        problems["items"] = _(
            "Together %(kg)s kg is more than one drop-off (at most %(cap)s kg). "
            "Please check the weights.",
            kg=kg(total),
            cap=kg(total_cap),
        )
    return problems


def _meal_problems(activity: dict[str, Any], caps: dict[str, Decimal]) -> dict[str, str]:
    problems: dict[str, str] = {}
    kind = activity.get("kind")
    if kind not in KINDS:
        problems["kind"] = _("Choose clean plate or small portion.")
    diners = _number(activity.get("diners", 1))
    max_diners = caps.get("max_diners", Decimal(20))
    if diners is None or diners != diners.to_integral_value() or not 1 <= diners <= max_diners:
        problems["diners"] = _(
            "Enter the number of diners, a whole number from 1 to %(max)s.", max=kg(max_diners)
        )
    if kind == "small_portion":
        portion = _number(activity.get("portion_reduction_kg") or "")
        portion_cap = caps.get("max_portion_reduction_kg")
        if portion is None or portion <= 0:
            problems["portion_reduction_kg"] = _(
                "A small portion needs the food not ordered, in kg (for example 0.3)."
            )
        elif portion_cap is not None and portion > portion_cap:
            problems["portion_reduction_kg"] = _(
                "%(kg)s kg less food is more than one table saves (at most %(cap)s kg).",
                kg=kg(portion),
                cap=kg(portion_cap),
            )
    try:
        slot = meal_slot(activity)
    except ValueError:
        problems["meal_at"] = _("Enter the time of the meal.")
    else:
        if slot == "other":
            problems["form"] = _(
                "It is outside meal times (breakfast 5-10, lunch 10-15, dinner 15-22 o'clock): "
                "a meal cannot be confirmed now."
            )
    return problems


def check_counter_input(
    action: str,
    activity: dict[str, Any],
    versions: dict[str, list[MethodologyVersion]] | None = None,
) -> None:
    """What staff entered, checked before the resident's code is used.

    Each problem goes on its form field (``CounterInputInvalid.details``), all at once; the
    caps are the in-force methodology version's, so nothing passes here that the
    verification would refuse for the same reason. ``versions`` as ``history`` gives them
    (read here when not given)."""
    activity = _with_defaults(action, activity)
    caps = _caps(action, history([action]) if versions is None else versions)
    if action == "waste_sorting":
        problems = _waste_problems(activity, caps)
    else:
        problems = _meal_problems(activity, caps)
    if problems:
        raise CounterInputInvalid(details=problems, field=next(iter(problems)))


def _request_hash(
    activity: dict[str, Any], token: str | None, code: str | None, card: str | None
) -> str:
    """What a retry repeats: the code (as typed or scanned) and the activity as sent."""
    request = {
        "token": token,
        "code": normalise_short_code(code),
        "card": card,
        "activity": activity,
    }
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claimed_with(staff: User, key: str, request_hash: str) -> ActivityRecord | None:
    """The record a staff member's earlier claim with this key made, if any."""
    claim_key = db.session.scalar(
        select(ClaimKey).where(ClaimKey.staff_id == staff.id, ClaimKey.key == key)
    )
    if claim_key is None:
        return None
    if claim_key.request_hash != request_hash:
        raise IdempotencyConflict()
    return cast(ActivityRecord | None, claim_key.record)


def submit_claim(
    staff: User,
    activity: dict[str, Any],
    *,
    token: str | None = None,
    code: str | None = None,
    card: str | None = None,
    idempotency_key: str | None = None,
) -> ActivityRecord:
    """Staff confirm a resident's action; verified at once, the staff member as verifier.

    A repeated ``idempotency_key`` from the same staff member returns the first record."""
    merchant = staff.merchant
    action = STATION_ACTIONS.get(merchant.kind) if merchant else None
    if action is None or (card and merchant.kind is not MerchantKind.WASTE_STATION):
        raise WrongStation()
    if not isinstance(activity, dict):
        raise InvalidActivity(problem="activity", field="activity")
    request_hash = _request_hash(activity, token, code, card)
    # A key used before is not looked up first (a statement on every claim): its retry fails
    # below, on the used code or on the key's unique constraint, and is answered there.
    try:
        # The versions, read once: the caps here and the verification's own choice below.
        versions = history(RESIDENT_ACTIONS)
        check_counter_input(action, activity, versions)  # before the code is used
        if card:
            resident_id, channel = _use_card(card), Channel.CARD
        else:
            resident_id, channel = use_claim(token=token, code=code), Channel.CLAIM
        record: ActivityRecord = db.session.execute(
            _insert_record(),
            {
                "channel": channel,
                "action": action,
                "resident_id": resident_id,
                "verifier_id": staff.id,
                "verifier_merchant_id": merchant.id,
                "activity": _with_defaults(action, activity),
                "flags": [],
            },
        ).scalar_one()
        if idempotency_key:
            # A concurrent request with the same key waits here for the first to commit,
            # then fails on the unique (staff, key) and answers with the first record.
            # (a Core INSERT: the key's ORM object was never read, and its flush cost more
            # Python than the statement)
            db.session.execute(
                insert(ClaimKey.__table__),
                {
                    "staff_id": staff.id,
                    "key": idempotency_key,
                    "request_hash": request_hash,
                    "record_id": record.id,
                    "created_at": utcnow(),
                },
            )
        record_audit(staff, "claim.submit", "activity_record", record.id, channel=channel.value)
        record_id = record.id
        verify_stored(record, versions)  # the record's outcome, any credit
        # The answer: the record as verified, with its reduction, read in this transaction
        # (one statement) and kept at the commit, not read again in a second one.
        answer: ActivityRecord = db.session.execute(
            _answer(), {"record_id": record_id}
        ).scalar_one()
        commit_keeping_loaded()  # the same when crediting is paused and the record is pending
    except (DomainError, IntegrityError):
        db.session.rollback()
        # A retry, or the same key raced in from another request and won (its claim code is
        # used now, or its key row is there): answer with its result (a conflict if the
        # key was used for another request).
        first = _claimed_with(staff, idempotency_key, request_hash) if idempotency_key else None
        if first is None:
            raise
        return first
    except Exception:
        db.session.rollback()
        raise
    return answer


_RECORD_VALUES = (
    "channel",
    "action",
    "resident_id",
    "verifier_id",
    "verifier_merchant_id",
    "activity",
    "flags",
)


@cache
def _insert_record() -> Any:
    """The claim's record: a Core ``INSERT ... RETURNING`` (the other columns take their
    defaults) whose row the ORM loads, built once per process; the ORM object added and
    flushed cost ~160 us more (the unit of work)."""
    table = ActivityRecord.__table__
    return select(ActivityRecord).from_statement(
        insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in _RECORD_VALUES})
        .returning(*table.c)
    )


@cache
def _answer() -> Any:
    """``submit_claim``'s answer: the record as verified, with its reduction, loaded afresh
    over the session's copy; built once per process, the record's id bound at execution."""
    return (
        select(ActivityRecord)
        .options(joinedload(ActivityRecord.reduction))
        .where(ActivityRecord.id == bindparam("record_id"))
        .execution_options(populate_existing=True)
    )

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
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..audit.services import record_audit
from ..errors import DomainError
from ..extensions import db
from ..ledger.exceptions import IdempotencyConflict
from ..merchants.models import MerchantKind
from ..qr import make_token, new_nonce, new_short_code, normalise_short_code, read_token
from ..timeutil import utcnow
from .catalogue import STATION_ACTIONS
from .exceptions import ClaimCodeInvalid, InvalidActivity, WrongStation
from .models import ActivityRecord, Channel, ClaimCode, ClaimKey, HouseholdCard
from .verification import verify_records

GRACE = timedelta(seconds=10)  # the time it takes the attendant to type or scan


def new_claim_code(resident: User) -> ClaimCode:
    """A fresh dynamic code for the resident's claim QR (valid about a minute, used once)."""
    now = utcnow()
    seconds = current_app.config["CLAIM_QR_SECONDS"]
    db.session.execute(db.delete(ClaimCode).where(ClaimCode.expires_at < now - timedelta(days=1)))
    for _ in range(5):
        claim = ClaimCode(
            nonce=new_nonce(),
            code=new_short_code(8),
            resident_id=resident.id,
            expires_at=now + timedelta(seconds=seconds),
        )
        db.session.add(claim)
        try:
            db.session.commit()
            return claim
        except IntegrityError:  # a short-code collision: try another code
            db.session.rollback()
    raise RuntimeError("could not allocate a claim code")


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


def _use_claim(*, token: str | None, code: str | None) -> int:
    """The resident behind a claim QR or code, marking it used (atomically, once)."""
    now = utcnow()
    if token:
        max_age = current_app.config["CLAIM_QR_SECONDS"] + int(GRACE.total_seconds())
        _, nonce = read_token("claim", token, max_age)
        condition = ClaimCode.nonce == nonce
    else:
        normalised = normalise_short_code(code)
        if not normalised:
            raise ClaimCodeInvalid(field="code")
        condition = ClaimCode.code == normalised
    claim = db.session.scalar(select(ClaimCode).where(condition))
    if claim is None:
        raise ClaimCodeInvalid(field="code")
    used = db.session.execute(
        update(ClaimCode)
        .where(
            ClaimCode.nonce == claim.nonce,
            ClaimCode.used_at.is_(None),
            ClaimCode.expires_at > now - GRACE,
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:
        raise ClaimCodeInvalid(field="code")
    return claim.resident_id


def _use_card(token: str) -> int:
    _, nonce = read_token("card", token, max_age=10 * 365 * 24 * 3600)
    card = db.session.scalar(
        select(HouseholdCard).where(
            HouseholdCard.nonce == nonce, HouseholdCard.revoked_at.is_(None)
        )
    )
    if card is None:
        raise ClaimCodeInvalid(field="code")
    return card.resident_id


def _with_defaults(action: str, activity: dict[str, Any]) -> dict[str, Any]:
    now = utcnow().isoformat()
    activity = dict(activity)
    if action == "waste_sorting":
        activity.setdefault("collected_at", now)
        activity.setdefault("weighed", True)  # weighed by the attendant on the station's scale
    else:
        activity.setdefault("meal_at", now)
    return activity


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
    return claim_key.record


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
    if idempotency_key:
        first = _claimed_with(staff, idempotency_key, request_hash)
        if first is not None:
            return first
    try:
        if card:
            resident_id, channel = _use_card(card), Channel.CARD
        else:
            resident_id, channel = _use_claim(token=token, code=code), Channel.CLAIM
        record = ActivityRecord(
            channel=channel,
            action=action,
            resident_id=resident_id,
            verifier_id=staff.id,
            verifier_merchant_id=merchant.id,
            activity=_with_defaults(action, activity),
            flags=[],
        )
        db.session.add(record)
        db.session.flush()
        if idempotency_key:
            # A concurrent request with the same key waits here for the first to commit,
            # then fails on the unique (staff, key) and answers with the first record.
            db.session.add(
                ClaimKey(
                    staff_id=staff.id,
                    key=idempotency_key,
                    request_hash=request_hash,
                    record_id=record.id,
                )
            )
            db.session.flush()
        record_audit(staff, "claim.submit", "activity_record", record.id, channel=channel.value)
        verify_records([record.id])  # commits the claim use, the record and any credit
        db.session.commit()  # the same when crediting is paused and the record stays pending
    except (DomainError, IntegrityError):
        db.session.rollback()
        # The same key raced in from another request and won (its claim code is used now,
        # or its key row is there): answer with its result.
        first = _claimed_with(staff, idempotency_key, request_hash) if idempotency_key else None
        if first is None:
            raise
        return first
    except Exception:
        db.session.rollback()
        raise
    db.session.refresh(record)
    return record

"""Residents link external identities (card numbers, accounts) to partners, with consent.

Only a keyed hash of the identity is stored (HMAC with IDENTITY_KEY, salted per partner), so a
leak of the database does not reveal card numbers. The identity is normalised first
(``normalise_identity``: full-width forms, spaces, separators, case), the same way when a
resident links it and when a partner's record is matched, so "qz 0012-3456" and "QZ00123456"
are one card.

Ownership before credit (DESIGN.md invariant 6): a new link is *claimed* and credits nothing.
It is proven by the partner, which confirms it through the signed API with the one-time link
code the resident shows in the partner's own app or at its counter (``confirm_by_partner``),
or by station staff who see the card and the resident's QR together (``confirm_at_counter``).
Records that arrive for a claimed identity wait, unmatched; once the link is proven, those
dated within the partner claim window (``link_wait``) are verified and credited
(``credit_waiting``), the older ones are kept with the reason. Several residents may claim
one identity, and each gets the same answer (nobody learns that a card is someone else's); the
proven claimant holds it, and the other claims are released (the resident sees why on their
sources page).

Unlinking revokes consent: later records for that identity arrive as "unmatched" and earn
nothing.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import methodologies

from ..accounts.models import User
from ..audit.services import record_audit
from ..crypto import keyed_hash
from ..extensions import db
from ..partners.models import Partner
from ..qr import new_short_code, normalise_short_code
from ..timeutil import utcnow
from .claims import STATION_ACTIONS, use_claim
from .exceptions import (
    InvalidIdentity,
    LinkCodeInvalid,
    LinkNeedsPartner,
    LinkNotClaimed,
    TooManyLinks,
    UnknownBinding,
    UnknownPartnerCode,
    WrongStation,
)
from .models import ActivityRecord, BindingStatus, IdentityBinding, Outcome
from .reasons import reason
from .verification import MALFORMED, verify_records

IDENTITY_RE = re.compile(r"^[A-Z0-9]{3,64}$")  # normalised; 4-64 characters as typed
# Spaces and the separators printed on cards or typed by people: removed before hashing.
SEPARATORS = re.compile(r"[\s\-_./·:,'\"‐-―−]+")
OPEN = (BindingStatus.CLAIMED, BindingStatus.ACTIVE)
WAITING = "identity_unconfirmed"  # the reason code of a record waiting for a claimed link


def normalise_identity(raw: object) -> str:
    """One form of an identity for linking and matching: NFKC (full-width digits and
    letters), without spaces or separators, upper case."""
    text = unicodedata.normalize("NFKC", str(raw or ""))
    return SEPARATORS.sub("", text).upper()


def identity_hash(partner: Partner, identity: object) -> str:
    return keyed_hash(normalise_identity(identity), purpose=f"partner:{partner.code}")


def identity_hashes(partner: Partner, identity: object) -> tuple[str, str]:
    """The identity's hash, and the hash a link made before identities were normalised would
    have (as typed, trimmed): the same one unless the identity had spaces, separators or
    lower case."""
    typed = str(identity or "").strip()
    normalised = normalise_identity(typed)
    digest = keyed_hash(normalised, purpose=f"partner:{partner.code}")
    if typed == normalised:
        return digest, digest
    return digest, keyed_hash(typed, purpose=f"partner:{partner.code}")


def link_wait() -> timedelta:
    """How old a waiting record's action may be when its link is proven: the claim window
    for operators' data (``CLAIM_WINDOW_PARTNER_DAYS``, 30 days)."""
    return timedelta(days=int(current_app.config["CLAIM_WINDOW_PARTNER_DAYS"]))


def _active_partner(partner_code: str) -> Partner:
    partner: Partner | None = db.session.scalar(select(Partner).where(Partner.code == partner_code))
    if partner is None or not partner.is_active:
        raise UnknownPartnerCode(field="partner")
    return partner


def _fresh_code(binding: IdentityBinding) -> None:
    binding.link_code = new_short_code(8)
    binding.link_code_expires_at = utcnow() + timedelta(hours=current_app.config["LINK_CODE_HOURS"])


def _check_rate(resident: User) -> None:
    """At most LINK_CLAIMS_PER_DAY new claims a day and LINK_OPEN_CLAIMS unproven ones at once,
    counted in the database (it holds whatever the rate limiter's storage does)."""
    config = current_app.config
    mine = IdentityBinding.resident_id == resident.id
    today = db.session.scalar(
        select(func.count())
        .select_from(IdentityBinding)
        .where(mine, IdentityBinding.consented_at > utcnow() - timedelta(days=1))
    )
    open_claims = db.session.scalar(
        select(func.count())
        .select_from(IdentityBinding)
        .where(mine, IdentityBinding.status == BindingStatus.CLAIMED)
    )
    if (today or 0) >= config["LINK_CLAIMS_PER_DAY"] or (open_claims or 0) >= config[
        "LINK_OPEN_CLAIMS"
    ]:
        raise TooManyLinks(field="identity")


def bind_identity(resident: User, partner_code: str, identity: str) -> IdentityBinding:
    """Claim an identity at a partner and record the resident's consent to receive its data.

    The claim credits nothing until proven; the answer is the same whether or not another
    resident claims or holds the identity. Claiming one the resident already has open
    answers that link (with a fresh link code if it is still claimed)."""
    partner = _active_partner(partner_code)
    normalised = normalise_identity(identity)
    typed = re.sub(r"\s", "", str(identity or ""))
    if not 4 <= len(typed) <= 64 or not IDENTITY_RE.match(normalised):
        raise InvalidIdentity(field="identity")
    digest = identity_hash(partner, normalised)
    own: IdentityBinding | None = db.session.scalar(
        select(IdentityBinding).where(
            IdentityBinding.resident_id == resident.id,
            IdentityBinding.partner_id == partner.id,
            IdentityBinding.identity_hash == digest,
            IdentityBinding.status.in_(OPEN),
        )
    )
    if own is not None:
        if own.status is BindingStatus.CLAIMED:
            _fresh_code(own)
            db.session.commit()
        return own
    _check_rate(resident)
    binding = IdentityBinding(
        resident_id=resident.id,
        partner_id=partner.id,
        identity_hash=digest,
        identity_hint="****" + normalised[-4:],
        status=BindingStatus.CLAIMED,
        consented_at=utcnow(),
    )
    _fresh_code(binding)
    try:
        with db.session.begin_nested():
            db.session.add(binding)
    except IntegrityError:  # the same claim sent twice at once: the first one stands
        db.session.rollback()
        again: IdentityBinding = bind_identity(resident, partner_code, identity)
        return again
    record_audit(resident, "binding.claim", "identity_binding", binding.id, partner=partner.code)
    db.session.commit()
    return binding


def new_link_code(resident: User, binding_id: int) -> IdentityBinding:
    """A fresh one-time link code for one of the resident's claimed links (a link in any
    other state is answered as it is, without a code)."""
    binding = db.session.get(IdentityBinding, binding_id)
    if binding is None or binding.resident_id != resident.id:
        raise UnknownBinding()
    if binding.status is BindingStatus.CLAIMED:
        _fresh_code(binding)
        db.session.commit()
    return binding


def confirm_by_partner(partner: Partner, identity: str, link_code: str) -> IdentityBinding:
    """The partner proves a claim: the resident showed this link code in the partner's app
    or at its counter while the partner knew them as the holder of ``identity``.

    Any mismatch (no such claim, wrong or expired code, another partner's claim) is the one
    ``link_code_invalid`` answer."""
    code = normalise_short_code(link_code)
    binding = db.session.scalar(
        select(IdentityBinding)
        .where(
            IdentityBinding.partner_id == partner.id,
            IdentityBinding.identity_hash == identity_hash(partner, identity),
            IdentityBinding.status == BindingStatus.CLAIMED,
            IdentityBinding.link_code == code,
            IdentityBinding.link_code_expires_at > utcnow(),
        )
        .with_for_update()
    )
    if not code or binding is None:
        db.session.rollback()
        raise LinkCodeInvalid(field="link_code")
    return _prove(binding, "partner", partner)


def confirm_at_counter(
    staff: User,
    identity: str,
    *,
    token: str | None = None,
    code: str | None = None,
    partner_code: str | None = None,
) -> IdentityBinding:
    """Station staff prove a claim: they hold the card (``identity`` as printed on it) and
    scan the resident's claim QR (or type its short code) at the same time.

    The QR is used up by the attempt, matched or not, so guessing card numbers for a resident
    needs a fresh QR from them each time. A card the partner itself confirmed for another
    resident is left to the partner (``link_needs_partner``)."""
    merchant = staff.merchant
    if merchant is None or merchant.kind not in STATION_ACTIONS:
        raise WrongStation()
    resident_id = use_claim(token=token, code=code)
    db.session.commit()  # the QR is spent whatever follows
    claims = db.session.scalars(
        select(IdentityBinding).where(
            IdentityBinding.resident_id == resident_id,
            IdentityBinding.status == BindingStatus.CLAIMED,
        )
    ).all()
    match = next(
        (
            b
            for b in claims
            if (partner_code in (None, "", b.partner.code))
            and b.identity_hash == identity_hash(b.partner, identity)
        ),
        None,
    )
    if match is None:
        raise LinkNotClaimed(field="identity")
    held_by_partner_word = db.session.scalar(
        select(IdentityBinding.id).where(
            IdentityBinding.partner_id == match.partner_id,
            IdentityBinding.identity_hash == match.identity_hash,
            IdentityBinding.status == BindingStatus.ACTIVE,
            IdentityBinding.confirmed_via == "partner",
        )
    )
    if held_by_partner_word is not None:
        raise LinkNeedsPartner(field="identity")
    return _prove(match, "counter", staff)


def _prove(binding: IdentityBinding, via: str, actor: User | Partner | None) -> IdentityBinding:
    """Make ``binding`` the identity's one active link; release the others; credit what
    waited for it. Commits."""
    now = utcnow()
    others = db.session.scalars(
        select(IdentityBinding)
        .where(
            IdentityBinding.partner_id == binding.partner_id,
            IdentityBinding.identity_hash == binding.identity_hash,
            IdentityBinding.id != binding.id,
            IdentityBinding.status.in_(OPEN),
        )
        .with_for_update()
    ).all()
    for other in others:
        other.status, other.revoked_at = BindingStatus.RELEASED, now
        other.link_code = other.link_code_expires_at = None
        record_audit(actor, "binding.release", "identity_binding", other.id, by=binding.id)
    db.session.flush()
    binding.status = BindingStatus.ACTIVE
    binding.confirmed_at, binding.confirmed_via = now, via
    binding.confirmed_by_id = actor.id if isinstance(actor, User) else None
    binding.link_code = binding.link_code_expires_at = None
    try:
        db.session.flush()
    except IntegrityError:  # another proof of the same identity committed meanwhile
        db.session.rollback()
        raise LinkCodeInvalid(field="link_code") from None
    record_audit(actor, "binding.confirm", "identity_binding", binding.id, via=via)
    db.session.commit()
    credit_waiting(binding)
    return binding


def credit_waiting(binding: IdentityBinding) -> int:
    """Verify the records that waited for this (now proven) link: those whose action is
    within the partner claim window are credited to its resident by the usual rules, older ones are
    kept with the reason. Returns how many were verified."""
    if binding.status is not BindingStatus.ACTIVE:
        return 0
    records = db.session.scalars(
        select(ActivityRecord)
        .where(
            ActivityRecord.partner_id == binding.partner_id,
            ActivityRecord.identity_hash == binding.identity_hash,
            ActivityRecord.outcome == Outcome.UNMATCHED,
            ActivityRecord.reason_code == WAITING,
        )
        .order_by(ActivityRecord.id)
    ).all()
    if not records:
        return 0
    oldest = utcnow() - link_wait()
    ids = []
    for record in records:
        record.resident_id = binding.resident_id
        try:
            start = methodologies.get(record.action).window(record.activity).start
        except (KeyError, *MALFORMED):
            start = None  # malformed: verification rejects it with the reason
        if start is not None and start < oldest:
            record.outcome, record.reason_code = Outcome.REJECTED, "link_confirmed_too_late"
            record.reason = reason("link_confirmed_too_late")
            continue
        record.outcome, record.reason_code, record.reason = Outcome.PENDING, None, None
        ids.append(record.id)
    db.session.commit()
    for start_at in range(0, len(ids), 1000):
        verify_records(ids[start_at : start_at + 1000])
    return len(ids)


def credit_all_waiting() -> int:
    """The periodic sweep: records that arrived for a claimed identity while its proof was
    being committed (they were matched a moment before) are credited now."""
    ids = db.session.scalars(
        select(IdentityBinding.id)
        .join(
            ActivityRecord,
            (ActivityRecord.partner_id == IdentityBinding.partner_id)
            & (ActivityRecord.identity_hash == IdentityBinding.identity_hash),
        )
        .where(
            IdentityBinding.status == BindingStatus.ACTIVE,
            ActivityRecord.outcome == Outcome.UNMATCHED,
            ActivityRecord.reason_code == WAITING,
        )
        .distinct()
    ).all()
    bindings = [db.session.get(IdentityBinding, i) for i in ids]
    return sum(credit_waiting(b) for b in bindings if b is not None)


def revoke_binding(resident: User, binding_id: int) -> IdentityBinding:
    binding = db.session.get(IdentityBinding, binding_id)
    if binding is None or binding.resident_id != resident.id:
        raise UnknownBinding()
    if binding.status in OPEN:
        binding.status = BindingStatus.REVOKED
        binding.revoked_at = utcnow()
        binding.link_code = binding.link_code_expires_at = None
        record_audit(resident, "binding.revoke", "identity_binding", binding.id)
        db.session.commit()
    return binding


def bindings_of(resident_id: int) -> list[IdentityBinding]:
    return list(
        db.session.scalars(
            select(IdentityBinding)
            .where(IdentityBinding.resident_id == resident_id)
            .order_by(IdentityBinding.id.desc())
        )
    )


def partners_for_binding() -> list[Partner]:
    return list(
        db.session.scalars(
            select(Partner).where(Partner.suspended_at.is_(None)).order_by(Partner.name)
        )
    )

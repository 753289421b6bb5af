"""Partner onboarding, key rotation and HMAC request verification (DESIGN.md).

Signature: hex HMAC-SHA256(secret, METHOD + "\\n" + PATH + "\\n" + TIMESTAMP + "\\n" +
hex SHA256(body)), sent as ``Authorization: HMAC-SHA256 key_id=<id>,signature=<hex>`` with
``X-Timestamp: <unix seconds>``. PATH is the request path, plus ``?query`` when there is one.
A timestamp more than 5 minutes off is refused and each signature is accepted once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import timedelta
from typing import cast

from redis.exceptions import RedisError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..audit.services import record_audit
from ..crypto import decrypt, encrypt
from ..extensions import db, redis_client
from ..timeutil import utcnow
from .exceptions import (
    InvalidPartner,
    InvalidSignature,
    PartnerExists,
    ReplayedRequest,
    StaleTimestamp,
    UnknownPartner,
)
from .models import Partner, PartnerKey, PartnerKind, SeenSignature

CLOCK_SKEW_SECONDS = 300
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{2,40}$")
AUTH_RE = re.compile(r"^HMAC-SHA256\s+key_id=([^,\s]+)\s*,\s*signature=([0-9a-fA-F]{64})$")


def signing_string(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{digest}".encode()


def sign(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """The signature a partner computes; used by tests, load tests and the docs' example."""
    return hmac.new(
        secret.encode(), signing_string(method, path, timestamp, body), hashlib.sha256
    ).hexdigest()


def _new_key(partner: Partner) -> tuple[PartnerKey, str]:
    secret = secrets.token_urlsafe(32)
    key = PartnerKey(
        partner=partner, key_id="pk_" + secrets.token_hex(8), secret_encrypted=encrypt(secret)
    )
    db.session.add(key)
    return key, secret


def create_partner(
    code: str, name: str, kind: PartnerKind | str, *, actor: object = None
) -> tuple[Partner, str, str]:
    """Onboard a partner; returns (partner, key_id, secret). The secret is shown only once."""
    if (
        not CODE_RE.match(code or "")
        or not (name or "").strip()
        or kind not in {k.value for k in PartnerKind}
    ):
        raise InvalidPartner()
    if db.session.scalar(select(Partner.id).where(Partner.code == code)) is not None:
        raise PartnerExists()
    partner = Partner(code=code, name=name.strip(), kind=PartnerKind(kind))
    db.session.add(partner)
    key, secret = _new_key(partner)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise PartnerExists() from None
    record_audit(actor, "partner.create", "partner", partner.id, code=code)
    db.session.commit()
    return partner, key.key_id, secret


def rotate_partner_key(
    code: str, *, actor: object = None, grace: timedelta = timedelta(hours=24)
) -> tuple[str, str]:
    """Issue a new key; older keys keep working for ``grace`` so the operator can switch."""
    partner = db.session.scalar(select(Partner).where(Partner.code == code))
    if partner is None:
        raise UnknownPartner()
    now = utcnow()
    for old in partner.keys:
        if old.is_valid(now):
            old.expires_at = now + grace
    key, secret = _new_key(partner)
    db.session.flush()
    record_audit(actor, "partner.rotate_key", "partner", partner.id, key_id=key.key_id)
    db.session.commit()
    return key.key_id, secret


def _remember_signature(signature: str) -> bool:
    """True when the signature is new; False when it was already used in the window."""
    redis = redis_client()
    if redis is not None:
        try:
            return bool(
                redis.set(f"partner-sig:{signature}", 1, nx=True, ex=2 * CLOCK_SKEW_SECONDS)
            )
        except RedisError:  # Redis down: the database remembers meanwhile, reads keep working
            pass
    cutoff = utcnow() - timedelta(seconds=2 * CLOCK_SKEW_SECONDS)
    db.session.execute(delete(SeenSignature).where(SeenSignature.seen_at < cutoff))
    try:
        with db.session.begin_nested():
            db.session.add(SeenSignature(signature=signature))
    except IntegrityError:
        return False
    db.session.commit()
    return True


def verify_signed_request(
    method: str, path: str, timestamp: str | None, body: bytes, authorization: str | None
) -> Partner:
    """Return the partner who signed this request, or raise why it is refused."""
    match = AUTH_RE.match((authorization or "").strip())
    if match is None:
        raise InvalidSignature()
    key_id, signature = match.group(1), match.group(2).lower()
    try:
        ts = int(timestamp or "")
    except ValueError:
        raise StaleTimestamp() from None
    if abs(time.time() - ts) > CLOCK_SKEW_SECONDS:
        raise StaleTimestamp()
    key = db.session.scalar(select(PartnerKey).where(PartnerKey.key_id == key_id))
    if key is None or not key.is_valid() or not key.partner.is_active:
        raise InvalidSignature()
    expected = sign(decrypt(key.secret_encrypted), method, path, str(ts), body)
    if not hmac.compare_digest(expected, signature):
        raise InvalidSignature()
    if not _remember_signature(signature):
        raise ReplayedRequest()
    return cast(Partner, key.partner)

"""Administrators' second factor: TOTP (RFC 6238) plus one-time recovery codes.

Invariants:
1. The TOTP secret is stored only encrypted (``crypto.encrypt``); it is shown once, on the
   setup page, before it is confirmed with a current code.
2. Recovery codes are shown once, when set up; only their keyed hashes are stored, and each
   works once (its hash is removed when used).
3. A TOTP code is accepted once: the last accepted time step is remembered and a code for
   that step or an earlier one is refused (RFC 6238 §5.2).
4. Wrong codes count towards the same lockout as wrong passwords (``count_failed_login``);
   only a completed second factor clears an administrator's failure count.
Secrets enter only through the setup page (``install_secret`` is for the development demo
and for tests).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import datetime

import pyotp

from ..audit.services import record_audit
from ..crypto import decrypt, encrypt, keyed_hash
from ..extensions import db
from ..qr import SHORT_CODE_ALPHABET
from ..timeutil import utcnow
from .exceptions import InvalidTotp, TotpAlreadySetUp, TotpRequired, TotpSetupRequired
from .models import Role, User
from .services import check_not_locked, count_failed_login

ISSUER = "衢州碳普惠"
RECOVERY_CODES = 10
RECOVERY_CODE_LENGTH = 10


def requires_second_factor(user: User) -> bool:
    return user.role is Role.ADMIN


def has_totp(user: User) -> bool:
    return user.totp_confirmed_at is not None and bool(user.totp_secret_encrypted)


def _secret(user: User) -> str:
    assert user.totp_secret_encrypted
    return decrypt(user.totp_secret_encrypted)


def pending_secret(user: User) -> str:
    """The secret being set up: created (and stored encrypted) on the first visit to the
    setup page, the same on a reload, replaced only by a reset."""
    if has_totp(user):
        raise TotpAlreadySetUp()
    if not user.totp_secret_encrypted:
        user.totp_secret_encrypted = encrypt(pyotp.random_base32())
        db.session.commit()
    return _secret(user)


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app scans (the account shown is the masked phone)."""
    return str(pyotp.TOTP(secret).provisioning_uri(name=user.masked_phone, issuer_name=ISSUER))


def _normalise(code: str | None) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _recovery_hash(user: User, code: str) -> str:
    return keyed_hash(code, purpose=f"recovery:{user.id}")


def _new_recovery_codes(user: User) -> list[str]:
    codes = [
        "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODES)
    ]
    user.recovery_code_hashes = [_recovery_hash(user, code) for code in codes]
    half = RECOVERY_CODE_LENGTH // 2
    return [f"{code[:half]}-{code[half:]}" for code in codes]


def _totp_step(secret: str, code: str, last_step: int | None, now: datetime) -> int | None:
    """The time step (now, or one step either side for clock drift) whose code this is,
    if that step is later than the last one accepted."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _succeeded(user: User, now: datetime) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now


def confirm_setup(user: User, code: str | None, now: datetime | None = None) -> list[str]:
    """Confirm the pending secret with a current code; returns the recovery codes (the only
    time they are shown)."""
    now = now or utcnow()
    if has_totp(user):
        raise TotpAlreadySetUp()
    check_not_locked(user, now)
    secret = pending_secret(user)
    step = _totp_step(secret, _normalise(code), None, now)
    if step is None:
        raise count_failed_login(user, InvalidTotp(field="code"), now)
    user.totp_confirmed_at = now
    user.totp_last_step = step
    codes = _new_recovery_codes(user)
    _succeeded(user, now)
    record_audit(user, "account.totp_enabled", "user", user.id)
    db.session.commit()
    return codes


def verify(user: User, code: str | None, now: datetime | None = None) -> str:
    """Check a TOTP code or a recovery code; returns which one was used ("totp" or
    "recovery"). Wrong codes count towards the lockout."""
    now = now or utcnow()
    if not has_totp(user):
        raise TotpSetupRequired()
    check_not_locked(user, now)
    value = _normalise(code)
    if not value:
        raise TotpRequired(field="code")
    if value.isdigit() and len(value) == 6:
        step = _totp_step(_secret(user), value, user.totp_last_step, now)
        if step is not None:
            user.totp_last_step = step
            _succeeded(user, now)
            db.session.commit()
            return "totp"
    elif len(value) == RECOVERY_CODE_LENGTH:
        hashed = _recovery_hash(user, value)
        remaining = list(user.recovery_code_hashes or [])
        if any(hmac.compare_digest(hashed, h) for h in remaining):
            user.recovery_code_hashes = [h for h in remaining if h != hashed]
            _succeeded(user, now)
            record_audit(
                user,
                "account.recovery_code_used",
                "user",
                user.id,
                remaining=len(user.recovery_code_hashes),
            )
            db.session.commit()
            return "recovery"
    raise count_failed_login(user, InvalidTotp(field="code"), now)


def check_for_token(user: User, code: str | None) -> None:
    """The API's second step for administrators: a confirmed TOTP and a code are required."""
    if not requires_second_factor(user):
        return
    if not has_totp(user):
        raise TotpSetupRequired()
    if not _normalise(code):
        raise TotpRequired(field="totp")
    verify(user, code)


def recovery_codes_left(user: User) -> int:
    return len(user.recovery_code_hashes or [])


def reset(actor: User | None, user: User) -> None:
    """Forget the secret and recovery codes (a lost phone); the administrator sets up again at
    the next sign-in. Their sessions and tokens end."""
    user.totp_secret_encrypted = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    user.recovery_code_hashes = None
    user.session_version += 1
    record_audit(actor, "account.totp_reset", "user", user.id)
    db.session.commit()


def install_secret(user: User, secret: str) -> None:
    """Give an administrator a known, confirmed secret: the development demo and tests only
    (production secrets are made on the setup page). The secret must be valid base32, as an
    authenticator app reads it."""
    base64.b32decode(secret, casefold=True)  # binascii.Error (a ValueError) if not
    user.totp_secret_encrypted = encrypt(secret)
    user.totp_confirmed_at = utcnow()
    user.totp_last_step = None
    db.session.commit()


def current_code(user: User, now: datetime | None = None) -> str:
    """The code an authenticator app would show now (the development CLI only)."""
    if not user.totp_secret_encrypted:
        raise TotpSetupRequired()
    return str(pyotp.TOTP(_secret(user)).at(now or utcnow()))

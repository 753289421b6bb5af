"""Accounts: registration, sign-in with lockout, API tokens, staff and admin creation."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select

from ..audit.services import record_audit
from ..config import DISTRICTS
from ..extensions import db
from ..merchants.models import Merchant
from ..timeutil import aware, utcnow
from .exceptions import (
    AccountLocked,
    AccountSuspended,
    InvalidCredentials,
    InvalidNickname,
    InvalidPhone,
    InvalidToken,
    PhoneTaken,
    UnknownDistrict,
    UnknownMerchant,
    WeakPassword,
)
from .models import ApiToken, Role, User

_hasher = PasswordHasher()
# Verified against when the phone is unknown, so timing does not reveal registered numbers.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def normalise_phone(raw: str | None) -> str:
    phone = re.sub(r"[\s\-()]", "", raw or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    if not PHONE_RE.match(phone):
        raise InvalidPhone(field="phone")
    return phone


def check_password_strength(password: str | None) -> str:
    password = password or ""
    if (
        not (8 <= len(password) <= 128)
        or not re.search(r"[A-Za-z]", password)
        or not re.search(r"\d", password)
    ):
        raise WeakPassword(field="password")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_district(district: str | None) -> str:
    if district not in DISTRICTS:
        raise UnknownDistrict(field="district")
    return district


def _check_nickname(nickname: str | None) -> str | None:
    nickname = (nickname or "").strip() or None
    if nickname is not None and len(nickname) > 20:
        raise InvalidNickname(field="nickname")
    return nickname


def _ensure_phone_free(phone: str) -> None:
    if db.session.scalar(select(User.id).where(User.phone == phone)) is not None:
        raise PhoneTaken(field="phone")


def register_resident(
    phone: str | None, password: str | None, district: str | None, nickname: str | None = None
) -> User:
    """Create a resident account; validates every field before writing anything."""
    phone = normalise_phone(phone)
    password = check_password_strength(password)
    district = _check_district(district)
    nickname = _check_nickname(nickname)
    _ensure_phone_free(phone)
    user = User(
        phone=phone,
        password_hash=hash_password(password),
        role=Role.RESIDENT,
        district=district,
        nickname=nickname,
    )
    db.session.add(user)
    db.session.flush()
    record_audit(user, "account.register", "user", user.id)
    db.session.commit()
    return user


def create_user(
    role: Role | str,
    phone: str,
    password: str,
    *,
    actor: User | None = None,
    merchant_id: int | None = None,
    nickname: str | None = None,
    district: str | None = None,
) -> User:
    """Create a non-resident account (merchant staff, organiser, administrator)."""
    role = Role(role)
    phone = normalise_phone(phone)
    password = check_password_strength(password)
    nickname = _check_nickname(nickname)
    if district is not None:
        district = _check_district(district)
    if role is Role.MERCHANT_STAFF:
        if merchant_id is None or db.session.get(Merchant, merchant_id) is None:
            raise UnknownMerchant(field="merchant_id")
    else:
        merchant_id = None
    _ensure_phone_free(phone)
    user = User(
        phone=phone,
        password_hash=hash_password(password),
        role=role,
        merchant_id=merchant_id,
        nickname=nickname,
        district=district,
    )
    db.session.add(user)
    db.session.flush()
    record_audit(actor, "account.create", "user", user.id, role=role.value, merchant_id=merchant_id)
    db.session.commit()
    return user


def authenticate(
    phone: str | None, password: str | None, *, roles: tuple[Role, ...] | None = None
) -> User:
    """Check a phone + password; counts failures and locks the account after too many.

    ``roles`` restricts which kinds of account may sign in at this door (the admin console
    accepts administrators only); others get the same answer as a wrong password.
    """
    try:
        phone = normalise_phone(phone)
    except InvalidPhone:
        _verify(_DUMMY_HASH, password or "")
        raise InvalidCredentials() from None
    user = db.session.scalar(select(User).where(User.phone == phone).with_for_update())
    now = utcnow()
    if user is None or (roles is not None and user.role not in roles):
        _verify(_DUMMY_HASH, password or "")
        raise InvalidCredentials()
    if user.is_locked(now):
        raise AccountLocked(minutes=_minutes_left(user.locked_until, now))
    if not _verify(user.password_hash, password or ""):
        user.failed_logins += 1
        if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
            user.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
            user.failed_logins = 0
            record_audit(None, "account.locked", "user", user.id)
            db.session.commit()
            raise AccountLocked(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
        db.session.commit()
        raise InvalidCredentials()
    if not user.is_active:
        db.session.rollback()
        raise AccountSuspended()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password or "")
    db.session.commit()
    return user


def _minutes_left(until: datetime | None, now: datetime) -> int:
    if until is None:
        return 0
    return max(1, int((aware(until) - now).total_seconds() // 60) + 1)


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: User) -> tuple[str, ApiToken]:
    """A new bearer token for the API; the raw value is returned once and never stored."""
    raw = secrets.token_urlsafe(32)
    hours = current_app.config["API_TOKEN_HOURS"]
    token = ApiToken(
        user_id=user.id,
        token_hash=_token_hash(raw),
        expires_at=utcnow() + timedelta(hours=hours),
        session_version=user.session_version,
    )
    db.session.add(token)
    db.session.commit()
    return raw, token


def user_for_token(raw: str) -> User:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(raw)))
    if token is None or token.revoked_at is not None or aware(token.expires_at) <= utcnow():
        raise InvalidToken()
    user = token.user
    if token.session_version != user.session_version:
        raise InvalidToken()
    if not user.is_active:
        raise AccountSuspended()
    return user


def revoke_token(raw: str) -> None:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(raw)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's user loader: ``<id>:<session_version>``, so old sessions die on change."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version or not user.is_active:
        return None
    return user

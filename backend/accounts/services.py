"""Accounts: registration, sign-in with lockout, API tokens, staff and admin creation."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from zxcvbn import zxcvbn

from ..audit.services import record_audit
from ..config import DISTRICTS
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..merchants.models import Merchant
from ..timeutil import aware, utcnow
from . import throttle
from .exceptions import (
    AccountLocked,
    AccountSuspended,
    CannotChangeOwnAccount,
    InvalidCredentials,
    InvalidNickname,
    InvalidPhone,
    InvalidToken,
    PasswordPersonal,
    PasswordTooLong,
    PasswordTooShort,
    PhoneTaken,
    ReasonRequired,
    UnknownDistrict,
    UnknownMerchant,
    WeakPassword,
    WrongPassword,
)
from .models import ApiToken, Role, User
from .sessions import end_other_sessions

_HASHERS: dict[tuple[int, int, int], PasswordHasher] = {}
_DUMMY: dict[tuple[int, int, int], str] = {}


def _params() -> tuple[int, int, int]:
    """argon2id cost (time, memory KiB, parallelism): RFC 9106 defaults unless configured
    lower (the test suite does, to stay fast; production never should)."""
    return tuple(current_app.config.get("ARGON2_PARAMS") or (3, 65536, 4))


def _hasher() -> PasswordHasher:
    key = _params()
    if key not in _HASHERS:
        _HASHERS[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=key[2])
    return _HASHERS[key]


def _dummy_hash() -> str:
    """Verified against when the phone is unknown, so timing does not reveal numbers."""
    key = _params()
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("not-a-real-password-0")
    return _DUMMY[key]


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


PASSWORD_MIN, PASSWORD_MAX = 10, 128
# zxcvbn's score (0-4): 3 is "safely unguessable" (about 10^8 guesses); lower scores are
# passwords from its shipped lists of common and leaked passwords, words and names, or
# their predictable variants (keyboard walks, repeats, dates, l33t).
PASSWORD_MIN_SCORE = 3


def check_password_strength(
    password: str | None, field: str = "password", personal: tuple[str | None, ...] = ()
) -> str:
    """A password of 10 to 128 characters that is neither common nor leaked (zxcvbn's
    lists) nor built on the account's own data (``personal``: phone number, nickname)."""
    password = password or ""
    if len(password) < PASSWORD_MIN:
        raise PasswordTooShort(field=field)
    if len(password) > PASSWORD_MAX:
        raise PasswordTooLong(field=field)
    inputs = [value for value in personal if value]
    lowered = password.lower()
    if any(len(value) >= 4 and value.lower() in lowered for value in inputs):
        raise PasswordPersonal(field=field)
    if zxcvbn(password, user_inputs=inputs)["score"] < PASSWORD_MIN_SCORE:
        raise WeakPassword(field=field)
    return password


_T = TypeVar("_T")
# Per process (a forked worker must not inherit its parent's executor, whose threads did not
# survive the fork): the threads that hash passwords, and the niceness they were made with.
_HASH_THREADS: dict[int, tuple[int, ThreadPoolExecutor]] = {}
_HASH_THREADS_LOCK = threading.Lock()


def _lower_priority(nice: int) -> None:
    # Linux keeps a niceness per thread, and argon2's lane threads inherit this thread's.
    # Raising one's own niceness needs no privilege (lowering it again would).
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, os.nice(0) + nice))


def _at_low_priority(work: Callable[[], _T]) -> _T:
    """Run CPU-heavy work (argon2) on a thread at PASSWORD_HASH_NICE, so the requests of
    residents that arrive meanwhile take the cores first (a sign-in waits for them; they no
    longer wait hundreds of milliseconds for it). Two such threads per process."""
    nice = int(current_app.config.get("PASSWORD_HASH_NICE", 0))
    if nice <= 0 or not sys.platform.startswith("linux"):
        return work()
    pid = os.getpid()
    with _HASH_THREADS_LOCK:
        held = _HASH_THREADS.get(pid)
        if held is None or held[0] != nice:
            if held is not None:
                held[1].shutdown(wait=False)
            pool = ThreadPoolExecutor(
                2, "password-hash", initializer=_lower_priority, initargs=(nice,)
            )
            held = (nice, pool)
            _HASH_THREADS.clear()  # a parent's executor, if any, is dead in this process
            _HASH_THREADS[pid] = held
    return held[1].submit(work).result()


def hash_password(password: str) -> str:
    hasher = _hasher()
    return _at_low_priority(lambda: hasher.hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    hasher = _hasher()

    def verify() -> bool:
        try:
            return hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return _at_low_priority(verify)


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
    nickname = _check_nickname(nickname)
    password = check_password_strength(password, personal=(phone, nickname))
    district = _check_district(district)
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
    nickname = _check_nickname(nickname)
    password = check_password_strength(password, personal=(phone, nickname))
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
    """Check a phone + password. Failures are throttled per account and address and per
    address (``throttle``), never by a lock on the account that anyone could set off; a
    throttled attempt, an unknown number and a wrong password get the same answer.

    ``roles`` restricts which kinds of account may sign in at this door (the admin console
    accepts administrators only); others get the same answer as a wrong password.
    """
    raw = (phone or "").strip()[:40]
    try:
        phone = normalise_phone(phone)
    except InvalidPhone:
        phone = None
    account = phone or raw
    if phone is None or throttle.is_throttled(account):
        verify_password(_dummy_hash(), password or "")
        if account:
            throttle.record_failure(account)
        raise InvalidCredentials() from None
    user: User | None = db.session.scalar(select(User).where(User.phone == phone))
    if user is None or (roles is not None and user.role not in roles):
        verify_password(_dummy_hash(), password or "")
        throttle.record_failure(account)
        raise InvalidCredentials()
    if not verify_password(user.password_hash, password or ""):
        throttle.record_failure(account, user_id=user.id)
        raise InvalidCredentials()
    if not user.is_active:
        db.session.rollback()
        raise AccountSuspended()
    throttle.record_success(account)
    user.last_login_at = utcnow()
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password or "")
    db.session.commit()
    return user


def check_not_locked(user: User, now: datetime | None = None) -> None:
    now = now or utcnow()
    if user.is_locked(now):
        raise AccountLocked(minutes=_minutes_left(user.locked_until, now))


def count_failed_login(user: User, error: DomainError, now: datetime | None = None) -> DomainError:
    """Count a failed second-factor code and commit it; returns the error to raise:
    ``error``, or AccountLocked once there were too many in a row. Only someone who knows the
    password reaches the second factor, so this lock cannot be set off by a stranger."""
    now = now or utcnow()
    user.failed_logins += 1
    if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
        minutes = current_app.config["LOGIN_LOCK_MINUTES"]
        user.locked_until = now + timedelta(minutes=minutes)
        user.failed_logins = 0
        record_audit(None, "account.locked", "user", user.id)
        db.session.commit()
        return AccountLocked(minutes=minutes)
    db.session.commit()
    return error


def _minutes_left(until: datetime | None, now: datetime) -> int:
    if until is None:
        return 0
    return max(1, int((aware(until) - now).total_seconds() // 60) + 1)


def token_hash(raw: str) -> str:
    """What is stored of an API token (``ApiToken.token_hash``)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: User, *, commit: bool = True) -> tuple[str, ApiToken]:
    """A new bearer token for the API; the raw value is returned once and never stored.
    ``commit=False`` leaves the commit to the caller (tokens issued in bulk, ahead)."""
    raw = secrets.token_urlsafe(32)
    hours = current_app.config["API_TOKEN_HOURS"]
    token = ApiToken(
        user_id=user.id,
        token_hash=token_hash(raw),
        expires_at=utcnow() + timedelta(hours=hours),
        session_version=user.session_version,
    )
    db.session.add(token)
    if commit:
        db.session.commit()
    return raw, token


@cache
def _token_lookup() -> Any:
    """The bearer token's lookup, with its user and the staff's merchant (a counter claim
    needs its kind; loading it apart was a statement of its own). Built once per process,
    the hash bound at execution: building it and its loader options per request cost about
    as much Python as running it (every API request sends one)."""
    return (
        select(ApiToken)
        .options(joinedload(ApiToken.user).joinedload(User.merchant))
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )


def user_for_token(raw: str) -> User:
    token = db.session.scalar(_token_lookup(), {"token_hash": token_hash(raw)})
    if token is None or not token_live(token, token.user, utcnow()):
        raise InvalidToken()
    user = token.user
    if not user.is_active:
        raise AccountSuspended()
    return cast(User, user)


def token_live(token: ApiToken, user: User, now: datetime) -> bool:
    """Neither revoked nor expired, and issued under the user's current session version (a
    password change, suspension or deletion bumps it). The one rule for ``user_for_token``
    and ``backend.revalidate``; the account's own state is checked apart (403, not 401)."""
    return (
        token.revoked_at is None
        and aware(token.expires_at) > now
        and token.session_version == user.session_version
    )


def revoke_token(raw: str) -> None:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(raw)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()


def change_password(
    user: User,
    current: str | None,
    new: str | None,
    *,
    keep_session: str | None = None,
    keep_token: str | None = None,
) -> User:
    """Change the password (the current one confirms it is the owner): every session and API
    token of the account ends but ``keep_session`` / ``keep_token`` (the API token the change
    was made with). A page renews its own session afterwards (``backend.auth.renew_session``),
    so even a copy of the changer's cookie dies."""
    if not verify_password(user.password_hash, current or ""):
        raise WrongPassword(field="current_password")
    password = check_password_strength(
        new, field="new_password", personal=(user.phone, user.nickname)
    )
    user.password_hash = hash_password(password)
    end_other_sessions(
        user,
        keep_session=keep_session,
        keep_token_hash=token_hash(keep_token) if keep_token else None,
    )
    record_audit(user, "account.password_change", "user", user.id)
    db.session.commit()
    return user


def sign_out_everywhere(user: User) -> User:
    """End every session and API token of the account, this one included."""
    end_other_sessions(user)
    user.session_version += 1
    record_audit(user, "account.sign_out_everywhere", "user", user.id)
    db.session.commit()
    return user


def _managed_account(actor: User, user_id: int) -> User:
    """An account an administrator may suspend or restore from the console: not their own,
    not another administrator's (administrators are managed with ``flask admins``)."""
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound()
    if user.id == actor.id:
        raise CannotChangeOwnAccount()
    if user.role is Role.ADMIN:
        raise Forbidden()
    return user


def _reason(text: str | None) -> str:
    reason = " ".join((text or "").split())
    if not reason:
        raise ReasonRequired(field="reason")
    return reason[:200]


def suspend_user(actor: User, user_id: int, reason: str | None) -> User:
    """Suspend an account: it cannot sign in, and its sessions and tokens stop working."""
    user = _managed_account(actor, user_id)
    text = _reason(reason)
    if user.suspended_at is None:
        user.suspended_at = utcnow()
        user.suspended_reason = text
        user.session_version += 1
        record_audit(actor, "account.suspend", "user", user.id, reason=text)
        db.session.commit()
    return user


def restore_user(actor: User, user_id: int, reason: str | None) -> User:
    """Lift a suspension; the reason for restoring is audited like the suspension's."""
    user = _managed_account(actor, user_id)
    text = _reason(reason)
    if user.suspended_at is not None:
        previous = user.suspended_reason
        user.suspended_at = None
        user.suspended_reason = None
        user.failed_logins = 0
        user.locked_until = None
        record_audit(actor, "account.restore", "user", user.id, reason=text, previous=previous)
        db.session.commit()
    return user

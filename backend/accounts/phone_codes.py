"""Proving a phone number with a one-time code sent by text message: registration, password
reset and a change of number.

Invariants:
1. Only keyed hashes of the number, the code and the requesting address are stored; a code
   works once, for ``SMS_CODE_MINUTES``, and for ``SMS_CODE_ATTEMPTS`` tries.
2. Codes are limited per number and per address (``SMS_PER_NUMBER_PER_HOUR``,
   ``SMS_PER_ADDRESS_PER_HOUR``), whatever the number's state.
3. Nothing tells a requester whether a number is registered: asking for a code always gets
   the same answer and does the same work (a row stored, one message sent). When the number
   cannot use the code (registering a number that has an account, resetting one that has
   none), its owner gets a message saying so instead of a code, and the stored hash is of a
   code nobody knows, so the next step fails exactly as a wrong code does.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import delete, func, select

from ..audit.services import record_audit
from ..crypto import keyed_hash
from ..errors import DomainError
from ..extensions import db
from ..timeutil import aware, utcnow
from . import sms
from .exceptions import InvalidCode, PhoneTaken, TooManyCodes, WrongPassword
from .models import CodePurpose, PhoneCode, User
from .services import (
    check_password_strength,
    hash_password,
    normalise_phone,
    register_resident,
    verify_password,
)
from .sessions import end_other_sessions
from .throttle import caller_address

SIGN = "【衢州碳普惠】"
CODE_TEXT = (
    SIGN + "验证码 {code}，{minutes} 分钟内有效，请勿告诉他人。Your code is {code} ({minutes} min)."
)
TEXTS_WITHOUT_CODE = {
    CodePurpose.REGISTER: SIGN + "此号码已注册，请直接登录或找回密码。"
    "This number already has an account: sign in, or reset the password.",
    CodePurpose.CHANGE_PHONE: SIGN + "此号码已用于另一个账号，不能绑定。"
    "This number belongs to another account and cannot be added.",
    CodePurpose.RESET: SIGN + "有人为此号码申请找回密码，但此号码尚未注册。"
    "Someone asked to reset a password for this number, which has no account.",
}


def phone_hash(phone: str) -> str:
    return keyed_hash(phone, purpose="sms:phone")


def _code_hash(phone: str, purpose: CodePurpose, code: str) -> str:
    return keyed_hash(f"{phone}|{purpose.value}|{code}", purpose="sms:code")


def _new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def _registered(phone: str) -> bool:
    return db.session.scalar(select(User.id).where(User.phone == phone)) is not None


def _check_limits(phone_hash: str, address_hash: str) -> None:
    config = current_app.config
    since = utcnow() - timedelta(hours=1)
    for column, value, limit in (
        (PhoneCode.phone_hash, phone_hash, config["SMS_PER_NUMBER_PER_HOUR"]),
        (PhoneCode.address_hash, address_hash, config["SMS_PER_ADDRESS_PER_HOUR"]),
    ):
        sent = db.session.scalar(
            select(func.count(PhoneCode.id)).where(column == value, PhoneCode.created_at >= since)
        )
        if (sent or 0) >= limit:
            raise TooManyCodes()


def request_code(raw_phone: str | None, purpose: CodePurpose | str) -> str:
    """Send a one-time code for ``purpose`` to the number (or, when the number cannot use
    one, a message saying why); returns the normalised number. The answer and the work are
    the same either way (invariant 3)."""
    purpose = CodePurpose(purpose)
    phone = normalise_phone(raw_phone)
    number_hash = phone_hash(phone)
    address_hash = keyed_hash(caller_address(), purpose="sms:address")
    _check_limits(number_hash, address_hash)
    registered = _registered(phone)
    usable = registered if purpose is CodePurpose.RESET else not registered
    code = _new_code()
    minutes = int(current_app.config["SMS_CODE_MINUTES"])
    now = utcnow()
    db.session.add(
        PhoneCode(
            phone_hash=number_hash,
            address_hash=address_hash,
            purpose=purpose,
            # a code nobody is told when the number cannot use one
            code_hash=_code_hash(phone, purpose, code if usable else secrets.token_hex(16)),
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    db.session.commit()
    text = CODE_TEXT.format(code=code, minutes=minutes) if usable else TEXTS_WITHOUT_CODE[purpose]
    sms.sender().send(phone, text)
    return phone


def check_code(phone: str, purpose: CodePurpose, code: str | None) -> PhoneCode:
    """The live code row ``code`` proves for this number and purpose, marked used (the
    caller's commit makes it so); a wrong code counts a try and raises InvalidCode."""
    now = utcnow()
    row = db.session.scalar(
        select(PhoneCode)
        .where(
            PhoneCode.phone_hash == phone_hash(phone),
            PhoneCode.purpose == purpose,
            PhoneCode.used_at.is_(None),
        )
        .order_by(PhoneCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    value = "".join(ch for ch in (code or "") if ch.isdigit())
    if (
        row is None
        or aware(row.expires_at) <= now
        or row.attempts >= current_app.config["SMS_CODE_ATTEMPTS"]
    ):
        raise InvalidCode(field="code")
    if not hmac.compare_digest(row.code_hash, _code_hash(phone, purpose, value)):
        row.attempts += 1
        db.session.commit()
        raise InvalidCode(field="code")
    row.used_at = now
    return cast(PhoneCode, row)


def registration_problems(
    raw_phone: str | None, code: str | None, password: str | None, nickname: str | None
) -> dict[str, DomainError]:
    """Every problem of a registration form that is the person's input, not a guess (the
    number's form, the password rules, a missing code), by field, so a page shows them all
    at once; ``register_with_code`` still checks everything itself."""
    problems: dict[str, DomainError] = {}
    phone = None
    try:
        phone = normalise_phone(raw_phone)
    except DomainError as exc:
        problems[exc.field or "phone"] = exc
    try:
        check_password_strength(password, personal=(phone, nickname))
    except DomainError as exc:
        problems[exc.field or "password"] = exc
    if not (code or "").strip():
        problems["code"] = InvalidCode(field="code")
    return problems


def register_with_code(
    raw_phone: str | None,
    code: str | None,
    password: str | None,
    district: str | None,
    nickname: str | None = None,
) -> User:
    """Register a resident whose number is proven by the code sent to it."""
    phone = normalise_phone(raw_phone)
    check_password_strength(password, personal=(phone, nickname))
    check_code(phone, CodePurpose.REGISTER, code)
    try:
        return register_resident(phone, password, district, nickname)  # commits the code's use
    except DomainError:
        db.session.rollback()  # the code stays usable for a corrected form
        raise


def reset_password(raw_phone: str | None, code: str | None, new_password: str | None) -> User:
    """Set a new password for the account of a number proven by its code; every session and
    token of the account ends."""
    phone = normalise_phone(raw_phone)
    user = db.session.scalar(select(User).where(User.phone == phone))
    personal = (phone, user.nickname if user else None)
    password = check_password_strength(new_password, field="new_password", personal=personal)
    check_code(phone, CodePurpose.RESET, code)
    if user is None or not user.is_active:
        db.session.rollback()
        raise InvalidCode(field="code")
    user.password_hash = hash_password(password)
    user.session_version += 1
    end_other_sessions(user)
    record_audit(user, "account.password_reset", "user", user.id)
    db.session.commit()
    return cast(User, user)


def change_phone(user: User, raw_phone: str | None, code: str | None, password: str | None) -> User:
    """Move the account to a new number, proven by its code and confirmed by the password."""
    if not verify_password(user.password_hash, password or ""):
        raise WrongPassword(field="password")
    phone = normalise_phone(raw_phone)
    check_code(phone, CodePurpose.CHANGE_PHONE, code)
    if _registered(phone):
        db.session.rollback()
        raise PhoneTaken(field="phone")
    user.phone = phone
    record_audit(user, "account.phone_change", "user", user.id)
    db.session.commit()
    return user


def purge_codes(now: datetime | None = None) -> int:
    """Delete codes a day after they were asked for (a periodic job): past the hourly
    limits, they only hold hashes nobody needs."""
    cutoff = (now or utcnow()) - timedelta(days=1)
    result = db.session.execute(delete(PhoneCode).where(PhoneCode.created_at < cutoff))
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

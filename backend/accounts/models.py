"""People who sign in: residents, merchant staff, event organisers and administrators."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import UTCDateTime, str_enum
from ..extensions import db
from ..timeutil import aware, utcnow


class Role(enum.StrEnum):
    RESIDENT = "resident"
    MERCHANT_STAFF = "merchant_staff"
    ORGANISER = "organiser"
    ADMIN = "admin"


def mask_phone(phone: str | None) -> str:
    """138****5678: how a phone number is shown to anyone but its owner."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL once an account is deleted: the row stays so ledger history keeps its owner.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role), index=True)
    nickname: Mapped[str | None] = mapped_column(String(40))
    district: Mapped[str | None] = mapped_column(String(10))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_reason: Mapped[str | None] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on password change, suspension and deletion: invalidates sessions and tokens.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Residents choose to appear on the district leaderboard (nickname only).
    leaderboard_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # Administrators' second factor: the TOTP secret (encrypted) and hashed recovery codes.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(String(300))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recovery_code_hashes: Mapped[list[str] | None] = mapped_column(JSON)
    # The last TOTP time step accepted: a code is never accepted twice (RFC 6238 §5.2).
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    merchant = relationship("Merchant", back_populates="staff")

    __table_args__ = (
        CheckConstraint(
            "(role = 'merchant_staff') = (merchant_id IS NOT NULL)", name="staff_has_merchant"
        ),
        CheckConstraint("failed_logins >= 0", name="failed_logins_non_negative"),
    )

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def is_active(self) -> bool:  # Flask-Login: suspended or deleted users cannot sign in
        return self.suspended_at is None and self.deleted_at is None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and aware(self.locked_until) > (now or utcnow())

    def display_name(self) -> str:
        return self.nickname or self.masked_phone


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_version: Mapped[int] = mapped_column(Integer)

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """A signed-in page session, held server-side so it can end everywhere: the cookie
    carries only a random key whose SHA-256 is stored here. Logging out, "sign out
    everywhere", a password change, the idle timeout and the absolute lifetime end it."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginThrottle(db.Model):
    """Failed sign-in attempts counted per key: an account from one address, an address, or
    an account from anywhere (for alerts only). The key is a keyed hash: neither the phone
    number nor the address is stored."""

    __tablename__ = "login_throttles"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("failures >= 0", name="failures_non_negative"),)


class CodePurpose(enum.StrEnum):
    REGISTER = "register"
    RESET = "reset"
    CHANGE_PHONE = "change_phone"


class PhoneCode(db.Model):
    """A one-time code sent by text message to prove a phone number. Only keyed hashes of
    the number, the code and the requesting address are stored; a code works once, for a
    few minutes, and for a few tries."""

    __tablename__ = "phone_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[CodePurpose] = mapped_column(str_enum(CodePurpose))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts_non_negative"),)

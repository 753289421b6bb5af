"""Page sessions with a life cycle, held server-side.

Invariants:
1. The session cookie (signed by Flask) carries a random session key; only its SHA-256 is
   stored (``UserSession.key_hash``). A copied cookie works only while that row is live.
2. A session ends when its owner signs out (that session, wherever the cookie was copied),
   signs out everywhere (every session and API token), changes the password (every other
   session and token), is suspended or deleted, or when it has been idle too long or has
   reached its absolute lifetime; administrators have shorter limits than everyone else.
3. Each sign-in, and an administrator's second factor, starts a new session (a new key): a
   key planted before sign-in is never promoted to a signed-in one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..timeutil import aware, utcnow
from .models import ApiToken, Role, User, UserSession

# last_seen_at is written at most this often per session (not on every request).
TOUCH_SECONDS = 60
# Ended and expired sessions are kept this long (for the owner's own list), then purged.
KEEP_ENDED_DAYS = 7


def key_hash(raw: str) -> str:
    """What is stored of a session key (``UserSession.key_hash``)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def limits(user: User) -> tuple[timedelta, timedelta]:
    """(idle timeout, absolute lifetime) of this user's sessions: shorter for admins."""
    config = current_app.config
    if user.role is Role.ADMIN:
        return (
            timedelta(minutes=config["ADMIN_SESSION_IDLE_MINUTES"]),
            timedelta(hours=config["ADMIN_SESSION_LIFETIME_HOURS"]),
        )
    return (
        timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
        timedelta(hours=config["SESSION_LIFETIME_HOURS"]),
    )


def start_session(user: User, now: datetime | None = None, *, commit: bool = True) -> str:
    """A new session for ``user``; returns its raw key (for the cookie, never stored).
    ``commit=False`` leaves the commit to the caller (sessions issued in bulk, ahead)."""
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    _idle, lifetime = limits(user)
    db.session.add(
        UserSession(
            user_id=user.id,
            key_hash=key_hash(raw),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    if commit:
        db.session.commit()
    return raw


def session_user(raw: str | None, now: datetime | None = None) -> User | None:
    """The user of a live session key, or None (unknown, ended, idle too long, past its
    lifetime, or the account suspended or deleted). Notes the activity for the idle timeout."""
    if not raw:
        return None
    now = now or utcnow()
    row = db.session.scalar(
        select(UserSession)
        .options(joinedload(UserSession.user))
        .where(UserSession.key_hash == key_hash(raw))
    )
    if row is None:
        return None
    standing = session_standing(row, row.user, now)
    if standing is None:
        return None
    if standing == TOUCH_DUE:
        db.session.execute(
            update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
        )
        db.session.commit()
    return cast("User | None", row.user)


# A live session whose last_seen_at is to be written on this request (``session_standing``).
TOUCH_DUE = "touch"
LIVE = "live"


def session_standing(row: UserSession, user: User, now: datetime) -> str | None:
    """``LIVE``, ``TOUCH_DUE`` (live, and its activity is to be noted now for the idle
    timeout) or None: ended, idle too long, past its lifetime, or the account suspended or
    deleted. The one rule for ``session_user`` and ``backend.revalidate``."""
    if row.revoked_at is not None or not user.is_active:
        return None
    idle, _lifetime = limits(user)
    if aware(row.expires_at) <= now or aware(row.last_seen_at) + idle <= now:
        return None
    if (now - aware(row.last_seen_at)).total_seconds() >= TOUCH_SECONDS:
        return TOUCH_DUE
    return LIVE


def end_session(raw: str | None) -> None:
    """End one session (sign out): the key stops working wherever the cookie was copied."""
    if not raw:
        return
    db.session.execute(
        update(UserSession)
        .where(UserSession.key_hash == key_hash(raw), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    db.session.commit()


def end_other_sessions(
    user: User, *, keep_session: str | None = None, keep_token_hash: str | None = None
) -> None:
    """End every session and API token of ``user`` but the ones named (not committed: the
    caller commits with the change that asked for it)."""
    now = utcnow()
    sessions = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if keep_session:
        sessions = sessions.where(UserSession.key_hash != key_hash(keep_session))
    db.session.execute(sessions.values(revoked_at=now))
    tokens = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if keep_token_hash:
        tokens = tokens.where(ApiToken.token_hash != keep_token_hash)
    db.session.execute(tokens.values(revoked_at=now))


def sessions_of(user: User, now: datetime | None = None) -> list[UserSession]:
    """The user's live sessions, newest first."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.id.desc())
    ).all()
    idle, _lifetime = limits(user)
    return [
        row for row in rows if aware(row.expires_at) > now and aware(row.last_seen_at) + idle > now
    ]


def purge_sessions(now: datetime | None = None) -> int:
    """Delete sessions ended or expired more than KEEP_ENDED_DAYS ago (a periodic job)."""
    now = now or utcnow()
    cutoff = now - timedelta(days=KEEP_ENDED_DAYS)
    result = db.session.execute(
        delete(UserSession).where(
            or_(UserSession.revoked_at < cutoff, UserSession.expires_at < cutoff)
        )
    )
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

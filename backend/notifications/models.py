"""Notifications and Web Push subscriptions.

* ``Notification``: one piece of news for one resident, kept in the centre until read and
  after. It stores a ``kind`` and its ``params`` (figures, ids), never rendered text, so it
  reads in the language of whoever looks at it. ``dedupe_key`` (unique when set) makes a
  repeated emission (a daily job, a retried service) a no-op.
* ``push_state``: ``pending`` when the resident had a push subscription at the time; a
  delivery job sends it and sets ``sent`` or ``failed``. NULL: nothing to push.
* ``PushSubscription``: a browser's Web Push endpoint and keys (RFC 8291), per resident;
  deleted when the push service answers 404/410 (the browser unsubscribed).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import UTCDateTime
from ..extensions import db
from ..timeutil import utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class NotificationKind(enum.StrEnum):
    CREDIT_ARRIVED = "credit_arrived"  # {points}
    CREDIT_WAITING = "credit_waiting"  # {partner, until}: waiting for a card-link confirmation
    VOUCHER_FULFILLED = "voucher_fulfilled"  # {redemption_id, title_zh, title_en}
    POINTS_EXPIRING = "points_expiring"  # {points, date}
    APPEAL_DECIDED = "appeal_decided"  # {record_id, approved}
    METHODOLOGY_CHANGED = "methodology_changed"  # {code, number}
    TEAM_GOAL_REACHED = "team_goal_reached"  # {team_id, name}


class Notification(db.Model):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(120))  # unique when set (below)
    push_state: Mapped[str | None] = mapped_column(String(10))  # pending | sent | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_notifications_resident", "resident_id", "id"),
        # unique among the notifications that have a key: a credit notification has none,
        # and would otherwise add a NULL entry per row (migration 0017g)
        Index(
            "uq_notifications_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("dedupe_key IS NOT NULL"),
            postgresql_where=text("dedupe_key IS NOT NULL"),
        ),
        # only notifications with a push to send or sent (most have none)
        Index(
            "ix_notifications_push_state",
            "push_state",
            sqlite_where=text("push_state IS NOT NULL"),
            postgresql_where=text("push_state IS NOT NULL"),
        ),
    )


class PushSubscription(db.Model):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

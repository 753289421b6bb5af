"""Emitting notifications, reading them, and delivering them by Web Push.

``notify(resident_id, kind, params)`` is the one call other features make, inside their own
transaction (it never commits): the notification is written with the change it reports, or
not at all. ``notify_many`` does the same for a chunk of credits in one bulk insert.

Push delivery happens after the commit, never inside the emitting transaction: a
notification for a resident with a push subscription is written ``push_state='pending'``;
when the transaction commits, ``deliver_pushes`` is enqueued (RQ), or, with jobs inline
(development, tests), run at the end of the request. A periodic job sends what is left.
Each message is encrypted for the browser (RFC 8291, aes128gcm) and signed with the
platform's VAPID key (RFC 8292) by pywebpush; a 404/410 answer deletes the subscription.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from flask import current_app, g, has_request_context
from flask_babel import force_locale
from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.orm import Session

from ..accounts.models import Role, User
from ..actions.models import Reduction
from ..bulk import any_of, insert_rows
from ..extensions import db
from ..jobs import enqueue
from ..ledger.expiry import upcoming_expiries
from ..ledger.models import Account
from ..timeutil import local, utcnow
from .exceptions import InvalidSubscription, PushNotConfigured
from .messages import message
from .models import Notification, NotificationKind, PushSubscription

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"
EXPIRY_NOTICE_DAYS = 30
PUSH_TTL_SECONDS = 24 * 3600


def push_enabled() -> bool:
    return bool(current_app.config.get("VAPID_PRIVATE_KEY"))


def _subscribed(resident_ids: Iterable[int]) -> set[int]:
    ids = list(set(resident_ids))
    if not ids or not push_enabled():
        return set()
    return set(
        db.session.scalars(
            select(PushSubscription.resident_id)
            .where(any_of(PushSubscription.resident_id, ids))
            .distinct()
        )
    )


def _mark_push_due() -> None:
    db.session.info["push_due"] = True


# Built once: the row's values are bound at execution.
_INSERT = insert(Notification.__table__).returning(Notification.__table__.c.id)


def notify(
    resident_id: int, kind: NotificationKind, params: dict[str, Any], *, key: str | None = None
) -> int | None:
    """Tell a resident something, in the caller's transaction; returns the notification's id.
    With ``key``, a notification already emitted under it is not emitted again (returns
    None). A Core ``INSERT``, not an ORM object flushed later: no caller reads it back, and
    the unit of work cost more Python than the statement."""
    if key is not None and db.session.scalar(
        select(Notification.id).where(Notification.dedupe_key == key)
    ):
        return None
    push = resident_id in _subscribed([resident_id])
    with db.session.no_autoflush:  # what the caller has pending flushes when it would have
        notification_id = db.session.execute(
            _INSERT,
            {
                "resident_id": resident_id,
                "kind": kind.value,
                "params": params,
                "dedupe_key": key,
                "push_state": PENDING if push else None,
                "created_at": utcnow(),
                "read_at": None,
            },
        ).scalar_one()
    if push:
        _mark_push_due()
    return int(notification_id)


def notify_many(items: Sequence[tuple[int, NotificationKind, dict[str, Any]]]) -> None:
    """``notify`` for many residents at once (one bulk insert), e.g. a chunk of credits."""
    if not items:
        return
    push = _subscribed(resident_id for resident_id, _, _ in items)
    now = utcnow()
    insert_rows(
        Notification.__table__,
        [
            {
                "resident_id": resident_id,
                "kind": kind.value,
                "params": params,
                "dedupe_key": None,
                "push_state": PENDING if resident_id in push else None,
                "created_at": now,
                "read_at": None,
            }
            for resident_id, kind, params in items
        ],
    )
    if push:
        _mark_push_due()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if not session.info.pop("push_due", False):
        return
    inline = current_app.extensions.get("redis") is None or current_app.config["JOBS_INLINE"]
    if not inline:
        enqueue(deliver_pushes)
    elif has_request_context():
        g.push_due = True  # sent by _deliver_after_request, once the session may be used


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("push_due", None)


def deliver_after_request(response: Any) -> Any:
    """With jobs inline: send the pushes a request's commits made due, before it ends."""
    if g.pop("push_due", False):
        try:
            deliver_pushes()
        except Exception:  # a push service down must not fail the resident's request
            db.session.rollback()
            log.exception("push delivery failed; the periodic job will retry")
    return response


# --- reading ------------------------------------------------------------------------------


def unread_count(resident_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.resident_id == resident_id, Notification.read_at.is_(None))
        )
        or 0
    )


def notifications_of(resident_id: int, limit: int = 50) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.resident_id == resident_id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


def mark_read(resident: User, up_to_id: int) -> int:
    """Mark the resident's notifications up to ``up_to_id`` read (those shown); commits."""
    result = db.session.execute(
        update(Notification)
        .where(
            Notification.resident_id == resident.id,
            Notification.id <= up_to_id,
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- push subscriptions ---------------------------------------------------------------------


def subscribe(resident: User, data: Any) -> PushSubscription:
    """Store (or move to this resident) a browser's subscription: the JSON of
    ``PushSubscription.toJSON()`` ({endpoint, keys: {p256dh, auth}})."""
    if not push_enabled():
        raise PushNotConfigured()
    keys = data.get("keys") if isinstance(data, dict) else None
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if (
        resident.role is not Role.RESIDENT
        or not isinstance(endpoint, str)
        or not endpoint.startswith(
            ("https://", "http://") if current_app.config.get("PUSH_ALLOW_HTTP") else "https://"
        )
        or len(endpoint) > 1000
        or not isinstance(keys, dict)
        or not all(
            isinstance(keys.get(k), str) and 0 < len(keys[k]) <= 200 for k in ("p256dh", "auth")
        )
    ):
        raise InvalidSubscription()
    item = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if item is None:
        item = PushSubscription(endpoint=endpoint)
        db.session.add(item)
    item.resident_id = resident.id
    item.p256dh, item.auth = keys["p256dh"], keys["auth"]
    db.session.commit()
    return item


def unsubscribe(resident: User, endpoint: str | None = None) -> int:
    """Forget the resident's subscription at ``endpoint`` (every one without it); commits."""
    query = delete(PushSubscription).where(PushSubscription.resident_id == resident.id)
    if endpoint:
        query = query.where(PushSubscription.endpoint == endpoint)
    count = int(db.session.execute(query).rowcount or 0)  # type: ignore[attr-defined]
    db.session.commit()
    return count


def forget_devices(resident_id: int) -> None:
    """Drop every push subscription of a resident (account deletion), in the caller's
    transaction: nothing more is pushed to their browsers."""
    db.session.execute(delete(PushSubscription).where(PushSubscription.resident_id == resident_id))


def has_subscription(resident_id: int) -> bool:
    return bool(_subscribed([resident_id]))


# --- delivery -------------------------------------------------------------------------------


def _payload(item: Notification, locale: str) -> str:
    with force_locale(locale):
        text = message(item.kind, item.params)
    return json.dumps(
        {"title": text.title, "body": text.body, "url": text.url, "tag": item.kind},
        ensure_ascii=False,
    )


def deliver_pushes(limit: int = 500) -> int:
    """Send pending pushes; returns how many messages went out. Commits."""
    if not push_enabled():
        return 0
    # pywebpush pulls in aiohttp: loaded by the sender only, not by every web and cron process
    from pywebpush import WebPushException, webpush  # noqa: PLC0415 - heavy optional import

    items = list(
        db.session.scalars(
            select(Notification)
            .where(Notification.push_state == PENDING)
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not items:
        return 0
    residents = {item.resident_id for item in items}
    subscriptions: dict[int, list[PushSubscription]] = {}
    for sub in db.session.scalars(
        select(PushSubscription).where(any_of(PushSubscription.resident_id, residents))
    ):
        subscriptions.setdefault(sub.resident_id, []).append(sub)
    locales = dict(
        db.session.execute(select(User.id, User.locale).where(any_of(User.id, residents))).all()
    )
    config = current_app.config
    claims = {"sub": config.get("VAPID_SUBJECT") or "mailto:carbon@example.invalid"}
    sent = 0
    gone: set[int] = set()
    for item in items:
        state = FAILED
        for sub in subscriptions.get(item.resident_id, []):
            if sub.id in gone:
                continue
            try:
                webpush(
                    {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
                    _payload(item, locales.get(item.resident_id) or "zh_CN"),
                    vapid_private_key=config["VAPID_PRIVATE_KEY"],
                    vapid_claims=dict(claims),
                    ttl=PUSH_TTL_SECONDS,
                    timeout=10,
                )
            except WebPushException as exc:
                status = getattr(exc.response, "status_code", None)
                if status in (404, 410):
                    gone.add(sub.id)
                log.warning("push to subscription %s failed: %s", sub.id, status or exc)
            else:
                state = SENT
                sent += 1
        item.push_state = state
    if gone:
        db.session.execute(delete(PushSubscription).where(any_of(PushSubscription.id, gone)))
    db.session.commit()
    return sent


# --- emitted by a periodic job ----------------------------------------------------------------


def notify_expiring_points(now: Any = None) -> int:
    """Each resident with points expiring within 30 days hears it once per expiry date."""
    now = now or utcnow()
    horizon = now + timedelta(days=EXPIRY_NOTICE_DAYS)
    count = 0
    user_ids = db.session.scalars(
        select(Account.user_id)
        .where(Account.user_id.is_not(None), Account.balance > 0)
        .order_by(Account.user_id)
    ).all()
    for user_id in user_ids:
        if user_id is None:
            continue
        for when, points in upcoming_expiries(user_id, now):
            if when > horizon or points <= 0:
                continue
            day = local(when).date().isoformat()
            if notify(
                user_id,
                NotificationKind.POINTS_EXPIRING,
                {"points": points, "date": day},
                key=f"expiring:{user_id}:{day}",
            ):
                count += 1
    db.session.commit()
    return count


# --- a methodology change -----------------------------------------------------------------------

RECENT_CREDIT_DAYS = 90


def notify_methodology_change(code: str, number: int) -> int:
    """A new version of ``code`` is approved: every resident credited under ``code`` in the
    last 90 days hears that it now governs their next credits (in the caller's transaction)."""
    since = (local(utcnow()) - timedelta(days=RECENT_CREDIT_DAYS)).date().isoformat()
    residents = db.session.scalars(
        select(Reduction.resident_id)
        .where(Reduction.methodology_code == code, Reduction.local_day >= since)
        .distinct()
    ).all()
    params = {"code": code, "number": number}
    notify_many([(r, NotificationKind.METHODOLOGY_CHANGED, params) for r in residents])
    return len(residents)

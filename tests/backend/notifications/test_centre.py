"""The notification centre: news emitted where it happens, a badge count, read on view."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from backend.ledger.expiry import expires_at
from backend.ledger.queries import resident_balance
from backend.methodology_versions.services import approve_version, create_draft, submit_version
from backend.notifications.models import Notification
from backend.notifications.services import notify_expiring_points
from backend.rewards import services as rewards
from backend.timeutil import utcnow

from ..actions.test_self_reports import report
from ..engagement.trips import Trips, today


def _badge(html: str) -> int:
    match = re.search(r'class="bell-count"[^>]*>(\d+)<', html)
    return int(match.group(1)) if match else 0


def _kinds(db, resident) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.kind)
            .where(Notification.resident_id == resident.id)
            .order_by(Notification.id)
        )
    )


def test_a_credit_raises_the_badge_and_reading_clears_it(client, make, auth, db):
    resident = make.resident()
    trips = Trips(client, make)
    auth.login_page(resident)
    client.get("/home?lang=en")
    assert _badge(client.get("/home").get_data(as_text=True)) == 0
    trips.push(resident, [(today(), 8.2)])
    home = client.get("/home").get_data(as_text=True)
    assert _badge(home) == 1
    centre = client.get("/notifications").get_data(as_text=True)
    assert "Credit arrived" in centre and "359 points for your verified green actions." in centre
    assert 'class="badge ok">new<' in centre
    assert _badge(client.get("/home").get_data(as_text=True)) == 0  # seen
    assert "new<" not in client.get("/notifications").get_data(as_text=True)
    assert resident_balance(resident.id) == 359  # the notice itself moves nothing


def test_a_fulfilled_voucher_is_news(client, make, auth, db):
    resident = make.resident()
    make.points(resident, 500)
    offer = make.offer()
    staff = make.staff(offer.merchant)
    redemption = rewards.redeem_offer(resident, offer.id, "n1")
    assert _kinds(db, resident) == []
    rewards.fulfil_redemption(staff, code=redemption.short_code)
    assert _kinds(db, resident) == ["voucher_fulfilled"]
    auth.login_page(resident)
    html = client.get("/notifications?lang=en").get_data(as_text=True)
    assert "Your voucher “Reusable cup” was fulfilled by the merchant." in html
    assert f'href="/redemptions/{redemption.id}"' in html


def test_an_appeal_decision_is_news(client, make, auth, db):
    Trips(client, make)  # the methodology versions
    resident, first, second = make.resident(), make.user("admin"), make.user("admin")
    record = report(client, auth.bearer(resident)).get_json()
    client.post(
        f"/api/v1/admin/actions/{record['id']}/reject",
        json={"comment": "照片看不清"},
        headers=auth.bearer(first),
    )
    assert _kinds(db, resident) == []  # a first review is not an appeal
    client.post(
        f"/api/v1/me/actions/{record['id']}/appeal",
        json={"text": "重新上传了清晰的车票"},
        headers=auth.bearer(resident),
    )
    client.post(
        f"/api/v1/admin/actions/{record['id']}/approve", json={}, headers=auth.bearer(second)
    )
    # decided and credited: both are news
    assert _kinds(db, resident) == ["appeal_decided", "credit_arrived"]
    auth.login_page(resident)
    html = client.get("/notifications?lang=en").get_data(as_text=True)
    assert "Your appeal was accepted: the action is credited." in html


def test_points_expiring_within_30_days_are_announced_once(make, db, app):
    resident = make.resident()
    make.points(resident, 120)
    when = expires_at(utcnow())
    assert notify_expiring_points() == 0  # two years away
    assert notify_expiring_points(when - timedelta(days=31)) == 0
    soon = when - timedelta(days=29)
    assert notify_expiring_points(soon) == 1
    assert notify_expiring_points(soon) == 0  # once per expiry date
    item = db.session.scalar(select(Notification).where(Notification.resident_id == resident.id))
    assert item.kind == "points_expiring" and item.params["points"] == 120


def test_a_new_methodology_version_tells_the_residents_it_credits(client, make, db):
    trips = Trips(client, make)
    credited, other = make.resident(), make.resident()
    trips.push(credited, [(today(), 8.2)])
    proposer, approver = make.user("admin"), make.user("admin")
    draft = create_draft(proposer, "public_transit", note="v2")
    submit_version(proposer, draft.id)
    approve_version(approver, draft.id)
    assert _kinds(db, credited) == ["credit_arrived", "methodology_changed"]
    assert _kinds(db, other) == []
    count = db.session.scalar(select(func.count()).select_from(Notification))
    assert count == 2


def test_a_dedupe_key_stays_unique_and_keyless_notifications_are_many(make, db):
    """The key's unique index covers only the rows that have one (migration 0017g): a second
    row with the same key is refused by the database, rows without a key are not."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    from backend.notifications.models import NotificationKind
    from backend.notifications.services import notify, notify_many

    resident = make.resident()
    kind = NotificationKind.CREDIT_ARRIVED
    assert notify(resident.id, kind, {"points": 1}, key="k:1") is not None
    assert notify(resident.id, kind, {"points": 1}, key="k:1") is None  # looked up by its key
    notify_many([(resident.id, kind, {"points": 2}), (resident.id, kind, {"points": 3})])
    db.session.flush()
    assert _kinds(db, resident).count(kind.value) == 3
    savepoint = db.session.begin_nested()
    db.session.add(Notification(resident_id=resident.id, kind=kind.value, dedupe_key="k:1"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    savepoint.rollback()


def test_notify_writes_the_row_in_the_callers_transaction_and_returns_its_id(make, db):
    """``notify`` is a Core INSERT (round 9): the same row the ORM object made, kept or
    dropped with the caller's transaction."""
    from backend.notifications.models import NotificationKind
    from backend.notifications.services import notify

    resident = make.resident()
    kind = NotificationKind.VOUCHER_FULFILLED
    params = {"redemption_id": 7, "title_zh": "咖啡", "title_en": "Coffee"}
    new_id = notify(resident.id, kind, params)
    db.session.commit()
    stored = db.session.get(Notification, new_id)
    assert (stored.resident_id, stored.kind, stored.params) == (resident.id, kind.value, params)
    assert stored.push_state is None and stored.read_at is None and stored.created_at is not None
    dropped = notify(resident.id, kind, params)
    db.session.rollback()
    assert db.session.get(Notification, dropped) is None

"""People and organisations, the audit log viewer and programme caps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.accounts import services
from backend.accounts.exceptions import CannotChangeOwnAccount, ReasonRequired
from backend.accounts.models import Role, User
from backend.audit.models import AuditEntry
from backend.audit.queries import masked
from backend.errors import Forbidden
from backend.settings.services import get_setting
from backend.timeutil import local, utcnow

from ...factories import PASSWORD


@pytest.fixture
def admin(client, auth, make):
    user = make.user("admin")
    assert auth.login_page(user, admin=True).status_code == 302
    return user


@pytest.mark.parametrize("query", ["139****{last4}", "{phone}", "{last4}", "{spaced}"])
def test_residents_are_found_by_masked_full_or_last_four(client, admin, make, query):
    wanted = make.resident(phone="13912345678", district="龙游县", nickname="找我")
    make.resident(phone="13812345679", district="龙游县")
    text = query.format(phone=wanted.phone, last4=wanted.phone[-4:], spaced="139 1234 5678")
    html = client.get("/admin/residents", query_string={"q": text}).get_data(as_text=True)
    assert "139****5678" in html and "找我" in html
    assert "138****5679" not in html
    assert "13912345678" not in html  # never a full number, even when searched for


def test_residents_filtered_by_district_and_status(client, admin, make):
    a = make.resident(district="开化县", nickname="开化甲")
    b = make.resident(district="开化县", nickname="开化乙")
    make.resident(district="常山县", nickname="常山丙")
    services.suspend_user(admin, b.id, "spam")
    html = client.get("/admin/residents", query_string={"district": "开化县"}).get_data(
        as_text=True
    )
    assert "开化甲" in html and "开化乙" in html and "常山丙" not in html
    suspended = client.get(
        "/admin/residents", query_string={"district": "开化县", "status": "suspended"}
    ).get_data(as_text=True)
    assert "开化乙" in suspended and "开化甲" not in suspended and "spam" in suspended
    assert a.masked_phone in client.get("/admin/residents?status=active").get_data(as_text=True)


def test_suspend_needs_a_reason_ends_sessions_and_is_audited(app, client, admin, make, auth, db):
    from ...conftest import IsolatedClient

    resident = make.resident()
    token = auth.token(resident)
    other = app.test_client()
    assert isinstance(other, IsolatedClient)
    other.post("/login", data={"phone": resident.phone, "password": PASSWORD})
    assert other.get("/points").status_code == 200

    refused = client.post(f"/admin/people/{resident.id}/suspend", data={"reason": "  "})
    assert refused.status_code == 302
    db.session.refresh(resident)
    assert resident.suspended_at is None
    client.post(f"/admin/people/{resident.id}/suspend", data={"reason": "虚假申报，待核实"})
    db.session.refresh(resident)
    assert resident.suspended_at is not None and resident.suspended_reason == "虚假申报，待核实"
    # the resident's page session and API token both stop working
    assert other.get("/points").status_code == 302
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code in (401, 403)
    page = client.get(f"/admin/people/{resident.id}").get_data(as_text=True)
    assert "虚假申报，待核实" in page and "account.suspend" in page

    client.post(f"/admin/people/{resident.id}/restore", data={"reason": "核实无误"})
    db.session.refresh(resident)
    assert resident.suspended_at is None
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "user", AuditEntry.object_id == str(resident.id))
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.actor_id, e.details.get("reason")) for e in entries[-2:]] == [
        ("account.suspend", admin.id, "虚假申报，待核实"),
        ("account.restore", admin.id, "核实无误"),
    ]
    # a fresh sign-in works again
    assert auth.token(resident)


def test_nobody_suspends_themselves_or_another_administrator(make, db):
    admin, other = make.user("admin"), make.user("admin")
    with pytest.raises(CannotChangeOwnAccount):
        services.suspend_user(admin, admin.id, "x")
    with pytest.raises(Forbidden):
        services.suspend_user(admin, other.id, "x")
    with pytest.raises(ReasonRequired):
        services.suspend_user(admin, make.user("organiser").id, "")


def test_administrators_create_organisers_never_administrators(client, admin, db):
    response = client.post(
        "/admin/organisers",
        data={
            "phone": "13755550000",
            "password": "event-hall-2026",
            "nickname": "衢州马拉松组委会",
            "role": "admin",
        },
    )
    assert response.status_code == 302
    created = db.session.scalar(select(User).where(User.phone == "13755550000"))
    assert created.role is Role.ORGANISER and created.nickname == "衢州马拉松组委会"
    entry = db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.action == "account.create")
        .order_by(AuditEntry.id.desc())
    )
    assert entry.actor_id == admin.id and entry.details["role"] == "organiser"
    listing = client.get("/admin/organisers").get_data(as_text=True)
    assert "137****0000" in listing and "13755550000" not in listing
    bad = client.post("/admin/organisers", data={"phone": "123", "password": "event-hall-2026"})
    assert bad.status_code == 422 and 'role="alert"' in bad.get_data(as_text=True)
    admins = client.get("/admin/administrators").get_data(as_text=True)
    assert admin.masked_phone in admins and "flask admins create" in admins


def test_audit_log_filters_and_is_read_only(client, admin, make, db):
    resident = make.resident()
    services.suspend_user(admin, resident.id, "one")
    services.restore_user(admin, resident.id, "two")
    old = AuditEntry(
        actor_label="system",
        action="account.locked",
        object_type="user",
        object_id=str(resident.id),
        details={"note": "call 13912345678"},
        at=utcnow() - timedelta(days=40),
    )
    db.session.add(old)
    db.session.commit()

    def shown(**args):
        html = client.get("/admin/audit", query_string=args).get_data(as_text=True)
        return html.split("<tbody>")[1].split("</tbody>")[0]  # the entries, not the filters

    by_actor = shown(actor=str(admin.id))
    assert "account.suspend" in by_actor and "account.restore" in by_actor
    assert "account.locked" not in by_actor
    assert "account.suspend" in shown(actor=f"admin:{admin.id}")
    assert "account.locked" in shown(actor="system")
    prefix = shown(action="account.", object_type="user", object_id=str(resident.id))
    assert "account.suspend" in prefix and "account.locked" in prefix
    exact = shown(action="account.restore")
    assert "account.restore" in exact and "account.suspend" not in exact
    today = local(utcnow()).date()  # the filter's days are local calendar days
    recent = shown(**{"from": (today - timedelta(days=2)).isoformat(), "to": today.isoformat()})
    assert "account.suspend" in recent and "account.locked" not in recent
    # phone numbers never appear in full, even if one slipped into details
    assert "13912345678" not in shown(actor="system") and "139****5678" in shown(actor="system")
    assert masked({"a": ["+8613912345678"]}) == {"a": ["139****5678"]}
    assert client.post("/admin/audit").status_code == 405


def test_audit_log_pages(client, admin, db):
    for i in range(55):
        db.session.add(
            AuditEntry(
                actor_label="system",
                action="test.page",
                object_type="x",
                object_id=str(i),
                details={},
            )
        )
    db.session.commit()
    first = client.get("/admin/audit?action=test.page").get_data(as_text=True)
    second = client.get("/admin/audit?action=test.page&page=2").get_data(as_text=True)
    assert "x #54" in first and "x #4<" not in first
    assert "x #4<" in second and 'rel="prev"' in second


def test_programme_caps(client, admin, db):
    page = client.get("/admin/settings").get_data(as_text=True)
    assert "daily_points_cap" in page and "crediting_paused" in page
    ok = client.post("/admin/settings", data={"key": "daily_points_cap", "value": "5000"})
    assert ok.status_code == 302 and get_setting("daily_points_cap") == 5000
    bad = client.post("/admin/settings", data={"key": "daily_points_cap", "value": "-1"})
    assert bad.status_code == 422 and get_setting("daily_points_cap") == 5000
    assert client.post("/admin/settings", data={"key": "nope", "value": "1"}).status_code == 422
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "settings.change"))
    assert entry.actor_id == admin.id and entry.details == {"old": "0", "new": "5000"}
    assert "5000" in client.get("/admin/settings").get_data(as_text=True)

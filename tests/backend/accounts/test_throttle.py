"""Sign-in throttling: by account and address with growing delays, never a lock a stranger
can set off; a throttled attempt answers like a wrong password; bursts alert administrators."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from backend.accounts.models import LoginThrottle
from backend.accounts.throttle import ALERT_ACTION, _keys
from backend.audit.models import AuditEntry
from backend.timeutil import utcnow

from ...factories import PASSWORD, next_phone
from ...helpers import Auth

ATTACKER, OWNER = "203.0.113.66", "198.51.100.7"


def _try(client, phone, password, address):
    return client.post(
        "/api/v1/auth/token",
        json={"phone": phone, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _unblock(db):
    """Let the delays run out (instead of waiting for them)."""
    db.session.execute(update(LoginThrottle).values(blocked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_attempts_from_one_address_leave_the_owner_able_to_sign_in_from_another(app, client, make):
    resident = make.resident()
    for _ in range(app.config["LOGIN_FREE_FAILURES"] + 3):
        assert _try(client, resident.phone, "guess-guess-1", ATTACKER).status_code == 401
    # the attacker's address now waits, even with the right password ...
    assert _try(client, resident.phone, PASSWORD, ATTACKER).status_code == 401
    # ... while the owner, elsewhere, signs in at once
    assert _try(client, resident.phone, PASSWORD, OWNER).status_code == 201


def test_a_throttled_attempt_answers_exactly_like_a_wrong_password(app, client, make):
    resident = make.resident()
    wrong = _try(client, resident.phone, "guess-guess-1", ATTACKER)
    unknown = _try(client, next_phone(), "guess-guess-1", ATTACKER)
    for _ in range(app.config["LOGIN_FREE_FAILURES"] + 1):
        _try(client, resident.phone, "guess-guess-1", ATTACKER)
    throttled = _try(client, resident.phone, PASSWORD, ATTACKER)
    for response in (unknown, throttled):
        assert response.status_code == wrong.status_code == 401
        assert response.get_json() == wrong.get_json()
        assert response.get_json()["code"] == "invalid_credentials"
    # no 423 anywhere, and the page says the same as for a wrong password
    page = client.post(
        "/login",
        data={"phone": resident.phone, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": ATTACKER},
    )
    wrong_page = client.post(
        "/login",
        data={"phone": resident.phone, "password": "guess-guess-1"},
        environ_base={"REMOTE_ADDR": OWNER},
    )
    assert page.status_code == wrong_page.status_code == 200
    assert "Wrong mobile number or password" in page.get_data(as_text=True) or (
        "手机号或密码错误" in page.get_data(as_text=True)
    )


def test_delays_grow_with_each_failure_past_the_free_ones(app, client, make, db):
    resident = make.resident()
    free = app.config["LOGIN_FREE_FAILURES"]
    key = _keys(resident.phone, ATTACKER)["pair"]
    delays = []
    for attempt in range(free + 3):
        _unblock(db)
        before = utcnow()
        _try(client, resident.phone, "guess-guess-1", ATTACKER)
        row = db.session.get(LoginThrottle, key)
        db.session.refresh(row)
        assert row.failures == attempt + 1
        if attempt < free:
            assert row.blocked_until is None or row.blocked_until <= before
        else:
            delays.append(round((row.blocked_until - before).total_seconds()))
    base = app.config["LOGIN_DELAY_SECONDS"]
    assert delays == [base, 2 * base, 4 * base]
    # a success clears the count for that address
    _unblock(db)
    assert _try(client, resident.phone, PASSWORD, ATTACKER).status_code == 201
    assert db.session.get(LoginThrottle, key) is None


def test_one_address_spraying_many_numbers_is_slowed_down(app, client, make):
    resident = make.resident()
    for _ in range(app.config["LOGIN_ADDRESS_FREE_FAILURES"] + 1):
        _try(client, next_phone(), "guess-guess-1", ATTACKER)  # one try per number
    assert _try(client, resident.phone, PASSWORD, ATTACKER).status_code == 401
    assert _try(client, resident.phone, PASSWORD, OWNER).status_code == 201


def test_a_burst_against_one_account_alerts_administrators(app, client, make, db):
    resident = make.resident()
    for n in range(app.config["LOGIN_ALERT_FAILURES"]):
        _try(client, resident.phone, "guess-guess-1", f"192.0.2.{n + 1}")  # a botnet
    alerts = db.session.scalars(select(AuditEntry).where(AuditEntry.action == ALERT_ACTION)).all()
    assert len(alerts) == 1
    assert alerts[0].object_id == str(resident.id)
    assert alerts[0].details["scope"] == "account"
    assert resident.phone not in str(alerts[0].details)  # masked: never in clear
    # the owner is not locked out by it
    assert _try(client, resident.phone, PASSWORD, OWNER).status_code == 201
    # and the administrators see it on every console page
    admin = make.user("admin")
    admin_client = app.test_client()
    Auth(admin_client, make).login_page(admin, admin=True)
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert 'id="security-alerts"' in page

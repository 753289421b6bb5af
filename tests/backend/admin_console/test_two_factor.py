"""Administrators' second factor: setup, sign-in with a code or a recovery code, the API."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from backend.accounts import two_factor
from backend.accounts.exceptions import AccountLocked, InvalidTotp
from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.crypto import decrypt
from backend.timeutil import utcnow

from ...factories import PASSWORD
from ...helpers import totp_code


def _password_step(client, user):
    return client.post("/admin/login", data={"phone": user.phone, "password": PASSWORD})


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_first_sign_in_sets_up_totp_and_shows_recovery_codes_once(client, make, db):
    admin = make.user("admin", totp=False)
    step = _password_step(client, admin)
    assert step.status_code == 302 and step.headers["Location"].startswith("/admin/2fa/setup")
    # half signed in: every admin page sends the administrator to the second step
    for path in (
        "/admin/",
        "/admin/residents",
        "/admin/audit",
        "/admin/export/points_by_month.csv",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/2fa" in response.headers["Location"], path
    setup = client.get("/admin/2fa/setup")
    html = setup.get_data(as_text=True)
    assert setup.status_code == 200 and setup.headers["Cache-Control"] == "no-store"
    assert "<svg" in html and 'class="tabs"' not in html  # no console navigation yet
    db.session.refresh(admin)
    secret = decrypt(admin.totp_secret_encrypted)
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in html
    uri = two_factor.provisioning_uri(admin, secret)
    assert uri.startswith("otpauth://totp/") and "issuer=%E8%A1%A2" in uri  # 衢州碳普惠
    assert admin.phone not in uri and admin.masked_phone.replace("*", "%2A") in uri
    # the same secret on a reload
    assert client.get("/admin/2fa/setup").get_data(as_text=True).count(secret[:4]) >= 1
    db.session.refresh(admin)
    assert decrypt(admin.totp_secret_encrypted) == secret

    wrong = client.post("/admin/2fa/setup", data={"code": _wrong(pyotp.TOTP(secret).now())})
    assert wrong.status_code == 401 and 'role="alert"' in wrong.get_data(as_text=True)
    done = client.post("/admin/2fa/setup", data={"code": pyotp.TOTP(secret).now()})
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<code>([0-9A-Z]{5}-[0-9A-Z]{5})</code>", page)
    assert len(codes) == 10 and len(set(codes)) == 10
    db.session.refresh(admin)
    assert admin.totp_confirmed_at is not None
    assert len(admin.recovery_code_hashes) == 10
    assert not any(code.replace("-", "") in str(admin.recovery_code_hashes) for code in codes)
    # fully signed in now; the setup page is gone for good
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/2fa/setup").status_code == 302
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_id == str(admin.id))
    ).all()
    assert "account.totp_enabled" in actions


def test_sign_in_with_a_code_and_not_twice_with_the_same_code(client, make, db):
    admin = make.user("admin")
    step = _password_step(client, admin)
    assert step.headers["Location"].startswith("/admin/2fa")
    assert not step.headers["Location"].startswith("/admin/2fa/setup")
    assert client.get("/admin/").status_code == 302
    code = totp_code(admin)
    ok = client.post("/admin/2fa", data={"code": code})
    assert ok.status_code == 302 and ok.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    # signing out ends the second factor too; the same code is refused the next time
    client.post("/admin/logout")
    _password_step(client, admin)
    replay = client.post("/admin/2fa", data={"code": code})
    assert replay.status_code == 401
    assert client.get("/admin/").status_code == 302


def test_the_second_step_keeps_where_the_administrator_was_going(client, make):
    admin = make.user("admin")
    first = client.get("/admin/audit?action=account.")
    assert "/admin/login" in first.headers["Location"]
    step = client.post(
        "/admin/login?next=/admin/audit", data={"phone": admin.phone, "password": PASSWORD}
    )
    assert step.headers["Location"] == "/admin/2fa?next=/admin/audit"
    done = client.post("/admin/2fa?next=/admin/audit", data={"code": totp_code(admin)})
    assert done.headers["Location"] == "/admin/audit"
    off_site = client.post(
        "/admin/login?next=//evil.example", data={"phone": admin.phone, "password": PASSWORD}
    )
    assert "evil" not in off_site.headers["Location"]


def test_a_recovery_code_works_once(app, client, make, db):
    admin = make.user("admin", totp=False)
    secret = two_factor.pending_secret(admin)
    codes = two_factor.confirm_setup(admin, pyotp.TOTP(secret).now())
    _password_step(client, admin)
    used = client.post("/admin/2fa", data={"code": codes[0].lower()})
    assert used.status_code == 302
    assert client.get("/admin/").status_code == 200
    db.session.refresh(admin)
    assert two_factor.recovery_codes_left(admin) == 9
    client.post("/admin/logout")
    _password_step(client, admin)
    again = client.post("/admin/2fa", data={"code": codes[0]})
    assert again.status_code == 401
    assert client.post("/admin/2fa", data={"code": codes[1]}).status_code == 302
    logged = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "account.recovery_code_used")
    ).all()
    assert [e.details["remaining"] for e in logged] == [9, 8]


def test_wrong_codes_count_towards_the_lockout(app, client, make, db):
    admin = make.user("admin")
    limit = app.config["LOGIN_MAX_FAILURES"]
    good = totp_code(admin)
    for _ in range(limit - 1):
        _password_step(client, admin)  # a right password does not clear the count
        assert client.post("/admin/2fa", data={"code": _wrong(good)}).status_code == 401
    _password_step(client, admin)
    locked = client.post("/admin/2fa", data={"code": "ABCDE-23456"})
    assert locked.status_code == 302 and locked.headers["Location"] == "/admin/login"
    db.session.refresh(admin)
    assert admin.is_locked()
    # signed out; while locked even the right code is refused at the second step (the
    # password step answers as always: only someone who knows the password sees the lock)
    assert client.get("/admin/").headers["Location"].startswith("/admin/login")
    assert _password_step(client, admin).headers["Location"].startswith("/admin/2fa")
    refused = client.post("/admin/2fa", data={"code": totp_code(admin)})
    assert refused.status_code == 302 and refused.headers["Location"] == "/admin/login"
    assert client.get("/admin/").headers["Location"].startswith("/admin/login")


def test_a_good_code_clears_the_failure_count(make, db):
    admin = make.user("admin")
    secret = decrypt(admin.totp_secret_encrypted)
    with pytest.raises(InvalidTotp):
        two_factor.verify(admin, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert admin.failed_logins == 1
    assert two_factor.verify(admin, pyotp.TOTP(secret).now()) == "totp"
    assert admin.failed_logins == 0


def test_codes_of_the_neighbouring_steps_are_accepted_older_ones_not(make, db):
    admin = make.user("admin")
    totp = pyotp.TOTP(decrypt(admin.totp_secret_encrypted))
    now = utcnow()
    assert two_factor.verify(admin, totp.at(now - timedelta(seconds=30)), now) == "totp"
    with pytest.raises(InvalidTotp):
        two_factor.verify(admin, totp.at(now - timedelta(seconds=90)), now)
    # once the current step is used, the previous one is refused too (no going back)
    assert two_factor.verify(admin, totp.at(now), now) == "totp"
    admin.failed_logins = 0
    with pytest.raises(InvalidTotp):
        two_factor.verify(admin, totp.at(now - timedelta(seconds=30)), now)


def test_api_token_for_administrators_needs_totp(client, make, db):
    admin = make.user("admin")
    body = {"phone": admin.phone, "password": PASSWORD}
    missing = client.post("/api/v1/auth/token", json=body)
    assert missing.status_code == 401 and missing.get_json()["code"] == "totp_required"
    code = totp_code(admin)
    wrong = client.post("/api/v1/auth/token", json={**body, "totp": _wrong(code)})
    assert wrong.status_code == 401 and wrong.get_json()["code"] == "invalid_totp"
    ok = client.post("/api/v1/auth/token", json={**body, "totp": code})
    assert ok.status_code == 201
    headers = {"Authorization": f"Bearer {ok.get_json()['token']}"}
    assert client.get("/api/v1/admin/review-queue", headers=headers).status_code == 200
    # a recovery code also works, once
    two_factor.reset(None, admin)
    secret = two_factor.pending_secret(admin)
    codes = two_factor.confirm_setup(admin, pyotp.TOTP(secret).now())
    assert client.post("/api/v1/auth/token", json={**body, "totp": codes[3]}).status_code == 201
    again = client.post("/api/v1/auth/token", json={**body, "totp": codes[3]})
    assert again.get_json()["code"] == "invalid_totp"
    # the reset ended the earlier token
    assert client.get("/api/v1/admin/review-queue", headers=headers).status_code == 401


def test_api_token_refused_before_setup(client, make):
    admin = make.user("admin", totp=False)
    body = {"phone": admin.phone, "password": PASSWORD, "totp": "123456"}
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 403 and response.get_json()["code"] == "totp_setup_required"
    without = client.post("/api/v1/auth/token", json={"phone": admin.phone, "password": PASSWORD})
    assert without.get_json()["code"] == "totp_setup_required"


def test_other_roles_sign_in_without_a_second_factor(client, make):
    for role in ("resident", "merchant_staff", "organiser"):
        user = make.user(role)
        body = {"phone": user.phone, "password": PASSWORD}
        assert client.post("/api/v1/auth/token", json=body).status_code == 201, role


def test_an_administrator_through_the_mobile_door_still_needs_the_second_factor(client, make):
    admin = make.user("admin")
    response = client.post("/login", data={"phone": admin.phone, "password": PASSWORD})
    assert response.headers["Location"] == "/admin/"
    follow = client.get("/admin/")
    assert follow.status_code == 302 and follow.headers["Location"].startswith("/admin/2fa")


def test_a_stale_second_factor_does_not_carry_over(client, make, db):
    """The session flag is tied to the user and their session version."""
    admin = make.user("admin")
    _password_step(client, admin)
    client.post("/admin/2fa", data={"code": totp_code(admin)})
    assert client.get("/admin/").status_code == 200
    admin.session_version += 1  # e.g. a reset elsewhere
    db.session.commit()
    assert client.get("/admin/").status_code == 302


def test_locked_during_setup_starts_again(app, client, make):
    admin = make.user("admin", totp=False)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _password_step(client, admin)
        response = client.post("/admin/2fa/setup", data={"code": "000000"})
    assert response.headers["Location"] == "/admin/login"
    with pytest.raises(AccountLocked):
        two_factor.confirm_setup(admin, "000000")


def test_cli_prints_codes_outside_production_and_resets(app, make, db):
    admin = make.user("admin")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["admins", "totp-code", admin.phone])
    assert result.exit_code == 0
    secret = decrypt(admin.totp_secret_encrypted)
    assert pyotp.TOTP(secret).verify(result.output.strip(), valid_window=1)
    app.config["APP_ENV"] = "production"
    try:
        refused = runner.invoke(args=["admins", "totp-code", admin.phone])
    finally:
        app.config["APP_ENV"] = "test"
    assert refused.exit_code != 0 and "production" in refused.output
    reset = runner.invoke(args=["admins", "reset-2fa", admin.phone, "--yes"])
    assert reset.exit_code == 0, reset.output
    db.session.refresh(admin)
    assert admin.totp_secret_encrypted is None and not two_factor.has_totp(admin)
    assert runner.invoke(args=["admins", "totp-code", "13000000000"]).exit_code != 0


def test_demo_admins_get_a_known_key_in_development_only(app, db):
    from backend.demo.data import DEMO_TOTP_SECRET, logins_text

    runner = app.test_cli_runner()
    app.config["APP_ENV"] = "development"
    try:
        result = runner.invoke(args=["demo", "load"])
        text = logins_text()
    finally:
        app.config["APP_ENV"] = "test"
    assert result.exit_code == 0, result.output
    assert DEMO_TOTP_SECRET in text and "totp-code" in text
    admin = db.session.scalar(select(User).where(User.phone == "13800000031"))
    assert two_factor.has_totp(admin) and decrypt(admin.totp_secret_encrypted) == DEMO_TOTP_SECRET
    assert DEMO_TOTP_SECRET not in logins_text()  # not outside development

"""Page sessions with a life cycle: a copied cookie dies with its session (logout, sign out
everywhere, password change), a session is renewed at sign-in and at the second factor, and
sessions end after an idle timeout and an absolute lifetime (shorter for administrators)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from backend.accounts.models import UserSession
from backend.timeutil import utcnow

from ...factories import PASSWORD

NEW_PASSWORD = "Lantern-river-4417"


def _copy(app, client):
    """A second browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief.set_cookie("session", cookie.value)
    return thief


def _signed_in(client, path="/home") -> bool:
    response = client.get(path)
    return response.status_code == 200


def test_a_copied_cookie_is_dead_after_logout(app, client, make, auth):
    resident = make.resident()
    assert auth.login_page(resident).status_code == 302
    thief = _copy(app, client)
    assert _signed_in(thief)  # the copy works while the session lives
    assert client.post("/logout").status_code == 302
    assert not _signed_in(client)
    response = thief.get("/home")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_administrators_copied_cookie_is_dead_after_logout(app, client, make, auth):
    admin = make.user("admin")
    assert auth.login_page(admin, admin=True).status_code == 302
    thief = _copy(app, client)
    assert thief.get("/admin/").status_code == 200
    client.post("/admin/logout")
    assert thief.get("/admin/").status_code == 302


def test_the_second_factor_renews_the_session(app, client, make, db):
    from ...helpers import totp_code

    admin = make.user("admin")
    step = client.post("/admin/login", data={"phone": admin.phone, "password": PASSWORD})
    assert step.headers["Location"].startswith("/admin/2fa")
    half = _copy(app, client)  # the cookie of the half-signed-in session
    done = client.post("/admin/2fa", data={"code": totp_code(admin)})
    assert done.status_code == 302 and client.get("/admin/").status_code == 200
    # the key from before the second factor is no longer a session at all
    assert half.get("/admin/2fa").status_code == 302
    assert "/admin/login" in half.get("/admin/").headers["Location"]
    live = db.session.scalars(
        select(UserSession).where(UserSession.user_id == admin.id, UserSession.revoked_at.is_(None))
    ).all()
    assert len(live) == 1


def test_sign_in_starts_a_new_session(app, client, make, auth, db):
    resident = make.resident()
    auth.login_page(resident)
    first = _copy(app, client)
    auth.login_page(resident)  # signing in again, from the same browser
    assert _signed_in(client)
    assert not _signed_in(first)  # the cookie from before was replaced, and its session ended
    rows = db.session.scalars(select(UserSession).where(UserSession.user_id == resident.id)).all()
    assert len(rows) == 2 and len({row.key_hash for row in rows}) == 2


def test_a_password_change_ends_every_other_session_and_token(app, client, make, auth):
    resident = make.resident()
    auth.login_page(resident)
    thief = _copy(app, client)
    token = auth.bearer(resident)
    response = client.post(
        "/account/security",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert _signed_in(client)  # the changer carries on, in a renewed session
    assert not _signed_in(thief)  # a copy of the cookie, even of this very session, is dead
    assert client.get("/api/v1/me", headers=token).status_code == 401
    # the new password signs in; the old one no longer does
    old = client.post("/api/v1/auth/token", json={"phone": resident.phone, "password": PASSWORD})
    assert old.status_code == 401
    new = client.post(
        "/api/v1/auth/token", json={"phone": resident.phone, "password": NEW_PASSWORD}
    )
    assert new.status_code == 201


def test_a_wrong_current_password_changes_nothing(app, client, make, auth):
    resident = make.resident()
    auth.login_page(resident)
    thief = _copy(app, client)
    response = client.post(
        "/account/security",
        data={"current_password": "not-my-password-1", "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 422
    assert 'id="current_password-error"' in response.get_data(as_text=True)
    assert _signed_in(thief)


def test_the_api_password_change_keeps_its_own_token(client, make, auth):
    resident = make.resident()
    mine, other = auth.bearer(resident), auth.bearer(resident)
    weak = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "short1"},
        headers=mine,
    )
    assert weak.status_code == 422 and weak.get_json()["code"] == "password_too_short"
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=mine,
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/me", headers=mine).status_code == 200
    assert client.get("/api/v1/me", headers=other).status_code == 401


def test_sign_out_everywhere_ends_every_session_and_token(app, client, make, auth):
    resident = make.resident()
    auth.login_page(resident)
    thief = _copy(app, client)
    token = auth.bearer(resident)
    assert client.post("/account/sign-out-everywhere").status_code == 302
    assert not _signed_in(client) and not _signed_in(thief)
    assert client.get("/api/v1/me", headers=token).status_code == 401
    # and through the API
    auth.login_page(resident)
    token = auth.bearer(resident)
    assert client.delete("/api/v1/auth/sessions", headers=token).status_code == 204
    assert client.get("/api/v1/me", headers=token).status_code == 401
    assert not _signed_in(client)


def _age(db, user, **delta):
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(last_seen_at=utcnow() - timedelta(**delta))
    )
    db.session.commit()


def test_idle_sessions_end_sooner_for_administrators(app, client, make, auth, db):
    resident, admin = make.resident(), make.user("admin")
    admin_client = app.test_client()
    auth.login_page(resident)
    from ...helpers import Auth

    Auth(admin_client, make).login_page(admin, admin=True)
    idle = app.config["ADMIN_SESSION_IDLE_MINUTES"] + 1
    assert idle < app.config["SESSION_IDLE_MINUTES"]
    _age(db, resident, minutes=idle)
    _age(db, admin, minutes=idle)
    assert _signed_in(client)  # a resident's session outlives an administrator's idle limit
    assert admin_client.get("/admin/").status_code == 302
    _age(db, resident, minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    assert not _signed_in(client)


def test_activity_keeps_a_session_alive_until_its_absolute_lifetime(app, client, make, auth, db):
    resident = make.resident()
    auth.login_page(resident)
    _age(db, resident, minutes=5)
    assert _signed_in(client)
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == resident.id))
    assert (utcnow() - row.last_seen_at) < timedelta(minutes=1)  # the visit was noted
    lifetime = row.expires_at - row.created_at
    assert lifetime == timedelta(hours=app.config["SESSION_LIFETIME_HOURS"])
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert not _signed_in(client)


def test_a_cookie_without_a_server_side_session_is_not_signed_in(client, make):
    resident = make.resident()
    with client.session_transaction() as session:  # a forged or pre-release cookie
        session["_user_id"] = resident.get_id()
        session["_fresh"] = True
    assert not _signed_in(client)

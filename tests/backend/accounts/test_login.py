from __future__ import annotations

from sqlalchemy import delete

from backend.accounts.models import LoginThrottle, Role
from backend.audit.models import AuditEntry
from backend.extensions import db as _db
from backend.timeutil import utcnow

from ...factories import PASSWORD


def test_each_role_obtains_a_token(client, make, auth):
    for role in Role:
        user = make.user(role)
        response = client.post("/api/v1/auth/token", json=auth.credentials(user))
        assert response.status_code == 201, role
        body = response.get_json()
        assert body["user"]["role"] == role.value
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
        assert me.status_code == 200 and me.get_json()["id"] == user.id


def test_wrong_password_and_unknown_phone_look_the_same(client, make):
    user = make.resident()
    wrong = client.post("/api/v1/auth/token", json={"phone": user.phone, "password": "nope1234"})
    unknown = client.post(
        "/api/v1/auth/token", json={"phone": "13700000000", "password": "nope1234"}
    )
    bad = client.post("/api/v1/auth/token", json={"phone": "abc", "password": "nope1234"})
    for response in (wrong, unknown, bad):
        assert response.status_code == 401
        assert response.get_json()["code"] == "invalid_credentials"


def test_suspended_account_cannot_sign_in_and_tokens_die(client, make, auth, db):
    user = make.resident()
    headers = auth.bearer(user)
    user.suspended_at = utcnow()
    db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 403
    response = client.post("/api/v1/auth/token", json={"phone": user.phone, "password": PASSWORD})
    assert response.status_code == 403
    assert response.get_json()["code"] == "account_suspended"


def test_revoked_and_garbage_tokens_are_401(client, make, auth):
    user = make.resident()
    headers = auth.bearer(user)
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    revoked = client.get("/api/v1/me", headers=headers)
    assert revoked.status_code == 401 and revoked.get_json()["code"] == "invalid_token"
    garbage = client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"})
    assert garbage.status_code == 401
    missing = client.get("/api/v1/me")
    assert missing.status_code == 401 and missing.get_json()["code"] == "invalid_token"


def test_session_cookie_does_not_authenticate_the_api(client, make, auth):
    user = make.resident()
    auth.login_page(user)
    assert client.get("/home").status_code == 200
    assert client.get("/api/v1/me").status_code == 401


def test_login_is_rate_limited(database_uri):
    from backend.app import create_app
    from backend.extensions import limiter

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "RATELIMIT_ENABLED": True})
    try:
        client = app.test_client()
        attempt = {"phone": "13700000000", "password": "guess1234"}  # unknown: never locks
        statuses = [client.post("/api/v1/auth/token", json=attempt).status_code for _ in range(11)]
        assert statuses[:10] == [401] * 10
        assert statuses[10] == 429
        response = client.post("/api/v1/auth/token", json=attempt)
        assert response.get_json()["code"] == "rate_limited"
        assert "Retry-After" in response.headers
    finally:
        limiter.enabled = False  # the limiter object is shared by every app in this process
        with app.app_context():  # this app commits for real: forget its failed attempts
            _db.session.execute(delete(LoginThrottle))
            _db.session.execute(delete(AuditEntry).where(AuditEntry.action.like("security.%")))
            _db.session.commit()

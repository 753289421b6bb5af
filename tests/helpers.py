"""Helpers for requests as a given role."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import pyotp

from backend.accounts.models import Role, User
from backend.accounts.two_factor import has_totp
from backend.crypto import decrypt
from backend.extensions import db
from backend.partners.services import sign
from backend.timeutil import LOCAL_TZ

from .factories import PASSWORD, Factories


class Auth:
    def __init__(self, client: Any, make: Factories) -> None:
        self.client = client
        self.make = make

    def login_page(self, user: User, admin: bool = False) -> Any:
        """Sign in through the pages; administrators also complete the second step (when
        they have an authenticator), so the response is the final redirect."""
        url = "/admin/login" if admin else "/login"
        response = self.client.post(url, data={"phone": user.phone, "password": PASSWORD})
        location = response.headers.get("Location", "")
        if response.status_code == 302 and location.startswith("/admin/2fa") and has_totp(user):
            response = self.client.post(location, data={"code": totp_code(user)})
        return response

    def credentials(self, user: User) -> dict[str, str]:
        """The body of POST /api/v1/auth/token for this user (a TOTP code for admins)."""
        body = {"phone": str(user.phone), "password": PASSWORD}
        if user.role is Role.ADMIN and has_totp(user):
            body["totp"] = totp_code(user)
        return body

    def token(self, user: User) -> str:
        response = self.client.post("/api/v1/auth/token", json=self.credentials(user))
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["token"])

    def bearer(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}


def totp_code(user: User) -> str:
    """The administrator's current TOTP code, as their authenticator app shows it.

    A code is accepted once (the replay guard remembers the last step), and tests sign the
    same administrator in several times within one 30-second step, so the guard is cleared
    first: the tests of the guard itself call ``two_factor.verify`` directly.
    """
    db.session.refresh(user)
    user.totp_last_step = None
    db.session.commit()
    assert user.totp_secret_encrypted
    return str(pyotp.TOTP(decrypt(user.totp_secret_encrypted)).now())


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    path: str,
    body: bytes = b"",
    timestamp: int | None = None,
    content_type: str | None = None,
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = sign(secret, method, path, ts, body)
    headers = {
        "X-Timestamp": ts,
        "Authorization": f"HMAC-SHA256 key_id={key_id},signature={signature}",
    }
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def as_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def recent_day(days_ago: int) -> str:
    """The local (Asia/Shanghai) date ``days_ago`` days before today, YYYY-MM-DD.

    Actions in tests that go through verification are dated on recent days: the time rules
    refuse actions older than the claim window (7 days for residents, 30 for partners) or
    dated in the future, so fixed calendar dates would stop being credited as time passes."""
    return (datetime.now(LOCAL_TZ) - timedelta(days=days_ago)).date().isoformat()


DAY = recent_day(2)  # a recent day, inside every claim window
NEXT_DAY = recent_day(1)
PREV_DAY = recent_day(3)

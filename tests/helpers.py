"""Helpers for requests as a given role."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any

import pyotp

from backend.accounts.models import Role, User
from backend.accounts.sms import outbox
from backend.accounts.two_factor import has_totp
from backend.actions.identities import bind_identity, confirm_by_partner
from backend.crypto import decrypt
from backend.extensions import db
from backend.partners.services import sign
from backend.timeutil import LOCAL_TZ, local, utcnow

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


def link_proven(resident: User, partner_code: str, identity: str) -> Any:
    """Link an identity and have the partner confirm it with the link code, as the partner's
    signed ``POST /partner/links`` does (the tests of that endpoint go through HTTP)."""
    binding = bind_identity(resident, partner_code, identity)
    if binding.link_code:
        return confirm_by_partner(binding.partner, identity, binding.link_code)
    return binding


def local_iso(days_ago: int, hour: int = 8, minute: int = 0) -> str:
    """An ISO time at hh:mm local time, ``days_ago`` days back (residents' own reports must be
    within the claim window, so their tests use recent dates)."""
    day = local(utcnow() - timedelta(days=days_ago))
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0).isoformat()


def recent_day(days_ago: int) -> str:
    """The local (Asia/Shanghai) date ``days_ago`` days before today, YYYY-MM-DD.

    Actions in tests that go through verification are dated on recent days: the time rules
    refuse actions older than the claim window (7 days for residents, 30 for partners) or
    dated in the future, so fixed calendar dates would stop being credited as time passes."""
    return (datetime.now(LOCAL_TZ) - timedelta(days=days_ago)).date().isoformat()


DAY = recent_day(2)  # a recent day, inside every claim window
NEXT_DAY = recent_day(1)
PREV_DAY = recent_day(3)


def sms_code(phone: str) -> str | None:
    """The code in the last text message the console backend sent to ``phone`` (None when
    that message carries no code, or there is none)."""
    sent = [message for message in outbox() if message.phone == phone]
    if not sent:
        return None
    found = re.search(r"\b(\d{6})\b", sent[-1].text)
    return found.group(1) if found else None


def registration_code(client: Any, phone: str) -> str:
    """Ask for a registration code through the API and read it from the console outbox."""
    response = client.post("/api/v1/auth/phone-codes", json={"phone": phone, "purpose": "register"})
    assert response.status_code == 202, response.get_json()
    code = sms_code(phone)
    assert code is not None
    return code

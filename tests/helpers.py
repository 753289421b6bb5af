"""Helpers for requests as a given role."""

from __future__ import annotations

import json
import time
from typing import Any

from backend.accounts.models import User
from backend.partners.services import sign

from .factories import PASSWORD, Factories


class Auth:
    def __init__(self, client: Any, make: Factories) -> None:
        self.client = client
        self.make = make

    def login_page(self, user: User, admin: bool = False) -> Any:
        url = "/admin/login" if admin else "/login"
        return self.client.post(url, data={"phone": user.phone, "password": PASSWORD})

    def token(self, user: User) -> str:
        response = self.client.post(
            "/api/v1/auth/token", json={"phone": user.phone, "password": PASSWORD}
        )
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["token"])

    def bearer(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}


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

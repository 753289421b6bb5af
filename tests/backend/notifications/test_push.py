"""Web Push against a local fake push service (never a real one): the service receives an
RFC 8291 encrypted message, signed with the platform's VAPID key, that only the resident's
browser keys can open."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from backend.notifications.models import Notification, PushSubscription

from ...factories import PASSWORD
from ..engagement.trips import Trips, today


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


class FakePushService:
    """A tiny HTTP server standing in for a browser vendor's push service."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 201
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.received.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


class Browser:
    """A browser's push subscription: its ECDH key pair and auth secret."""

    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = endpoint

    def subscription(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64(raw_public(self.key)), "auth": b64(self.auth)},
        }

    def open(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    service = FakePushService()
    yield service
    service.close()


@pytest.fixture
def vapid(app) -> Iterator[str]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = b64(key.private_numbers().private_value.to_bytes(32, "big"))
    public = b64(raw_public(key))
    saved = {
        k: app.config.get(k) for k in ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "PUSH_ALLOW_HTTP")
    }
    app.config.update(VAPID_PRIVATE_KEY=private, VAPID_PUBLIC_KEY=public, PUSH_ALLOW_HTTP=True)
    yield public
    app.config.update(saved)


def test_a_credit_reaches_the_fake_push_service_encrypted(
    client, make, auth, db, push_service, vapid
):
    resident = make.resident()
    trips = Trips(client, make)
    auth.login_page(resident)
    page = client.get("/notifications").get_data(as_text=True)
    assert f'data-key="{vapid}"' in page  # the opt-in button carries the public key
    browser = Browser(push_service.url + "/push/abc123")
    response = client.post("/notifications/push", json=browser.subscription())
    assert response.status_code == 201

    trips.push(resident, [(today(), 8.2)])

    assert len(push_service.received) == 1
    sent = push_service.received[0]
    assert sent["path"] == "/push/abc123"
    assert sent["headers"]["content-encoding"] == "aes128gcm"
    assert sent["headers"]["authorization"].startswith("vapid t=")
    assert f"k={vapid}" in sent["headers"]["authorization"]
    assert b"359" not in sent["body"]  # encrypted on the wire
    message = browser.open(sent["body"])
    assert message == {
        "title": "积分到账",
        "body": "您经核证的绿色行为获得 359 积分。",
        "url": "/points",
        "tag": "credit_arrived",
    }
    item = db.session.scalar(select(Notification).where(Notification.resident_id == resident.id))
    assert item.push_state == "sent" and item.read_at is None  # and still in the centre


def test_without_a_subscription_nothing_is_pushed(client, make, db, push_service, vapid):
    resident = make.resident()
    Trips(client, make).push(resident, [(today(), 8.2)])
    assert push_service.received == []
    item = db.session.scalar(select(Notification).where(Notification.resident_id == resident.id))
    assert item.push_state is None


def test_a_gone_subscription_is_forgotten(client, make, auth, db, push_service, vapid):
    resident = make.resident()
    trips = Trips(client, make)
    auth.login_page(resident)
    client.post("/notifications/push", json=Browser(push_service.url + "/gone").subscription())
    push_service.status = 410
    trips.push(resident, [(today(), 8.2)])
    assert len(push_service.received) == 1
    assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0
    item = db.session.scalar(select(Notification).where(Notification.resident_id == resident.id))
    assert item.push_state == "failed"


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"endpoint": "ftp://x", "keys": {"p256dh": "a", "auth": "b"}},
        {"endpoint": "https://push.example/1", "keys": {"p256dh": "a"}},
        {"endpoint": "https://push.example/1", "keys": "x"},
        {"endpoint": "https://push.example/" + "x" * 1000, "keys": {"p256dh": "a", "auth": "b"}},
    ],
)
def test_bad_subscriptions_are_refused(client, make, auth, db, vapid, body):
    auth.login_page(make.resident())
    response = client.post("/notifications/push", json=body)
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_push_subscription"
    assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0


def test_plain_http_endpoints_are_refused_outside_tests(client, make, auth, db, vapid, app):
    app.config["PUSH_ALLOW_HTTP"] = False
    auth.login_page(make.resident())
    browser = Browser("http://10.0.0.1/internal")
    assert client.post("/notifications/push", json=browser.subscription()).status_code == 422


def test_push_off_without_vapid_keys(client, make, auth, db):
    auth.login_page(make.resident())
    assert "push-on" not in client.get("/notifications").get_data(as_text=True)
    response = client.post(
        "/notifications/push", json=Browser("https://p.example/1").subscription()
    )
    assert response.status_code == 409 and response.get_json()["code"] == "push_not_configured"


def test_deleting_the_account_forgets_its_devices(client, make, auth, db, vapid):
    resident = make.resident()
    auth.login_page(resident)
    client.post("/notifications/push", json=Browser("https://push.example/del").subscription())
    assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 1
    client.post("/privacy/delete", data={"password": PASSWORD, "confirm": "1"})
    assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0


def test_the_cli_makes_vapid_keys_that_sign_a_push(app, client, make, auth, db, push_service):
    output = app.test_cli_runner().invoke(args=["notifications", "vapid-keys"]).output
    keys = dict(line.split("=", 1) for line in output.split())
    names = ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "PUSH_ALLOW_HTTP")
    saved = {name: app.config.get(name) for name in names}
    app.config.update(keys, PUSH_ALLOW_HTTP=True)
    try:
        resident = make.resident()
        auth.login_page(resident)
        browser = Browser(push_service.url + "/cli")
        client.post("/notifications/push", json=browser.subscription())
        Trips(client, make).push(resident, [(today(), 8.2)])
        sent = push_service.received[0]
        assert f"k={keys['VAPID_PUBLIC_KEY']}" in sent["headers"]["authorization"]
        assert browser.open(sent["body"])["tag"] == "credit_arrived"
        result = app.test_cli_runner().invoke(args=["notifications", "push"])
        assert result.output.strip() == "sent: 0"  # nothing left pending
    finally:
        app.config.update(saved)

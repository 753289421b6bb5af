"""Proving a phone number by a one-time text-message code: registration, password reset and
a change of number; the console backend and the HTTP backend against a local fake provider;
codes hashed, single use, short-lived and limited; nothing tells a registered number apart."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update

from backend.accounts import phone_codes
from backend.accounts.exceptions import InvalidCode
from backend.accounts.models import CodePurpose, PhoneCode
from backend.accounts.sms import HttpSender, SmsUnavailable
from backend.timeutil import utcnow

from ...factories import PASSWORD, next_phone
from ...helpers import sms_code

NEW_PASSWORD = "Lantern-river-4417"


def _ask(client, phone, purpose="reset", **kwargs):
    return client.post(
        "/api/v1/auth/phone-codes", json={"phone": phone, "purpose": purpose}, **kwargs
    )


def _reset(client, phone, code, password=NEW_PASSWORD):
    return client.post(
        "/api/v1/auth/password-reset",
        json={"phone": phone, "code": code, "new_password": password},
    )


def test_codes_are_stored_hashed_and_work_once(client, make, db):
    resident = make.resident()
    assert _ask(client, resident.phone).status_code == 202
    code = sms_code(resident.phone)
    assert code is not None
    row = db.session.scalar(select(PhoneCode))
    stored = " ".join(str(value) for value in (row.phone_hash, row.code_hash, row.address_hash))
    assert code not in stored and resident.phone not in stored
    assert _reset(client, resident.phone, code).status_code == 204
    again = _reset(client, resident.phone, code, "Another-lantern-9931")
    assert again.status_code == 422 and again.get_json()["code"] == "invalid_code"


def test_a_password_reset_ends_every_session_and_token(app, client, make, auth):
    resident = make.resident()
    auth.login_page(resident)
    token = auth.bearer(resident)
    _ask(client, resident.phone)
    assert _reset(client, resident.phone, sms_code(resident.phone)).status_code == 204
    assert client.get("/home").status_code == 302
    assert client.get("/api/v1/me", headers=token).status_code == 401
    signed = client.post(
        "/api/v1/auth/token", json={"phone": resident.phone, "password": NEW_PASSWORD}
    )
    assert signed.status_code == 201


def test_codes_expire_and_allow_few_tries(app, client, make, db):
    resident = make.resident()
    _ask(client, resident.phone)
    code = sms_code(resident.phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(app.config["SMS_CODE_ATTEMPTS"]):
        assert _reset(client, resident.phone, wrong).status_code == 422
    assert _reset(client, resident.phone, code).status_code == 422  # too many tries: dead
    _ask(client, resident.phone)
    code = sms_code(resident.phone)
    db.session.execute(update(PhoneCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert _reset(client, resident.phone, code).status_code == 422


def test_reset_answers_the_same_for_registered_and_unknown_numbers(client, make):
    resident = make.resident()
    unknown = next_phone()
    asked = [_ask(client, phone) for phone in (resident.phone, unknown)]
    assert asked[0].status_code == asked[1].status_code == 202
    assert asked[0].get_json() == asked[1].get_json()
    assert sms_code(unknown) is None  # its owner is told it has no account; no code
    guesses = [_reset(client, phone, "123456") for phone in (resident.phone, unknown)]
    assert guesses[0].status_code == guesses[1].status_code == 422
    assert guesses[0].get_json() == guesses[1].get_json()


def test_codes_are_limited_per_number_and_per_address(app, client, make):
    phone = next_phone()
    for _ in range(app.config["SMS_PER_NUMBER_PER_HOUR"]):
        assert _ask(client, phone, "register").status_code == 202
    refused = _ask(client, phone, "register")
    assert refused.status_code == 429 and refused.get_json()["code"] == "too_many_codes"
    app.config["SMS_PER_ADDRESS_PER_HOUR"], saved = 3, app.config["SMS_PER_ADDRESS_PER_HOUR"]
    try:
        address = {"REMOTE_ADDR": "203.0.113.9"}
        for _ in range(3):
            assert _ask(client, next_phone(), environ_base=address).status_code == 202
        assert _ask(client, next_phone(), environ_base=address).status_code == 429
        assert (
            _ask(client, next_phone(), environ_base={"REMOTE_ADDR": "198.51.100.3"}).status_code
            == 202
        )
    finally:
        app.config["SMS_PER_ADDRESS_PER_HOUR"] = saved


def test_the_reset_pages_by_code(client, make):
    resident = make.resident()
    assert 'href="/password/reset"' in client.get("/login").get_data(as_text=True)
    sent = client.post("/codes/reset", data={"phone": resident.phone})
    assert sent.status_code == 302
    page = client.get("/password/reset").get_data(as_text=True)
    assert 'id="code"' in page
    assert sms_code(resident.phone) in page  # development and tests: the code is shown
    done = client.post(
        "/password/reset",
        data={
            "phone": resident.phone,
            "code": sms_code(resident.phone),
            "new_password": NEW_PASSWORD,
        },
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    signed = client.post("/login", data={"phone": resident.phone, "password": NEW_PASSWORD})
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/home")


def test_a_new_number_is_proven_by_its_code(client, make, auth):
    resident, other = make.resident(), make.resident()
    headers = auth.bearer(resident)
    new = next_phone()
    assert (
        client.post("/api/v1/me/phone-codes", json={"phone": new}, headers=headers).status_code
        == 202
    )
    body = {"phone": new, "code": sms_code(new), "password": "wrong-password-1"}
    wrong = client.put("/api/v1/me/phone", json=body, headers=headers)
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "wrong_password"
    body["password"] = PASSWORD
    changed = client.put("/api/v1/me/phone", json=body, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["phone"] == new
    # another account's number: its owner is told, the requester gets no code
    client.post("/api/v1/me/phone-codes", json={"phone": other.phone}, headers=headers)
    assert sms_code(other.phone) is None
    taken = client.put(
        "/api/v1/me/phone",
        json={"phone": other.phone, "code": "123456", "password": PASSWORD},
        headers=headers,
    )
    assert taken.status_code == 422 and taken.get_json()["code"] == "invalid_code"


def test_the_console_backend_refuses_to_send_in_production(app, make, db):
    app.config["APP_ENV"] = "production"
    try:
        with pytest.raises(SmsUnavailable):
            phone_codes.request_code(next_phone(), CodePurpose.REGISTER)
    finally:
        app.config["APP_ENV"] = "test"


class _Provider(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(
            {"auth": self.headers["Authorization"], "path": self.path, "body": json.loads(body)}
        )
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Provider)
    _Provider.received, _Provider.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/sms/send"
    finally:
        server.shutdown()
        server.server_close()


def test_the_http_backend_posts_to_the_provider(app, client, make, db, provider):
    resident = make.resident()
    saved = {k: app.config[k] for k in ("SMS_BACKEND", "SMS_API_URL", "SMS_API_KEY")}
    app.config.update(SMS_BACKEND="http", SMS_API_URL=provider, SMS_API_KEY="provider-key")
    try:
        assert _ask(client, resident.phone).status_code == 202
        (sent,) = _Provider.received
        assert sent["path"] == "/sms/send" and sent["auth"] == "Bearer provider-key"
        assert sent["body"]["to"] == resident.phone and sent["body"]["sign_name"]
        code = next(word for word in sent["body"]["text"].split() if word.isdigit())
        assert _reset(client, resident.phone, code).status_code == 204
        _Provider.status = 500  # the provider fails: a coded 503, never a 500
        failed = _ask(client, resident.phone)
        assert failed.status_code == 503 and failed.get_json()["code"] == "sms_unavailable"
    finally:
        app.config.update(saved)


def test_an_unreachable_provider_is_a_503(app):
    with app.test_request_context(), pytest.raises(SmsUnavailable):
        HttpSender("http://127.0.0.1:9/none", "key", "sign", 0.5).send("13800000000", "x")


def test_check_code_refuses_another_purpose(app, client, make, db):
    phone = next_phone()
    _ask(client, phone, "register")
    with pytest.raises(InvalidCode):
        phone_codes.check_code(phone, CodePurpose.RESET, sms_code(phone))

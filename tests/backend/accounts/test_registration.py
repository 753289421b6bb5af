from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.accounts.models import User
from backend.accounts.services import normalise_phone
from backend.audit.models import AuditEntry
from backend.errors import DomainError

from ...helpers import registration_code, sms_code

GOOD = {"phone": "13912345678", "password": "green-river-2026", "district": "衢江区"}


def _register(client, body, **kwargs):
    """POST /auth/register with the code sent to the number (a dummy one when the number
    cannot get a code)."""
    try:
        phone = normalise_phone(body.get("phone"))
    except DomainError:
        code = "000000"
    else:
        code = registration_code(client, phone)
    return client.post("/api/v1/auth/register", json={"code": code, **body}, **kwargs)


def _users(db) -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_register_returns_token_and_unmasked_phone_to_owner(client, db):
    response = _register(client, {**GOOD, "nickname": "小绿"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["user"]["phone"] == "13912345678"
    assert body["user"]["role"] == "resident"
    assert body["user"]["district"] == "衢江区"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.get_json()["phone"] == "13912345678"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "account.register"))
    assert entry is not None and "13912345678" not in str(entry.details)


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"phone": "12345"}, "invalid_phone"),
        ({"phone": "23912345678"}, "invalid_phone"),
        ({"phone": "1391234567a"}, "invalid_phone"),
        ({"password": "short1"}, "password_too_short"),
        ({"password": "Abcdefg1!"}, "password_too_short"),  # 9 characters
        ({"password": "x" * 129}, "password_too_long"),
        ({"password": "password123"}, "weak_password"),  # leaked-password lists
        ({"password": "1qaz2wsx3edc"}, "weak_password"),  # a keyboard walk
        ({"password": "aaaaaaaaaa1"}, "weak_password"),  # a repeat
        ({"password": "qwertyuiop"}, "weak_password"),
        ({"password": "13912345678a"}, "password_personal"),  # the phone number itself
        ({"district": "杭州市"}, "unknown_district"),
        ({"nickname": "x" * 21}, "invalid_nickname"),
    ],
)
def test_register_bad_input_is_a_coded_4xx_and_writes_nothing(client, db, override, code):
    before = _users(db)
    response = _register(client, {**GOOD, **override})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == code
    assert body["message"]
    assert _users(db) == before


def test_a_strong_password_of_ten_characters_is_accepted(client, db):
    response = _register(client, {**GOOD, "password": "tea-kite-47"})
    assert response.status_code == 201


def test_the_page_says_why_a_password_is_refused_on_the_field(client, db):
    data = {**GOOD, "password": "password123"}
    html = client.post("/register", data=data).get_data(as_text=True)
    assert 'id="password-error"' in html and "已泄露密码" in html
    data["password"] = "short"
    html = client.post("/register", data=data).get_data(as_text=True)
    assert 'id="password-error"' in html and "至少需要 10 个字符" in html


def test_register_messages_follow_accept_language(client, db):
    zh = _register(client, {**GOOD, "phone": "1"})
    en = _register(client, {**GOOD, "phone": "1"}, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert zh.get_json()["message"] != en.get_json()["message"]
    assert "11" in en.get_json()["message"] and "mobile" in en.get_json()["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.get_json()["message"])


def test_a_registered_number_gets_no_code_and_the_same_answers(client, db, make):
    make.resident(phone="13912345678")
    fresh = "13912345679"
    asked = {
        phone: client.post("/api/v1/auth/phone-codes", json={"phone": phone, "purpose": "register"})
        for phone in (GOOD["phone"], fresh)
    }
    assert asked[GOOD["phone"]].status_code == asked[fresh].status_code == 202
    assert asked[GOOD["phone"]].get_json() == asked[fresh].get_json()
    # the owner of the registered number is told so, and gets no code
    assert sms_code(GOOD["phone"]) is None
    assert sms_code(fresh) is not None
    # a guessed code: the same answer for the registered number and for the fresh one
    registered = client.post("/api/v1/auth/register", json={**GOOD, "code": "123456"})
    unregistered = client.post(
        "/api/v1/auth/register", json={**GOOD, "phone": fresh, "code": "123456"}
    )
    assert registered.status_code == unregistered.status_code == 422
    assert registered.get_json() == unregistered.get_json()
    assert registered.get_json()["code"] == "invalid_code"
    assert "phone_taken" not in registered.get_data(as_text=True)


def test_phone_with_country_code_is_normalised(client, db):
    response = _register(client, {**GOOD, "phone": "+86 139-1234-5678"})
    assert response.status_code == 201
    assert response.get_json()["user"]["phone"] == "13912345678"


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b'{"phone": ', "application/json", 400, "malformed_json"),
        (b"not json at all", "application/json", 400, "malformed_json"),
        (b"[]", "application/json", 422, "validation_error"),
        (b'{"phone": "13912345678"}', "application/json", 422, "validation_error"),
        (
            b'{"phone": 13912345678, "password": [], "district": {}}',
            "application/json",
            422,
            "validation_error",
        ),
    ],
)
def test_register_malformed_requests(client, db, data, content_type, status, code):
    response = client.post("/api/v1/auth/register", data=data, content_type=content_type)
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == code
    assert body["message"]

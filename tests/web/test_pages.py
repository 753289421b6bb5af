from __future__ import annotations

import re

import pytest

from backend.accounts.models import Role
from backend.app import create_app

from ..factories import PASSWORD
from ..helpers import sms_code


def test_start_page_is_chinese_first_with_an_english_switch(client):
    zh = client.get("/")
    assert zh.status_code == 200
    html = zh.get_data(as_text=True)
    assert 'lang="zh-CN"' in html and "English" in html
    en = client.get("/?lang=en")
    assert 'lang="en"' in en.get_data(as_text=True)
    assert "lang=en" in en.headers.get("Set-Cookie", "")
    # the choice persists through the cookie
    again = client.get("/login")
    assert 'lang="en"' in again.get_data(as_text=True)


def test_register_page_creates_a_resident_and_signs_in(client, db):
    first = client.get("/register").get_data(as_text=True)
    assert 'id="password"' not in first  # step one: only the number
    sent = client.post("/codes/register", data={"phone": "139 1234 0000"})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/register")
    second = client.get("/register").get_data(as_text=True)
    assert 'value="13912340000"' in second and 'id="code"' in second
    response = client.post(
        "/register",
        data={
            "phone": "13912340000",
            "code": sms_code("13912340000"),
            "password": "green-river-2026",
            "district": "龙游县",
            "nickname": "小林",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/home")
    home = client.get("/home")
    assert home.status_code == 200
    assert "小林" in home.get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [("phone", "123"), ("password", "abc"), ("district", "上海市"), ("code", "000000")],
)
def test_register_page_shows_the_error_on_the_field(client, db, field, value):
    client.post("/codes/register", data={"phone": "13912340000"})
    data = {
        "phone": "13912340000",
        "password": "green-river-2026",
        "district": "龙游县",
        "code": sms_code("13912340000"),
    }
    data[field] = value
    response = client.post("/register", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert 'aria-invalid="true"' in html


def test_login_page_redirects_each_role_to_its_home(client, make):
    homes = {
        Role.RESIDENT: "/home",
        Role.MERCHANT_STAFF: "/merchant",
        Role.ORGANISER: "/organiser",
        Role.ADMIN: "/admin/2fa",  # administrators go on to the second step
    }
    for role, path in homes.items():
        user = make.user(role)
        login_url = "/admin/login" if role is Role.ADMIN else "/login"
        response = client.post(login_url, data={"phone": user.phone, "password": PASSWORD})
        assert response.status_code == 302, role
        assert response.headers["Location"].endswith(path)
        assert client.get(path).status_code == 200
        client.post("/admin/logout" if role is Role.ADMIN else "/logout")


def test_wrong_password_on_the_page_shows_a_message(client, make):
    user = make.resident()
    response = client.post("/login", data={"phone": user.phone, "password": "wrong1234"})
    assert response.status_code == 200 and "/home" not in response.headers.get("Location", "")
    assert 'role="alert"' in response.get_data(as_text=True)


def test_admin_console_refuses_non_admins_at_the_door(client, make):
    resident = make.resident()
    response = client.post("/admin/login", data={"phone": resident.phone, "password": PASSWORD})
    assert response.status_code == 200 and 'role="alert"' in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_next_parameter_cannot_redirect_off_site(client, make):
    user = make.resident()
    response = client.post(
        "/login?next=//evil.example/x", data={"phone": user.phone, "password": PASSWORD}
    )
    assert response.headers["Location"].endswith("/home")


def test_forms_require_a_csrf_token(database_uri, db):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    refused = client.post("/login", data={"phone": "13800000001", "password": PASSWORD})
    assert refused.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    accepted = client.post(
        "/login", data={"phone": "13800000001", "password": "x", "csrf_token": token}
    )
    assert accepted.status_code == 200  # past CSRF, then a wrong password


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "not_found" in response.get_data(as_text=True)
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.get_json()["code"] == "not_found"


def test_api_docs_are_served_without_a_cdn(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not src.startswith("http"), src
        assert client.get(src).status_code == 200, src
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/auth/register" in spec["paths"]
    assert "bearerAuth" in spec["components"]["securitySchemes"]

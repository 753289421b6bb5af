"""The resident's home, privacy page, data export and account deletion."""

from __future__ import annotations

import json
from datetime import date, time, timedelta

from sqlalchemy import select

from backend.accounts.models import User
from backend.actions.models import IdentityBinding
from backend.ledger.reconcile import reconcile
from backend.methodology_versions.services import seed_versions
from backend.timeutil import local, utcnow

from ..factories import PASSWORD
from ..helpers import as_json, link_proven, registration_code, signed_headers
from .plain_words import internal_words, visible_text


def _trip_day() -> date:
    """The day of the test trip (00:01-00:26 local): today, or yesterday before 00:30 local,
    when today's trip would still be in the future and refused by the time rules."""
    now = local(utcnow())
    return now.date() if now.time() >= time(0, 30) else now.date() - timedelta(days=1)


def _credit_a_trip(client, make, resident):
    seed_versions()
    _, key_id, secret = make.partner("home-bus", kind="transit")
    link_proven(resident, "home-bus", "CARD7777")
    day = _trip_day().isoformat()
    body = as_json(
        {
            "records": [
                {
                    "record_id": "h-1",
                    "action": "public_transit",
                    "identity": "CARD7777",
                    "activity": {
                        "mode": "bus",
                        "distance_km": 8.2,
                        "started_at": f"{day}T00:01:00+08:00",
                        "ended_at": f"{day}T00:26:00+08:00",
                    },
                }
            ]
        }
    )
    path = "/api/v1/partner/batches"
    headers = signed_headers(key_id, secret, "POST", path, body, content_type="application/json")
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 202


def test_home_shows_kg_points_trees_charts_and_leaderboard(client, make, auth, db):
    resident = make.resident(nickname="绿行者")
    _credit_a_trip(client, make, resident)
    auth.login_page(resident)
    client.post("/privacy", data={"leaderboard": "1", "nickname": "绿行者"})
    html = client.get("/home").get_data(as_text=True)
    assert "0.36" in html  # 359 g = 0.36 kg
    assert "359" in html  # points
    assert 'role="img"' in html and html.count("<script") == 1  # pwa.js only: no chart JS
    # on this month's leaderboard, by nickname (unless the trip was last month's: see _trip_day)
    if _trip_day().month == local(utcnow()).month:
        assert "绿行者" in html
    assert resident.phone not in html.replace(resident.phone[:3] + "****", "")


def test_export_contains_the_residents_data(client, make, auth):
    resident = make.resident()
    _credit_a_trip(client, make, resident)
    auth.login_page(resident)
    data = json.loads(client.get("/privacy/export.json").get_data(as_text=True))
    assert data["profile"]["phone"] == resident.phone
    assert data["actions"][0]["reduction_g"] == 359
    assert data["points"][0]["points"] == 359
    assert data["data_sources"][0]["identity"] == "****7777"
    csv_text = client.get("/privacy/export.csv").get_data(as_text=True)
    assert "359" in csv_text and "public_transit" not in csv_text  # words, not codes


def test_leaderboard_needs_a_nickname(client, make, auth):
    resident = make.resident()
    auth.login_page(resident)
    response = client.post(
        "/privacy", data={"leaderboard": "1", "nickname": ""}, follow_redirects=True
    )
    assert "flash-error" in response.get_data(as_text=True)


def test_deleting_an_account_anonymises_it_and_keeps_the_ledger(client, make, auth, db):
    resident = make.resident(nickname="要走的人")
    _credit_a_trip(client, make, resident)
    auth.login_page(resident)
    wrong = client.post("/privacy/delete", data={"password": "nope"}, follow_redirects=True)
    assert "flash-error" in wrong.get_data(as_text=True)
    # only the password can be wrong here: the message must not blame the phone number
    assert "当前密码不正确" in wrong.get_data(as_text=True)
    assert "手机号" not in wrong.get_data(as_text=True).split("flash-error", 1)[1][:200]
    phone = resident.phone
    done = client.post("/privacy/delete", data={"password": PASSWORD})
    assert done.status_code == 302
    user = db.session.get(User, resident.id)
    assert user.phone is None and user.nickname is None and user.deleted_at is not None
    binding = db.session.scalar(select(IdentityBinding))
    assert binding.status.value == "revoked"
    assert client.get("/home").status_code == 302  # signed out
    again = client.post("/login", data={"phone": phone, "password": PASSWORD})
    assert again.status_code == 200 and "/home" not in again.headers.get("Location", "")
    assert reconcile().clean  # the points stay in the ledger
    # the number can register again as a new person
    assert (
        client.post(
            "/api/v1/auth/register",
            json={
                "phone": phone,
                "password": PASSWORD,
                "district": "柯城区",
                "code": registration_code(client, phone),
            },
        ).status_code
        == 201
    )


def test_the_photo_report_shows_every_problem_on_its_field_in_words(client, make, auth, db):
    """No 缺少时间 started_at: each missing or mistyped value on its field, all at once, what
    was typed kept; nothing is sent until they are fixed."""
    resident = make.resident()
    auth.login_page(resident)
    bad = client.post(
        "/report",
        data={"action": "public_transit", "mode": "bus", "distance_km": "6,5"},
        headers={"Accept-Language": "zh-CN"},
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "尚未提交" in html
    for field in ("distance_km", "started_at", "ended_at", "photo"):
        assert f'aria-describedby="{field}-error"' in html, field
    assert "请填写行程开始时间" in html and 'value="6,5"' in html
    assert not internal_words(visible_text(html))
    meal = client.post(
        "/report",
        data={"action": "food_waste", "kind": "small_portion", "diners": "0"},
        headers={"Accept-Language": "zh-CN"},
    ).get_data(as_text=True)
    for field in ("diners", "portion_reduction_kg", "meal_at"):
        assert f'aria-describedby="{field}-error"' in meal, field
    assert not internal_words(visible_text(meal))

from __future__ import annotations

import re

import pytest

from backend.methodology_versions import services
from backend.methodology_versions.queries import versions_of


@pytest.fixture
def seeded(db):
    services.seed_versions()


def test_public_list_shows_sources(client, seeded):
    body = client.get("/api/v1/methodologies", headers={"Accept-Language": "en"}).get_json()
    codes = {m["code"] for m in body}
    assert {"public_transit", "bike_sharing", "waste_sorting", "food_waste"} <= codes
    transit = next(m for m in body if m["code"] == "public_transit")
    assert transit["version"]["label"] == "v1"
    param = next(p for p in transit["version"]["parameters"] if p["name"] == "ef_bus_g_pkm")
    assert param["source"]["document"] and param["source"]["grade"] in "ABCD"
    assert client.get("/api/v1/methodologies/nope").get_json()["code"] == "unknown_methodology"


def test_four_eyes_through_the_api(client, seeded, make, auth):
    a, b = make.user("admin"), make.user("admin")
    ha, hb = auth.bearer(a), auth.bearer(b)
    created = client.post(
        "/api/v1/admin/methodologies/food_waste/versions",
        json={"params": {"ef_food_kg_per_kg": 2.2}, "note": "new LCA"},
        headers=ha,
    )
    assert created.status_code == 201, created.get_json()
    vid = created.get_json()["id"]
    assert (
        client.post(f"/api/v1/admin/methodology-versions/{vid}/submit", headers=ha).status_code
        == 200
    )
    own = client.post(f"/api/v1/admin/methodology-versions/{vid}/approve", json={}, headers=ha)
    assert own.status_code == 403 and own.get_json()["code"] == "four_eyes_required"
    ok = client.post(
        f"/api/v1/admin/methodology-versions/{vid}/approve", json={"comment": "ok"}, headers=hb
    )
    assert ok.status_code == 200 and ok.get_json()["status"] == "approved"
    listed = client.get("/api/v1/methodologies/food_waste").get_json()
    assert listed["version"]["id"] == vid


def test_bad_parameters_through_the_api_are_422(client, seeded, make, auth):
    headers = auth.bearer(make.user("admin"))
    response = client.post(
        "/api/v1/admin/methodologies/bike_sharing/versions",
        json={"params": {"share_bus": "2"}},
        headers=headers,
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_parameters" and body["details"]


def test_residents_cannot_propose(client, seeded, make, auth):
    headers = auth.bearer(make.resident())
    response = client.post(
        "/api/v1/admin/methodologies/food_waste/versions", json={}, headers=headers
    )
    assert response.status_code == 403


def _login(client, user):
    from ...helpers import Auth

    client.post("/admin/logout")
    assert Auth(client, None).login_page(user, admin=True).status_code == 302


def test_four_eyes_through_the_pages(app, seeded, make):
    from ...conftest import IsolatedClient

    app.test_client_class = IsolatedClient
    client = app.test_client()
    a, b = make.user("admin"), make.user("admin")
    _login(client, a)
    form = client.get("/admin/methodologies/food_waste/new")
    assert form.status_code == 200 and "ef_food_kg_per_kg" in form.get_data(as_text=True)
    data = {
        f"param:{name}": value
        for name, value in services.active_version("food_waste").params.items()
    }
    data.update({"param:ef_food_kg_per_kg": "2.4", "points_per_gram": "1", "note": "pages"})
    saved = client.post("/admin/methodologies/food_waste/new", data=data)
    assert saved.status_code == 302
    vid = int(re.search(r"/methodology-versions/(\d+)", saved.headers["Location"]).group(1))
    client.post(f"/admin/methodology-versions/{vid}/submit")
    page = client.post(
        f"/admin/methodology-versions/{vid}/approve",
        data={"comment": "mine"},
        follow_redirects=True,
    )
    assert services.get_version(vid).status.value == "in_review"
    assert "flash-error" in page.get_data(as_text=True)
    _login(client, b)
    client.post(f"/admin/methodology-versions/{vid}/approve", data={"comment": "ok"})
    assert services.get_version(vid).status.value == "approved"
    diff = client.get(
        f"/admin/methodology-versions/{services.active_version('public_transit').id}/diff/{vid}"
    )
    assert diff.status_code == 404  # different methodologies are not compared
    v1 = next(v for v in versions_of("food_waste") if v.number == 1)
    diff = client.get(f"/admin/methodology-versions/{v1.id}/diff/{vid}")
    html = diff.get_data(as_text=True)
    assert diff.status_code == 200 and "2.4" in html and 'class="changed"' in html


def test_mobile_methodology_pages(client, seeded):
    page = client.get("/methodologies")
    assert page.status_code == 200
    detail = client.get("/methodologies/public_transit?lang=en").get_data(as_text=True)
    assert "Version in force" in detail and "evidence grade" in detail


def test_the_version_form_marks_every_bad_value_on_its_field_in_words(client, seeded, make):
    _login(client, make.user("admin"))
    data = {
        f"param:{name}": value
        for name, value in services.active_version("public_transit").params.items()
    }
    data.update(
        {
            "param:ef_bus_g_pkm": "5o",  # a letter o for a zero
            "param:max_distance_km": "-3",
            "points_per_gram": "0",
            "note": "survey",
        }
    )
    bad = client.post("/admin/methodologies/public_transit/new?lang=zh_CN", data=data)
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "尚未保存" in html
    for field in ("param-ef_bus_g_pkm", "param-max_distance_km", "points_per_gram"):
        assert f'aria-describedby="{field}-error"' in html, field
    assert "请填写数字，例如 56.2" in html and "请填写大于 0 的积分数" in html
    assert "is not a number" not in html and "must be at least" not in html
    assert len(versions_of("public_transit")) == 1  # nothing saved

    # shares that do not add up: each share is marked, the rule said in words
    data.update({"param:ef_bus_g_pkm": "50", "param:max_distance_km": "40", "points_per_gram": "1"})
    data["param:share_car"] = "0.2"
    shares = client.post("/admin/methodologies/public_transit/new?lang=en", data=data)
    html = shares.get_data(as_text=True)
    assert shares.status_code == 422
    assert "Together these shares must add up to 1 (100%)" in html
    assert 'aria-describedby="param-share_taxi-error"' in html
    assert "must sum to 1" not in html
    assert len(versions_of("public_transit")) == 1

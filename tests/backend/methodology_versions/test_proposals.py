"""Methodology proposals are checked (issue 14, item 5): each parameter's bounds and sign,
a reason for the change, and the review page shows each changed value next to the old one.
New module versions are offered as drafts that still need four eyes."""

from __future__ import annotations

import re

import pytest

from backend.methodology_versions import services
from backend.methodology_versions.models import VersionStatus
from backend.methodology_versions.queries import versions_of

from ...conftest import IsolatedClient
from ...helpers import Auth

DRAFTS = "/api/v1/admin/methodologies/public_transit/versions"


@pytest.fixture
def seeded(db):
    services.seed_versions()


def test_a_negative_emission_factor_is_refused(client, seeded, make, auth):
    response = client.post(
        DRAFTS,
        json={"params": {"ef_bus_g_pkm": "-30"}, "note": "cleaner buses"},
        headers=auth.bearer(make.user("admin")),
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_parameters"
    assert "ef_bus_g_pkm must be at least 0 gCO2/pkm" in body["details"]
    assert [v.number for v in versions_of("public_transit")] == [1]


def test_a_change_without_a_reason_is_refused(client, seeded, make, auth):
    response = client.post(
        DRAFTS,
        json={"params": {"ef_bus_g_pkm": "40"}, "note": "   "},
        headers={**auth.bearer(make.user("admin")), "Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "comment_required"
    assert [v.number for v in versions_of("public_transit")] == [1]


def _login(client, user):
    client.post("/admin/logout")
    assert Auth(client, None).login_page(user, admin=True).status_code == 302


def test_the_review_page_shows_each_change_next_to_the_value_in_force(app, seeded, make):
    app.test_client_class = IsolatedClient
    client = app.test_client()
    proposer, reviewer = make.user("admin"), make.user("admin")
    draft = services.create_draft(
        proposer, "public_transit", {"ef_bus_g_pkm": "40"}, note="e-bus fleet 2026"
    )
    services.submit_version(proposer, draft.id)
    _login(client, reviewer)
    html = client.get(f"/admin/methodology-versions/{draft.id}?lang=en").get_data(as_text=True)
    row = re.search(r'<tr class="changed">(.*?)</tr>', html, re.S)
    assert row is not None and "ef_bus_g_pkm" in row.group(1)
    # the old value (v1, in force) and the proposed one, side by side
    assert re.search(r"56\.2</td>\s*<td class=\"num\"><strong>40</strong>", row.group(1))
    assert html.count('class="changed"') == 1
    assert "e-bus fleet 2026" in html


def test_offered_module_versions_need_two_administrators(app, client, seeded, make, auth):
    result = app.test_cli_runner().invoke(args=["methodologies", "seed"])
    # the four resident modules 2.0.0 and afforestation 1.1.0
    assert "offered 5 new module versions" in result.output
    again = app.test_cli_runner().invoke(args=["methodologies", "seed"])
    assert "offered" not in again.output  # offered once
    offered = [v for v in versions_of("waste_sorting") if v.number == 2][0]
    assert offered.status is VersionStatus.DRAFT and offered.proposed_by_id is None
    assert offered.module_version == "2.0.0"
    assert offered.params["ef_composting_kitchen"] == "0.1915"  # the corrected default
    assert "rounds the credit down" in offered.note
    first, second = make.user("admin"), make.user("admin")
    base = f"/api/v1/admin/methodology-versions/{offered.id}"
    client.post(f"{base}/submit", headers=auth.bearer(first))
    # whoever submits an offered draft answers for it: they cannot approve it themselves
    own = client.post(f"{base}/approve", json={}, headers=auth.bearer(first))
    assert own.status_code == 403
    ok = client.post(f"{base}/approve", json={"comment": "ok"}, headers=auth.bearer(second))
    assert ok.status_code == 200
    assert services.active_version("waste_sorting").module_version == "2.0.0"
    # a later parameter change keeps module 2.0.0 (and its rounding)
    later = services.create_draft(first, "waste_sorting", {"warm_haircut": "0.6"}, note="x")
    assert later.module_version == "2.0.0"

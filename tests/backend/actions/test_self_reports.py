from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from PIL import Image

from backend.actions.models import ActivityRecord
from backend.ledger.queries import resident_balance
from backend.timeutil import utcnow

from ...helpers import DAY, NEXT_DAY

TRIP = {
    "mode": "bus",
    "distance_km": 8.2,
    "started_at": f"{DAY}T08:00:00+08:00",
    "ended_at": f"{DAY}T08:25:00+08:00",
}


def photo(seed: int = 0) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (seed % 255, 120, 80)).save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def report(client, headers, activity=TRIP, seed=0, action="public_transit"):
    return client.post(
        "/api/v1/me/self-reports",
        headers=headers,
        content_type="multipart/form-data",
        data={
            "action": action,
            "activity": json.dumps(activity),
            "photo": (photo(seed), "ticket.png"),
        },
    )


def test_self_report_goes_to_review_and_is_credited_on_approval(client, auth, make, seeded):
    resident, admin = make.resident(), make.user("admin")
    created = report(client, auth.bearer(resident))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["outcome"] == "review"
    queue = client.get("/api/v1/admin/review-queue", headers=auth.bearer(admin)).get_json()
    assert [r["id"] for r in queue] == [body["id"]]
    approved = client.post(
        f"/api/v1/admin/actions/{body['id']}/approve", json={}, headers=auth.bearer(admin)
    )
    assert approved.get_json()["outcome"] == "credited"
    assert resident_balance(resident.id) == 359
    detail = client.get(
        f"/api/v1/me/actions/{body['id']}",
        headers={**auth.bearer(resident), "Accept-Language": "en"},
    ).get_json()
    calc = detail["calculation"]
    assert calc["version"] == "v1" and calc["credited_g"] == 359
    assert any(f["name"] == "ef_bus_g_pkm" and f["source"]["document"] for f in calc["factors"])
    assert calc["steps"][-1]["value"] == "359"


def test_a_reused_photo_is_refused(client, auth, make, seeded):
    resident = make.resident()
    headers = auth.bearer(resident)
    assert report(client, headers, seed=7).status_code == 201
    again = report(
        client,
        headers,
        seed=7,
        activity={
            **TRIP,
            "started_at": f"{NEXT_DAY}T08:00:00+08:00",
            "ended_at": f"{NEXT_DAY}T08:20:00+08:00",
        },
    )
    assert again.status_code == 409 and again.get_json()["code"] == "photo_reused"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"action": "public_transit", "activity": "{bad json"}, "invalid_activity"),
        ({"action": "flying", "activity": json.dumps(TRIP)}, "invalid_activity"),
        ({"action": "public_transit", "activity": json.dumps({"mode": "bus"})}, "invalid_activity"),
    ],
)
def test_bad_self_reports_are_clear_4xx(client, auth, make, seeded, data, code):
    headers = auth.bearer(make.resident())
    response = client.post(
        "/api/v1/me/self-reports",
        headers=headers,
        content_type="multipart/form-data",
        data={**data, "photo": (photo(3), "p.png")},
    )
    assert response.status_code == 422 and response.get_json()["code"] == code
    not_image = client.post(
        "/api/v1/me/self-reports",
        headers=headers,
        content_type="multipart/form-data",
        data={
            "action": "public_transit",
            "activity": json.dumps(TRIP),
            "photo": (io.BytesIO(b"%PDF-1.4"), "x.pdf"),
        },
    )
    assert not_image.status_code == 422 and not_image.get_json()["code"] == "invalid_image"


def test_appeal_goes_to_a_different_administrator(client, auth, make, seeded):
    resident, first, second = make.resident(), make.user("admin"), make.user("admin")
    record = report(client, auth.bearer(resident)).get_json()
    rejected = client.post(
        f"/api/v1/admin/actions/{record['id']}/reject",
        json={"comment": "照片看不清"},
        headers=auth.bearer(first),
    ).get_json()
    assert rejected["outcome"] == "rejected" and rejected["can_appeal"]
    appeal = client.post(
        f"/api/v1/me/actions/{record['id']}/appeal",
        json={"text": "重新上传了清晰的车票"},
        headers=auth.bearer(resident),
    )
    assert appeal.get_json()["outcome"] == "review"
    same = client.post(
        f"/api/v1/admin/actions/{record['id']}/approve", json={}, headers=auth.bearer(first)
    )
    assert same.status_code == 403 and same.get_json()["code"] == "same_reviewer"
    other = client.post(
        f"/api/v1/admin/actions/{record['id']}/approve", json={}, headers=auth.bearer(second)
    )
    assert other.get_json()["outcome"] == "credited"
    twice = client.post(
        f"/api/v1/me/actions/{record['id']}/appeal",
        json={"text": "again"},
        headers=auth.bearer(resident),
    )
    assert twice.status_code == 409


def test_operator_data_wins_over_a_pending_self_report(client, auth, make, transit, rider, db):
    from backend.actions.models import ActivityRecord

    _, pusher = transit
    mine = report(client, auth.bearer(rider)).get_json()
    batch = pusher.push(
        [
            {
                "record_id": "op-1",
                "action": "public_transit",
                "identity": "CARD0001",
                "activity": TRIP,
            }
        ]
    ).get_json()["batch_id"]
    assert pusher.get(batch).get_json()["outcomes"][0]["outcome"] == "credited"
    db.session.expire_all()
    assert db.session.get(ActivityRecord, mine["id"]).outcome.value == "duplicate"
    assert resident_balance(rider.id) == 359


def test_residents_cannot_read_each_others_actions(client, auth, make, seeded):
    owner, other = make.resident(), make.resident()
    record = report(client, auth.bearer(owner)).get_json()
    response = client.get(f"/api/v1/me/actions/{record['id']}", headers=auth.bearer(other))
    assert response.status_code == 404


def test_rejection_reasons_are_given_in_chinese_and_english(client, auth, make, transit, rider):
    _, pusher = transit
    batch = pusher.push(
        [
            {
                "record_id": "z-1",
                "action": "public_transit",
                "identity": "CARD0001",
                "activity": {**TRIP, "distance_km": -1},
            }
        ]
    ).get_json()["batch_id"]
    pusher.get(batch)
    [action] = client.get("/api/v1/me/actions", headers=auth.bearer(rider)).get_json()
    zh = client.get(f"/api/v1/me/actions/{action['id']}", headers=auth.bearer(rider)).get_json()
    en = client.get(
        f"/api/v1/me/actions/{action['id']}",
        headers={**auth.bearer(rider), "Accept-Language": "en"},
    ).get_json()
    assert zh["reason_code"] == en["reason_code"] == "non_positive_distance"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh["reason"])
    assert en["reason"].isascii() and en["reason"]


def test_the_reviewers_decision_is_confirmed_in_words(client, auth, make, seeded):
    resident, admin = make.resident(), make.user("admin")
    body = report(client, auth.bearer(resident)).get_json()
    auth.login_page(admin, admin=True)
    done = client.post(
        f"/admin/review/{body['id']}/approve?lang=zh_CN",
        data={"comment": "车票清楚"},
        follow_redirects=True,
    )
    html = done.get_data(as_text=True)
    assert "已裁定：已加分。" in html and "credited" not in html


def test_an_appeal_comes_within_the_residents_claim_window(client, auth, make, seeded, db):
    resident, admin = make.resident(), make.user("admin")
    record = report(client, auth.bearer(resident), seed=31).get_json()
    client.post(
        f"/api/v1/admin/actions/{record['id']}/reject",
        json={"comment": "照片看不清"},
        headers=auth.bearer(admin),
    )
    stored = db.session.get(ActivityRecord, record["id"])
    stored.reviewed_at = utcnow() - timedelta(days=8)  # decided eight days ago
    db.session.commit()
    late = client.post(
        f"/api/v1/me/actions/{record['id']}/appeal",
        json={"text": "我现在才看到"},
        headers={**auth.bearer(resident), "Accept-Language": "en"},
    )
    assert late.status_code == 409
    body = late.get_json()
    assert body["code"] == "appeal_too_late" and "within 7 days" in body["message"]
    assert db.session.get(ActivityRecord, record["id"]).outcome.value == "rejected"

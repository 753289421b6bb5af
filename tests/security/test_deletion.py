"""Deleting an account deletes: every personal datum is classified in one registry
(``backend.personal_data``), and a deleted resident leaves nothing behind in the database,
the upload folder or the logs, while the ledger reconciles and the reductions recompute."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from PIL import Image
from sqlalchemy import String, Text, select
from sqlalchemy.types import JSON

from backend.actions.models import ActivityRecord, Outcome
from backend.actions.recompute import recompute_check
from backend.extensions import db as _db
from backend.ledger.reconcile import reconcile
from backend.methodology_versions.services import seed_versions
from backend.personal_data import (
    ANONYMISED,
    ERASED,
    KEPT,
    NOT_PERSONAL,
    RESIDENT_DATA,
    STAFF_ONLY,
)
from backend.privacy import export_data

from ..factories import PASSWORD
from ..helpers import DAY, PREV_DAY, as_json, signed_headers

ADDRESS = "203.0.113.77"
CARD = "QZCARD-55667788"
APPEAL = "我上传了清晰的车票照片，请复核 qzappeal"
NICKNAME = "绿色小蓝"


def test_every_column_that_can_hold_personal_data_is_classified(app):
    with app.app_context():
        tables = {table.name: table for table in _db.metadata.sorted_tables}
    lists = (set(RESIDENT_DATA), set(STAFF_ONLY), set(NOT_PERSONAL))
    unlisted = set(tables) - set().union(*lists)
    assert not unlisted, f"classify these tables in backend/personal_data.py: {unlisted}"
    assert sum(len(names) for names in lists) == len(set().union(*lists))  # once each
    assert set().union(*lists) <= set(tables)  # no stale names
    problems = []
    for name, treatments in RESIDENT_DATA.items():
        columns = {column.name for column in tables[name].columns}
        if missing := columns - set(treatments):
            problems.append(f"{name}: unclassified {sorted(missing)}")
        if stale := set(treatments) - columns:
            problems.append(f"{name}: no such columns {sorted(stale)}")
        if odd := {t for t in treatments.values()} - {KEPT, ANONYMISED, ERASED}:
            problems.append(f"{name}: unknown treatments {odd}")
    # a table that can point at a user is never "not personal"
    for name in NOT_PERSONAL:
        for column in tables[name].columns:
            assert not any(fk.column.table.name == "users" for fk in column.foreign_keys), name
    assert not problems, "\n".join(problems)


def _photo() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 80)).save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def _trip(day: str, minute: str = "13:27") -> dict[str, object]:
    return {
        "mode": "bus",
        "distance_km": 8.2,
        "started_at": f"{day}T08:{minute}+08:00",
        "ended_at": f"{day}T08:5{minute[1:]}+08:00",
    }


def _search_database(values: list[str]) -> list[str]:
    """Every text and JSON column of every table, searched for each value."""
    found = []
    _db.session.expire_all()
    for table in _db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
        if not columns:
            continue
        for row in _db.session.execute(select(*columns)):
            text = json.dumps([str(v) for v in row], ensure_ascii=False)
            found += [f"{table.name}: {value}" for value in values if value in text]
    return found


def test_a_deleted_resident_leaves_no_personal_data_anywhere(
    app, client, make, auth, caplog, monkeypatch, tmp_path
):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    caplog.set_level(logging.DEBUG)
    seed_versions()
    _, key_id, secret = make.partner("del-bus", kind="transit")
    resident = make.resident(nickname=NICKNAME)
    admin = make.user("admin")
    phone = resident.phone
    at = {"REMOTE_ADDR": ADDRESS}
    assert auth.login_page(resident).status_code == 302
    token = auth.bearer(resident)

    # a linked card, and the operator's record of a trip with it: credited
    linked = client.post(
        "/api/v1/me/bindings",
        json={"partner": "del-bus", "identity": CARD, "consent": True},
        headers=token,
        environ_base=at,
    )
    assert linked.status_code == 201
    # the operator confirms the link with the code the resident shows (ownership before credit)
    proof = as_json({"identity": CARD, "link_code": linked.get_json()["link_code"]})
    path = "/api/v1/partner/links"
    headers = signed_headers(key_id, secret, "POST", path, proof, content_type="application/json")
    assert client.post(path, data=proof, headers=headers).status_code == 200
    body = as_json(
        {
            "records": [
                {
                    "record_id": "del-1",
                    "action": "public_transit",
                    "identity": CARD,
                    "activity": _trip(DAY),
                }
            ]
        }
    )
    path = "/api/v1/partner/batches"
    headers = signed_headers(key_id, secret, "POST", path, body, content_type="application/json")
    assert client.post(path, data=body, headers=headers).status_code == 202
    # a self-report with a photo, rejected, and appealed with a text
    reported = client.post(
        "/api/v1/me/self-reports",
        headers=token,
        content_type="multipart/form-data",
        data={
            "action": "public_transit",
            "activity": json.dumps(_trip(PREV_DAY, "07:51")),
            "photo": (_photo(), "ticket.png"),
        },
        environ_base=at,
    )
    assert reported.status_code == 201, reported.get_json()
    record_id = reported.get_json()["id"]
    rejected = client.post(
        f"/api/v1/admin/actions/{record_id}/reject",
        json={"comment": "照片模糊 qzcomment"},
        headers=auth.bearer(admin),
    )
    assert rejected.status_code == 200
    appealed = client.post(
        f"/api/v1/me/actions/{record_id}/appeal",
        json={"text": APPEAL},
        headers=token,
        environ_base=at,
    )
    assert appealed.status_code == 200
    photo = _db.session.get(ActivityRecord, record_id).evidence_path
    assert (tmp_path / photo).exists()

    # the export lists every category the deletion covers
    exported = export_data(resident)
    for category in (
        "profile",
        "data_sources",
        "household_cards",
        "actions",
        "appeals",
        "photos",
        "points",
        "redemptions",
        "sessions",
        "audit",
    ):
        assert category in exported, category
    assert exported["appeals"][0]["text"] == APPEAL
    assert exported["data_sources"][0]["identity"].endswith(CARD[-4:])
    credited = _db.session.scalar(
        select(ActivityRecord).where(ActivityRecord.outcome == Outcome.CREDITED)
    )
    assert credited is not None and credited.resident_id == resident.id

    deleted = client.post("/privacy/delete", data={"password": PASSWORD}, environ_base=at)
    assert deleted.status_code == 302

    # (the credited trip's times stay in its reduction: the ledger needs them; the
    # uncredited self-report's exact times go)
    leftovers = _search_database(
        [phone, NICKNAME, CARD, "*" + CARD[-4:], APPEAL, "qzappeal", "qzcomment", ADDRESS]
        + [photo, ":07:51", ":57:51"]
    )
    assert not leftovers, leftovers
    assert not any(Path(tmp_path).rglob("*.jpg")), "the photo file is still there"
    logged = "\n".join(f"{record.getMessage()} {record.args}" for record in caplog.records)
    assert phone not in logged and CARD not in logged and APPEAL not in logged
    # the ledger and the reductions hold, tied to the anonymous account
    assert reconcile().clean
    assert not recompute_check().differences
    assert client.get("/api/v1/me", headers=token).status_code == 401
    again = client.post("/login", data={"phone": phone, "password": PASSWORD})
    assert again.status_code == 200

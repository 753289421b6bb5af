"""Privacy (PIPL): phone numbers and external identities never reach the logs; every admin
screen shows phone numbers masked; raw records past retention are erased, reductions kept."""

from __future__ import annotations

import io
import logging
import re
import traceback
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text
from werkzeug.datastructures import FileStorage

from backend.accounts import routes as account_routes
from backend.accounts.models import Role
from backend.actions.identities import bind_identity
from backend.actions.models import ActivityRecord, Channel, Outcome
from backend.actions.recompute import recompute_check
from backend.actions.retention import purge_raw_records
from backend.actions.self_reports import review_record, submit_self_report
from backend.events.forest import create_plan
from backend.extensions import db as _db
from backend.jobs import JobFailed
from backend.methodology_versions.models import MethodologyVersion
from backend.methodology_versions.services import seed_versions
from backend.reporting.queries import TABLE_NAMES
from backend.timeutil import utcnow
from backend.uploads import image_path
from backend.worker import run_in_app

from ..backend.events.helpers import plan_data, worked_event
from ..factories import PASSWORD
from ..helpers import DAY, PREV_DAY, as_json, signed_headers
from .figures import record

PHONE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?![\d.])")
TRIP = {
    "mode": "bus",
    "distance_km": 8.2,
    "started_at": f"{DAY}T08:00:00+08:00",
    "ended_at": f"{DAY}T08:25:00+08:00",
}


def _logged(records: list[logging.LogRecord]) -> str:
    """Everything the handlers would write: messages and formatted tracebacks."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(formatter.format(r) for r in records)


def test_phones_and_identities_never_reach_the_logs(app, client, make, caplog, monkeypatch):
    seed_versions()
    caplog.set_level(logging.DEBUG)
    phones = ["13700001111", "13700002222", "13700003333"]
    identities = ["CARD-77001234", "CARD-77005678"]
    _, key_id, secret = make.partner("log-bus", kind="transit")

    # registration (API and page), a wrong password, an unknown number
    registered = client.post(
        "/api/v1/auth/register",
        json={"phone": phones[0], "password": PASSWORD, "district": "柯城区"},
    )
    assert registered.status_code == 201
    token = registered.get_json()["token"]
    page = client.post(
        "/register",
        data={"phone": phones[1], "password": PASSWORD, "confirm": PASSWORD, "district": "柯城区"},
    )
    assert page.status_code in (200, 302)
    wrong = client.post("/api/v1/auth/token", json={"phone": phones[0], "password": "wrong-pass"})
    assert wrong.status_code == 401
    client.post("/login", data={"phone": phones[2], "password": "wrong-pass"})

    # an identity linked, then a partner batch naming it and one nobody linked
    bearer = {"Authorization": f"Bearer {token}"}
    linked = client.post(
        "/api/v1/me/bindings",
        json={"partner": "log-bus", "identity": identities[0], "consent": True},
        headers=bearer,
    )
    assert linked.status_code == 201
    records = [
        {"record_id": f"log-{i}", "action": "public_transit", "identity": ident, "activity": TRIP}
        for i, ident in enumerate(identities)
    ]
    body = as_json({"records": records})
    path = "/api/v1/partner/batches"
    pushed = client.post(
        path,
        data=body,
        headers=signed_headers(key_id, secret, "POST", path, body, content_type="application/json"),
    )
    assert pushed.status_code == 202

    # an unexpected database error while a phone number is bound to the statement
    def failing_register(phone: str, *args: Any) -> Any:
        _db.session.execute(text("INSERT INTO users (phone) VALUES (:phone)"), {"phone": phone})

    monkeypatch.setattr(account_routes.services, "register_resident", failing_register)
    crashed = client.post(
        "/api/v1/auth/register",
        json={"phone": phones[2], "password": PASSWORD, "district": "柯城区"},
    )
    assert crashed.status_code == 500 and crashed.get_json()["code"] == "internal_error"

    logged = _logged(caplog.records)
    assert "unhandled error on POST /api/v1/auth/register" in logged  # the crash was logged
    assert "INSERT INTO users" in logged  # with its statement, but not its values
    leaks = [value for value in phones + identities if value in logged]
    assert not leaks, f"in the logs: {leaks}"
    assert not PHONE.search(logged)
    record("privacy", **{"log records checked": len(caplog.records), "leaks": 0})


def insert_phone(phone: str) -> None:
    """A job that fails in the database with a phone number in the row (see below)."""
    _db.session.execute(text("INSERT INTO users (phone) VALUES (:phone)"), {"phone": phone})


def test_a_failing_job_is_retold_without_the_row(app, db):
    """RQ logs and stores whatever a job raises: a database error reaches it as ``JobFailed``
    with the statement and the place, not the row's values (PostgreSQL's DETAIL)."""
    phone = "137" + "00004444"  # not in this source line, which the traceback quotes
    with pytest.raises(JobFailed) as failed:
        run_in_app("tests.security.test_privacy:insert_phone", phone)
    told = "".join(traceback.format_exception(failed.value))
    assert "INSERT INTO users" in told and "insert_phone" in told
    assert phone not in told and failed.value.__cause__ is None


def _admin_urls(app: Any, ids: dict[str, Any]) -> list[str]:
    """Every GET screen of the admin console, with real objects in its URL."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or "GET" not in rule.methods:
            continue
        if rule.rule.startswith(("/admin/login", "/admin/2fa", "/admin/static")):
            continue
        if rule.rule == "/admin/export/<name>.csv":
            urls += [f"/admin/export/{name}.csv" for name in TABLE_NAMES]
            continue
        missing = set(rule.arguments) - ids.keys()
        assert not missing, f"{rule.rule}: add a sample for {missing}"
        urls.append(rule.build({name: ids[name] for name in rule.arguments})[1])
    return urls


@pytest.fixture
def people(app, db, make, tmp_path, monkeypatch):
    """Residents (one with a self-report under review, one suspended), staff, an organiser
    with an event and a plan, and an administrator: all with phone numbers."""
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    seed_versions()
    resident = make.resident(nickname="隐私居民")
    merchant = make.merchant()
    users = [resident, make.resident(), make.staff(merchant), make.user(Role.ORGANISER)]
    _, key_id, secret = make.partner("privacy-bus")
    bind_identity(resident, "privacy-bus", "CARD-PRIVACY-1")
    photo = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 80)).save(photo, format="PNG")
    photo.seek(0)
    report = submit_self_report(
        resident, "public_transit", TRIP, FileStorage(photo, filename="t.png")
    )
    event = worked_event(users[3])
    create_plan(users[3], event.id, plan_data())
    version = _db.session.query(MethodologyVersion).first()
    return users, {
        "user_id": resident.id,
        "merchant_id": merchant.id,
        "record_id": report.id,
        "event_id": event.id,
        "version_id": version.id,
        "left_id": version.id,
        "right_id": version.id,
        "code": "public_transit",
        "key": "2026-02",
    }


@pytest.mark.pdf("pango")  # the reports' PDFs are among the screens
def test_every_admin_screen_shows_phone_numbers_masked(app, client, auth, make, people):
    users, ids = people
    admin = make.user(Role.ADMIN)
    users.append(admin)
    assert auth.login_page(admin, admin=True).status_code == 302
    ids["user_id"] = users[0].id
    screens = _admin_urls(app, ids)
    shown = []
    for url in screens:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        body = response.get_data(as_text=True) if response.mimetype != "application/pdf" else ""
        full = [u.phone for u in users if u.phone in body]
        assert not full and not PHONE.search(body), f"{url} shows a full phone number {full}"
        shown += [url for u in users if u.masked_phone in body]
    assert f"/admin/people/{users[0].id}" in shown  # the masked form is what is shown
    record("privacy", **{"admin screens checked": len(screens)})


def _old(record_id: int, days: int) -> None:
    _db.session.get(ActivityRecord, record_id).received_at = utcnow() - timedelta(days=days)
    _db.session.commit()


def test_raw_records_past_retention_are_erased_and_reductions_kept(app, db, make, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path)
    seed_versions()
    resident, admin = make.resident(), make.user(Role.ADMIN)

    def photo(seed: int) -> FileStorage:
        buffer = io.BytesIO()
        Image.new("RGB", (40, 30), (seed, 120, 80)).save(buffer, format="PNG")
        buffer.seek(0)
        return FileStorage(buffer, filename="t.png")

    credited = submit_self_report(resident, "public_transit", TRIP, photo(1))
    review_record(admin, credited.id, approve=True)
    rejected = submit_self_report(
        resident,
        "public_transit",
        {
            **TRIP,
            "started_at": f"{PREV_DAY}T08:00:00+08:00",
            "ended_at": f"{PREV_DAY}T08:25:00+08:00",
        },
        photo(2),
    )
    review_record(admin, rejected.id, approve=False, comment="票据不清")
    unmatched = ActivityRecord(
        channel=Channel.PARTNER,
        action="public_transit",
        activity=dict(TRIP),
        outcome=Outcome.UNMATCHED,
        flags=[],
    )
    recent = ActivityRecord(
        channel=Channel.PARTNER,
        action="public_transit",
        activity=dict(TRIP),
        outcome=Outcome.UNMATCHED,
        flags=[],
    )
    _db.session.add_all([unmatched, recent])
    _db.session.commit()
    retention = app.config["RAW_RECORD_RETENTION_DAYS"]
    for old in (credited, rejected, unmatched):
        _old(old.id, retention + 1)
    _old(recent.id, retention - 1)
    evidence = image_path(rejected.evidence_path)
    assert evidence.exists()

    assert purge_raw_records() == 2
    assert purge_raw_records() == 0  # nothing left to do
    _db.session.expire_all()
    assert rejected.activity == {} and rejected.evidence_path is None and not evidence.exists()
    assert rejected.outcome is Outcome.REJECTED and rejected.evidence_hash  # reuse still caught
    assert unmatched.activity == {}
    assert recent.activity == TRIP  # not yet past retention
    assert credited.activity == TRIP and credited.reduction.activity  # credited: kept
    assert not recompute_check().differences
    record("privacy", **{"retention": f"{retention} days, erased 2 of 4"})

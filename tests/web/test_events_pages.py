"""Organiser, admin, public and resident pages of carbon-neutral events."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from backend.events import certificates, forest, queries, retirements, services
from backend.events.models import Event, EventFootprint, FootprintStage, PlanStatus, Planting
from backend.ledger.queries import resident_balance
from backend.methodology_versions.services import seed_versions

from ..backend.events.helpers import (
    PLANTED_ON,
    approve_measuring_version,
    plan_data,
    reduction,
    worked_event,
)


@pytest.fixture(autouse=True)
def versions(db):
    seed_versions()


@pytest.fixture
def organiser(make, auth):
    user = make.user("organiser")
    assert auth.login_page(user).status_code == 302
    return user


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


EVENT_FORM = {
    "name": "衢州马拉松",
    "venue": "衢州体育中心",
    "district": "衢江区",
    "starts_on": "2026-05-20",
    "ends_on": "2026-05-21",
    "expected_participants": "500",
}


def test_organiser_creates_an_event_and_sees_it_listed(client, organiser, db):
    empty = client.get("/organiser")
    assert empty.status_code == 200 and "/organiser/events/new" in empty.get_data(as_text=True)
    bad = client.post("/organiser/events/new", data={**EVENT_FORM, "ends_on": "2026-05-19"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="ends_on-error"' in html and 'aria-invalid="true"' in html
    assert _count(db, Event) == 0
    made = client.post("/organiser/events/new", data=EVENT_FORM)
    assert made.status_code == 302 and made.headers["Location"].endswith("/footprint/planned")
    listed = client.get("/organiser").get_data(as_text=True)
    assert "衢州马拉松" in listed


def _footprint_form(**extra: str) -> dict[str, str]:
    return {
        "participants": "500",
        "amount-purchased_energy-electricity": "20000",
        "travel-0-kind": "hsr",
        "travel-0-travellers": "300",
        "travel-0-trips": "2",
        "travel-0-distance_km": "300",
        "travel-1-kind": "car",
        "travel-1-travellers": "200",
        "travel-1-trips": "2",
        "travel-1-distance_km": "80",
        "amount-accommodation-hotel": "400",
        "amount-catering-meal": "3000",
        **extra,
    }


def test_footprint_form_shows_errors_on_the_row_and_saves_nothing(client, organiser, db):
    event = services.create_event(organiser, {**EVENT_FORM})
    url = f"/organiser/events/{event.id}/footprint/planned"
    page = client.get(url)
    assert page.status_code == 200 and 'value="500"' in page.get_data(as_text=True)
    bad = client.post(url, data=_footprint_form(**{"travel-1-distance_km": "-80"}))
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'class="travel-row has-error"' in html and 'class="error-box"' in html
    zero = client.post(url, data=_footprint_form(participants="0"))
    assert zero.status_code == 422
    assert _count(db, EventFootprint) == 0
    good = client.post(url, data=_footprint_form())
    assert good.status_code == 302 and good.headers["Location"].endswith("/report/planned")
    report = client.get(good.headers["Location"]).get_data(as_text=True)
    assert "39,502.667" in report and "外购电力" in report
    # the actual data form starts from the planned data
    actual = client.get(f"/organiser/events/{event.id}/footprint/actual").get_data(as_text=True)
    assert 'value="20000"' in actual


def test_another_organiser_gets_404(client, organiser, make, auth):
    event = worked_event(make.user("organiser"))
    for path in ("", "/plan", "/footprint/planned", "/report/planned", "/report/planned.pdf"):
        assert client.get(f"/organiser/events/{event.id}{path}").status_code == 404, path
    assert client.post(f"/organiser/events/{event.id}/retire", data={"kg": "1"}).status_code == 302
    assert "衢州数字经济大会" not in client.get("/organiser").get_data(as_text=True)


def test_plan_page_calculates_draws_and_submits(client, organiser, db):
    event = worked_event(organiser)
    url = f"/organiser/events/{event.id}/plan"
    form = {
        "district": "衢江区",
        "site": "举村乡宜林荒山",
        "planting_year": "2027",
        "horizon_years": "10",
        "mix-0-species": "chinese_fir",
        "mix-0-percent": "100",
    }
    bad = client.post(url, data={**form, "mix-0-percent": "90"})
    assert bad.status_code == 422 and "90%，应为 100%" in bad.get_data(as_text=True)  # in percent
    # both of the form's problems at once, each on its field
    both = client.post(url, data={**form, "site": " ", "mix-0-percent": "90"})
    html = both.get_data(as_text=True)
    assert both.status_code == 422 and 'id="site-error"' in html and 'id="mix-error"' in html
    assert "请填写造林地点" in html and "合计 90%，应为 100%" in html
    assert event.latest_plan is None  # nothing calculated or stored
    made = client.post(url, data=form)
    assert made.status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert "10.0" in html and "0.6667" in html and "1,800" in html  # reference §5: ≈ 10 mu
    assert "<svg" in html and 'role="img"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
    plan = event.latest_plan
    submitted = client.post(f"/organiser/plans/{plan.id}/submit")
    assert submitted.status_code == 302
    db.session.refresh(plan)
    assert plan.status is PlanStatus.SUBMITTED


def test_retire_form_previews_exactly_what_it_retires_then_reports_serials(
    client, organiser, make, db
):
    event = worked_event(organiser)
    reduction(make.resident(), 5_000)
    preview = client.post(
        f"/organiser/events/{event.id}/retire", data={"kg": "3", "request_key": "k"}
    )
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="preview-total">5.000<' in html
    assert 'id="overshoot"' in html and "2.000" in html  # 2 kg more than asked
    assert queries.retired_g(event.id) == 0  # a preview retires nothing
    # the pool changed since the preview (or the form was altered): nothing is retired
    stale = client.post(
        f"/organiser/events/{event.id}/retire",
        data={"kg": "3", "request_key": "k", "confirm": "1", "at_most_g": "3000"},
        follow_redirects=True,
    )
    assert "flash-error" in stale.get_data(as_text=True) and queries.retired_g(event.id) == 0
    response = client.post(
        f"/organiser/events/{event.id}/retire",
        data={"kg": "3", "request_key": "k", "confirm": "1", "at_most_g": "5000"},
        follow_redirects=True,
    )
    assert "QZCI-R-" in response.get_data(as_text=True)
    assert queries.retired_g(event.id) == 5_000
    short = client.post(
        f"/organiser/events/{event.id}/retire", data={"kg": "30"}, follow_redirects=True
    )
    assert "flash-error" in short.get_data(as_text=True)


def _approved(organiser, admin):
    event = worked_event(organiser, FootprintStage.ACTUAL)
    plan = forest.create_plan(organiser, event.id, plan_data())
    forest.submit_plan(organiser, plan.id)
    forest.review_plan(admin, plan.id, True)
    return event, plan


def test_public_project_page_and_resident_donation(client, make, auth, db):
    organiser, admin = make.user("organiser"), make.user("admin")
    _, plan = _approved(organiser, admin)
    forest.record_planting(
        admin,
        plan.id,
        {
            "planted_on": PLANTED_ON,
            "species": "chinese_fir",
            "area_mu": "3.6",
            "seedlings": 648,
            "location": "举村乡",
        },
    )
    public = client.get(f"/projects/{plan.id}")
    assert public.status_code == 200 and "648" in public.get_data(as_text=True)
    assert "/login" in public.get_data(as_text=True)
    assert str(plan.id) in client.get("/projects").get_data(as_text=True)
    resident = make.resident()
    make.points(resident, 300)
    auth.login_page(resident)
    preview = client.post(
        f"/projects/{plan.id}/donate", data={"points": "120", "idempotency_key": "once"}
    ).get_data(as_text=True)
    assert 'id="preview"' in preview and "300" in preview and "180" in preview
    assert resident_balance(resident.id) == 300  # the preview donates nothing
    done = client.post(
        f"/projects/{plan.id}/donate",
        data={"points": "120", "idempotency_key": "once", "confirm": "1"},
        follow_redirects=True,
    )
    html = done.get_data(as_text=True)
    assert resident_balance(resident.id) == 180
    assert "100.0%" in html  # the only donor: all of the donations
    assert "不对应购买某几棵树" in html  # points are not sold as trees
    again = client.post(
        f"/projects/{plan.id}/donate",
        data={"points": "120", "idempotency_key": "once", "confirm": "1"},
    )
    assert again.status_code == 302 and resident_balance(resident.id) == 180
    broke = client.post(
        f"/projects/{plan.id}/donate", data={"points": "999"}, follow_redirects=True
    )
    assert "flash-error" in broke.get_data(as_text=True) and resident_balance(resident.id) == 180
    assert client.get(f"/projects/{plan.id + 1000}").status_code == 404


def test_verification_page_is_public(client, make, db):
    organiser, admin = make.user("organiser"), make.user("admin")
    event, _ = _approved(organiser, admin)
    reduction(make.resident(), 40_000_000)
    retirements.retire_reductions(organiser, event.id, 39_502_667)
    cert = certificates.issue_certificate(admin, event.id)
    page = client.get(f"/verify/{cert.verify_code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert cert.serial in html and event.name in html
    # three figures apart: retired now, measured forest removals, pledged (not counted)
    html_en = client.get(f"/verify/{cert.verify_code}?lang=en").get_data(as_text=True)
    for label in (
        "Retired reductions (counted)",
        "Measured forest removals (counted)",
        "Pledged forest removals (not counted)",
        "Neutrality completed on",
    ):
        assert label in html_en
    assert "Valid certificate" in html_en and "Certificate suspended" not in html_en
    assert client.get("/verify/not-a-code").status_code == 404


def _photo() -> tuple[io.BytesIO, str]:
    data = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 60)).save(data, format="JPEG")
    data.seek(0)
    return data, "site.jpg"


def _admin_session(client, auth, admin) -> None:
    """Sign an administrator in; the second factor (tested with the sign-in pages) is taken
    as done."""
    assert auth.login_page(admin, admin=True).status_code == 302
    try:
        from backend.auth import SECOND_FACTOR_KEY
    except ImportError:  # no second factor in this build
        return
    with client.session_transaction() as session:
        session[SECOND_FACTOR_KEY] = admin.get_id()


def test_admin_reviews_records_planting_and_certifies(client, make, auth, db, app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path)
    organiser, admin = make.user("organiser"), make.user("admin")
    event = worked_event(organiser, FootprintStage.ACTUAL)
    plan = forest.create_plan(organiser, event.id, plan_data())
    forest.submit_plan(organiser, plan.id)
    _admin_session(client, auth, admin)
    listing = client.get("/admin/events").get_data(as_text=True)
    assert event.name in listing and f"/admin/events/{event.id}" in listing
    detail = client.get(f"/admin/events/{event.id}")
    assert detail.status_code == 200 and "<svg" in detail.get_data(as_text=True)
    refused = client.post(f"/admin/plans/{plan.id}/return", data={"comment": ""})
    assert refused.status_code == 302
    db.session.refresh(plan)
    assert plan.status is PlanStatus.SUBMITTED
    client.post(f"/admin/plans/{plan.id}/approve", data={"comment": "ok"})
    db.session.refresh(plan)
    assert plan.status is PlanStatus.APPROVED
    bad = client.post(
        f"/admin/plans/{plan.id}/plantings",
        data={
            "planted_on": PLANTED_ON.isoformat(),
            "species": "moso_bamboo",
            "area_mu": "3.6",
            "seedlings": "648",
            "location": "举村乡",
        },
    )
    assert bad.status_code == 422 and _count(db, Planting) == 0
    good = client.post(
        f"/admin/plans/{plan.id}/plantings",
        data={
            "planted_on": PLANTED_ON.isoformat(),
            "species": "chinese_fir",
            "area_mu": "3.6",
            "seedlings": "648",
            "location": "举村乡",
            "photos": _photo(),
        },
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    planting = db.session.scalar(select(Planting))
    assert len(planting.photos) == 1
    photo = client.get(f"/projects/{plan.id}/photos/{planting.id}/0")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    too_many = client.post(
        f"/admin/plantings/{planting.id}/survival",
        data={"checked_on": PLANTED_ON.isoformat(), "surviving": "700"},
    )
    assert too_many.status_code == 422
    client.post(
        f"/admin/plantings/{planting.id}/survival",
        data={"checked_on": PLANTED_ON.isoformat(), "surviving": "600"},
    )
    # a growth measurement through the console: one plot row (400 m², 1.0 m³ of stem),
    # under the afforestation module 1.1.0 version (buffer share, form factor)
    approve_measuring_version(admin, make.user("admin"))
    bad_measure = client.post(
        f"/admin/plantings/{planting.id}/measurement",
        data={"measured_on": PLANTED_ON.isoformat(), "plot-1-area_m2": "400"},
    )
    assert bad_measure.status_code == 422
    measured = client.post(
        f"/admin/plantings/{planting.id}/measurement",
        data={
            "measured_on": PLANTED_ON.isoformat(),
            "plot-1-area_m2": "400",
            "plot-1-stock_m3": "1.0",
        },
    )
    assert measured.status_code == 302
    page = client.get(f"/admin/events/{event.id}?lang=en").get_data(as_text=True)
    assert "QZCI-F-" in page and "QZCI-B-" in page and "Neutrality deadline" in page
    client.post(f"/admin/events/{event.id}/certificate")
    db.session.refresh(event)
    assert event.certificate is None  # measured removals alone do not cover it
    reduction(make.resident(), 40_000_000)
    retirements.retire_reductions(organiser, event.id, 30_000_000)
    issued = client.post(f"/admin/events/{event.id}/certificate", follow_redirects=True)
    assert "QZCI-C-" in issued.get_data(as_text=True)
    db.session.refresh(event)
    assert event.certificate is not None
    assert event.certificate.snapshot["surviving_seedlings"] == 600


def test_factor_sources_are_cited_in_the_pages_language(client, organiser, db):
    """Our own proposed defaults are cited as one document in the reader's language, not as
    a stored bilingual name."""
    event = worked_event(organiser)
    url = f"/organiser/events/{event.id}/report/planned"
    zh = client.get(url, query_string={"lang": "zh_CN"}).get_data(as_text=True)
    assert "衢州碳普惠平台提议值（尚无公开发布的数值）" in zh
    assert "Quzhou programme proposal" not in zh
    en = client.get(url, query_string={"lang": "en"}).get_data(as_text=True)
    assert "Quzhou programme proposal (no published value)" in en
    assert "衢州碳普惠平台提议值" not in en

"""Review, planting, survival and the certificate: committed vs planted vs surviving."""

from __future__ import annotations

import io
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from backend.audit.models import AuditEntry
from backend.events import certificates, forest, queries, retirements
from backend.events.exceptions import (
    AlreadyCertified,
    CommentRequired,
    InvalidPlanting,
    InvalidPlanTransition,
    NotCertifiable,
    PlanLocked,
)
from backend.events.models import FootprintStage, PlanStatus, Planting
from backend.timeutil import local, utcnow
from backend.uploads import InvalidImage

from .helpers import PLANTED_ON, plan_data, reduction, worked_event


def _approved(organiser, admin, stage=FootprintStage.ACTUAL, **overrides):
    event = worked_event(organiser, stage)
    plan = forest.create_plan(organiser, event.id, plan_data(**overrides))
    forest.submit_plan(organiser, plan.id)
    forest.review_plan(admin, plan.id, True, "site visited")
    return event, plan


def _photo(name: str = "site.jpg") -> FileStorage:
    data = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 60)).save(data, format="JPEG")
    data.seek(0)
    return FileStorage(stream=data, filename=name, content_type="image/jpeg")


def _planting(admin, plan, **overrides):
    data = {
        "planted_on": PLANTED_ON.isoformat(),
        "species": "chinese_fir",
        "area_mu": "3.6",
        "seedlings": "648",
        "location": "举村乡 3号地块 N28.93 E118.95",
        **overrides,
    }
    return forest.record_planting(admin, plan.id, data)


def test_review_approve_or_return(db, organiser, admin):
    event = worked_event(organiser)
    plan = forest.create_plan(organiser, event.id, plan_data())
    with pytest.raises(InvalidPlanTransition):
        forest.review_plan(admin, plan.id, True)  # a draft is not under review
    forest.submit_plan(organiser, plan.id)
    with pytest.raises(CommentRequired):
        forest.review_plan(admin, plan.id, False, "  ")
    returned = forest.review_plan(admin, plan.id, False, "site is already forest")
    assert returned.status is PlanStatus.RETURNED
    assert queries.standing(event).status == "returned"
    second = forest.create_plan(organiser, event.id, plan_data(site="常山县 新造林地"))
    forest.submit_plan(organiser, second.id)
    approved = forest.review_plan(admin, second.id, True)
    assert approved.status is PlanStatus.APPROVED
    with pytest.raises(PlanLocked):
        forest.create_plan(organiser, event.id, plan_data())
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "planting_plan")
    ).all()
    assert {"plan.create", "plan.submit", "plan.return", "plan.approve"} <= set(actions)


def test_status_is_honest_committed_planted_surviving(db, organiser, admin):
    event, plan = _approved(organiser, admin)  # fir, 20 years: 3.6 mu, 648 seedlings
    state = queries.standing(event)
    assert state.status == "committed"
    # the plan's projection is pledged, never counted: nothing covers the footprint yet
    assert state.committed_g == plan.removal_g and not state.covered
    assert state.pledged_g == plan.removal_g and state.measured_g == 0
    assert state.claim.claim == "in_progress"  # 碳中和林 neutralisation in progress
    assert state.planted_seedlings == 0 and state.planted_projected_g == 0

    first = _planting(admin, plan, area_mu="2", seedlings="360")
    state = queries.standing(event)
    assert state.status == "partly_planted"
    assert state.planted_area_mu == 2 and state.planted_seedlings == 360
    assert state.surviving_projected_g == state.planted_projected_g  # unchecked: as planted
    assert state.unchecked_blocks == 1

    _planting(admin, plan, area_mu="1.6", seedlings="288")
    state = queries.standing(event)
    assert state.status == "planted"
    # the planted blocks project what the plan committed (same area and species)
    assert abs(state.planted_projected_g - plan.removal_g) <= 2

    # 90% alive is above the 85% the methodology assumed: the projection holds
    forest.record_survival_check(
        admin, first.id, {"checked_on": PLANTED_ON + timedelta(days=90), "surviving": 324}
    )
    state = queries.standing(event)
    assert state.status == "planted" and state.survival_rate == Decimal("0.9")
    # 68% alive falls short: that block's projection is scaled by 0.68 / 0.85 = 0.8
    forest.record_survival_check(
        admin, first.id, {"checked_on": PLANTED_ON + timedelta(days=150), "surviving": 245}
    )
    state = queries.standing(event)
    assert state.status == "survival_short"
    block = state.blocks[0]
    assert block.factor == Decimal(245) / 360 / Decimal("0.85")
    assert state.surviving_projected_g < state.planted_projected_g
    assert state.surviving_seedlings == 245 and state.checked_seedlings == 360


def test_planting_and_survival_inputs_are_checked(db, organiser, admin):
    event = worked_event(organiser)
    draft = forest.create_plan(organiser, event.id, plan_data())
    with pytest.raises(InvalidPlanTransition):
        _planting(admin, draft)  # only an approved plan is planted
    _, plan = _approved(organiser, admin)
    future = (local(utcnow()).date() + timedelta(days=2)).isoformat()
    for overrides, field in [
        ({"species": "moso_bamboo"}, "species"),
        ({"species": "baobab"}, "species"),
        ({"area_mu": "-1"}, "area_mu"),
        ({"seedlings": "0"}, "seedlings"),
        ({"planted_on": future}, "planted_on"),
        ({"location": ""}, "location"),
    ]:
        with pytest.raises(InvalidPlanting) as caught:
            _planting(admin, plan, **overrides)
        assert caught.value.field == field
    planting = _planting(admin, plan)
    for data, field in [
        ({"checked_on": PLANTED_ON.isoformat(), "surviving": 649}, "surviving"),
        (
            {"checked_on": (PLANTED_ON - timedelta(days=1)).isoformat(), "surviving": 1},
            "checked_on",
        ),
        ({"checked_on": PLANTED_ON.isoformat(), "surviving": -1}, "surviving"),
    ]:
        with pytest.raises(InvalidPlanting) as caught:
            forest.record_survival_check(admin, planting.id, data)
        assert caught.value.field == field
    assert db.session.scalar(select(func.count()).select_from(Planting)) == 1


def test_photos_are_checked_before_anything_is_stored(db, organiser, admin, app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path)
    try:
        _, plan = _approved(organiser, admin)
        bad = FileStorage(stream=io.BytesIO(b"not an image"), filename="x.jpg")
        data = {
            "planted_on": PLANTED_ON.isoformat(),
            "species": "chinese_fir",
            "area_mu": "3.6",
            "seedlings": "648",
            "location": "举村乡",
        }
        with pytest.raises(InvalidImage):
            forest.record_planting(admin, plan.id, data, [_photo(), bad])
        assert not any(tmp_path.rglob("*.jpg"))
        planting = forest.record_planting(admin, plan.id, data, [_photo(), _photo("b.jpg")])
        assert len(planting.photos) == 2 and len(list(tmp_path.rglob("*.jpg"))) == 2
    finally:
        app.config["UPLOAD_DIR"] = str(tmp_path.parent / "unused")


def test_certificate_needs_the_actual_footprint_and_full_cover(db, organiser, admin, make):
    planned_only = worked_event(organiser)
    with pytest.raises(NotCertifiable):
        certificates.issue_certificate(admin, planned_only.id)
    event = worked_event(organiser, FootprintStage.ACTUAL)
    with pytest.raises(NotCertifiable):
        certificates.issue_certificate(admin, event.id)  # nothing covers it yet
    # retirements alone can cover an event
    reduction(make.resident(), 40_000_000)
    retirements.retire_reductions(organiser, event.id, 39_502_667)
    cert = certificates.issue_certificate(admin, event.id)
    year = local(utcnow()).year
    assert cert.serial == f"QZCI-C-{year}-000001"
    assert cert.snapshot["retired_g"] == 40_000_000 and cert.snapshot["plan"] is None
    with pytest.raises(AlreadyCertified):
        certificates.issue_certificate(admin, event.id)


def test_certificate_api_and_public_verification(client, auth, organiser, admin, make):
    event, plan = _approved(organiser, admin)
    with pytest.raises(NotCertifiable):  # an approved plan alone is a pledge, not cover
        certificates.issue_certificate(admin, event.id)
    reduction(make.resident(), 40_000_000)
    retirements.retire_reductions(organiser, event.id, 39_502_667)
    code = certificates.issue_certificate(admin, event.id).verify_code
    public = client.get(f"/api/v1/certificates/{code}")
    assert public.status_code == 200
    cert = public.get_json()
    assert cert["snapshot"]["committed_g"] == plan.removal_g
    assert cert["snapshot"]["pledged_g"] == plan.removal_g  # shown apart, not counted
    assert cert["snapshot"]["measured_g"] == 0 and cert["snapshot"]["retired_g"] == 40_000_000
    assert cert["snapshot"]["status"] == "committed"  # honest: nothing planted yet
    assert cert["serial"].startswith("QZCI-C-") and cert["verify_code"] == code
    mine = client.get(f"/api/v1/events/{event.id}", headers=auth.bearer(organiser)).get_json()
    assert mine["certificate"]["serial"] == cert["serial"]
    assert client.get("/api/v1/certificates/nope").status_code == 404


@pytest.mark.pdf
def test_certificate_pdf_has_a_qr_to_the_verification_page(
    client, organiser, admin, tmp_path, make
):
    import zxingcpp

    event, _ = _approved(organiser, admin)
    reduction(make.resident(), 40_000_000)
    retirements.retire_reductions(organiser, event.id, 39_502_667)
    cert = certificates.issue_certificate(admin, event.id)
    response = client.get(f"/verify/{cert.verify_code}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "cert.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert event.name in text and cert.serial in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")],
        check=True,
    )
    image = Image.open(next(tmp_path.glob("p*.png")))
    decoded = [r.text for r in zxingcpp.read_barcodes(image)]
    assert decoded == [f"http://localhost/verify/{cert.verify_code}"]
    page = client.get(f"/verify/{cert.verify_code}")
    assert page.status_code == 200
    assert cert.serial in page.get_data(as_text=True)

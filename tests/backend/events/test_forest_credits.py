"""Forest removals credited after measurement, and the two kinds of claim, walked through
one event: footprint -> plan -> planting -> growth measurement -> counted removals with
buffer -> retirements -> certificate; a survival check suspends it and a new retirement
restores it; an event past its deadline is not neutral. Reconcile is clean throughout.
Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.events import certificates, claims, forest, queries, removals, retirements, services
from backend.events.exceptions import InvalidMeasurement, NotCertifiable
from backend.events.models import CertificateStatus, FootprintStage, ForestCreditKind
from backend.ledger.models import AccountKind, EntryKind, LedgerEntry
from backend.ledger.reconcile import reconcile
from backend.methodology_versions.services import active_version
from backend.notices.models import Notice
from backend.notices.services import admin_ids
from backend.timeutil import local, utcnow
from methodologies import afforestation as af

from ...factories import Factories
from .helpers import (
    PLANTED_ON,
    WORKED_LINES,
    WORKED_TOTAL_G,
    approve_measuring_version,
    plan_data,
    reduction,
    worked_event,
)

# Chinese fir: SVD × BEF × (1 + R) × CF × 44/12 = 0.307 × 1.634 × 1.246 × 0.520 × 44/12
FIR_FACTOR = Decimal("0.307") * Decimal("1.634") * Decimal("1.246") * Decimal("0.520") * 44 / 12
# The block: 3.6 mu = 0.24 ha of fir, 648 seedlings. Two 400 m² plots hold 2.0 m³ of stem:
# 2.0 / 800 × 10,000 = 25 m³/ha; 0.24 × 25 × 1.19174474… = 7.150468445 t -> 7,150,468 g
PLOTS = [{"area_m2": 400, "stock_m3": "1.1"}, {"area_m2": 400, "stock_m3": "0.9"}]
STOCK_G = int(Decimal("0.24") * 25 * FIR_FACTOR * 1_000_000)
BUFFER_G = -(-STOCK_G * 20 // 100)  # 20% rounded up: 1,430,094
COUNTED_G = STOCK_G - BUFFER_G  # 5,720,374


def _clean() -> None:
    report = reconcile()
    assert report.clean, report.problems


def _approved_planted(organiser, admin, measuring=True):
    if measuring:
        approve_measuring_version(admin, Factories().user("admin"))
    event = worked_event(organiser, FootprintStage.ACTUAL)
    plan = forest.create_plan(organiser, event.id, plan_data())
    forest.submit_plan(organiser, plan.id)
    forest.review_plan(admin, plan.id, True, "site visited")
    planting = forest.record_planting(
        admin,
        plan.id,
        {
            "planted_on": PLANTED_ON.isoformat(),
            "species": "chinese_fir",
            "area_mu": "3.6",
            "seedlings": "648",
            "location": "举村乡 3号地块",
        },
    )
    return event, plan, planting


def test_hand_computed_block_figures():
    assert STOCK_G == 7_150_468
    assert (BUFFER_G, COUNTED_G) == (1_430_094, 5_720_374)


def test_one_event_from_footprint_to_a_suspended_and_restored_certificate(
    db, organiser, admin, make, client, auth
):
    event, plan, planting = _approved_planted(organiser, admin)
    state = queries.standing(event)
    # the plan is a pledge: 碳中和林 neutralisation in progress, nothing counted
    assert state.claim.claim is claims.Claim.IN_PROGRESS
    assert (state.retired_g, state.measured_g, state.pledged_g) == (0, 0, plan.removal_g)
    assert state.claim.cover.break_even_year == plan.break_even_year
    with pytest.raises(NotCertifiable):
        certificates.issue_certificate(admin, event.id)
    _clean()

    # growth measurement -> counted removals with buffer, serials, ledger entries
    day = PLANTED_ON + timedelta(days=150)
    m = removals.record_growth_measurement(admin, planting.id, day, PLOTS)
    assert (m.stock_g, m.basis_g, m.trees_alive) == (STOCK_G, 0, 648)
    year = local(utcnow()).year
    credits = removals.credits_of_planting(planting.id)
    assert [(c.kind, c.grams, c.serial) for c in credits] == [
        (ForestCreditKind.COUNTED, COUNTED_G, f"QZCI-F-{year}-000001"),
        (ForestCreditKind.BUFFER, BUFFER_G, f"QZCI-B-{year}-000002"),
    ]
    assert removals.buffer_pool_g() == BUFFER_G
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == EntryKind.FOREST_CREDIT)
    ).all()
    assert sorted(e.idempotency_key for e in entries) == sorted(c.serial for c in credits)
    report = reconcile()
    assert report.clean, report.problems
    assert report.forest_grams[AccountKind.FOREST_COUNTED.value] == COUNTED_G
    assert report.forest_grams[AccountKind.FOREST_BUFFER.value] == BUFFER_G
    state = queries.standing(event)
    assert state.measured_g == COUNTED_G
    assert state.pledged_g == plan.removal_g - COUNTED_G
    assert not state.covered and state.claim.claim is claims.Claim.IN_PROGRESS

    # retirements cover the rest: 39,502,667 − 5,720,374 = 33,782,293 g
    resident = make.resident()
    reduction(resident, 20_000_000, age_days=3)
    reduction(resident, 13_800_000, age_days=2)
    rows = retirements.retire_reductions(organiser, event.id, WORKED_TOTAL_G - COUNTED_G)
    assert sum(r.grams for r in rows) == 33_800_000
    _clean()
    state = queries.standing(event)
    assert state.covered and state.claim.claim is claims.Claim.COVERED
    assert state.claim.completed_at is not None
    cert = certificates.issue_certificate(admin, event.id)
    snap = cert.snapshot
    assert (snap["retired_g"], snap["measured_g"]) == (33_800_000, COUNTED_G)
    assert snap["pledged_g"] == plan.removal_g - COUNTED_G
    assert [c["serial"] for c in snap["forest_credits"]] == [f"QZCI-F-{year}-000001"]
    assert cert.status is CertificateStatus.VALID
    assert queries.standing(event).claim.claim is claims.Claim.NEUTRAL

    # a survival check: 200 of the 648 trees measured are alive. The stock falls to
    # 7,150,468 × 200 / 648 = 2,206,934 g (rounded down): a loss of 4,943,534 g cancels the
    # 1,430,094 g buffer first, then 3,513,440 g of counted removals.
    forest.record_survival_check(
        admin, planting.id, {"checked_on": day + timedelta(days=30), "surviving": 200}
    )
    scaled = STOCK_G * 200 // 648
    assert scaled == 2_206_934
    loss = STOCK_G - scaled
    cancels = [c for c in removals.credits_of_planting(planting.id) if c.survival_check_id]
    assert [(c.kind, c.grams) for c in cancels] == [
        (ForestCreditKind.CANCEL_BUFFER, BUFFER_G),
        (ForestCreditKind.CANCEL_COUNTED, loss - BUFFER_G),
    ]
    assert all(c.serial.startswith(f"QZCI-X-{year}-") for c in cancels)
    assert removals.buffer_pool_g() == 0
    _clean()
    db.session.refresh(cert)
    assert cert.status is CertificateStatus.SUSPENDED
    assert "200" in cert.status_reason["en"] and "short" in cert.status_reason["en"]
    assert cert.status_reason["zh_CN"]
    state = queries.standing(event)
    assert state.measured_g == COUNTED_G - (loss - BUFFER_G) == scaled
    assert state.claim.claim is claims.Claim.SUSPENDED and state.claim.completed_at is None
    told = db.session.scalars(select(Notice).where(Notice.topic == "certificate.suspended")).all()
    assert {n.user_id for n in told} == {organiser.id, *admin_ids()} and admin.id in admin_ids()
    public = client.get(f"/verify/{cert.verify_code}?lang=en").get_data(as_text=True)
    assert "Certificate suspended" in public and "short of the emissions certified" in public
    assert auth.login_page(organiser).status_code == 302
    mine = client.get("/organiser?lang=en").get_data(as_text=True)
    assert "suspended" in mine and cert.serial in mine

    # a new retirement covers the shortfall: the certificate is restored
    shortfall = WORKED_TOTAL_G - 33_800_000 - scaled
    reduction(resident, shortfall + 10, age_days=1)
    retirements.retire_reductions(organiser, event.id, shortfall)
    db.session.refresh(cert)
    assert cert.status is CertificateStatus.VALID
    assert queries.standing(event).claim.claim is claims.Claim.NEUTRAL
    told = db.session.scalars(select(Notice).where(Notice.topic == "certificate.restored")).all()
    assert {n.user_id for n in told} == {organiser.id, *admin_ids()} and admin.id in admin_ids()
    _clean()

    # a later measurement that finds more stock credits only the growth above what the
    # block holds credited now (2,206,934 g): 0.24 × 40 × factor = 11,440,749 g
    later = removals.record_growth_measurement(
        admin, planting.id, day + timedelta(days=32), [{"area_m2": 400, "stock_m3": "1.6"}]
    )
    assert later.basis_g == scaled
    growth = later.stock_g - scaled
    new = [c for c in removals.credits_of_planting(planting.id) if c.measurement_id == later.id]
    assert sum(c.grams for c in new) == growth
    assert [c.kind for c in new] == [ForestCreditKind.COUNTED, ForestCreditKind.BUFFER]
    assert new[1].grams == af.split_removal(growth, af.AfforestationV11.default_params()).buffer_g
    _clean()


def test_an_event_past_its_deadline_without_cover_is_not_neutral(
    db, organiser, admin, client, auth
):
    event = services.create_event(
        organiser,
        {
            "name": "2024 衢州马拉松",
            "venue": "衢州体育中心",
            "district": "柯城区",
            "expected_participants": 500,
            "starts_on": date(2024, 11, 2),
            "ends_on": date(2024, 11, 3),
        },
    )
    services.record_footprint(organiser, event.id, FootprintStage.ACTUAL, WORKED_LINES, 500)
    state = queries.standing(event)
    assert state.claim.deadline == date(2025, 11, 3)
    assert state.claim.claim is claims.Claim.NOT_NEUTRAL and state.claim.past_deadline
    with pytest.raises(NotCertifiable):
        certificates.issue_certificate(admin, event.id)
    body = client.get(f"/api/v1/events/{event.id}", headers=auth.bearer(organiser)).get_json()
    assert body["standing"]["claim"] == "not_neutral"
    assert body["standing"]["deadline"] == "2025-11-03"
    # the organiser's list and the public project page say so
    assert auth.login_page(organiser).status_code == 302
    listing = client.get("/organiser?lang=en").get_data(as_text=True)
    assert "Not neutral: deadline passed without cover" in listing and "2025-11-03" in listing
    # the organiser's help text explains the two kinds of claim in plain words
    assert "Two kinds of claim" in listing and "it is a pledge" in listing
    plan = forest.create_plan(organiser, event.id, plan_data(planting_year=2025))
    forest.submit_plan(organiser, plan.id)
    forest.review_plan(admin, plan.id, True, "ok")
    assert queries.standing(event).claim.claim is claims.Claim.NOT_NEUTRAL  # a pledge is not cover
    client.post("/logout")
    public = client.get(f"/projects/{plan.id}?lang=en").get_data(as_text=True)
    assert "Not neutral: deadline passed without cover" in public
    _clean()


def test_deadline_is_a_setting(app, db, organiser):
    event = services.create_event(
        organiser,
        {
            "name": "x",
            "venue": "y",
            "district": "柯城区",
            "expected_participants": 1,
            "starts_on": date(2026, 2, 27),
            "ends_on": date(2026, 2, 28),
        },
    )
    assert claims.deadline(event) == date(2027, 2, 28)
    app.config["NEUTRALITY_DEADLINE_MONTHS"] = 6
    try:
        assert claims.deadline(event) == date(2026, 8, 28)
    finally:
        app.config["NEUTRALITY_DEADLINE_MONTHS"] = 12
    assert claims.add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)


def test_measurement_api_and_bad_inputs(db, organiser, admin, client, auth):
    event, plan, planting = _approved_planted(organiser, admin)
    url = f"/api/v1/admin/plantings/{planting.id}/measurements"
    day = (PLANTED_ON + timedelta(days=100)).isoformat()
    for body, field in [
        ({"measured_on": day, "plots": []}, "plots"),
        ({"measured_on": day, "plots": [{"area_m2": 0, "stock_m3": 1}]}, "plots[1].area_m2"),
        ({"measured_on": "2026-05-01", "plots": PLOTS}, "measured_on"),  # before planting
        ({"measured_on": day, "plots": PLOTS, "trees_alive": 9999}, "trees_alive"),
        ({"measured_on": day, "plots": [{"area_m2": 100, "trees": 3}]}, "plots[1].mean_dbh_cm"),
    ]:
        answer = client.post(url, json=body, headers=auth.bearer(admin))
        assert answer.status_code == 422, (body, answer.get_json())
        assert answer.get_json()["code"] == "invalid_measurement"
        with pytest.raises(InvalidMeasurement) as caught:
            removals.record_growth_measurement(
                admin, planting.id, body["measured_on"], body["plots"], body.get("trees_alive")
            )
        assert caught.value.field == field
    assert removals.measurements_of(planting.id) == []  # nothing written
    answer = client.post(
        url,
        json={
            "measured_on": day,
            "plots": [{"area_m2": 100, "trees": 20, "mean_dbh_cm": 8, "mean_height_m": 6}],
        },
        headers=auth.bearer(admin),
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    # 20 × π/4 × 0.08² × 6 × 0.45 = 0.271433605 m³ on 100 m²; × 0.24 ha × factor
    assert body["volume_per_ha"].startswith("27.14336")
    assert [c["kind"] for c in body["credits"]] == ["counted", "buffer"]
    listed = client.get(f"/api/v1/events/{event.id}/forest-credits", headers=auth.bearer(organiser))
    assert [c["kind"] for c in listed.get_json()] == ["counted"]
    assert client.post(url, json={"measured_on": day, "plots": PLOTS}).status_code == 401
    _clean()


def test_growth_is_credited_only_under_a_module_1_1_0_version(db, organiser, admin):
    _, _, planting = _approved_planted(organiser, admin, measuring=False)
    assert active_version("afforestation").module_version == "1.0.0"  # the seeded v1
    with pytest.raises(InvalidMeasurement) as caught:
        removals.record_growth_measurement(admin, planting.id, PLANTED_ON, PLOTS)
    assert caught.value.field == "version"


@pytest.mark.pdf
def test_the_report_pdf_shows_three_figures_serials_and_completion(
    db, organiser, admin, make, client, auth, tmp_path
):
    event, plan, planting = _approved_planted(organiser, admin)
    removals.record_growth_measurement(admin, planting.id, PLANTED_ON + timedelta(days=150), PLOTS)
    reduction(make.resident(), 33_800_000)
    rows = retirements.retire_reductions(organiser, event.id, WORKED_TOTAL_G - COUNTED_G)
    cert = certificates.issue_certificate(admin, event.id)
    assert auth.login_page(organiser).status_code == 302
    response = client.get(f"/organiser/events/{event.id}/report/actual.pdf?lang=en")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.data)
    text = " ".join(
        subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    year = local(utcnow()).year
    completed = local(queries.standing(event).claim.completed_at).date().isoformat()
    for expected in (
        "Retired reductions (counted) 33.800",
        "Measured forest removals (counted) 5.720",
        f"Pledged forest removals (not counted) {Decimal(plan.removal_g - COUNTED_G) / 10**6:.3f}",
        rows[0].serial,
        f"QZCI-F-{year}-000001",
        completed + " · deadline 2027-05-21",
        cert.serial,
        f"/verify/{cert.verify_code}",
    ):
        assert expected in text, expected
    assert f"QZCI-B-{year}" not in text  # the buffer is pooled, not the event's
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / "page")], check=True)
    assert list(tmp_path.glob("page*.png"))


def test_organisers_are_reminded_at_90_30_and_7_days(db, organiser, admin, make):
    event = worked_event(organiser, FootprintStage.ACTUAL)  # ends 2026-05-21
    covered = worked_event(make.user("organiser"), FootprintStage.ACTUAL)
    reduction(make.resident(), WORKED_TOTAL_G)
    retirements.retire_reductions(covered.organiser, covered.id, WORKED_TOTAL_G)
    due = claims.deadline(event)
    assert due == date(2027, 5, 21)

    def reminders():
        return db.session.scalars(
            select(Notice).where(Notice.user_id == organiser.id).order_by(Notice.id)
        ).all()

    assert claims.remind_deadlines(due - timedelta(days=91)) == 0
    assert claims.remind_deadlines(due - timedelta(days=90)) == 1
    assert claims.remind_deadlines(due - timedelta(days=89)) == 0  # once per threshold
    assert claims.remind_deadlines(due - timedelta(days=29)) == 1  # a missed day still reminds
    assert claims.remind_deadlines(due - timedelta(days=7)) == 1
    assert claims.remind_deadlines(due) == 0
    assert claims.remind_deadlines(due + timedelta(days=1)) == 1
    assert claims.remind_deadlines(due + timedelta(days=2)) == 0
    topics = [n.topic for n in reminders()]
    assert topics == ["deadline.reminder"] * 3 + ["deadline.passed"]
    texts = [n.text["en"] for n in reminders()]
    assert "90 days left" in texts[0] and "29 days left" in texts[1] and "7 days left" in texts[2]
    assert "2027-05-21" in texts[3] and "not neutral" in texts[3]
    assert reminders()[0].text["zh_CN"] != texts[0]  # stored in Chinese too
    # the covered event's organiser hears nothing
    assert not db.session.scalars(
        select(Notice).where(Notice.user_id == covered.organiser_id)
    ).all()

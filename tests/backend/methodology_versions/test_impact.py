"""Change previews: a proposal's effect on the last 30 days of real records, checked by
recomputing the same records under both versions; and the residents' notices once approved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

import methodologies
from backend.actions.models import ActivityRecord, Channel, Outcome, Reduction
from backend.extensions import db
from backend.methodology_versions import impact, services
from backend.notices.models import Notice
from backend.timeutil import local, utcnow


@pytest.fixture
def records(db, make):
    services.seed_versions()
    version = services.active_version("public_transit")
    east, west = make.resident(district="柯城区"), make.resident(district="江山市")
    rows = []
    now = utcnow()
    trips = [
        (east, "bus", "8.2", 2),
        (east, "rail", "15", 5),
        (west, "bus", "3.5", 10),
        (west, "bus", "20", 45),  # older than 30 days: not in the preview
    ]
    for resident, mode, km, days_ago in trips:
        start = now - timedelta(days=days_ago)
        activity = {
            "mode": mode,
            "distance_km": km,
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=60)).isoformat(),
        }
        record = ActivityRecord(
            channel=Channel.PARTNER,
            action="public_transit",
            resident_id=resident.id,
            activity=activity,
            outcome=Outcome.CREDITED,
            received_at=start,
        )
        db.session.add(record)
        db.session.flush()
        outcome = services.quantify_activity(version, activity)
        assert outcome.quantification is not None
        grams = outcome.quantification.reduction_g
        rows.append(
            Reduction(
                record_id=record.id,
                resident_id=resident.id,
                methodology_code="public_transit",
                module_version=version.module_version,
                version_id=version.id,
                params_hash=version.params_hash,
                activity=activity,
                baseline_g=outcome.quantification.baseline_g,
                project_g=outcome.quantification.project_g,
                reduction_g=grams,
                credited_g=grams,
                points=outcome.points,
                steps=[],
                local_day=local(start).date().isoformat(),
                created_at=start,
            )
        )
    db.session.add_all(rows)
    db.session.commit()
    return east, west, rows


def _by_hand(version, activity):
    """The same record recomputed independently: the version's own module and points rule."""
    module = methodologies.get(version.code, version.module_version)
    grams = module.quantify(activity, version.decimal_params()).reduction_g
    return grams, services.points_for(version, grams)


def test_the_preview_matches_recomputing_the_records_under_both_versions(records, make):
    east, west, rows = records
    proposer = make.user("admin")
    in_force = services.active_version("public_transit")
    # a cleaner bus fleet (lower bus factor) and 2 points per gram
    draft = services.create_draft(
        proposer, "public_transit", {"ef_bus_g_pkm": "40"}, "2", note="e-bus fleet 2026"
    )
    preview = impact.preview(draft.id)
    recent = rows[:3][::-1]  # oldest first, as the preview lists them
    assert [r.reduction_id for r in preview.rows] == [r.id for r in recent]
    expected = [(_by_hand(in_force, r.activity), _by_hand(draft, r.activity)) for r in recent]
    assert [
        ((p.current_g, p.current_points), (p.proposed_g, p.proposed_points)) for p in preview.rows
    ] == expected
    assert preview.total.current_g == sum(e[0][0] for e in expected)
    assert preview.total.proposed_points == sum(e[1][1] for e in expected)
    assert preview.total.proposed_points != preview.total.current_points
    # by district: 柯城区 has the bus and the rail trip, 江山市 the recent bus trip
    assert preview.by_district["柯城区"].records == 2 and preview.by_district["江山市"].records == 1
    assert preview.by_district["江山市"].proposed_g == expected[0][1][0]
    assert preview.by_action["public_transit"].records == 3
    # the rail trip's grams do not change (only the bus factor did); its points double
    rail = next(p for p in preview.rows if p.reduction_id == recent[1].id)
    assert rail.proposed_g == rail.current_g and rail.proposed_points == 2 * rail.current_points
    assert len(preview.sample) == 3 and all(p.changed for p in preview.sample)


def test_the_reviewer_sees_it_and_residents_are_told_once_approved(records, make, client, auth):
    east, west, _rows = records
    proposer, reviewer = make.user("admin"), make.user("admin")
    draft = services.create_draft(
        proposer, "public_transit", {"ef_bus_g_pkm": "40"}, "2", note="e-bus fleet 2026"
    )
    services.submit_version(proposer, draft.id)
    api = client.get(
        f"/api/v1/admin/methodology-versions/{draft.id}/preview", headers=auth.bearer(reviewer)
    ).get_json()
    assert api["total"]["records"] == 3 and len(api["sample"]) == 3
    assert api["by_district"]["柯城区"]["records"] == 2
    auth.login_page(reviewer, admin=True)
    page = client.get(f"/admin/methodology-versions/{draft.id}?lang=en").get_data(as_text=True)
    assert "Effect on the last 30 days of records" in page and "江山市" in page
    answer = client.post(
        f"/api/v1/admin/methodology-versions/{draft.id}/approve",
        json={"comment": "ok"},
        headers=auth.bearer(reviewer),
    )
    assert answer.status_code == 200, answer.get_json()
    told = db.session.scalars(select(Notice).where(Notice.topic == "methodology.changed")).all()
    assert {n.user_id for n in told} == {east.id, west.id}
    mine = next(n for n in told if n.user_id == west.id)
    preview_west = api["by_district"]["江山市"]
    assert f"instead of {preview_west['current_points']}" in mine.text["en"]
    assert f"earn {preview_west['proposed_points']} points" in mine.text["en"]
    name = methodologies.registry.get_class("public_transit").name
    assert name.en in mine.text["en"] and name.zh_CN in mine.text["zh_CN"]
    assert mine.text["zh_CN"] != mine.text["en"]
    # the resident reads it on their home page
    client.post("/logout")
    auth.login_page(west)
    home = client.get("/home?lang=en").get_data(as_text=True)
    assert "Points you already have do not change." in home

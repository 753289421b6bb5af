from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.methodology_versions import services
from backend.methodology_versions.exceptions import (
    CommentRequired,
    EffectiveDateInPast,
    FourEyesViolation,
    InvalidParameters,
    InvalidTransition,
    NoActiveVersion,
    RetireActiveVersion,
)
from backend.methodology_versions.models import VersionStatus
from backend.methodology_versions.queries import versions_of
from backend.timeutil import utcnow

BUS = {
    "mode": "bus",
    "distance_km": "8.2",
    "started_at": "2026-11-25T08:00:00+08:00",
    "ended_at": "2026-11-25T08:25:00+08:00",
}


@pytest.fixture
def admins(make):
    return make.user("admin"), make.user("admin")


@pytest.fixture
def seeded(db):
    services.seed_versions()


def test_seed_approves_every_module_once(db):
    created = services.seed_versions()
    assert created == 6
    assert services.seed_versions() == 0
    v = services.active_version("public_transit")
    assert v.number == 1 and v.status is VersionStatus.APPROVED
    assert v.points_per_gram == "1"


def test_no_version_in_force_before_seeding(db):
    with pytest.raises(NoActiveVersion):
        services.active_version("public_transit")


def test_quantify_with_the_seeded_version(seeded):
    outcome = services.quantify_activity(services.active_version("public_transit"), BUS)
    # (EF_BL 100 - EF_bus 56.2) g/pkm x 8.2 km = 43.8 x 8.2 = 359.16 g -> 359 g; 1 point/g
    assert outcome.quantification.reduction_g == 359
    assert outcome.points == 359


def test_a_parameter_change_needs_a_second_admin(seeded, admins):
    proposer, reviewer = admins
    draft = services.create_draft(
        proposer, "public_transit", {"ef_bus_g_pkm": "40"}, note="e-bus fleet 2026"
    )
    assert draft.number == 2 and draft.status is VersionStatus.DRAFT
    # nothing changes until approval
    assert services.active_version("public_transit").number == 1
    services.submit_version(proposer, draft.id)
    with pytest.raises(FourEyesViolation):
        services.approve_version(proposer, draft.id)
    services.approve_version(reviewer, draft.id, "checked against the operator's data")
    active = services.active_version("public_transit")
    assert active.id == draft.id
    # (100 - 40) x 8.2 = 492 g
    assert services.quantify_activity(active, BUS).quantification.reduction_g == 492
    # the old version still gives the old number (stored reductions keep theirs)
    old = next(v for v in versions_of("public_transit") if v.number == 1)
    assert services.quantify_activity(old, BUS).quantification.reduction_g == 359


def test_future_effective_date_keeps_the_current_version_until_then(seeded, admins):
    proposer, reviewer = admins
    draft = services.create_draft(
        proposer, "food_waste", {"ef_food_kg_per_kg": "2.5"}, note="test change"
    )
    services.submit_version(proposer, draft.id)
    start = utcnow() + timedelta(days=30)
    services.approve_version(reviewer, draft.id, effective_from=start)
    assert services.active_version("food_waste").number == 1
    assert services.active_version("food_waste", at=start + timedelta(seconds=1)).id == draft.id


def test_past_effective_date_is_refused(seeded, admins):
    proposer, reviewer = admins
    draft = services.create_draft(
        proposer, "food_waste", {"ef_food_kg_per_kg": "2.5"}, note="test change"
    )
    services.submit_version(proposer, draft.id)
    with pytest.raises(EffectiveDateInPast):
        services.approve_version(reviewer, draft.id, effective_from=utcnow() - timedelta(days=1))


def test_invalid_parameter_sets_are_refused(seeded, admins):
    proposer, _ = admins
    with pytest.raises(InvalidParameters) as bad:
        services.create_draft(proposer, "bike_sharing", {"share_bus": "0.9"}, note="test change")
    assert any("sum to 1" in p for p in bad.value.details)
    with pytest.raises(InvalidParameters):
        services.create_draft(proposer, "bike_sharing", {"share_bus": "abc"}, note="test change")
    with pytest.raises(InvalidParameters):
        services.create_draft(proposer, "bike_sharing", {"nonsense": "1"}, note="test change")
    with pytest.raises(InvalidParameters):
        services.create_draft(proposer, "bike_sharing", {}, points_per_gram="-1", note="x")


def test_reject_needs_a_reason_and_another_admin(seeded, admins):
    proposer, reviewer = admins
    draft = services.create_draft(
        proposer, "waste_sorting", {"warm_haircut": "0.6"}, note="test change"
    )
    services.submit_version(proposer, draft.id)
    with pytest.raises(FourEyesViolation):
        services.reject_version(proposer, draft.id, "no")
    with pytest.raises(CommentRequired):
        services.reject_version(reviewer, draft.id, "  ")
    services.reject_version(reviewer, draft.id, "no source for the new haircut")
    with pytest.raises(InvalidTransition) as refused:
        services.approve_version(reviewer, draft.id)
    with force_locale("zh_CN"):  # in words, never the stored status code
        assert refused.value.localized_message() == "该版本当前为“已驳回”，不能改为“已批准”。"
    with force_locale("en"):
        assert refused.value.localized_message() == (
            "A version in status 'rejected' cannot be approved."
        )


def test_retire_only_superseded_versions(seeded, admins):
    proposer, reviewer = admins
    v1 = services.active_version("bike_sharing")
    with pytest.raises(RetireActiveVersion):
        services.retire_version(reviewer, v1.id, "old")
    draft = services.create_draft(
        proposer, "bike_sharing", {"ebike_kwh_per_km": "0.02"}, note="test change"
    )
    services.submit_version(proposer, draft.id)
    services.approve_version(reviewer, draft.id)
    services.retire_version(reviewer, v1.id, "superseded by v2")
    assert services.get_version(v1.id).status is VersionStatus.RETIRED


def test_every_transition_is_audited(seeded, admins, db):
    proposer, reviewer = admins
    draft = services.create_draft(proposer, "food_waste", {"max_diners": "10"}, note="test change")
    services.submit_version(proposer, draft.id)
    services.approve_version(reviewer, draft.id)
    actions = db.session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_type == "methodology_version", AuditEntry.object_id == str(draft.id)
        )
    ).all()
    assert actions == ["methodology.draft", "methodology.submit", "methodology.approve"]

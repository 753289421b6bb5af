"""Teams through their pages: form by code, members by choice, total, pooled donations toward
a real project (through the ledger), the goal, leaving, rankings."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from backend.events.models import Donation
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile
from backend.notifications.models import Notification
from backend.teams.models import Team, TeamMember
from backend.teams.queries import first_team_goal

from ..engagement.trips import Trips, planted_project, today


def _team_id(response) -> int:
    match = re.search(r"/teams/(\d+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))


def _code(html: str) -> str:
    match = re.search(r'id="invite-code">([A-Z0-9-]+)<', html)
    assert match
    return match.group(1)


def test_two_residents_form_a_team_co_donate_and_reach_the_goal(client, make, auth, db):
    trips = Trips(client, make)
    plan = planted_project(make)
    ann, bo = make.resident(nickname="安安"), make.resident(nickname="博博")
    make.points(ann, 300)
    make.points(bo, 300)
    trips.push(ann, [(today(), 8.2)])  # before the team: not the team's
    auth.login_page(ann)
    client.get("/teams?lang=en")
    team_id = _team_id(client.post("/teams", data={"name": "府山社区", "kind": "community"}))
    page = client.get(f"/teams/{team_id}").get_data(as_text=True)
    code = _code(page)
    assert "<svg" in page  # the QR to join
    assert "安安 (you)" in page
    client.post(f"/teams/{team_id}/goal", data={"plan_id": str(plan.id), "points": "400"})
    # Bo scans the QR (the join page), then joins
    auth.login_page(bo)
    client.get("/teams?lang=en")
    join = client.get(f"/teams/join?code={code}").get_data(as_text=True)
    assert "Join 府山社区?" in join
    assert _team_id(client.post("/teams/join", data={"code": code})) == team_id
    page = client.get(f"/teams/{team_id}").get_data(as_text=True)
    assert "博博 (you)" in page and "安安" not in page and "A member" in page  # Ann not opted in
    trips.push(bo, [(today(), 8.2)])  # 359 g while a member
    # the first tap only previews: nothing is given until the resident confirms
    preview = client.post(
        f"/teams/{team_id}/donate", data={"points": "150", "idempotency_key": "b1"}
    )
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'name="confirm" value="1"' in html
    assert "150 points go to the forest fund of" in html and "cannot be returned" in html
    assert "150 of 400" not in client.get(f"/teams/{team_id}").get_data(as_text=True)
    confirmed = {"points": "150", "idempotency_key": "b1", "confirm": "1"}
    client.post(f"/teams/{team_id}/donate", data=confirmed)
    client.post(f"/teams/{team_id}/donate", data=confirmed)  # retry
    page = client.get(f"/teams/{team_id}").get_data(as_text=True)
    assert 'id="team-total">0.36<' in page  # Ann's trip before the team does not count
    assert "150 of 400 points given together" in page
    assert f'href="/projects/{plan.id}"' in page

    auth.login_page(ann)
    client.post(f"/teams/{team_id}/privacy", data={"show": "1"})
    client.post(
        f"/teams/{team_id}/donate", data={"points": "250", "idempotency_key": "a1", "confirm": "1"}
    )
    page = client.get(f"/teams/{team_id}?lang=en").get_data(as_text=True)
    assert "400 of 400 points given together" in page and "Goal reached" in page
    # the goal is news for both, and a milestone
    kinds = db.session.scalars(
        select(Notification.resident_id).where(Notification.kind == "team_goal_reached")
    ).all()
    assert sorted(kinds) == sorted([ann.id, bo.id])
    assert first_team_goal(ann.id) == today() and first_team_goal(bo.id) == today()
    assert "First team goal reached" in client.get("/badges").get_data(as_text=True)
    # the only points that moved are the two donations, through the ledger
    assert resident_balance(ann.id) == 300 + 359 - 250
    assert resident_balance(bo.id) == 300 + 359 - 150
    donations = db.session.scalar(
        select(func.sum(Donation.points)).where(Donation.plan_id == plan.id)
    )
    assert donations == 400
    assert reconcile().clean
    auth.login_page(bo)
    assert "安安" in client.get(f"/teams/{team_id}").get_data(as_text=True)  # now opted in


def test_leaving_keeps_history_and_closes_the_page(client, make, auth, db):
    trips = Trips(client, make)
    ann = make.resident()
    auth.login_page(ann)
    client.get("/teams?lang=en")
    team_id = _team_id(client.post("/teams", data={"name": "我家", "kind": "household"}))
    trips.push(ann, [(today(), 8.2)])
    client.post(f"/teams/{team_id}/leave")
    assert client.get(f"/teams/{team_id}").status_code == 404
    teams = client.get("/teams").get_data(as_text=True)
    assert "Teams I was in" in teams and "我家" in teams
    member = db.session.scalar(select(TeamMember).where(TeamMember.resident_id == ann.id))
    assert member.left_at is not None  # kept, not deleted
    rankings = client.get("/teams/rankings").get_data(as_text=True)
    assert "我家" in rankings and "0.36 kg" in rankings  # the team keeps what she did in it
    trips.push(ann, [(today(), 8.2)])  # after leaving: not the team's
    assert "0.36 kg" in client.get("/teams/rankings").get_data(as_text=True)
    # and she can join again with the code
    code = db.session.get(Team, team_id).invite_code
    assert _team_id(client.post("/teams/join", data={"code": code})) == team_id


def test_rankings_are_by_district(client, make, auth, db):
    ann = make.resident(district="柯城区")
    bo = make.resident(district="江山市")
    auth.login_page(ann)
    client.post("/teams", data={"name": "柯城一队", "kind": "workplace"})
    auth.login_page(bo)
    client.post("/teams", data={"name": "江山一班", "kind": "class"})
    html = client.get("/teams/rankings").get_data(as_text=True)
    assert "江山一班" in html and "柯城一队" not in html
    html = client.get("/teams/rankings?district=柯城区").get_data(as_text=True)
    assert "柯城一队" in html and "江山一班" not in html


def test_bad_requests_change_nothing(client, make, auth, db):
    ann, bo = make.resident(), make.resident()
    auth.login_page(ann)
    client.get("/teams?lang=en")
    for data in (
        {"name": "", "kind": "household"},
        {"name": "x" * 41, "kind": "household"},
        {"name": "队", "kind": "army"},
    ):
        response = client.post("/teams", data=data, follow_redirects=True)
        assert "Give the team a name" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Team)) == 0
    response = client.post("/teams/join", data={"code": "NOPE1234"}, follow_redirects=True)
    assert "No team has this code" in response.get_data(as_text=True)
    team_id = _team_id(client.post("/teams", data={"name": "队", "kind": "household"}))
    for data in (
        {"plan_id": "999", "points": "10"},
        {"plan_id": "1", "points": "0"},
        {"plan_id": "x", "points": "10"},
    ):
        html = client.post(f"/teams/{team_id}/goal", data=data, follow_redirects=True)
        assert "Choose a planting project" in html.get_data(as_text=True)
    html = client.post(f"/teams/{team_id}/donate", data={"points": "10"}, follow_redirects=True)
    assert "The team has no goal yet" in html.get_data(as_text=True)
    code = db.session.get(Team, team_id).invite_code
    assert "already in this team" in client.post(
        "/teams/join", data={"code": code}, follow_redirects=True
    ).get_data(as_text=True)
    auth.login_page(bo)
    client.get("/teams?lang=en")
    client.post("/teams/join", data={"code": code})
    html = client.post(
        f"/teams/{team_id}/goal", data={"plan_id": "1", "points": "10"}, follow_redirects=True
    )
    assert "Only the person who created the team" in html.get_data(as_text=True)
    assert db.session.get(Team, team_id).goal_plan_id is None

"""The reference's worked example (events_forest.md §5) end to end through the API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.events.models import EventFootprint, PlantingPlan
from backend.methodology_versions.services import active_version

from .helpers import BROADLEAF, FIR, WORKED_LINES, WORKED_TOTAL_G, event_data, plan_data


def _create(client, headers) -> int:
    data = {k: str(v) for k, v in event_data(starts_on="2027-05-20", ends_on="2027-05-21").items()}
    data["expected_participants"] = 500
    response = client.post("/api/v1/events", json=data, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_worked_example_footprint_reproduces_the_reference(client, auth, organiser, db):
    headers = auth.bearer(organiser)
    event_id = _create(client, headers)
    response = client.post(
        f"/api/v1/events/{event_id}/footprints/planned",
        json={"lines": WORKED_LINES},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    # electricity 20,000 kWh × 0.5306 = 10,612 kg; HSR 300 × 2 × 300 = 180,000 pkm × 0.04 =
    # 7,200 kg; car 200 × 2 × 80 = 32,000 pkm × 0.173 / 1.5 = 3,690.667 kg; hotel 400 × 30 =
    # 12,000 kg; meals 3,000 × 2.0 = 6,000 kg; total 39,502.667 kg ≈ 39.5 t (reference).
    assert [line["result_g"] for line in body["lines"]] == [
        10_612_000,
        7_200_000,
        3_690_667,
        12_000_000,
        6_000_000,
    ]
    assert body["total_g"] == WORKED_TOTAL_G
    assert round(Decimal(body["total_g"]) / 1_000_000, 1) == Decimal("39.5")
    assert body["participants"] == 500  # the expected participants by default
    assert body["per_participant_g"] == 79_005  # 39,502,667 / 500
    # Each line carries its factor and the factor's source, for the report.
    electricity = body["lines"][0]
    assert electricity["factor"] == "0.5306" and electricity["source"]["year"] == 2025
    # Reproducible: the version in force and its parameter hash are stored.
    version = active_version("event_footprint")
    row = db.session.get(EventFootprint, body["id"])
    assert (row.version_id, row.params_hash) == (version.id, version.params_hash)
    assert body["params_hash"] == version.params_hash


@pytest.mark.parametrize(
    ("mix", "horizon", "mu", "ha", "seedlings"),
    [
        # Reference §5 with the 20% deduction: fir 10 yr ≈ 10 mu, 20 yr ≈ 3.6 mu; broadleaf
        # 10 yr ≈ 11.3 mu, 20 yr ≈ 4.1 mu. The platform rounds the area up to 0.1 mu so the
        # projected removal is at least the emissions: 10.0, 3.6, 11.4 and 4.2 mu.
        # Seedlings = density × area: fir 2,700/ha × 10/15 ha = 1,800 (ref ~1,800);
        # broadleaf 1,650/ha × 11.4/15 ha = 1,254 (ref ~1,250).
        (FIR, 10, "10.0", "0.6667", 1800),
        (FIR, 20, "3.6", "0.2400", 648),
        (BROADLEAF, 10, "11.4", "0.7600", 1254),
        (BROADLEAF, 20, "4.2", "0.2800", 462),
    ],
)
def test_worked_example_forest_area(client, auth, organiser, db, mix, horizon, mu, ha, seedlings):
    headers = auth.bearer(organiser)
    event_id = _create(client, headers)
    client.post(
        f"/api/v1/events/{event_id}/footprints/planned",
        json={"lines": WORKED_LINES},
        headers=headers,
    )
    response = client.post(
        f"/api/v1/events/{event_id}/plans",
        json=plan_data(mix, horizon_years=horizon),
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    plan = response.get_json()
    assert (plan["area_mu"], plan["area_ha"], plan["seedlings"]) == (mu, ha, seedlings)
    assert plan["target_g"] == WORKED_TOTAL_G and plan["retired_g"] == 0
    assert plan["removal_g"] >= WORKED_TOTAL_G
    # the smallest area: break-even falls at the horizon, and the curve starts at 0
    assert plan["break_even_age"] == horizon
    assert plan["break_even_year"] == 2027 + horizon
    assert plan["curve"][0]["cumulative_g"] == 0 and len(plan["curve"]) == horizon + 1
    assert plan["status"] == "draft"
    version = active_version("afforestation")
    row = db.session.get(PlantingPlan, plan["id"])
    assert (row.version_id, row.params_hash) == (version.id, version.params_hash)


def test_a_new_plan_supersedes_the_draft(client, auth, organiser):
    headers = auth.bearer(organiser)
    event_id = _create(client, headers)
    client.post(
        f"/api/v1/events/{event_id}/footprints/planned",
        json={"lines": WORKED_LINES},
        headers=headers,
    )
    first = client.post(f"/api/v1/events/{event_id}/plans", json=plan_data(), headers=headers)
    second = client.post(
        f"/api/v1/events/{event_id}/plans", json=plan_data(BROADLEAF), headers=headers
    )
    assert first.status_code == second.status_code == 201
    event = client.get(f"/api/v1/events/{event_id}", headers=headers).get_json()
    assert event["plan"]["id"] == second.get_json()["id"]
    assert event["standing"]["status"] == "draft"
    assert event["planned"]["total_g"] == WORKED_TOTAL_G

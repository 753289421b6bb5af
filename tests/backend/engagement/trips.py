"""Real credits for engagement tests: bus trips pushed by a signed partner batch."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime, time, timedelta
from typing import Any

from backend.events import forest as services
from backend.methodology_versions.services import seed_versions
from backend.timeutil import LOCAL_TZ, local, utcnow

from ...helpers import as_json, link_proven, signed_headers
from ..events.helpers import PLANTED_ON, plan_data, worked_event

_ids = itertools.count(1)


def today() -> date:
    return local(utcnow()).date()


def trip_day() -> date:
    """The latest local day whose trips (``Trips.push``: from 00:01, six of 40 km over by
    02:20) are all in the past: today, or yesterday in a day's first hours. A trip that has
    not ended yet is rejected by the time rules, so tests that push "today's" trips would
    fail between midnight and 02:30 Beijing time."""
    now = local(utcnow())
    return now.date() if now.time() >= time(2, 30) else now.date() - timedelta(days=1)


class Trips:
    """``trips.push(resident, [(day, km), ...])``: one partner batch of bus trips, one after
    the other from 00:01 on its day (Asia/Shanghai). 8.2 km credits 359 g, 40 km 1,751 g
    (5,000 g a day at most)."""

    def __init__(self, client: Any, make: Any) -> None:
        seed_versions()
        self.client = client
        self.partner, self.key_id, self.secret = make.partner(kind="transit")
        self.cards: dict[int, str] = {}
        self.per_day: dict[tuple[int, date], int] = {}  # next free minute of the day

    def card(self, resident: Any) -> str:
        if resident.id not in self.cards:
            self.cards[resident.id] = f"CARD{resident.id:06d}"
            link_proven(resident, self.partner.code, self.cards[resident.id])
        return self.cards[resident.id]

    def push(self, resident: Any, trips: list[tuple[date, float]]) -> Any:
        card = self.card(resident)
        records = []
        for day, km in trips:
            # back to back from 00:01 local, at about 55 km/h (under the bus speed limit):
            # today's trips are over by 02:20 even for six of 40 km
            start = self.per_day.get((resident.id, day), 1)
            minutes = math.ceil(km / 55 * 60) + 1
            self.per_day[(resident.id, day)] = start + minutes + 1
            begin = datetime.combine(day, time(), LOCAL_TZ) + timedelta(minutes=start)
            records.append(
                {
                    "record_id": f"t-{next(_ids)}",
                    "action": "public_transit",
                    "identity": card,
                    "activity": {
                        "mode": "bus",
                        "distance_km": km,
                        "started_at": begin.isoformat(),
                        "ended_at": (begin + timedelta(minutes=minutes)).isoformat(),
                    },
                }
            )
        body = as_json({"records": records})
        path = "/api/v1/partner/batches"
        headers = signed_headers(
            self.key_id, self.secret, "POST", path, body, content_type="application/json"
        )
        response = self.client.post(path, data=body, headers=headers)
        assert response.status_code == 202, response.get_data(as_text=True)
        return response


def days_ago(n: int) -> date:
    return today() - timedelta(days=n)


def planted_project(make: Any) -> Any:
    """An approved planting project with 648 seedlings planted, 600 alive at a check."""
    seed_versions()
    organiser, admin = make.user("organiser"), make.user("admin")
    event = worked_event(organiser)
    plan = services.create_plan(organiser, event.id, plan_data())
    services.submit_plan(organiser, plan.id)
    plan = services.review_plan(admin, plan.id, True)
    planting = services.record_planting(
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
    services.record_survival_check(
        admin, planting.id, {"checked_on": PLANTED_ON.isoformat(), "surviving": "600"}
    )
    return plan

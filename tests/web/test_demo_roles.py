"""The demo covers every role and partner kind, and the README lists every demo login."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from backend.accounts.models import User
from backend.actions.queries import leaderboard
from backend.demo.data import DEMO_PASSWORD, load_demo
from backend.merchants.models import Merchant, MerchantKind
from backend.partners.models import Partner
from backend.timeutil import LOCAL_TZ, utcnow

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_demo_has_a_counter_of_each_kind_partners_of_each_kind_and_a_leaderboard(client, db):
    load_demo()
    kinds = set(db.session.scalars(select(Merchant.kind)))
    assert {MerchantKind.WASTE_STATION, MerchantKind.RESTAURANT} <= kinds
    partner_kinds = {str(k) for k in db.session.scalars(select(Partner.kind))}
    assert {"transit", "bike_share"} <= partner_kinds
    staff = db.session.scalars(select(User).where(User.merchant_id.is_not(None))).all()
    assert {s.merchant.kind for s in staff} >= {MerchantKind.WASTE_STATION, MerchantKind.RESTAURANT}
    residents = db.session.scalars(select(User).where(User.leaderboard_opt_in.is_(True))).all()
    assert len(residents) >= 2
    # both demo residents have credited actions (bus trips; clean plates at the restaurant)
    # in the last week, so the district's leaderboard shows more than one name
    month = utcnow().astimezone(LOCAL_TZ).strftime("%Y-%m")
    earned = {
        name
        for day in (0, 3)  # this month, or last month's last days at the start of a month
        for name, _ in leaderboard(
            "柯城区", (utcnow().astimezone(LOCAL_TZ) - timedelta(days=day)).strftime("%Y-%m")
        )
    }
    assert {"绿色出行者", "光盘达人"} <= earned, (month, earned)
    readme = README.read_text()
    for user in db.session.scalars(select(User)):
        assert user.phone in readme, user.phone
    assert "flask admins totp-code" in readme
    # the restaurant's staff signs in to the counter
    response = client.post("/login", data={"phone": "13800000013", "password": DEMO_PASSWORD})
    assert response.headers["Location"].endswith("/merchant")

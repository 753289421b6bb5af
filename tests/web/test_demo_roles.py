"""The demo covers every role and partner kind, and the README lists every demo login."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from backend.accounts.models import User
from backend.demo.data import DEMO_PASSWORD, load_demo
from backend.merchants.models import Merchant, MerchantKind
from backend.partners.models import Partner

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
    readme = README.read_text()
    for user in db.session.scalars(select(User)):
        assert user.phone in readme, user.phone
    assert "flask admins totp-code" in readme
    # the restaurant's staff signs in to the counter
    response = client.post("/login", data={"phone": "13800000013", "password": DEMO_PASSWORD})
    assert response.headers["Location"].endswith("/merchant")

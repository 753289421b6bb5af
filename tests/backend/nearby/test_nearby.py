"""Nearby: by distance when the browser shares a location, else by district; each place
opens in the phone's map app; administrators set the coordinates."""

from __future__ import annotations

import pytest

from backend.merchants.models import Merchant, MerchantKind
from backend.nearby.queries import distance_m


@pytest.mark.parametrize(
    ("a", "b", "metres"),
    [
        # one degree of latitude: 2 * pi * 6,371,000 / 360 = 111,195 m
        ((28.0, 118.0), (29.0, 118.0), 111_195),
        ((28.9593, 118.8685), (28.9593, 118.8685), 0),
    ],
)
def test_distance(a, b, metres):
    assert distance_m(*a, *b) == metres


def _places(make):
    station = make.merchant(
        name="府山回收站",
        kind=MerchantKind.WASTE_STATION,
        latitude="28.962100",
        longitude="118.872400",
    )
    restaurant = make.merchant(
        name="光盘饭店", kind=MerchantKind.RESTAURANT, latitude="28.940000", longitude="118.860000"
    )
    shop = make.merchant(name="有优惠的书店", latitude="28.959300", longitude="118.868500")
    make.offer(shop)
    make.merchant(name="没有优惠的商店")  # retail without offers: not listed
    make.merchant(name="江山回收站", kind=MerchantKind.WASTE_STATION, district="江山市")
    return station, restaurant, shop


def test_by_district_without_a_location(client, make, auth, db):
    _places(make)
    auth.login_page(make.resident(district="柯城区"))
    html = client.get("/nearby?lang=en").get_data(as_text=True)
    for name in ("府山回收站", "光盘饭店", "有优惠的书店"):
        assert name in html
    assert "没有优惠的商店" not in html and "江山回收站" not in html
    assert "1 offer" in html and "Waste sorting station" in html
    assert "https://uri.amap.com/marker?position=118.872400,28.962100" in html
    html = client.get("/nearby?district=江山市").get_data(as_text=True)
    assert "江山回收站" in html and "府山回收站" not in html
    assert "uri.amap.com/search?keyword=" in html  # no coordinates: its address


def test_by_distance_with_a_location(client, make, auth, db):
    _places(make)
    auth.login_page(make.resident())
    # standing at the bookshop: the bookshop, the station (491 m), the restaurant (2.3 km)
    html = client.get("/nearby?lat=28.9593&lon=118.8685").get_data(as_text=True)
    order = [html.index(n) for n in ("有优惠的书店", "府山回收站", "光盘饭店", "江山回收站")]
    assert order == sorted(order)
    assert ">0 m<" in html and ">491 m<" in html and ">2.3 km<" in html
    # a malformed position is ignored: back to the district
    html = client.get("/nearby?lat=abc&lon=1").get_data(as_text=True)
    assert "江山回收站" not in html


def test_administrators_set_coordinates(client, make, auth, db):
    merchant = make.merchant(name="新站", kind=MerchantKind.WASTE_STATION)
    admin = make.user("admin")
    auth.login_page(admin, admin=True)
    url = f"/admin/merchants/{merchant.id}/location"
    assert client.post(url, data={"latitude": "28.95", "longitude": "118.87"}).status_code == 302
    db.session.refresh(merchant)
    assert (merchant.latitude, merchant.longitude) == ("28.950000", "118.870000")
    for bad in (
        {"latitude": "91", "longitude": "1"},
        {"latitude": "x", "longitude": "1"},
        {"latitude": "28.9", "longitude": ""},
        {"latitude": "NaN", "longitude": "1"},
    ):
        client.post(url, data=bad)
        db.session.refresh(merchant)
        assert merchant.latitude == "28.950000"
    client.post(url, data={"latitude": "", "longitude": ""})
    db.session.refresh(merchant)
    assert merchant.latitude is None and db.session.get(Merchant, merchant.id).longitude is None

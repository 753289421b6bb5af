"""The channels' action lists come from the methodologies' metadata, not from hand-kept lists."""

from __future__ import annotations

import methodologies
from backend.actions.catalogue import ALLOWED_ACTIONS, RESIDENT_ACTIONS, STATION_ACTIONS
from backend.merchants.models import MerchantKind
from backend.partners.models import PartnerKind


def test_each_partner_kind_reports_its_one_action():
    assert dict(ALLOWED_ACTIONS) == {
        PartnerKind.TRANSIT: {"public_transit"},
        PartnerKind.BIKE_SHARE: {"bike_sharing"},
        PartnerKind.WASTE_STATION: {"waste_sorting"},
        PartnerKind.RESTAURANT: {"food_waste"},
    }


def test_resident_actions_follow_the_partner_kinds_and_leave_out_events_and_forests():
    assert tuple(RESIDENT_ACTIONS) == (
        "public_transit",
        "bike_sharing",
        "waste_sorting",
        "food_waste",
    )


def test_stations_and_restaurants_confirm_at_the_counter_and_retail_does_not():
    assert dict(STATION_ACTIONS) == {
        MerchantKind.WASTE_STATION: "waste_sorting",
        MerchantKind.RESTAURANT: "food_waste",
    }


def test_every_kind_a_methodology_names_exists_on_the_platform():
    """A misspelt kind would silently drop an action from its channel."""
    for code in methodologies.available():
        cls = methodologies.registry.get_class(code)
        assert set(cls.partner_kinds) <= {k.value for k in PartnerKind}, code
        assert set(cls.counter_kinds) <= {k.value for k in MerchantKind}, code

"""Which actions each channel accepts, read from the methodologies' own metadata.

A methodology names the partner kinds whose batches may report it (``partner_kinds``) and the
merchant kinds whose counter staff confirm it (``counter_kinds``); a new methodology joins the
channels by saying so, and no list here is kept by hand.
"""

from __future__ import annotations

import methodologies

from ..merchants.models import MerchantKind
from ..partners.models import PartnerKind

_CLASSES = [methodologies.registry.get_class(code) for code in methodologies.available()]

# Partner kind -> the action codes its batches may carry.
ALLOWED_ACTIONS: dict[PartnerKind, set[str]] = {
    kind: {cls.code for cls in _CLASSES if kind.value in cls.partner_kinds} for kind in PartnerKind
}
# The actions residents earn points for, in the order of the partner kinds (transit first).
RESIDENT_ACTIONS: tuple[str, ...] = tuple(
    code for kind in PartnerKind for code in sorted(ALLOWED_ACTIONS[kind])
)
# Merchant kind -> the one action its counter confirms (retail confirms none).
STATION_ACTIONS: dict[MerchantKind, str] = {
    kind: cls.code for cls in _CLASSES for kind in MerchantKind if kind.value in cls.counter_kinds
}

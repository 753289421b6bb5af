"""Bike-sharing (互联网租赁自行车): grams CO2e saved by a shared-bike ride.

Follows T/CIIA 058-2025 《绿色出行碳积分核算指南 第1部分 互联网租赁（电动）自行车》 and the
structure of 《深圳市共享单车骑行碳普惠方法学（试行）》 (2022) and 《广州市互联网租赁自行车骑行
碳普惠方法学（试行）》 (2023): every ride is accounted separately, only CO2 counts, and the
baseline is the motorised trips a ride replaces (walking excluded, as T/CIIA 058-2025 says):

    ER_ride = d × Σ_i s_i × EF_i - PE_ride
    PE_ride = 0                                  pedal bike
    PE_ride = d × e_kWh/km × EF_grid             e-bike (charging losses included)

Quzhou has no metro, so the metro share of T/CIIA 058-2025 is 0 and left out (陈凤先 et al.
2022 compute cities with and without metro separately).

Illustrative values: the replaced-mode shares (no published set exists; our proposal), the
mode factors (shared with ``public_transit``; Beijing or derived), the e-bike energy use and
every cap and limit are grade D or not local. The Zhejiang 2022 grid factor is grade B.
The 25 km/h limit is the e-bike top speed of GB 17761-2018 (grade C).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from .base import (
    FLOOR,
    PROGRAMME_PROPOSAL,
    Activity,
    Methodology,
    Parameter,
    Params,
    Quantification,
    Rejection,
    Source,
    Step,
    Text,
    Window,
    as_mapping,
    choice,
    fmt,
    schema_number,
    schema_time,
    share_problems,
    step,
    to_decimal,
)
from .public_transit import (
    EF_BUS,
    EF_CAR,
    EF_EBIKE,
    EF_MOTORCYCLE,
    EF_TAXI,
    Mode,
    credited_distance,
    emissions,
    share,
    substitution_factor,
    trip_rejections,
    trip_span,
    trip_window,
)
from .registry import register

D = Decimal
BIKE_TYPES = ("pedal", "ebike")
REPLACED_MODES: tuple[Mode, ...] = (
    ("bus", EF_BUS.name),
    ("taxi", EF_TAXI.name),
    ("car", EF_CAR.name),
    ("motorcycle", EF_MOTORCYCLE.name),
    ("ebike", EF_EBIKE.name),
)
SHARE_NAMES = tuple(f"share_{m}" for m, _ in REPLACED_MODES)
_SHARES_NOTE = (
    "no published numeric set (reference §2.3); illustrative split for a city without "
    "metro, walking excluded per T/CIIA 058-2025; replace with a Quzhou intercept survey "
    "or the operator's survey"
)


def _proposal(note: str) -> Source:
    return Source(PROGRAMME_PROPOSAL, 2025, "D", note, True)


@register
class BikeSharing(Methodology):
    """A shared pedal bike or e-bike ride credited against the motorised trips it replaces."""

    code: ClassVar[str] = "bike_sharing"
    version: ClassVar[str] = "1.0.0"
    name: ClassVar[Text] = Text("共享单车骑行", "Shared-bike rides")
    summary: ClassVar[Text] = Text(
        "骑共享单车代替了本来要坐的公交、出租车、私家车、摩托车或电动车。"
        "减排量 = 骑行距离 × 被替代出行方式的加权平均每公里排放；"
        "共享电单车再扣除充电用电的排放（浙江电网排放因子）。",
        "A shared-bike ride replaces a trip that would otherwise have been made by bus, taxi, "
        "car, motorcycle or e-bike. Reduction = ride distance × the share-weighted emissions "
        "per km of those modes; for a shared e-bike the emissions of its charging electricity "
        "(Zhejiang grid factor) are subtracted.",
    )
    follows: ClassVar[str] = (
        "T/CIIA 058-2025 《绿色出行碳积分核算指南 第1部分 互联网租赁（电动）自行车》; "
        "《深圳市共享单车骑行碳普惠方法学（试行）》(2022) and 《广州市互联网租赁自行车骑行"
        "碳普惠方法学（试行）》(2023) structure (per-ride ER = BE − PE)"
    )
    dedupe_group: ClassVar[str] = "travel"
    partner_kinds: ClassVar[tuple[str, ...]] = ("bike_share",)
    activity_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "bike_sharing activity",
        "type": "object",
        "required": ["bike_type", "distance_km", "started_at", "ended_at"],
        "properties": {
            "bike_type": {"enum": list(BIKE_TYPES), "description": "pedal bike or e-bike"},
            "distance_km": schema_number("GNSS track distance of the ride"),
            "started_at": schema_time("unlock time"),
            "ended_at": schema_time("lock time"),
        },
    }
    quantity_fields: ClassVar[tuple[str, ...] | None] = ("bike_type", "distance_km")
    parameters: ClassVar[tuple[Parameter, ...]] = (
        share("bus", "0.40", "公交", "bus", _SHARES_NOTE),
        share("taxi", "0.10", "出租车/网约车", "taxi / ride-hailing", _SHARES_NOTE),
        share("car", "0.10", "私家车", "private car", _SHARES_NOTE),
        share("motorcycle", "0.05", "摩托车", "motorcycle", _SHARES_NOTE),
        share("ebike", "0.35", "电动自行车", "e-bike", _SHARES_NOTE),
        EF_BUS,
        EF_TAXI,
        EF_CAR,
        EF_MOTORCYCLE,
        EF_EBIKE,
        Parameter(
            "ebike_kwh_per_km",
            D("0.015"),
            "kWh/km",
            _proposal(
                "no published figure (reference §2.3); typical 48 V shared e-bike incl. "
                "charging losses; replace with the operator's fleet charging data"
            ),
            Text("共享电单车每公里耗电", "Shared e-bike electricity per km"),
        ),
        Parameter(
            "grid_ef_kg_per_kwh",
            D("0.5153"),
            "kgCO2/kWh",
            Source(
                "MEE/NBS 2022 provincial grid emission factors (announced 2024-12-20), "
                "Zhejiang; quoted in a public GitHub file",
                2024,
                "B",
                "update to the Zhejiang 2023 factor (公告2025年第47号 Table 3) once read",
            ),
            Text("浙江省电网平均排放因子", "Zhejiang grid emission factor"),
        ),
        Parameter(
            "min_duration_min",
            D(1),
            "min",
            _proposal("shorter rides are failed unlocks or relocations (reference §2.5)"),
            Text("最短骑行时长", "Minimum ride duration"),
        ),
        Parameter(
            "min_distance_km",
            D("0.2"),
            "km",
            _proposal("shorter rides are failed unlocks or relocations (reference §2.5)"),
            Text("最短骑行距离", "Minimum ride distance"),
        ),
        Parameter(
            "max_speed_pedal_kmh",
            D(25),
            "km/h",
            _proposal("average speeds above 25 km/h are not plausible on a shared pedal bike"),
            Text("单车平均速度上限", "Maximum plausible pedal-bike speed"),
        ),
        Parameter(
            "max_speed_ebike_kmh",
            D(25),
            "km/h",
            Source(
                "GB 17761-2018 电动自行车安全技术规范 (top speed 25 km/h)",
                2018,
                "C",
                "legal top speed, used as the ceiling of the average speed",
            ),
            Text("电单车平均速度上限", "Maximum plausible e-bike speed"),
        ),
        Parameter(
            "max_distance_km",
            D(15),
            "km",
            _proposal("reference §2.5 example; longer rides are credited as 15 km"),
            Text("单次计入距离上限", "Per-ride distance cap"),
        ),
        Parameter(
            "max_actions_per_day",
            D(10),
            "rides/day",
            _proposal("no published value (reference §7 question 7)"),
            Text("每日计入次数上限", "Credited rides per day"),
        ),
        Parameter(
            "daily_cap_g",
            D(2000),
            "gCO2e/day",
            _proposal("about 35 km of pedal riding at the default factors; per local day"),
            Text("每日减排量上限", "Daily reduction cap"),
        ),
    )

    def validate(self, activity: Activity, params: Params) -> list[Rejection]:
        activity = as_mapping(activity)
        bike = choice(activity, "bike_type", BIKE_TYPES)
        return trip_rejections(
            to_decimal(activity, "distance_km"),
            trip_span(activity),
            min_distance_km=params["min_distance_km"],
            max_speed_kmh=params[f"max_speed_{bike}_kmh"],
            min_duration_min=params["min_duration_min"],
        )

    @classmethod
    def param_rules(cls, params: Params) -> list[str]:
        return share_problems(params, SHARE_NAMES)

    def quantify(self, activity: Activity, params: Params) -> Quantification:
        activity = as_mapping(activity)
        bike = choice(activity, "bike_type", BIKE_TYPES)
        steps: list[Step] = []
        ef_bl = substitution_factor(params, REPLACED_MODES, steps)
        d = credited_distance(to_decimal(activity, "distance_km"), params["max_distance_km"], steps)
        be = emissions(ef_bl, d, "EF_BL", "基准线排放", "Baseline emissions", steps)
        if bike == "pedal":
            pe = D(0)
            steps.append(
                step(
                    "项目排放（人力单车为零排放）",
                    "Project emissions (a pedal bike emits nothing)",
                    "PE = 0",
                    pe,
                    "gCO2e",
                )
            )
        else:
            kwh, grid = params["ebike_kwh_per_km"], params["grid_ef_kg_per_kwh"]
            ef_pj = kwh * grid * 1000
            steps.append(
                step(
                    "电单车每公里排放 = 每公里耗电 × 电网排放因子",
                    "E-bike factor = electricity per km × grid factor",
                    f"EF_PJ = {fmt(kwh)} kWh/km × {fmt(grid)} kg/kWh × 1000 g/kg",
                    ef_pj,
                    "gCO2/km",
                )
            )
            pe = emissions(ef_pj, d, "EF_PJ", "项目排放（充电用电）", "Project emissions", steps)
        return self.finish(be, pe, steps)

    def window(self, activity: Activity) -> Window:
        return trip_window(activity)


@register
class BikeSharingV2(BikeSharing):
    """Module version 2.0.0: the credit is ⌊baseline − project⌋ in whole grams, computed
    exactly, never rounded up (DESIGN.md invariant 4); the steps show baseline and project
    with the decimals they have."""

    version: ClassVar[str] = "2.0.0"
    rounding: ClassVar[str] = FLOOR

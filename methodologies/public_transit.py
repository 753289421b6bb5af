"""Public transit (bus, rail): grams CO2e saved by a trip instead of motorised travel.

Follows the mean-baseline method (均值法) of 《深圳市低碳公共出行碳普惠方法学（试行）》
(深圳市生态环境局, 2021), which Huang et al. 2017 (气候变化研究进展 13(3)) recommend for
碳普惠, in the ``ER = BE - PE`` form of DB11/T 3043-2024:

    ER_trip = (EF_BL - EF_mode) × d_trip

``EF_BL`` is the city-average emission factor of motorised travel (``baseline_method = 0``).
A CDM TOOL18-style substitution variant (``baseline_method = 1``) uses
``EF_BL = Σ_i s_i × EF_i`` over the modes a rider would otherwise have used, with
non-motorised travel kept at EF = 0 (the conservative survey variant).

``d_trip`` is the operator's reported ``distance_km``; an operator that reports the boarding
and alighting stops' coordinates instead gets the great-circle distance between them, which
is never longer than the route (conservative, like the Shenzhen method's station distance).

Illustrative values (to replace by a new version once Quzhou data exist): every factor here.
The bus factor is Beijing's (grade B), the rail factor a derivation from a Beijing figure
(Quzhou has no metro), the mean baseline, the car/taxi/motorcycle/e-bike factors and the
substitution shares are our own proposals (grade D), and so are all caps and speed limits.

The travel helpers here (mode factors, trip rules, distance cap, substitution factor) are
shared with ``bike_sharing``: both belong to the ``travel`` dedupe group.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from .base import (
    FLOOR,
    PROGRAMME_PROPOSAL,
    Activity,
    ActivityError,
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
    check_shares,
    choice,
    fmt,
    minutes,
    parse_time,
    reject,
    schema_number,
    schema_time,
    seconds,
    share_problems,
    step,
    to_decimal,
)
from .registry import register

D = Decimal


def _proposal(note: str, year: int = 2025) -> Source:
    return Source(PROGRAMME_PROPOSAL, year, "D", note, True)


# --- mode factors, shared with bike_sharing ---------------------------------------------

EF_BUS = Parameter(
    "ef_bus_g_pkm",
    D("56.2"),
    "gCO2/pkm",
    Source(
        "Zheng et al. 2023, Beijing bus CO2 per passenger-km from smart-card data "
        "(summary in GitHub Geocomputation-S3lab-PKU/geos3-group)",
        2023,
        "B",
        "Beijing, not Quzhou: replace with the Quzhou operator's energy per vehicle-km "
        "x fuel or grid factor / passenger-km",
        True,
    ),
    Text("公交车每人公里排放", "Bus emissions per passenger-km"),
)
EF_RAIL = Parameter(
    "ef_rail_g_pkm",
    D("61"),
    "gCO2/pkm",
    Source(
        "Beijing Transport Commission via 新京报 2019-12-05: 22 km by metro = 1.35 kgCO2",
        2019,
        "D",
        "1.35 kg / 22 km ≈ 61 g/pkm, our derivation from a grade-B figure; Quzhou has no "
        "metro, derive locally before any rail line is credited",
        True,
    ),
    Text("轨道交通每人公里排放", "Rail emissions per passenger-km"),
)
EF_CAR = Parameter(
    "ef_car_g_pkm",
    D("122.2"),
    "gCO2/pkm",
    Source(
        "Derived from IPCC 2006 Guidelines Vol.2 gasoline defaults",
        2006,
        "D",
        "7 L/100 km × 2.27 kgCO2/L / 1.3 occupancy = 122.2 (rounded down); low end of the "
        "105-180 range to stay conservative",
        True,
    ),
    Text("私家车每人公里排放", "Private car emissions per passenger-km"),
)
EF_TAXI = Parameter(
    "ef_taxi_g_pkm",
    D("158.9"),
    "gCO2/pkm",
    Source(
        "Derived from IPCC 2006 Guidelines Vol.2 gasoline defaults",
        2006,
        "D",
        "7 L/100 km × 2.27 kgCO2/L / 1 paying passenger; empty running not counted "
        "(conservative); EV taxis in Quzhou would lower it",
        True,
    ),
    Text("出租车/网约车每人公里排放", "Taxi / ride-hailing emissions per passenger-km"),
)
EF_MOTORCYCLE = Parameter(
    "ef_motorcycle_g_pkm",
    D("56.7"),
    "gCO2/pkm",
    Source(
        "Own derivation from IPCC 2006 Vol.2 gasoline defaults",
        2006,
        "D",
        "2.5 L/100 km × 2.27 kgCO2/L / 1 rider = 56.75, rounded down",
        True,
    ),
    Text("摩托车每人公里排放", "Motorcycle emissions per passenger-km"),
)
EF_EBIKE = Parameter(
    "ef_ebike_g_pkm",
    D("7.7"),
    "gCO2/pkm",
    Source(
        "Own derivation with the Zhejiang 2022 provincial grid factor (MEE/NBS, grade B)",
        2024,
        "D",
        "0.015 kWh/km (assumed, incl. charging losses; no published figure) × 515.3 g/kWh "
        "= 7.73, rounded down",
        True,
    ),
    Text("电动自行车每人公里排放", "E-bike emissions per passenger-km"),
)


def share(mode: str, value: str, zh: str, en: str, note: str) -> Parameter:
    """A replaced-mode share parameter ``share_<mode>`` (a proposal until surveyed)."""
    return Parameter(
        f"share_{mode}",
        D(value),
        "1",
        _proposal(note),
        Text(f"被替代出行方式占比：{zh}", f"Share of replaced trips: {en}"),
    )


# A replaced mode: (name used in share_<name>, EF parameter name, or None for EF = 0).
Mode = tuple[str, str | None]


def substitution_factor(params: Params, modes: Sequence[Mode], steps: list[Step]) -> Decimal:
    """``EF_BL = Σ_i s_i × EF_i`` over ``modes``; ``ValueError`` unless the shares sum to 1."""
    check_shares(params, [f"share_{m}" for m, _ in modes])
    total = D(0)
    terms = []
    for mode, ef_name in modes:
        s = params[f"share_{mode}"]
        ef = params[ef_name] if ef_name else D(0)
        total += s * ef
        terms.append(f"{fmt(s)} × {fmt(ef)}")
    steps.append(
        step(
            "基准线排放因子（替代法：被替代出行方式占比 × 各自排放因子）",
            "Baseline factor (substitution: share of each replaced mode × its factor)",
            "EF_BL = " + " + ".join(terms) + f"  ({', '.join(m for m, _ in modes)})",
            total,
            "gCO2/pkm",
        )
    )
    return total


# --- distance from the stops --------------------------------------------------------------

STOP_FIELDS = ("boarding_lat", "boarding_lon", "alighting_lat", "alighting_lon")
EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


def stop_distance(activity: Activity) -> Decimal | None:
    """The great-circle distance between the boarding and alighting stops' coordinates (WGS84
    degrees), to the metre; None unless all four are given. The straight line is never longer
    than the route, so crediting it is conservative when an operator sends stops, not km."""
    if not all(activity.get(name) is not None for name in STOP_FIELDS):
        return None
    lat1, lon1, lat2, lon2 = (to_decimal(activity, name) for name in STOP_FIELDS)
    for name, value, limit in zip(
        STOP_FIELDS, (lat1, lon1, lat2, lon2), (90, 180, 90, 180), strict=True
    ):
        if abs(value) > limit:
            raise ActivityError(name, Text(f"{name} 不是有效坐标", f"{name} is not a coordinate"))
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
    return Decimal(f"{km:.3f}")


def trip_distance(activity: Activity) -> Decimal:
    """The operator's reported ``distance_km``, or else the distance between the stops."""
    if activity.get("distance_km") is None:
        from_stops = stop_distance(activity)
        if from_stops is not None:
            return from_stops
    return to_decimal(activity, "distance_km")


# --- trip rules, shared with bike_sharing -------------------------------------------------


def trip_span(activity: Activity) -> Window:
    """``[started_at, ended_at]`` as parsed (order not checked: see ``trip_rejections``)."""
    return Window(parse_time(activity, "started_at"), parse_time(activity, "ended_at"))


def trip_window(activity: Activity) -> Window:
    """The travel dedupe window ``[started_at, ended_at]`` (empty if the order is wrong)."""
    span = trip_span(as_mapping(activity))
    return Window(span.start, max(span.start, span.end))


def trip_rejections(
    distance_km: Decimal,
    span: Window,
    *,
    min_distance_km: Decimal,
    max_speed_kmh: Decimal,
    min_duration_min: Decimal | None = None,
    max_duration_min: Decimal | None = None,
) -> list[Rejection]:
    """The rules every credited trip meets: distance, time order, duration, average speed."""
    out: list[Rejection] = []
    if distance_km <= 0:
        out.append(
            reject(
                "non_positive_distance",
                f"行程距离必须大于 0（收到 {fmt(distance_km)} km）",
                f"Trip distance must be above 0 (got {fmt(distance_km)} km)",
            )
        )
    elif distance_km < min_distance_km:
        out.append(
            reject(
                "below_min_distance",
                f"行程 {fmt(distance_km)} km 短于最低 {fmt(min_distance_km)} km",
                f"Trip of {fmt(distance_km)} km is shorter than the minimum "
                f"{fmt(min_distance_km)} km",
            )
        )
    if span.end <= span.start:
        out.append(
            reject(
                "invalid_time_order",
                "结束时间必须晚于开始时间",
                "ended_at must be after started_at",
            )
        )
        return out
    duration = minutes(span.end - span.start)
    if min_duration_min is not None and duration < min_duration_min:
        out.append(
            reject(
                "below_min_duration",
                f"行程 {fmt(duration, 2)} 分钟，短于最低 {fmt(min_duration_min)} 分钟",
                f"Trip of {fmt(duration, 2)} min is shorter than the minimum "
                f"{fmt(min_duration_min)} min",
            )
        )
    if max_duration_min is not None and duration > max_duration_min:
        out.append(
            reject(
                "duration_too_long",
                f"行程 {fmt(duration, 2)} 分钟，超过上限 {fmt(max_duration_min)} 分钟",
                f"Trip of {fmt(duration, 2)} min is longer than the limit "
                f"{fmt(max_duration_min)} min",
            )
        )
    if distance_km > 0:
        speed = distance_km * 3600 / seconds(span.end - span.start)
        if speed > max_speed_kmh:
            out.append(
                reject(
                    "speed_implausible",
                    f"平均速度 {fmt(speed, 1)} km/h 超过合理上限 {fmt(max_speed_kmh)} km/h",
                    f"Average speed {fmt(speed, 1)} km/h is above the plausible limit "
                    f"{fmt(max_speed_kmh)} km/h",
                )
            )
    return out


def credited_distance(distance_km: Decimal, max_distance_km: Decimal, steps: list[Step]) -> Decimal:
    """The distance credited: the reported one, or the per-trip cap (stated in the steps)."""
    steps.append(step("行程距离", "Distance travelled", "d = distance_km", distance_km, "km"))
    if distance_km <= max_distance_km:
        return distance_km
    steps.append(
        step(
            "超过单次距离上限，按上限计",
            "Above the per-trip distance cap: the cap is credited",
            f"d = min({fmt(distance_km)}, {fmt(max_distance_km)})",
            max_distance_km,
            "km",
        )
    )
    return max_distance_km


def emissions(
    factor: Decimal, distance_km: Decimal, symbol: str, zh: str, en: str, steps: list[Step]
) -> Decimal:
    """``factor × distance`` in grams, written as a step."""
    value = factor * distance_km
    steps.append(step(zh, en, f"{symbol} × d = {fmt(factor)} × {fmt(distance_km)}", value, "gCO2e"))
    return value


# --- the methodology ---------------------------------------------------------------------

TRANSIT_MODES = ("bus", "rail")
REPLACED_MODES: tuple[Mode, ...] = (
    ("car", EF_CAR.name),
    ("taxi", EF_TAXI.name),
    ("motorcycle", EF_MOTORCYCLE.name),
    ("ebike", EF_EBIKE.name),
    ("nonmotorised", None),
)
_SHARES_NOTE = (
    "substitution variant only; illustrative split for a small city without metro, to be "
    "replaced by a Quzhou intercept survey (CDM TOOL18 style)"
)


@register
class PublicTransit(Methodology):
    """A bus or rail trip credited against the city-average motorised baseline."""

    code: ClassVar[str] = "public_transit"
    version: ClassVar[str] = "1.0.0"
    name: ClassVar[Text] = Text("公交与轨道出行", "Bus and rail trips")
    summary: ClassVar[Text] = Text(
        "坐公交或轨道交通，而不是开车、打车或骑摩托，每人每公里排放更少。"
        "减排量 =（衢州机动化出行平均每人公里排放 − 公交/轨道每人公里排放）× 乘车距离。",
        "Taking the bus or train instead of a car, taxi or motorcycle emits less per "
        "passenger-km. Reduction = (city-average motorised emissions per passenger-km − "
        "bus/rail emissions per passenger-km) × trip distance.",
    )
    follows: ClassVar[str] = (
        "《深圳市低碳公共出行碳普惠方法学（试行）》(2021) mean-baseline method (均值法, "
        "Huang et al. 2017); ER = BE − PE per DB11/T 3043-2024; optional substitution "
        "baseline after CDM TOOL18"
    )
    dedupe_group: ClassVar[str] = "travel"
    partner_kinds: ClassVar[tuple[str, ...]] = ("transit",)
    activity_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "public_transit activity",
        "type": "object",
        "required": ["mode", "started_at", "ended_at"],
        "anyOf": [{"required": ["distance_km"]}, {"required": list(STOP_FIELDS)}],
        "properties": {
            "mode": {"enum": list(TRANSIT_MODES), "description": "bus or rail"},
            "distance_km": schema_number(
                "network distance between boarding and alighting (the operator's km); "
                "without it, the straight line between the stops' coordinates"
            ),
            "boarding_lat": schema_number("boarding stop latitude, WGS84 degrees"),
            "boarding_lon": schema_number("boarding stop longitude, WGS84 degrees"),
            "alighting_lat": schema_number("alighting stop latitude, WGS84 degrees"),
            "alighting_lon": schema_number("alighting stop longitude, WGS84 degrees"),
            "started_at": schema_time("boarding time"),
            "ended_at": schema_time("alighting time"),
            "boarding_stop": {"type": "string"},
            "alighting_stop": {"type": "string"},
            "line": {"type": "string"},
        },
    }
    quantity_fields: ClassVar[tuple[str, ...] | None] = ("mode", "distance_km", *STOP_FIELDS)
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "baseline_method",
            D(0),
            "0=mean, 1=substitution",
            Source(
                "Huang et al. 2017, 气候变化研究进展 13(3):284-291 (abstract)",
                2017,
                "A",
                "the authors recommend the mean method for 碳普惠; Shenzhen uses it",
            ),
            Text("基准线方法（0 均值法，1 替代法）", "Baseline method (0 mean, 1 substitution)"),
        ),
        Parameter(
            "ef_baseline_mean_g_pkm",
            D(100),
            "gCO2/pkm",
            _proposal(
                "about 2/3 of motorised pkm by car/taxi (~122 g) and 1/3 by bus/e-bike (~56 g); "
                "replace with Quzhou total road-transport CO2 / motorised pkm"
            ),
            Text("机动化出行平均每人公里排放（均值法基准线）", "City-average motorised emissions"),
        ),
        EF_BUS,
        EF_RAIL,
        share("car", "0.30", "私家车", "private car", _SHARES_NOTE),
        share("taxi", "0.15", "出租车/网约车", "taxi / ride-hailing", _SHARES_NOTE),
        share("motorcycle", "0.05", "摩托车", "motorcycle", _SHARES_NOTE),
        share("ebike", "0.30", "电动自行车", "e-bike", _SHARES_NOTE),
        share(
            "nonmotorised",
            "0.20",
            "步行/自行车（排放 0）",
            "walking / cycling (EF 0)",
            _SHARES_NOTE,
        ),
        EF_CAR,
        EF_TAXI,
        EF_MOTORCYCLE,
        EF_EBIKE,
        Parameter(
            "min_distance_km",
            D("0.5"),
            "km",
            _proposal("about one bus stop; shorter trips are same-stop taps or errors"),
            Text("最短计入距离", "Minimum trip distance"),
        ),
        Parameter(
            "max_distance_km",
            D(40),
            "km",
            _proposal("roughly the longest Quzhou urban/county bus line; longer is credited as 40"),
            Text("单次计入距离上限", "Per-trip distance cap"),
        ),
        Parameter(
            "max_speed_bus_kmh",
            D(60),
            "km/h",
            _proposal("above any scheduled average bus speed including express lines"),
            Text("公交平均速度上限", "Maximum plausible bus speed"),
        ),
        Parameter(
            "max_speed_rail_kmh",
            D(120),
            "km/h",
            _proposal("suburban rail average speed ceiling"),
            Text("轨道平均速度上限", "Maximum plausible rail speed"),
        ),
        Parameter(
            "max_duration_min",
            D(180),
            "min",
            _proposal("a trip tapped in and out more than 3 h apart is not one ride"),
            Text("单次行程时长上限", "Maximum trip duration"),
        ),
        Parameter(
            "max_actions_per_day",
            D(6),
            "trips/day",
            _proposal("reference §1.5 suggests e.g. 6 credited transit trips per local day"),
            Text("每日计入次数上限", "Credited trips per day"),
        ),
        Parameter(
            "daily_cap_g",
            D(5000),
            "gCO2e/day",
            _proposal("about 6 trips of 20 km at the default factors; caps per local day"),
            Text("每日减排量上限", "Daily reduction cap"),
        ),
    )

    def validate(self, activity: Activity, params: Params) -> list[Rejection]:
        activity = as_mapping(activity)
        mode = choice(activity, "mode", TRANSIT_MODES)
        distance = trip_distance(activity)
        out = trip_rejections(
            distance,
            trip_span(activity),
            min_distance_km=params["min_distance_km"],
            max_speed_kmh=params[f"max_speed_{mode}_kmh"],
            max_duration_min=params["max_duration_min"],
        )
        boarding, alighting = activity.get("boarding_stop"), activity.get("alighting_stop")
        if boarding is not None and boarding == alighting:
            out.append(
                reject(
                    "same_stop",
                    "上车站与下车站相同",
                    "Boarding and alighting stop are the same",
                )
            )
        return out

    @classmethod
    def param_rules(cls, params: Params) -> list[str]:
        problems = share_problems(params, [f"share_{m}" for m, _ in REPLACED_MODES])
        if params["baseline_method"] not in (0, 1):
            problems.append("baseline_method must be 0 (mean) or 1 (substitution)")
        return problems

    def quantify(self, activity: Activity, params: Params) -> Quantification:
        activity = as_mapping(activity)
        mode = choice(activity, "mode", TRANSIT_MODES)
        steps: list[Step] = []
        distance = trip_distance(activity)
        if activity.get("distance_km") is None:
            steps.append(
                step(
                    "无上报里程：按上下车站点间的直线距离计（不长于实际线路，偏保守）",
                    "No reported km: the straight line between the stops (never longer than "
                    "the route: conservative)",
                    "distance_km = great-circle(boarding, alighting)",
                    distance,
                    "km",
                )
            )
        d = credited_distance(distance, params["max_distance_km"], steps)
        method = params["baseline_method"]
        if method == 0:
            ef_bl = params["ef_baseline_mean_g_pkm"]
            steps.append(
                step(
                    "基准线排放因子（均值法：衢州机动化出行平均）",
                    "Baseline factor (mean method: city-average motorised travel)",
                    "EF_BL",
                    ef_bl,
                    "gCO2/pkm",
                )
            )
        elif method == 1:
            ef_bl = substitution_factor(params, REPLACED_MODES, steps)
        else:
            raise ValueError(f"baseline_method must be 0 or 1, got {method}")
        ef_pj = params[f"ef_{mode}_g_pkm"]
        zh_mode = "公交" if mode == "bus" else "轨道"
        steps.append(
            step(
                f"项目排放因子（{zh_mode}）",
                f"Project factor ({mode})",
                f"EF_{mode}",
                ef_pj,
                "gCO2/pkm",
            )
        )
        be = emissions(ef_bl, d, "EF_BL", "基准线排放", "Baseline emissions", steps)
        pe = emissions(ef_pj, d, f"EF_{mode}", "项目排放", "Project emissions", steps)
        return self.finish(be, pe, steps)

    def window(self, activity: Activity) -> Window:
        return trip_window(activity)


@register
class PublicTransitV2(PublicTransit):
    """Module version 2.0.0: the credit is ⌊baseline − project⌋ in whole grams, computed
    exactly, never rounded up (DESIGN.md invariant 4); the steps show baseline and project
    with the decimals they have."""

    version: ClassVar[str] = "2.0.0"
    rounding: ClassVar[str] = FLOOR

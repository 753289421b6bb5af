"""Large-event carbon footprint (大型活动碳排放核算): the emissions an event must neutralise.

Follows the MEE guideline《大型活动碳中和实施指南（试行）》(生态环境部公告2019年第19号). The
guideline lists the emission-source categories and names a method for each, but gives no
factor numbers; the factors here come from shared/reference/events_forest.md §2, each with
its own source, evidence grade and ``illustrative`` flag. Methods per category:

* stationary fuel (固定源化石燃料燃烧) and net purchased electricity and heat: NDRC
  《公共建筑运营单位（企业）温室气体排放核算方法和报告指南（试行）》(发改办气候〔2015〕1722号),
  ``E = FC × NCV × CC × OF × 44/12`` for fuels, ``E = AD × EF`` for power and heat;
* mobile fuel (移动源化石燃料燃烧): NDRC《陆上交通运输企业温室气体排放核算方法与报告指南（试行）》
  (same 2015 batch), the same fuel formula;
* participants' travel, accommodation, catering, event materials and waste: 2006 IPCC
  Guidelines / activity data × emission factor, ``E = Σ AD_k × EF_k``.

An event has no baseline: ``quantify`` returns ``baseline_g = 0``, ``project_g`` = the
event's footprint and ``reduction_g = 0``. ``footprint`` returns the per-line table the
碳计量报告 (carbon measurement report) prints.

Activity contract::

    {
      "lines": [                                  # at least one
        {"category": "purchased_energy", "kind": "electricity", "amount": 20000,
         "unit": "kWh"},                          # unit optional; checked when given
        {"category": "travel", "kind": "hsr",
         "travellers": 300, "trips": 2, "distance_km": 300},   # or "amount": pkm
        ...
      ],
      "participants": 500,                        # optional, integer >= 0
      "starts_on": "2027-05-20", "ends_on": "2027-05-21"      # optional ISO dates
    }

Every line is ``amount`` (in the kind's unit, see ``KINDS``) × factor. Travel lines give
either ``amount`` in passenger-km or ``travellers`` × ``trips`` × ``distance_km`` (one-way
trips, so a return journey is ``trips: 2``). Car and taxi factors are per vehicle-km and are
divided by the occupancy parameter to give passenger-km. Each line is rounded once, half-up,
to whole grams; subtotals and the total are sums of the rounded lines, so the report's table
adds up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

from .base import (
    LOCAL_TZ,
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
    fmt,
    grams,
    to_decimal,
)
from .registry import register

G_PER_KG = Decimal(1000)
CO2_PER_C = Decimal(44) / Decimal(12)

# --- sources (events_forest.md flags: [V]->A, [2H]->B, [R]->C, [D]->D) -------------------

_REF = (
    "衢州碳普惠平台参考资料《大型活动碳足迹与碳中和林》 Quzhou programme reference note on event "
    "footprints and carbon-neutral forests (2026) §2"
)
GRID_2023 = Source(
    "生态环境部 国家统计局《关于发布2023年电力二氧化碳排放因子的公告》(公告2025年第47号)",
    2025,
    "B",
    f"{_REF} [2H], value from news on the announcement (Jan 2026). Alternatives for a later "
    "version: East China 0.5500; the Zhejiang provincial factor (not retrieved).",
)
NDRC_FUEL = Source(
    "国家发展改革委《公共建筑运营单位（企业）/ 陆上交通运输企业 温室气体排放核算方法和报告指南"
    "（试行）》缺省值 (发改办气候〔2015〕1722号)",
    2015,
    "C",
    f"{_REF} [R]: recalled sector-guideline defaults, not re-verified.",
    illustrative=True,
)
NDRC_NOT_IN_REF = Source(
    "国家发展改革委 温室气体排放核算方法和报告指南（试行）缺省值 (2015)",
    2015,
    "C",
    "Not in the programme reference note: "
    "recalled NDRC guideline default, not re-verified. Check before use.",
    illustrative=True,
)
FUEL_DENSITY = Source(
    "常用燃料密度 Typical fuel density",
    2026,
    "D",
    f"{_REF} [D]: proposed default.",
    illustrative=True,
)
CPCD_2023 = Source(
    "中国产品全生命周期温室气体排放系数库 (CPCD) 2023",
    2023,
    "B",
    f"{_REF} [2H]: derived from a public repository's CPCD-based factors.",
)


def _proposed(note: str, *, year: int = 2026) -> Source:
    """A proposed default [D] from the reference, with its stated basis."""
    return Source(PROGRAMME_PROPOSAL, year, "D", note, illustrative=True)


# --- catalogue ---------------------------------------------------------------------------

CATEGORIES: dict[str, Text] = {
    "stationary_fuel": Text("固定源化石燃料燃烧", "Stationary fuel combustion"),
    "mobile_fuel": Text("移动源化石燃料燃烧", "Mobile fuel combustion"),
    "purchased_energy": Text("净购入电力和热力", "Net purchased electricity and heat"),
    "travel": Text("交通出行", "Participants' travel"),
    "accommodation": Text("住宿", "Accommodation"),
    "catering": Text("餐饮", "Catering"),
    "materials": Text("活动物料", "Event materials"),
    "waste": Text("废弃物处理", "Waste treatment"),
}

UNITS: dict[str, Text] = {
    "m3": Text("立方米（标准状况）", "Nm³"),
    "kg": Text("千克", "kg"),
    "L": Text("升", "L"),
    "kWh": Text("千瓦时", "kWh"),
    "GJ": Text("吉焦", "GJ"),
    "pkm": Text("人公里", "passenger-km"),
    "room_night": Text("间夜", "room-night"),
    "meal": Text("餐（人次）", "meal"),
}

# How a kind's factor (kgCO2e per unit) is obtained.
DIRECT = "direct"  # parameter ef.<category>.<kind>
FUEL = "fuel"  # NCV × CC × OF × 44/12 (× density for litres)
VEHICLE = "vehicle"  # ef.travel.car_vkm ÷ occupancy


@dataclass(frozen=True)
class Kind:
    """One emission source a form can offer: its category, label, unit and factor rule."""

    category: str
    code: str
    label: Text
    unit: str
    rule: str = DIRECT
    fuel: str = ""  # FUEL: the fuel code in fuel.<fuel>.*
    occupancy: str = ""  # VEHICLE: the occupancy parameter name

    @property
    def factor_unit(self) -> str:
        return f"kgCO2e/{self.unit}"


def _kinds(*kinds: Kind) -> dict[str, dict[str, Kind]]:
    out: dict[str, dict[str, Kind]] = {c: {} for c in CATEGORIES}
    for k in kinds:
        out[k.category][k.code] = k
    return out


# category -> kind code -> Kind
KINDS: dict[str, dict[str, Kind]] = _kinds(
    Kind(
        "stationary_fuel", "natural_gas", Text("天然气", "Natural gas"), "m3", FUEL, "natural_gas"
    ),
    Kind("stationary_fuel", "lpg", Text("液化石油气", "LPG"), "kg", FUEL, "lpg"),
    Kind(
        "stationary_fuel",
        "diesel",
        Text("柴油（发电机等）", "Diesel (generators etc.)"),
        "L",
        FUEL,
        "diesel",
    ),
    Kind(
        "mobile_fuel",
        "gasoline",
        Text("汽油（服务车辆）", "Gasoline (event vehicles)"),
        "L",
        FUEL,
        "gasoline",
    ),
    Kind(
        "mobile_fuel",
        "diesel",
        Text("柴油（服务车辆）", "Diesel (event vehicles)"),
        "L",
        FUEL,
        "diesel",
    ),
    Kind("purchased_energy", "electricity", Text("外购电力", "Purchased electricity"), "kWh"),
    Kind(
        "purchased_energy",
        "electricity_residual",
        Text(
            "外购电力（已单独购买绿电时的其余电量）",
            "Purchased electricity (remainder when green power is bought separately)",
        ),
        "kWh",
    ),
    Kind("purchased_energy", "heat", Text("外购热力", "Purchased heat"), "GJ"),
    Kind("travel", "air", Text("飞机（国内经济舱）", "Air (domestic economy)"), "pkm"),
    Kind("travel", "hsr", Text("高铁", "High-speed rail"), "pkm"),
    Kind("travel", "rail", Text("普通铁路", "Conventional rail"), "pkm"),
    Kind("travel", "coach", Text("长途客车 / 大巴", "Coach"), "pkm"),
    Kind("travel", "bus", Text("城市公交", "City bus"), "pkm"),
    Kind("travel", "metro", Text("地铁", "Metro"), "pkm"),
    Kind(
        "travel",
        "car",
        Text("私家车", "Private car"),
        "pkm",
        VEHICLE,
        occupancy="travel.car_occupancy",
    ),
    Kind(
        "travel",
        "taxi",
        Text("出租车 / 网约车", "Taxi / ride-hailing"),
        "pkm",
        VEHICLE,
        occupancy="travel.taxi_occupancy",
    ),
    Kind("accommodation", "hotel", Text("酒店住宿", "Hotel stay"), "room_night"),
    Kind("catering", "meal", Text("餐食（含肉中式餐）", "Meal (mixed Chinese, with meat)"), "meal"),
    Kind("materials", "paper", Text("纸张 / 印刷品", "Paper / printed matter"), "kg"),
    Kind("materials", "plastics", Text("塑料制品", "Plastic items"), "kg"),
    Kind("waste", "landfill", Text("生活垃圾填埋", "Mixed waste, landfilled"), "kg"),
    Kind("waste", "incineration", Text("生活垃圾焚烧", "Mixed waste, incinerated"), "kg"),
)

# unit each fuel's NCV is published in, and the divisor to get GJ per kg (or per m3 of gas)
_NCV_DIVISOR = {
    "natural_gas": Decimal(10000),
    "lpg": Decimal(1000),
    "gasoline": Decimal(1000),
    "diesel": Decimal(1000),
}


def _fuel_params(
    fuel: str, zh: str, en: str, ncv: str, ncv_unit: str, cc: str, of: str, source: Source
) -> tuple[Parameter, ...]:
    return (
        Parameter(
            f"fuel.{fuel}.ncv",
            Decimal(ncv),
            ncv_unit,
            source,
            Text(f"{zh}低位发热量", f"{en} net calorific value"),
        ),
        Parameter(
            f"fuel.{fuel}.cc",
            Decimal(cc),
            "tC/TJ",
            source,
            Text(f"{zh}单位热值含碳量", f"{en} carbon content per unit heat"),
        ),
        Parameter(
            f"fuel.{fuel}.of",
            Decimal(of),
            "1",
            source,
            Text(f"{zh}碳氧化率", f"{en} oxidation factor"),
        ),
    )


def _ef(category: str, kind: str, value: str, source: Source) -> Parameter:
    k = KINDS[category][kind]
    return Parameter(
        f"ef.{category}.{kind}",
        Decimal(value),
        k.factor_unit,
        source,
        Text(f"{k.label.zh_CN}排放因子", f"{k.label.en} emission factor"),
    )


PARAMETERS: tuple[Parameter, ...] = (
    _ef("purchased_energy", "electricity", "0.5306", GRID_2023),
    _ef(
        "purchased_energy",
        "electricity_residual",
        "0.6096",
        Source(
            GRID_2023.document,
            2025,
            "B",
            f"{_REF} [2H]: national factor excluding market-traded non-fossil power; use it "
            "for the grid share when the venue bought green power separately, to avoid double "
            "counting.",
        ),
    ),
    _ef("purchased_energy", "heat", "110", NDRC_NOT_IN_REF),
    *_fuel_params(
        "natural_gas", "天然气", "Natural gas", "389.31", "GJ/10^4 Nm3", "15.32", "0.99", NDRC_FUEL
    ),
    *_fuel_params("lpg", "液化石油气", "LPG", "50.179", "GJ/t", "17.20", "0.98", NDRC_NOT_IN_REF),
    *_fuel_params("gasoline", "汽油", "Gasoline", "43.070", "GJ/t", "18.90", "0.98", NDRC_FUEL),
    *_fuel_params("diesel", "柴油", "Diesel", "42.652", "GJ/t", "20.20", "0.98", NDRC_FUEL),
    Parameter(
        "fuel.gasoline.density",
        Decimal("0.74"),
        "kg/L",
        FUEL_DENSITY,
        Text("汽油密度", "Gasoline density"),
    ),
    Parameter(
        "fuel.diesel.density",
        Decimal("0.84"),
        "kg/L",
        FUEL_DENSITY,
        Text("柴油密度", "Diesel density"),
    ),
    _ef(
        "travel",
        "air",
        "0.12",
        _proposed(
            "[D] ICAO-calculator-type values for Chinese domestic routes [R]; range 0.09-0.15; "
            "no radiative forcing."
        ),
    ),
    _ef(
        "travel",
        "hsr",
        "0.04",
        _proposed(
            "[D] ≈3.8 kWh/100 pkm traction [R] × 0.53 grid ≈ 0.02, doubled for upstream, stations "
            "and infrastructure; range 0.02-0.06."
        ),
    ),
    _ef(
        "travel",
        "rail",
        "0.04",
        _proposed(
            "Not in the programme reference note: "
            "set equal to the high-speed-rail default (Chinese "
            "conventional passenger rail is mostly electrified) until a sourced figure exists."
        ),
    ),
    _ef(
        "travel",
        "coach",
        "0.03",
        _proposed(
            "[D] DEFRA coach factor ≈0.027 [R]; Chinese coach load factors are similar; range "
            "0.025-0.05."
        ),
    ),
    _ef("travel", "bus", "0.053", CPCD_2023),
    _ef("travel", "metro", "0.043", CPCD_2023),
    Parameter(
        "ef.travel.car_vkm",
        Decimal("0.173"),
        "kgCO2e/vkm",
        _proposed(
            "[D] 8 L/100 km × the gasoline factor (≈2.16 kg/L). CPCD life-cycle alternative "
            "0.19567 [2H]."
        ),
        Text("汽油小客车排放因子（每车公里）", "Gasoline car, per vehicle-km"),
    ),
    Parameter(
        "travel.car_occupancy",
        Decimal("1.5"),
        "pkm/vkm",
        _proposed("[D] occupants per private car, as in the §5 worked example (low case: 2)."),
        Text("私家车平均载客人数", "Private-car occupancy"),
    ),
    Parameter(
        "travel.taxi_occupancy",
        Decimal("1"),
        "pkm/vkm",
        _proposed(
            "Not in the programme reference note: "
            "one fare party per taxi trip, empty running not added."
        ),
        Text("出租车平均载客人数", "Taxi occupancy"),
    ),
    _ef(
        "accommodation",
        "hotel",
        "30",
        _proposed(
            "[D] Chinese mid-range hotels ≈50-100 kWh-eq per occupied room-night × 0.53 [R]; "
            "range 15-60. Replace with CHSB or DEFRA 'hotel stay - China'."
        ),
    ),
    _ef(
        "catering",
        "meal",
        "2.0",
        _proposed(
            "[D] per-capita food footprint ≈1-1.5 tCO2e/yr ÷ ~1,000 meals, uplifted for banquet "
            "meals; range 1-4. No official Chinese factor found."
        ),
    ),
    _ef("materials", "paper", "1.1", _proposed("[D] LCA cradle-to-gate range 0.9-1.3 [R].")),
    _ef(
        "materials",
        "plastics",
        "2.0",
        Source(
            "PlasticsEurope eco-profiles (PE/PP/PET cradle-to-gate ≈1.6-2.2 kgCO2e/kg)",
            2026,
            "C",
            "Not in the programme reference note: "
            "general knowledge of European LCA data, not re-read; "
            "excludes conversion into products.",
            illustrative=True,
        ),
    ),
    _ef(
        "waste",
        "landfill",
        "0.7",
        _proposed("[D] IPCC 2006 first-order decay, long-run CH4 as CO2e, mixed MSW [R]."),
    ),
    _ef(
        "waste",
        "incineration",
        "0.4",
        _proposed("[D] fossil-carbon share of mixed MSW, IPCC 2006 Vol. 5 approach [R]."),
    ),
)
_SOURCES: dict[str, Source] = {p.name: p.source for p in PARAMETERS}


def factor_parameters(kind: Kind) -> tuple[str, ...]:
    """The parameter names a kind's factor is computed from (the first is its main source)."""
    if kind.rule == FUEL:
        names = [f"fuel.{kind.fuel}.cc", f"fuel.{kind.fuel}.ncv", f"fuel.{kind.fuel}.of"]
        if kind.unit == "L":
            names.append(f"fuel.{kind.fuel}.density")
        return tuple(names)
    if kind.rule == VEHICLE:
        return ("ef.travel.car_vkm", kind.occupancy)
    return (f"ef.{kind.category}.{kind.code}",)


def factor(kind: Kind, params: Params) -> tuple[Decimal, str]:
    """The kind's factor in kgCO2e per unit, and the formula (with units) that gives it."""
    if kind.rule == FUEL:
        f = kind.fuel
        ncv, cc, of = params[f"fuel.{f}.ncv"], params[f"fuel.{f}.cc"], params[f"fuel.{f}.of"]
        div = _NCV_DIVISOR[f]
        # NCV/div is GJ per kg (per m3 for gas); CC in tC/TJ equals kgC/GJ.
        value = ncv / div * cc * of * CO2_PER_C
        expr = f"{fmt(ncv, 3)}/{div} GJ × {fmt(cc)} kgC/GJ × {fmt(of)} × 44/12"
        if kind.unit == "L":
            density = params[f"fuel.{f}.density"]
            value *= density
            expr += f" × {fmt(density)} kg/L"
        return value, expr
    if kind.rule == VEHICLE:
        ef, occ = params["ef.travel.car_vkm"], params[kind.occupancy]
        value = ef / occ
        return value, f"{fmt(ef)} kgCO2e/vkm ÷ {fmt(occ)} pkm/vkm"
    value = params[f"ef.{kind.category}.{kind.code}"]
    return value, f"{fmt(value)} {kind.factor_unit}"


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FootprintLine:
    """One row of the 碳计量报告 emissions table."""

    index: int  # 1-based position in the activity's lines
    category: str
    kind: str
    label: Text
    amount: Decimal  # in ``unit``; passenger-km for travel lines
    unit: str
    activity_expression: str  # how the amount was obtained, e.g. "300 × 2 × 300 km"
    factor: Decimal  # kgCO2e per unit
    factor_unit: str
    factor_expression: str  # the factor's formula with units
    source: Source  # main source of the factor
    parameters: tuple[str, ...]  # every parameter the factor used
    result_g: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "category": self.category,
            "kind": self.kind,
            "label": self.label.as_dict(),
            "amount": str(self.amount),
            "unit": self.unit,
            "activity_expression": self.activity_expression,
            "factor": fmt(self.factor, 6),
            "factor_unit": self.factor_unit,
            "factor_expression": self.factor_expression,
            "source": self.source.as_dict(),
            "parameters": list(self.parameters),
            "result_g": self.result_g,
        }


@dataclass(frozen=True)
class Footprint:
    """An event's emissions: lines, subtotals by category (catalogue order) and total grams."""

    lines: tuple[FootprintLine, ...]
    subtotals_g: Mapping[str, int]
    total_g: int
    participants: int | None = None

    @property
    def per_participant_g(self) -> int | None:
        if not self.participants:
            return None
        return grams(Decimal(self.total_g) / Decimal(self.participants))

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": [line.as_dict() for line in self.lines],
            "subtotals_g": dict(self.subtotals_g),
            "total_g": self.total_g,
            "participants": self.participants,
            "per_participant_g": self.per_participant_g,
        }


# --- parsing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    index: int
    category: str
    kind: str
    unit: str | None
    amount: Decimal | None
    travellers: int | None
    trips: int | None
    distance_km: Decimal | None

    @property
    def trip_form(self) -> bool:
        return self.amount is None


def _bad(field: str, zh: str, en: str) -> ActivityError:
    return ActivityError(field, Text(zh, en))


def _int(data: Mapping[str, Any], name: str, where: str) -> int | None:
    raw = data.get(name)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise _bad(where, f"{where} 必须是整数", f"{where} must be an integer")
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        raise _bad(where, f"{where} 必须是整数", f"{where} must be an integer") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise _bad(where, f"{where} 必须是整数", f"{where} must be an integer")
    return int(value)


def _dec(data: Mapping[str, Any], name: str, where: str) -> Decimal | None:
    if data.get(name) is None:
        return None
    try:
        return to_decimal(data, name)
    except ActivityError as e:
        raise ActivityError(where, e.message) from None


def _parse_lines(activity: Activity) -> list[_Line]:
    raw = activity.get("lines")
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise _bad("lines", "lines 必须是列表", "lines must be a list")
    out: list[_Line] = []
    for i, item in enumerate(raw, start=1):
        where = f"lines[{i}]"
        if not isinstance(item, Mapping):
            raise _bad(where, f"第 {i} 行必须是对象", f"line {i} must be an object")
        category, kind, unit = item.get("category"), item.get("kind"), item.get("unit")
        if not isinstance(category, str) or not isinstance(kind, str):
            raise _bad(
                where, f"第 {i} 行缺少 category 或 kind", f"line {i} needs string category and kind"
            )
        if unit is not None and not isinstance(unit, str):
            raise _bad(f"{where}.unit", "unit 必须是字符串", "unit must be a string")
        amount = _dec(item, "amount", f"{where}.amount")
        travellers = _int(item, "travellers", f"{where}.travellers")
        trips = _int(item, "trips", f"{where}.trips")
        distance = _dec(item, "distance_km", f"{where}.distance_km")
        trip_fields = (travellers, trips, distance)
        if amount is None:
            if category != "travel" or None in trip_fields:
                raise _bad(
                    where,
                    f"第 {i} 行缺少 amount（出行可用 travellers、trips、distance_km）",
                    f"line {i} needs amount (travel lines may give travellers, trips and "
                    "distance_km instead)",
                )
        elif any(v is not None for v in trip_fields):
            raise _bad(
                where,
                f"第 {i} 行只能给出 amount 或 travellers/trips/distance_km 之一",
                f"line {i} gives both amount and travellers/trips/distance_km",
            )
        out.append(_Line(i, category, kind, unit, amount, travellers, trips, distance))
    return out


def _parse_date(activity: Activity, name: str) -> date | None:
    raw = activity.get(name)
    if raw is None:
        return None
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise _bad(
            name, f"{name} 不是 ISO 日期 (YYYY-MM-DD)", f"{name} is not an ISO date (YYYY-MM-DD)"
        ) from None


# --- rules -------------------------------------------------------------------------------


def _reject(code: str, zh: str, en: str) -> Rejection:
    return Rejection(code, Text(zh, en))


def _line_rejections(line: _Line, participants: int | None) -> list[Rejection]:
    i = line.index
    if line.category not in CATEGORIES:
        return [
            _reject(
                "unknown_category",
                f"第 {i} 行：未知的排放类别 {line.category}",
                f"line {i}: unknown category {line.category}",
            )
        ]
    kind = KINDS[line.category].get(line.kind)
    if kind is None:
        return [
            _reject(
                "unknown_kind",
                f"第 {i} 行：类别 {line.category} 下没有 {line.kind}",
                f"line {i}: no kind {line.kind} in category {line.category}",
            )
        ]
    out: list[Rejection] = []
    if line.unit is not None and line.unit != kind.unit:
        out.append(
            _reject(
                "unit_mismatch",
                f"第 {i} 行：单位应为 {kind.unit}，收到 {line.unit}",
                f"line {i}: unit must be {kind.unit}, got {line.unit}",
            )
        )
    values = (
        [line.amount]
        if not line.trip_form
        else [Decimal(line.travellers or 0), Decimal(line.trips or 0), line.distance_km]
    )
    if any(v is None or v <= 0 for v in values):
        out.append(
            _reject(
                "amount_not_positive",
                f"第 {i} 行：活动数据必须大于零",
                f"line {i}: activity data must be greater than zero",
            )
        )
    if line.category == "travel" and participants == 0:
        out.append(
            _reject(
                "travel_without_participants",
                f"第 {i} 行：参会人数为 0，却有出行数据",
                f"line {i}: travel given but participants is 0",
            )
        )
    elif (
        line.travellers is not None and participants is not None and line.travellers > participants
    ):
        out.append(
            _reject(
                "travellers_exceed_participants",
                f"第 {i} 行：出行人数 {line.travellers} 超过参会人数 {participants}",
                f"line {i}: {line.travellers} travellers exceed {participants} participants",
            )
        )
    return out


def rejections(activity: Activity) -> list[Rejection]:
    """Every rule the activity breaks (empty when it can be quantified)."""
    lines = _parse_lines(activity)
    participants = _int(activity, "participants", "participants")
    out: list[Rejection] = []
    if not lines:
        out.append(_reject("no_lines", "没有任何排放源数据", "no emission lines given"))
    if participants is not None and participants < 0:
        out.append(
            _reject("participants_negative", "参会人数不能为负", "participants cannot be negative")
        )
    starts, ends = _parse_date(activity, "starts_on"), _parse_date(activity, "ends_on")
    if (starts is None) != (ends is None):
        out.append(
            _reject(
                "dates_incomplete",
                "starts_on 与 ends_on 须同时给出",
                "starts_on and ends_on must be given together",
            )
        )
    elif starts is not None and ends is not None and ends < starts:
        out.append(
            _reject("dates_reversed", "活动结束日期早于开始日期", "the event ends before it starts")
        )
    for line in lines:
        out.extend(_line_rejections(line, participants))
    return out


# --- arithmetic --------------------------------------------------------------------------


def _footprint_line(line: _Line, params: Params) -> FootprintLine:
    kind = KINDS[line.category][line.kind]
    if line.amount is not None:
        amount = line.amount
        activity_expr = f"{fmt(amount)} {kind.unit}"
    else:
        assert line.travellers is not None and line.trips is not None
        assert line.distance_km is not None
        amount = Decimal(line.travellers) * Decimal(line.trips) * line.distance_km
        activity_expr = (
            f"{line.travellers} × {line.trips} × {fmt(line.distance_km)} km = {fmt(amount)} pkm"
        )
    value, factor_expr = factor(kind, params)
    names = factor_parameters(kind)
    return FootprintLine(
        index=line.index,
        category=line.category,
        kind=line.kind,
        label=kind.label,
        amount=amount,
        unit=kind.unit,
        activity_expression=activity_expr,
        factor=value,
        factor_unit=kind.factor_unit,
        factor_expression=factor_expr,
        source=_SOURCES[names[0]],
        parameters=names,
        result_g=grams(amount * value * G_PER_KG),
    )


def footprint(activity: Activity, params: Params) -> Footprint:
    """The event's emissions table; raises ``ActivityError`` if the activity is not valid."""
    problems = rejections(activity)
    if problems:
        raise ActivityError(problems[0].code, problems[0].reason)
    lines = tuple(_footprint_line(line, params) for line in _parse_lines(activity))
    present = [c for c in CATEGORIES if any(x.category == c for x in lines)]
    subtotals = {c: sum(x.result_g for x in lines if x.category == c) for c in present}
    return Footprint(
        lines=lines,
        subtotals_g=MappingProxyType(subtotals),
        total_g=sum(x.result_g for x in lines),
        participants=_int(activity, "participants", "participants"),
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@register
class EventFootprint(Methodology):
    """Footprint of a large event per 《大型活动碳中和实施指南（试行）》 (MEE 2019 No. 19).

    Stationary fuel, purchased power and heat follow the NDRC public-building guideline,
    mobile fuel the NDRC land-transport guideline, and travel, accommodation, catering,
    materials and waste the IPCC 2006 activity-data × factor form (see the module docstring
    for the activity contract). An event has no baseline: ``project_g`` is its footprint and
    ``baseline_g`` and ``reduction_g`` are 0.
    """

    code: ClassVar[str] = "event_footprint"
    version: ClassVar[str] = "1.0.0"
    name: ClassVar[Text] = Text("大型活动碳排放核算", "Large-event carbon footprint")
    summary: ClassVar[Text] = Text(
        "按《大型活动碳中和实施指南（试行）》核算活动的化石燃料、外购电力热力、交通、住宿、餐饮、"
        "物料和废弃物排放：活动数据 × 排放因子。",
        "Emissions of an event's fuel, purchased power and heat, travel, accommodation, "
        "catering, materials and waste per the MEE large-event guideline: activity data × "
        "emission factor.",
    )
    follows: ClassVar[str] = (
        "生态环境部《大型活动碳中和实施指南（试行）》(公告2019年第19号); "
        "NDRC 公共建筑 / 陆上交通运输 温室气体核算指南 (2015); 2006 IPCC Guidelines"
    )
    dedupe_group: ClassVar[str] = "event_footprint"
    activity_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["lines"],
        "properties": {
            "lines": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["category", "kind"],
                    "properties": {
                        "category": {"enum": list(CATEGORIES)},
                        "kind": {"enum": sorted({k for ks in KINDS.values() for k in ks})},
                        "amount": {"type": "number", "exclusiveMinimum": 0},
                        "unit": {"enum": list(UNITS)},
                        "travellers": {"type": "integer", "minimum": 1},
                        "trips": {"type": "integer", "minimum": 1},
                        "distance_km": {"type": "number", "exclusiveMinimum": 0},
                    },
                },
            },
            "participants": {"type": "integer", "minimum": 0},
            "starts_on": {"type": "string", "format": "date"},
            "ends_on": {"type": "string", "format": "date"},
        },
    }
    parameters: ClassVar[tuple[Parameter, ...]] = PARAMETERS

    def validate(self, activity: Activity, params: Params) -> list[Rejection]:
        return rejections(activity)

    def quantify(self, activity: Activity, params: Params) -> Quantification:
        fp = footprint(activity, params)
        steps = [
            Step(
                Text(
                    f"{CATEGORIES[x.category].zh_CN}：{x.label.zh_CN}",
                    f"{CATEGORIES[x.category].en}: {x.label.en}",
                ),
                f"{x.activity_expression}; {fmt(x.amount)} {x.unit} × {x.factor_expression} "
                "× 1000 g/kg",
                str(x.result_g),
                "gCO2e",
            )
            for x in fp.lines
        ]
        steps.append(
            Step(
                Text(
                    "活动排放总量（各行四舍五入到克后相加；活动无基准线，减排量为 0）",
                    "Event footprint (each line rounded half-up to grams, then summed; an event "
                    "has no baseline, so its reduction is 0)",
                ),
                " + ".join(str(x.result_g) for x in fp.lines),
                str(fp.total_g),
                "gCO2e",
            )
        )
        return Quantification(baseline_g=0, project_g=fp.total_g, reduction_g=0, steps=tuple(steps))

    def window(self, activity: Activity) -> Window:
        """Local days starts_on 00:00 to the day after ends_on; without dates a zero-length
        window at the Unix epoch, which overlaps nothing."""
        starts, ends = _parse_date(activity, "starts_on"), _parse_date(activity, "ends_on")
        if starts is None or ends is None:
            return Window(_EPOCH, _EPOCH)
        start = datetime.combine(starts, time(0), LOCAL_TZ)
        end = datetime.combine(date.fromordinal(ends.toordinal() + 1), time(0), LOCAL_TZ)
        return Window(start.astimezone(UTC), end.astimezone(UTC))

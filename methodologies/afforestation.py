"""Afforestation sink (碳汇造林) for carbon-neutral forests (碳中和林): ex-ante removals
for planning, and (module 1.1.0) measured removals with a pooled buffer for crediting.

Follows the stock-difference method of CCER AR-CM-001-V01《碳汇造林项目方法学》(2013), carried
into CCER-14-001-V01《温室气体自愿减排项目方法学 造林碳汇》(2023). Tree biomass carbon per
hectare of species *j* at age *t*::

    C_j(t) = V_j(t) × SVD_j × BEF_j × (1 + R_j) × CF_j × 44/12        [tCO2/ha]

with V the stem volume stock (m³/ha), SVD basic wood density, BEF the above-ground to stem
biomass ratio, R the root-to-shoot ratio and CF the carbon fraction. The land starts bare
(baseline stock ≈ 0, leakage 0, trees only: soil, litter and shrubs are left out, which is
conservative), so the removal from planting to age t is ``Σ_j share_j × area × C_j(t)``.
V(t) is a Richards curve ``A·(1 − e^(−k·t))^c``. A conservativeness deduction for survival
and uncertainty (``deduction.survival`` + ``deduction.uncertainty``, 20% in total) is
subtracted from the gross removal.

Every number comes from shared/reference/events_forest.md §3: the species factors are
recalled AR-CM-001 defaults [R] and the growth curves and densities are illustrative [D];
all are flagged ``illustrative`` and must be replaced by a new version with Zhejiang yield
models before the figures are used beyond planning. Moso bamboo (毛竹) is not supported: it
needs its own per-culm stock model (AR-CM-002 / CCER-14-001 bamboo provisions), which the
reference does not give.

Activity contract::

    {
      "species_mix": [{"species": "chinese_fir", "share": 0.6},
                      {"species": "mixed_broadleaf", "share": 0.4}],   # area shares, Σ = 1
      "area_ha": 0.66,             # or "area_mu": 9.9 (1 ha = 15 mu); exactly one
      "planting_year": 2027,       # integer calendar year
      "horizon_years": 10          # integer, 1..60
    }

Shares within 0.001 of 1 are accepted and divided by their sum. ``quantify`` gives
``baseline_g = 0``, ``project_g = −net removal`` and ``reduction_g = net removal`` (a
removal counts as a reduction when neutralising an event), rounded once, half-up, to grams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from typing import Any, ClassVar

from .base import (
    LOCAL_TZ,
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

CO2_PER_C = Decimal(44) / Decimal(12)
G_PER_T = Decimal(1_000_000)
MU_PER_HA = Decimal(15)
MU_STEP = Decimal("0.1")  # plan_area rounds the area up to this many mu
HA_PLACES = Decimal("0.0001")
SHARE_TOLERANCE = Decimal("0.001")
MIN_HORIZON, MAX_HORIZON = 1, 60
PRECISION = 28  # Decimal digits for exp/power: fixed so results never depend on the caller

SPECIES: dict[str, Text] = {
    "chinese_fir": Text("杉木", "Chinese fir"),
    "masson_pine": Text("马尾松", "Masson pine"),
    "camphor": Text("樟树", "Camphor tree"),
    "schima": Text("木荷", "Schima superba"),
    "sweetgum": Text("枫香", "Chinese sweetgum"),
    "mixed_broadleaf": Text("阔叶混交林", "Mixed broadleaf"),
}
UNSUPPORTED_SPECIES: dict[str, Text] = {
    "moso_bamboo": Text(
        "毛竹不适用蓄积量 × 生物量扩展因子的方法：竹林须按单株（秆）生物量方程单独建模"
        "（AR-CM-002 / CCER-14-001 竹林条款），且 5–10 年内碳储量即趋于稳定，本版本不支持。",
        "Moso bamboo does not fit the stem-volume × BEF method: bamboo stands need their own "
        "per-culm biomass model (AR-CM-002 / CCER-14-001 bamboo provisions) and reach a "
        "near-steady stock within 5-10 years; this version does not support it.",
    ),
}

# --- parameters --------------------------------------------------------------------------

_REF = (
    "衢州碳普惠平台参考资料《大型活动碳足迹与碳中和林》 Quzhou programme reference note on event "
    "footprints and carbon-neutral forests (2026)"
)
AR_CM_001 = Source(
    "国家发展改革委《碳汇造林项目方法学》AR-CM-001-V01 附表（全国森林资源清查缺省值）",
    2013,
    "C",
    f"{_REF} §3.3 [R]: recalled, not re-verified against the methodology PDF.",
    illustrative=True,
)


def _growth_source(note: str) -> Source:
    document = "衢州碳普惠平台提议的 Richards 生长曲线 Illustrative Richards growth curve"
    return Source(document, 2026, "D", note, illustrative=True)


FIR_CURVE = _growth_source(
    "[D] tuned to typical southern-China fir plantation yields on medium "
    "sites; V10 62.7, V20 174.5 m³/ha. Replace with a Zhejiang yield model."
)
BROADLEAF_CURVE = _growth_source(
    "[D] the reference's mixed native broadleaf (木荷/樟/枫香) curve; "
    "V10 39.6, V20 108.4 m³/ha. Replace with a Zhejiang yield model."
)
SINGLE_BROADLEAF_CURVE = _growth_source(
    "[D] no curve for this species in the reference: uses the mixed native broadleaf "
    "(木荷/樟/枫香) curve, so its sink differs from the mix only through its wood factors."
)
PINE_CURVE = _growth_source(
    "No masson pine curve in the reference: borrows the mixed broadleaf curve (MAI 5.4 m³/ha/yr "
    "at 20 years), nearer to pine yields than the fir curve. Placeholder only."
)


def _density_source(note: str) -> Source:
    return Source(
        "southern-China planting practice (verify against GB/T 15776《造林技术规程》)",
        2026,
        "D",
        f"{_REF} §3.5 [R]/[D]: {note}",
        illustrative=True,
    )


# code: (SVD, BEF, R, CF, (A, k, c), curve source, density stems/ha, density source)
_SPECIES_DATA: dict[str, tuple[str, str, str, str, tuple[str, str, str], Source, str, Source]] = {
    "chinese_fir": (
        "0.307",
        "1.634",
        "0.246",
        "0.520",
        ("300", "0.09", "3.0"),
        FIR_CURVE,
        "2700",
        _density_source("range 2,500-3,000/ha; 180/mu as in the §5 example."),
    ),
    "masson_pine": (
        "0.380",
        "1.472",
        "0.187",
        "0.460",
        ("220", "0.07", "2.5"),
        PINE_CURVE,
        "2900",
        _density_source("midpoint of the 2,500-3,300/ha range."),
    ),
    "camphor": (
        "0.460",
        "1.412",
        "0.275",
        "0.4916",
        ("220", "0.07", "2.5"),
        SINGLE_BROADLEAF_CURVE,
        "1650",
        _density_source("native broadleaf 1,100-2,500/ha; 110/mu as in §5."),
    ),
    "schima": (
        "0.598",
        "1.894",
        "0.258",
        "0.4969",
        ("220", "0.07", "2.5"),
        SINGLE_BROADLEAF_CURVE,
        "1650",
        _density_source("native broadleaf 1,100-2,500/ha; 110/mu as in §5."),
    ),
    "sweetgum": (
        "0.598",
        "1.765",
        "0.398",
        "0.4915",
        ("220", "0.07", "2.5"),
        SINGLE_BROADLEAF_CURVE,
        "1650",
        _density_source("native broadleaf 1,100-2,500/ha; 110/mu as in §5."),
    ),
    "mixed_broadleaf": (
        "0.482",
        "1.514",
        "0.262",
        "0.490",
        ("220", "0.07", "2.5"),
        BROADLEAF_CURVE,
        "1650",
        _density_source("native broadleaf 1,100-2,500/ha; 110/mu as in §5."),
    ),
}


def _species_parameters(code: str) -> tuple[Parameter, ...]:
    svd, bef, r, cf, (a, k, c), curve, density, dsource = _SPECIES_DATA[code]
    zh, en = SPECIES[code].zh_CN, SPECIES[code].en
    p = f"species.{code}"
    return (
        Parameter(
            f"{p}.svd",
            Decimal(svd),
            "t d.m./m³",
            AR_CM_001,
            Text(f"{zh}基本木材密度", f"{en} basic wood density"),
        ),
        Parameter(
            f"{p}.bef",
            Decimal(bef),
            "1",
            AR_CM_001,
            Text(f"{zh}生物量扩展因子", f"{en} biomass expansion factor"),
        ),
        Parameter(
            f"{p}.root_shoot",
            Decimal(r),
            "1",
            AR_CM_001,
            Text(f"{zh}根茎比", f"{en} root-to-shoot ratio"),
        ),
        Parameter(
            f"{p}.cf",
            Decimal(cf),
            "tC/t d.m.",
            AR_CM_001,
            Text(f"{zh}含碳率", f"{en} carbon fraction"),
        ),
        Parameter(
            f"{p}.richards_a",
            Decimal(a),
            "m³/ha",
            curve,
            Text(f"{zh}生长曲线最大蓄积 A", f"{en} growth curve asymptote A"),
        ),
        Parameter(
            f"{p}.richards_k",
            Decimal(k),
            "1/yr",
            curve,
            Text(f"{zh}生长曲线速率 k", f"{en} growth curve rate k"),
        ),
        Parameter(
            f"{p}.richards_c",
            Decimal(c),
            "1",
            curve,
            Text(f"{zh}生长曲线形状 c", f"{en} growth curve shape c"),
        ),
        Parameter(
            f"{p}.density",
            Decimal(density),
            "stems/ha",
            dsource,
            Text(f"{zh}造林密度", f"{en} planting density"),
        ),
    )


_DEDUCTION = f"{_REF} §3.5/§5 [D]: 20% survival and uncertainty deduction in total"
PARAMETERS: tuple[Parameter, ...] = (
    *(p for code in SPECIES for p in _species_parameters(code)),
    Parameter(
        "deduction.survival",
        Decimal("0.15"),
        "1",
        Source(
            "afforestation acceptance survival ≥85%",
            2026,
            "D",
            f"{_DEDUCTION}; this part is 1 − 85% expected survival [R].",
            illustrative=True,
        ),
        Text("成活率扣减", "Survival deduction"),
    ),
    Parameter(
        "deduction.uncertainty",
        Decimal("0.05"),
        "1",
        Source(
            "conservativeness buffer",
            2026,
            "D",
            f"{_DEDUCTION}; this part is the remainder, for model uncertainty and risk.",
            illustrative=True,
        ),
        Text("不确定性与风险扣减", "Uncertainty and risk deduction"),
    ),
    Parameter(
        "trees.horizon_years",
        Decimal(20),
        "yr",
        Source(
            "module default for 'equals N trees'",
            2026,
            "D",
            "Average yearly uptake of a planted tree over its first 20 years (the G20 2016 "
            "horizon, programme reference note §3.6).",
            illustrative=True,
        ),
        Text("“相当于 N 棵树”计算年限", "Horizon of the 'N trees' figure"),
    ),
    Parameter(
        "trees.mix.chinese_fir",
        Decimal("0.5"),
        "1",
        Source(
            "module default for 'equals N trees'",
            2026,
            "D",
            "Half fir, half native broadleaf: the two species with curves in the reference.",
            illustrative=True,
        ),
        Text("“N 棵树”树种构成：杉木", "'N trees' mix: Chinese fir"),
    ),
    Parameter(
        "trees.mix.mixed_broadleaf",
        Decimal("0.5"),
        "1",
        Source(
            "module default for 'equals N trees'",
            2026,
            "D",
            "Half fir, half native broadleaf: the two species with curves in the reference.",
            illustrative=True,
        ),
        Text("“N 棵树”树种构成：阔叶混", "'N trees' mix: mixed broadleaf"),
    ),
)
# Module 1.1.0 adds what crediting measured growth needs (events_forest.md §7).
MEASUREMENT_PARAMETER_SET: tuple[Parameter, ...] = (
    Parameter(
        "buffer.share",
        Decimal("0.20"),
        "1",
        Source(
            "Verra VCS AFOLU Non-Permanence Risk Tool (pooled buffer, commonly 10-20% of "
            "removals); ISO 14068-1:2023 (a reversed removal counts as an emission)",
            2023,
            "D",
            f"{_REF} §7 [M]: share of each measured removal withheld in the pooled buffer "
            "against reversal; 20% (conservative end) until Zhejiang or the MEE set one. A "
            "loss cancels buffer first.",
            illustrative=True,
        ),
        Text("缓冲池扣留比例", "Buffer share against reversal"),
        minimum=Decimal(0),
        maximum=Decimal("0.99"),
    ),
    Parameter(
        "measurement.form_factor",
        Decimal("0.45"),
        "1",
        Source(
            "形数法：立木材积 = 胸高断面积 × 树高 × 实验形数 (experimental form factor "
            "of young plantation stems, about 0.40-0.50)",
            2026,
            "D",
            f"{_REF} §3.2 [R]: stem volume of a sample tree from mean DBH and height when "
            "the plot's stock is not measured directly; replace by the species' 二元立木材积"
            "方程 from the Zhejiang forest inventory.",
            illustrative=True,
        ),
        Text("实验形数（由胸径、树高估算材积）", "Form factor (stem volume from DBH and height)"),
        minimum=Decimal("0.01"),
        maximum=Decimal(1),
    ),
)

# --- the stock model ---------------------------------------------------------------------

Mix = tuple[tuple[str, Decimal], ...]  # (species code, normalised area share)


def carbon_factor(species: str, params: Params) -> Decimal:
    """tCO2 per m³ of stem volume: SVD × BEF × (1 + R) × CF × 44/12."""
    p = f"species.{species}"
    return (
        params[f"{p}.svd"]
        * params[f"{p}.bef"]
        * (1 + params[f"{p}.root_shoot"])
        * params[f"{p}.cf"]
        * CO2_PER_C
    )


def volume(species: str, age: int, params: Params) -> Decimal:
    """Stem volume stock V(t) = A·(1 − e^(−k·t))^c in m³/ha (0 at planting)."""
    if age <= 0:
        return Decimal(0)
    p = f"species.{species}"
    with localcontext() as ctx:
        ctx.prec = PRECISION
        ctx.rounding = ROUND_HALF_UP
        base = 1 - (-params[f"{p}.richards_k"] * age).exp()
        return +(params[f"{p}.richards_a"] * base ** params[f"{p}.richards_c"])


def net_fraction(params: Params) -> Decimal:
    """Share of the gross removal kept after the survival and uncertainty deductions."""
    return 1 - params["deduction.survival"] - params["deduction.uncertainty"]


def net_per_ha(mix: Mix, age: int, params: Params) -> Decimal:
    """Net (after deductions) cumulative removal of one hectare of the mix, in tCO2."""
    gross = sum(
        (share * volume(s, age, params) * carbon_factor(s, params) for s, share in mix), Decimal(0)
    )
    return gross * net_fraction(params)


def _removal_g(mix: Mix, area_ha: Decimal, age: int, params: Params) -> int:
    return grams(area_ha * net_per_ha(mix, age, params) * G_PER_T)


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class YearPoint:
    """Cumulative net removal (after deductions) at ``age`` years after planting."""

    age: int
    year: int | None  # calendar year, when the planting year is known
    cumulative_g: int

    def as_dict(self) -> dict[str, Any]:
        return {"age": self.age, "year": self.year, "cumulative_g": self.cumulative_g}


@dataclass(frozen=True)
class AreaPlan:
    """The smallest planting (in steps of 0.1 mu) whose removal over the horizon covers the
    emissions. ``area_mu`` is authoritative; ``area_ha`` is it ÷ 15 rounded up to 0.0001 ha,
    so either one given back as the activity's area still covers the emissions."""

    emissions_g: int
    horizon_years: int
    species_mix: Mix
    area_mu: Decimal
    area_ha: Decimal
    seedlings: int
    seedlings_by_species: tuple[tuple[str, int], ...]
    removal_g: int  # net removal of area_mu at the horizon
    break_even_age: int  # first age whose cumulative removal >= emissions
    curve: tuple[YearPoint, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "emissions_g": self.emissions_g,
            "horizon_years": self.horizon_years,
            "species_mix": [{"species": s, "share": str(v)} for s, v in self.species_mix],
            "area_mu": str(self.area_mu),
            "area_ha": str(self.area_ha),
            "seedlings": self.seedlings,
            "seedlings_by_species": dict(self.seedlings_by_species),
            "removal_g": self.removal_g,
            "break_even_age": self.break_even_age,
            "curve": [p.as_dict() for p in self.curve],
        }


# --- parsing and rules -------------------------------------------------------------------


def _bad(field: str, zh: str, en: str) -> ActivityError:
    return ActivityError(field, Text(zh, en))


def _reject(code: str, zh: str, en: str) -> Rejection:
    return Rejection(code, Text(zh, en))


def _integer(activity: Activity, name: str) -> int:
    raw = activity.get(name)
    if raw is None:
        raise _bad(name, f"缺少字段 {name}", f"missing field {name}")
    value = to_decimal(activity, name)
    if value != value.to_integral_value():
        raise _bad(name, f"{name} 必须是整数", f"{name} must be an integer")
    return int(value)


def _raw_mix(raw: Any) -> list[tuple[str, Decimal]]:
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise _bad("species_mix", "species_mix 必须是列表", "species_mix must be a list")
    out: list[tuple[str, Decimal]] = []
    for i, item in enumerate(raw, start=1):
        where = f"species_mix[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("species"), str):
            raise _bad(where, f"{where} 须含 species 与 share", f"{where} needs species and share")
        try:
            share = to_decimal(item, "share")
        except ActivityError as e:
            raise ActivityError(f"{where}.share", e.message) from None
        out.append((str(item["species"]), share))
    return out


def _mix_rejections(mix: list[tuple[str, Decimal]]) -> list[Rejection]:
    out: list[Rejection] = []
    if not mix:
        return [_reject("species_mix_empty", "未选择树种", "no species chosen")]
    seen: set[str] = set()
    for code, share in mix:
        if code in UNSUPPORTED_SPECIES:
            out.append(Rejection("species_unsupported", UNSUPPORTED_SPECIES[code]))
        elif code not in SPECIES:
            out.append(_reject("species_unknown", f"未知树种 {code}", f"unknown species {code}"))
        if code in seen:
            out.append(
                _reject("species_duplicate", f"树种 {code} 重复", f"species {code} repeated")
            )
        seen.add(code)
        name = SPECIES.get(code, Text(code, code))
        if share <= 0:
            out.append(
                _reject(
                    "share_not_positive",
                    f"{name.zh_CN}的占比必须大于零",
                    f"the share of {name.en} must be greater than zero",
                )
            )
    total = sum((s for _, s in mix), Decimal(0))
    if abs(total - 1) > SHARE_TOLERANCE:
        percent = fmt(total * 100)  # people enter and read shares in percent
        out.append(
            _reject(
                "shares_not_one",
                f"各树种占比之和为 {percent}%，应为 100%",
                f"species shares add up to {percent}%, not 100%",
            )
        )
    return out


def _horizon_rejections(horizon: int) -> list[Rejection]:
    if MIN_HORIZON <= horizon <= MAX_HORIZON:
        return []
    return [
        _reject(
            "horizon_out_of_range",
            f"计算年限须在 {MIN_HORIZON}–{MAX_HORIZON} 年之间",
            f"the horizon must be {MIN_HORIZON}-{MAX_HORIZON} years",
        )
    ]


def _normalised(mix: list[tuple[str, Decimal]]) -> Mix:
    total = sum((s for _, s in mix), Decimal(0))
    return tuple((code, share / total) for code, share in mix)


def _checked_mix(raw: Any, horizon: int) -> Mix:
    """Parse and check a mix outside an activity (plan_area); raise on any rejection."""
    mix = _raw_mix(raw)
    problems = _mix_rejections(mix) + _horizon_rejections(horizon)
    if problems:
        raise ActivityError(problems[0].code, problems[0].reason)
    return _normalised(mix)


def _area_ha(activity: Activity) -> Decimal:
    has_ha, has_mu = activity.get("area_ha") is not None, activity.get("area_mu") is not None
    if has_ha == has_mu:
        raise _bad(
            "area_ha", "须给出 area_ha 或 area_mu 之一", "give exactly one of area_ha and area_mu"
        )
    if has_ha:
        return to_decimal(activity, "area_ha")
    return to_decimal(activity, "area_mu") / MU_PER_HA


def rejections(activity: Activity) -> list[Rejection]:
    """Every rule the activity breaks (empty when it can be quantified)."""
    mix = _raw_mix(activity.get("species_mix"))
    area = _area_ha(activity)
    _integer(activity, "planting_year")
    out = _mix_rejections(mix)
    if area <= 0:
        out.append(
            _reject(
                "area_not_positive",
                "造林面积必须大于零",
                "the planted area must be greater than zero",
            )
        )
    return out + _horizon_rejections(_integer(activity, "horizon_years"))


def _valid(activity: Activity) -> tuple[Mix, Decimal, int, int]:
    problems = rejections(activity)
    if problems:
        raise ActivityError(problems[0].code, problems[0].reason)
    return (
        _normalised(_raw_mix(activity["species_mix"])),
        _area_ha(activity),
        _integer(activity, "planting_year"),
        _integer(activity, "horizon_years"),
    )


# --- public functions --------------------------------------------------------------------


def _curve(
    mix: Mix, area_ha: Decimal, horizon: int, params: Params, planting_year: int | None
) -> tuple[YearPoint, ...]:
    return tuple(
        YearPoint(
            t,
            None if planting_year is None else planting_year + t,
            _removal_g(mix, area_ha, t, params),
        )
        for t in range(horizon + 1)
    )


def curve(activity: Activity, params: Params) -> list[YearPoint]:
    """Cumulative net removal (grams, after deductions) of the activity's planting for
    every age 0..horizon_years."""
    mix, area, year, horizon = _valid(activity)
    return list(_curve(mix, area, horizon, params, year))


def break_even_age(points: Sequence[YearPoint], emissions_g: int) -> int | None:
    """First age whose cumulative removal reaches ``emissions_g`` (None if none does)."""
    return next((p.age for p in points if p.cumulative_g >= emissions_g), None)


def plan_area(
    emissions_g: int,
    species_mix: Sequence[Mapping[str, Any]],
    horizon_years: int,
    params: Params,
    *,
    planting_year: int | None = None,
) -> AreaPlan:
    """The minimal area (0.1 mu steps) whose net removal by ``horizon_years`` is at least
    ``emissions_g``, its seedlings (density × area, rounded up per species) and the first
    age at which the cumulative removal reaches the emissions."""
    if emissions_g <= 0:
        raise ValueError("emissions_g must be positive")
    mix = _checked_mix(species_mix, horizon_years)
    per_ha = net_per_ha(mix, horizon_years, params)
    if per_ha <= 0:
        raise ValueError("the mix removes nothing within the horizon")

    def covers(mu: Decimal) -> bool:
        return _removal_g(mix, mu / MU_PER_HA, horizon_years, params) >= emissions_g

    need_mu = Decimal(emissions_g) / G_PER_T / per_ha * MU_PER_HA
    mu = (need_mu / MU_STEP).to_integral_value(rounding=ROUND_CEILING) * MU_STEP
    # gram rounding can move the edge by one step either way
    while not covers(mu):
        mu += MU_STEP
    while mu > MU_STEP and covers(mu - MU_STEP):
        mu -= MU_STEP
    area_ha = mu / MU_PER_HA
    by_species = tuple(
        (
            s,
            int(
                (share * area_ha * params[f"species.{s}.density"]).to_integral_value(
                    rounding=ROUND_CEILING
                )
            ),
        )
        for s, share in mix
    )
    points = _curve(mix, area_ha, horizon_years, params, planting_year)
    break_even = break_even_age(points, emissions_g)
    assert break_even is not None  # the area covers the emissions at the horizon
    return AreaPlan(
        emissions_g=emissions_g,
        horizon_years=horizon_years,
        species_mix=mix,
        area_mu=mu,
        area_ha=area_ha.quantize(HA_PLACES, rounding=ROUND_CEILING),
        seedlings=sum(n for _, n in by_species),
        seedlings_by_species=by_species,
        removal_g=points[-1].cumulative_g,
        break_even_age=break_even,
        curve=points,
    )


def tree_year_g(params: Params) -> Decimal:
    """Average yearly net removal of one planted tree of the default mix (``trees.mix.*``,
    area shares) over its first ``trees.horizon_years`` years, in grams."""
    mix = _normalised(
        sorted(
            (name.removeprefix("trees.mix."), value)
            for name, value in params.items()
            if name.startswith("trees.mix.")
        )
    )
    horizon = int(params["trees.horizon_years"])
    stems_per_ha = sum((share * params[f"species.{s}.density"] for s, share in mix), Decimal(0))
    return net_per_ha(mix, horizon, params) * G_PER_T / stems_per_ha / horizon


def trees_equivalent(grams_co2e: int, params: Params) -> Decimal:
    """How many planted trees absorb ``grams_co2e`` in one year, at the average yearly rate
    of ``tree_year_g`` (a resident-facing "相当于 N 棵树一年的吸收量"), to 0.01 tree."""
    return (Decimal(grams_co2e) / tree_year_g(params)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


# --- measured removals (ex post) ---------------------------------------------------------
#
# What counts towards a neutrality claim is the stock *measured* on sample plots, not the
# plan's projection (events_forest.md §7): AR-CM-001-V01 / CCER-14-001-V01 credit the stock
# difference between two measurements. A block's stock at a measurement is
#
#     S = area_ha × V_plots × SVD × BEF × (1 + R) × CF × 44/12          [tCO2]
#
# with V_plots the stem volume per hectare of the sample plots (Σ plot volume ÷ Σ plot area):
# a plot's volume is measured directly (``stock_m3``) or estimated from its trees, mean DBH
# and mean height by the form-factor method, ``n × π/4 × DBH² × H × f``. Baseline 0 (bare
# land), leakage 0, trees only, as for the plan. The removal since the last crediting is
# ``S − basis`` (the stock already credited); ``buffer.share`` of it, rounded up, goes to the
# pooled buffer and the rest, rounded down, is counted. A fall in stock is a reversal: it
# cancels buffer first, then counted removals (ISO 14068-1: a reversed removal counts as an
# emission). Grams are rounded down once (a credit is never rounded up).

MEASUREMENT_PARAMETERS = ("buffer.share", "measurement.form_factor")
PI = Decimal("3.141592653589793238462643383")
M2_PER_HA = Decimal(10_000)
MAX_PLOTS = 200


def has_measurement_params(params: Params) -> bool:
    """Whether a version carries the parameters measured crediting needs (versions approved
    before module 1.1.0 do not: a new version must be approved first)."""
    return all(name in params for name in MEASUREMENT_PARAMETERS)


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _plot_field(plot: Mapping[str, Any], name: str, where: str) -> Decimal:
    try:
        value = to_decimal(plot, name)
    except ActivityError as e:
        raise ActivityError(f"{where}.{name}", e.message) from None
    if value < 0:
        raise _bad(f"{where}.{name}", f"{where}.{name} 不能为负", f"{where}.{name} is negative")
    return value


@dataclass(frozen=True)
class Plot:
    """One sample plot: its area and the stem volume standing on it."""

    area_m2: Decimal
    volume_m3: Decimal
    measured: bool  # stock measured directly (else from trees × DBH × height)
    trees: int | None = None
    mean_dbh_cm: Decimal | None = None
    mean_height_m: Decimal | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"area_m2": str(self.area_m2), "volume_m3": str(self.volume_m3)}
        if not self.measured:
            out |= {
                "trees": self.trees,
                "mean_dbh_cm": str(self.mean_dbh_cm),
                "mean_height_m": str(self.mean_height_m),
            }
        return out


def plot(raw: Any, params: Params, where: str = "plots[1]") -> Plot:
    """Parse one sample plot: ``{"area_m2", "stock_m3"}`` or ``{"area_m2", "trees",
    "mean_dbh_cm", "mean_height_m"}`` (the monitoring parameters of AR-CM-001)."""
    if not isinstance(raw, Mapping):
        raise _bad(where, f"{where} 必须是对象", f"{where} must be an object")
    area = _plot_field(raw, "area_m2", where)
    if area <= 0:
        raise _bad(f"{where}.area_m2", "样地面积必须大于零", "the plot area must be above zero")
    if raw.get("stock_m3") not in (None, ""):
        return Plot(area, _plot_field(raw, "stock_m3", where), True)
    trees = _plot_field(raw, "trees", where)
    if trees != trees.to_integral_value():
        raise _bad(f"{where}.trees", "株数必须是整数", "the tree count must be whole")
    dbh = _plot_field(raw, "mean_dbh_cm", where)
    height = _plot_field(raw, "mean_height_m", where)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        basal = PI / 4 * (dbh / 100) ** 2
        volume = +(trees * basal * height * params["measurement.form_factor"])
    return Plot(area, volume, False, int(trees), dbh, height)


@dataclass(frozen=True)
class MeasuredStock:
    """A block's carbon stock from its sample plots at one measurement."""

    species: str
    area_ha: Decimal
    plots: tuple[Plot, ...]
    volume_per_ha: Decimal  # m³/ha
    stock_g: int  # tree biomass CO2 of the whole block, rounded down
    steps: tuple[Step, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "species": self.species,
            "area_ha": str(self.area_ha),
            "plots": [p.as_dict() for p in self.plots],
            "volume_per_ha": fmt(self.volume_per_ha),
            "stock_g": self.stock_g,
            "steps": [s.as_dict() for s in self.steps],
        }


def measured_stock(
    species: str, area_mu: Decimal, plots: Sequence[Any], params: Params
) -> MeasuredStock:
    """The CO2 stock of a planted block from its sample plots (stock-difference method,
    AR-CM-001-V01 / CCER-14-001-V01): area × V_plots × SVD × BEF × (1+R) × CF × 44/12."""
    if species not in SPECIES:
        raise _bad("species", f"未知树种 {species}", f"unknown species {species}")
    if not has_measurement_params(params):
        raise _bad(
            "version",
            "在用版本缺少实测计入参数（缓冲比例、形数），请先批准新版本",
            "the version in force lacks the measurement parameters (buffer share, form "
            "factor): approve a new version first",
        )
    if isinstance(plots, str | bytes) or not isinstance(plots, Sequence) or not plots:
        raise _bad("plots", "至少需要一个样地", "give at least one sample plot")
    if len(plots) > MAX_PLOTS:
        raise _bad("plots", f"样地最多 {MAX_PLOTS} 个", f"at most {MAX_PLOTS} plots")
    area_ha = area_mu / MU_PER_HA
    parsed = tuple(plot(p, params, f"plots[{i}]") for i, p in enumerate(plots, start=1))
    plot_area = sum((p.area_m2 for p in parsed), Decimal(0))
    if plot_area > area_ha * M2_PER_HA:
        raise _bad(
            "plots",
            "样地总面积大于地块面积",
            "the sample plots add up to more than the block's area",
        )
    volume = sum((p.volume_m3 for p in parsed), Decimal(0))
    per_ha = volume / plot_area * M2_PER_HA
    factor = carbon_factor(species, params)
    tonnes = area_ha * per_ha * factor
    stock = _floor(tonnes * G_PER_T)
    label = SPECIES[species]
    steps = (
        Step(
            Text("样地蓄积量合计 ÷ 样地面积", "Plot stem volume ÷ plot area"),
            f"{fmt(volume)} m³ ÷ {fmt(plot_area)} m² × 10000",
            fmt(per_ha),
            "m³/ha",
        ),
        Step(
            Text(f"{label.zh_CN}：每立方米蓄积的 CO2", f"{label.en}: CO2 per m³ of stem"),
            "SVD × BEF × (1 + R) × CF × 44/12",
            fmt(factor),
            "tCO2/m³",
        ),
        Step(
            Text(
                "地块林木碳储量（面积 × 单位蓄积 × 因子，向下取整到克）",
                "Block stock (area × volume per ha × factor, rounded down to grams)",
            ),
            f"{fmt(area_ha)} ha × {fmt(per_ha)} × {fmt(factor)} = {fmt(tonnes)} tCO2",
            str(stock),
            "gCO2e",
        ),
    )
    return MeasuredStock(species, area_ha, parsed, per_ha, stock, steps)


def surviving_stock(stock_g: int, trees_measured: int, trees_surviving: int) -> int:
    """A measured stock scaled to the trees still alive at a later survival check (rounded
    down); never more than the measured stock."""
    if trees_measured <= 0 or trees_surviving >= trees_measured:
        return stock_g
    return _floor(Decimal(stock_g) * Decimal(trees_surviving) / Decimal(trees_measured))


@dataclass(frozen=True)
class Credit:
    """A removal split between the pooled buffer (rounded up) and counted removals."""

    removal_g: int
    buffer_g: int
    counted_g: int


def split_removal(removal_g: int, params: Params) -> Credit:
    """``buffer.share`` of a measured removal to the pooled buffer (rounded up, so the
    counted part is never rounded up), the rest counted."""
    if removal_g <= 0:
        return Credit(0, 0, 0)
    buffer = int(
        (Decimal(removal_g) * params["buffer.share"]).to_integral_value(rounding=ROUND_CEILING)
    )
    buffer = min(buffer, removal_g)
    return Credit(removal_g, buffer, removal_g - buffer)


@dataclass(frozen=True)
class Reversal:
    """How a loss of stock is cancelled: buffer first, then counted removals."""

    loss_g: int
    from_buffer_g: int
    from_counted_g: int
    uncovered_g: int  # neither could take it (the pool was drawn down by other losses)


def reversal(loss_g: int, buffer_available_g: int, counted_available_g: int) -> Reversal:
    """Cancel ``loss_g`` against the pooled buffer first, then the block's counted removals."""
    loss = max(loss_g, 0)
    from_buffer = min(loss, max(buffer_available_g, 0))
    from_counted = min(loss - from_buffer, max(counted_available_g, 0))
    return Reversal(loss, from_buffer, from_counted, loss - from_buffer - from_counted)


# --- the methodology ---------------------------------------------------------------------


def _steps(mix: Mix, area_ha: Decimal, horizon: int, params: Params, removal_g: int) -> list[Step]:
    steps: list[Step] = []
    gross = Decimal(0)
    for s, share in mix:
        p = f"species.{s}"
        label = SPECIES[s]
        v = volume(s, horizon, params)
        f = carbon_factor(s, params)
        c = share * area_ha * v * f
        gross += c
        steps += [
            Step(
                Text(
                    f"{label.zh_CN}：第 {horizon} 年蓄积量 V",
                    f"{label.en}: stem volume V at age {horizon}",
                ),
                f"{fmt(params[p + '.richards_a'])} × (1 − e^(−{fmt(params[p + '.richards_k'])}"
                f" × {horizon}))^{fmt(params[p + '.richards_c'])}",
                fmt(v),
                "m³/ha",
            ),
            Step(
                Text(f"{label.zh_CN}：每立方米蓄积的 CO2", f"{label.en}: CO2 per m³ of stem"),
                f"{fmt(params[p + '.svd'])} × {fmt(params[p + '.bef'])} × (1 + "
                f"{fmt(params[p + '.root_shoot'])}) × {fmt(params[p + '.cf'])} × 44/12",
                fmt(f),
                "tCO2/m³",
            ),
            Step(
                Text(
                    f"{label.zh_CN}：碳汇量（占比 × 面积 × V × 因子）",
                    f"{label.en}: removal (share × area × V × factor)",
                ),
                f"{fmt(share)} × {fmt(area_ha)} ha × {fmt(v)} × {fmt(f)}",
                fmt(c),
                "tCO2",
            ),
        ]
    kept = net_fraction(params)
    net = gross * kept
    steps += [
        Step(
            Text(
                "扣减成活率与不确定性后的净碳汇（×10⁶ 克/吨，四舍五入到克）",
                "Net removal after survival and uncertainty deductions (×10⁶ g/t, rounded "
                "half-up to grams)",
            ),
            f"{fmt(gross)} tCO2 × (1 − {fmt(params['deduction.survival'])} − "
            f"{fmt(params['deduction.uncertainty'])}) = {fmt(net)} tCO2",
            str(removal_g),
            "gCO2e",
        ),
    ]
    return steps


@register
class Afforestation(Methodology):
    """Ex-ante removal of a new planting per CCER AR-CM-001-V01 / CCER-14-001-V01 (stock
    difference, ``C = V(t) × SVD × BEF × (1+R) × CF × 44/12`` per hectare), less a 20%
    survival and uncertainty deduction. See the module docstring for the activity."""

    code: ClassVar[str] = "afforestation"
    version: ClassVar[str] = "1.0.0"
    name: ClassVar[Text] = Text("碳汇造林（碳中和林）", "Afforestation sink (neutrality forest)")
    summary: ClassVar[Text] = Text(
        "按碳储量变化法预估新造林在计算年限内的林木生物量碳汇，扣减成活率与不确定性后用于活动碳中和。",
        "Projects the tree-biomass removal of a new planting over a horizon by the "
        "stock-difference method, less survival and uncertainty deductions, for event "
        "neutrality.",
    )
    follows: ClassVar[str] = (
        "CCER AR-CM-001-V01《碳汇造林项目方法学》(2013); CCER-14-001-V01《温室气体自愿减排项目"
        "方法学 造林碳汇》(2023)"
    )
    dedupe_group: ClassVar[str] = "afforestation"
    activity_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["species_mix", "planting_year", "horizon_years"],
        "properties": {
            "species_mix": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["species", "share"],
                    "properties": {
                        "species": {"enum": list(SPECIES)},
                        "share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                    },
                },
            },
            "area_ha": {"type": "number", "exclusiveMinimum": 0},
            "area_mu": {"type": "number", "exclusiveMinimum": 0},
            "planting_year": {"type": "integer"},
            "horizon_years": {"type": "integer", "minimum": MIN_HORIZON, "maximum": MAX_HORIZON},
        },
        "oneOf": [{"required": ["area_ha"]}, {"required": ["area_mu"]}],
    }
    parameters: ClassVar[tuple[Parameter, ...]] = PARAMETERS

    def validate(self, activity: Activity, params: Params) -> list[Rejection]:
        return rejections(activity)

    def quantify(self, activity: Activity, params: Params) -> Quantification:
        mix, area, _, horizon = _valid(activity)
        removal = _removal_g(mix, area, horizon, params)
        return Quantification(
            baseline_g=0,
            project_g=-removal,
            reduction_g=removal,
            steps=tuple(_steps(mix, area, horizon, params, removal)),
        )

    def window(self, activity: Activity) -> Window:
        """1 January of the planting year to 1 January after the horizon (local time)."""
        year = _integer(activity, "planting_year")
        horizon = _integer(activity, "horizon_years")
        start = datetime(year, 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC)
        end = datetime(year + max(horizon, 1), 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC)
        return Window(start, end)


@register
class AfforestationV11(Afforestation):
    """Module version 1.1.0: the same ex-ante planning, plus the parameters that credit
    measured growth (``measured_stock``, ``split_removal``): the pooled buffer share
    (``buffer.share``, 20% by default) and the form factor for stems measured by DBH and
    height. Versions approved under 1.0.0 keep planning as they did; growth is credited only
    under a 1.1.0 version."""

    version: ClassVar[str] = "1.1.0"
    parameters: ClassVar[tuple[Parameter, ...]] = PARAMETERS + MEASUREMENT_PARAMETER_SET

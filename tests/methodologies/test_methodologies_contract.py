"""What every methodology promises: purity, stable parameters, sources, determinism."""

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import methodologies
from methodologies import params_hash

ROOT = Path(__file__).resolve().parents[2]
RESIDENT = ("public_transit", "bike_sharing", "waste_sorting", "food_waste")

# Changing a default value needs a new version; update the hash in the same change.
DEFAULT_HASHES = {
    "public_transit": "20b18a8c5d87171fcd24fd755da544d1486575523bdfb0a83f5063ed06698b0a",
    "bike_sharing": "531aa3dcfe241fac92041f410c732e124a874db20833b3a6c1979f1e2efc6b46",
    "waste_sorting": "9f247a582de82c9191d64aa2cb581f962c849eb2be91617064a2559b77c34892",
    "food_waste": "07f1724cf653e2358d55415c3e943c707b00364ad594d6b19dad00bbe7fc1553",
}
# Module 2.0.0 keeps the defaults, except waste_sorting's corrected composting factor.
DEFAULT_HASHES_2 = {
    **DEFAULT_HASHES,
    "waste_sorting": "7e1119079939824aa91c7a51b690b97cf792aca3477b75f95f1b44ee001b7800",
}

EXAMPLES = {
    "public_transit": {
        "mode": "rail",
        "distance_km": 12.5,
        "started_at": "2025-03-01T08:00:00+08:00",
        "ended_at": "2025-03-01T08:20:00+08:00",
        "line": "K1",
    },
    "bike_sharing": {
        "bike_type": "ebike",
        "distance_km": "4",
        "started_at": "2025-03-01T18:00:00Z",
        "ended_at": "2025-03-01T18:20:00Z",
    },
    "waste_sorting": {
        "items": [{"category": "paper", "weight_kg": 2}, {"category": "glass", "weight_kg": 1}],
        "collected_at": "2025-03-01T09:00:00+08:00",
        "weighed": True,
    },
    "food_waste": {
        "kind": "small_portion",
        "meal_at": "2025-03-01T12:00:00+08:00",
        "diners": 2,
        "portion_reduction_kg": 0.1,
    },
}


def test_import_pulls_in_no_web_or_database_code():
    code = (
        "import sys, methodologies\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'sqlalchemy', 'backend'))\n"
        "print(bad, len(methodologies.available()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    bad, count = done.stdout.rsplit(" ", 1)
    assert bad == "[]"
    assert int(count) >= len(RESIDENT)


def test_resident_modules_are_registered():
    assert set(RESIDENT) <= set(methodologies.available())


@pytest.mark.parametrize("code", RESIDENT)
def test_resident_default_hashes_are_pinned(code):
    v1 = methodologies.registry.get_class(code, "1.0.0")
    v2 = methodologies.registry.get_class(code, "2.0.0")
    assert params_hash(v1.default_params()) == DEFAULT_HASHES[code]
    assert params_hash(v2.default_params()) == DEFAULT_HASHES_2[code]


@pytest.mark.parametrize("code", methodologies.available())
def test_default_hash_is_stable(code):
    defaults = methodologies.registry.get_class(code).default_params()
    reordered = dict(reversed(list(defaults.items())))
    padded = {k: Decimal(f"{v:f}0") if "." in f"{v:f}" else v for k, v in defaults.items()}
    assert params_hash(defaults) == params_hash(reordered) == params_hash(padded)
    assert re.fullmatch(r"[0-9a-f]{64}", params_hash(defaults))


@pytest.mark.parametrize("code", methodologies.available())
def test_every_parameter_has_a_source(code):
    cls = methodologies.registry.get_class(code)
    names = [p.name for p in cls.parameters]
    assert len(names) == len(set(names))
    assert re.fullmatch(r"\d+\.\d+\.\d+", cls.version)
    for p in cls.parameters:
        assert isinstance(p.value, Decimal) and p.value.is_finite(), p.name
        assert p.source.grade in {"A", "B", "C", "D"}, p.name
        assert p.source.document and 1990 <= p.source.year <= 2100, p.name
        assert p.label.zh_CN and p.label.en, p.name
        if p.source.grade == "D":
            assert p.source.illustrative, f"{p.name}: grade D values are illustrative"


@pytest.mark.parametrize("code", RESIDENT)
def test_resident_modules_declare_daily_caps(code):
    cls = methodologies.registry.get_class(code)
    defaults = cls.default_params()
    assert defaults["daily_cap_g"] > 0
    assert defaults["max_actions_per_day"] >= 1
    assert cls.name.zh_CN and cls.summary.en and cls.follows


def test_dedupe_groups():
    groups = {c: methodologies.registry.get_class(c).dedupe_group for c in RESIDENT}
    assert groups == {
        "public_transit": "travel",
        "bike_sharing": "travel",
        "waste_sorting": "waste",
        "food_waste": "meal",
    }


@pytest.mark.parametrize("code", RESIDENT)
def test_quantify_is_deterministic_in_integer_grams(code):
    m = methodologies.get(code)
    params = m.default_params()
    activity = json.loads(json.dumps(EXAMPLES[code]))
    assert m.validate(activity, params) == []
    first, second = m.quantify(activity, params), methodologies.get(code).quantify(activity, params)
    assert first == second
    assert json.dumps(first.as_dict(), ensure_ascii=False) == json.dumps(
        second.as_dict(), ensure_ascii=False
    )
    for grams in (first.baseline_g, first.project_g, first.reduction_g):
        assert type(grams) is int
    assert first.reduction_g > 0
    assert first.steps and all(s.expression and s.value for s in first.steps)


@pytest.mark.parametrize("code", RESIDENT)
def test_activity_schema_is_valid_and_matches_the_example(code):
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schema = methodologies.registry.get_class(code).activity_schema
    assert jsonschema_rs.meta.is_valid(schema)
    assert jsonschema_rs.is_valid(schema, EXAMPLES[code])


@settings(max_examples=60, deadline=None)
@given(
    code=st.sampled_from(["public_transit", "bike_sharing"]),
    metres=st.integers(min_value=-1000, max_value=80_000),
    seconds=st.integers(min_value=-600, max_value=4 * 3600),
    electric=st.booleans(),
)
def test_travel_never_negative(code, metres, seconds, electric):
    m = methodologies.get(code)
    start = datetime.fromisoformat("2025-03-01T08:00:00+08:00")
    activity = {
        "mode": "rail" if electric else "bus",
        "bike_type": "ebike" if electric else "pedal",
        "distance_km": Decimal(metres) / 1000,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=seconds)).isoformat(),
    }
    params = m.default_params()
    m.validate(activity, params)
    q = m.quantify(activity, params)
    assert type(q.reduction_g) is int and q.reduction_g >= 0


@pytest.mark.parametrize("code", methodologies.available())
def test_defaults_pass_the_parameter_check(code):
    cls = methodologies.registry.get_class(code)
    assert cls.check_params({k: str(v) for k, v in cls.default_params().items()}) == []


def test_parameter_check_finds_unknown_missing_and_bad_values():
    cls = methodologies.registry.get_class("bike_sharing")
    params = {k: str(v) for k, v in cls.default_params().items()}
    params["share_bus"] = "0.5"  # shares no longer sum to 1
    assert any("sum to 1" in p for p in cls.check_params(params))
    params.pop("share_car")
    params["surprise"] = "1"
    params["share_taxi"] = "lots"
    problems = cls.check_params(params)
    assert "unknown parameter surprise" in problems
    assert "missing parameter share_car" in problems
    assert "share_taxi is not a number" in problems
    transit = methodologies.registry.get_class("public_transit")
    switched = {k: str(v) for k, v in transit.default_params().items()} | {"baseline_method": "2"}
    assert any("baseline_method" in p for p in transit.check_params(switched))


class _Reads(dict):
    """An activity that remembers which fields were read."""

    def __init__(self, data):
        super().__init__(data)
        self.read = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


@pytest.mark.parametrize("code", RESIDENT)
def test_quantify_reads_only_its_declared_quantity_fields(code):
    module = methodologies.get(code)
    activity = _Reads(EXAMPLES[code])
    module.quantify(activity, module.default_params())
    assert activity.read, "the wrapper saw no read at all"
    if module.quantity_fields is None:
        return  # every field may matter; results are never reused
    assert activity.read <= set(module.quantity_fields)
    # and agreeing on those fields means the same result, whatever the others say
    other = {**EXAMPLES[code], "started_at": "2030-01-01T00:00:00+08:00", "note": "x"}
    assert module.quantify(other, module.default_params()) == module.quantify(
        EXAMPLES[code], module.default_params()
    )

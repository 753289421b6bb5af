"""Command line for the methodologies, with no app or database.

    python -m methodologies list [--json]
    python -m methodologies quantify CODE --activity '<json>' [--params '<json>']

``quantify`` prints one JSON object: code, version, params_hash, params, window,
baseline_g, project_g, reduction_g, steps and rejections. ``--params`` overrides single
parameter values of the published defaults (``{"ef_bus_g_pkm": 50}``); the hash is of the
parameter set actually used.

Exit codes:
    0  answered. A rejected activity is a valid answer: ``rejections`` is non-empty, the
       three gram fields are 0 and ``steps`` is empty.
    2  the question cannot be answered: unknown methodology code, invalid JSON, malformed
       activity (``ActivityError``), unknown or non-numeric parameter, or a parameter set
       the methodology refuses (e.g. shares not summing to 1). The message is on stderr.
       (argparse also exits 2 on bad usage.)
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from . import registry
from .base import ActivityError, Methodology, params_hash

EXIT_OK = 0
EXIT_INPUT = 2


class CliError(Exception):
    """A question the CLI cannot answer; the message goes to stderr, exit code 2."""


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} is not valid JSON: {exc}") from None


def _methodology(code: str) -> Methodology:
    try:
        return registry.get(code)
    except KeyError:
        known = ", ".join(registry.available())
        raise CliError(f"unknown methodology code {code!r} (known: {known})") from None


def _params(methodology: Methodology, text: str | None) -> dict[str, Decimal]:
    params = methodology.default_params()
    if text is None:
        return params
    overrides = _load_json(text, "--params")
    if not isinstance(overrides, dict):
        raise CliError("--params must be a JSON object of parameter name -> number")
    for name, raw in overrides.items():
        if name not in params:
            raise CliError(f"unknown parameter {name!r} for {methodology.code}")
        if isinstance(raw, bool) or not isinstance(raw, int | Decimal | str):
            raise CliError(f"parameter {name!r} must be a number")
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise CliError(f"parameter {name!r} must be a number") from None
        if not value.is_finite():
            raise CliError(f"parameter {name!r} must be a finite number")
        params[name] = value
    return params


def quantify(code: str, activity_text: str, params_text: str | None) -> dict[str, Any]:
    """The JSON answer of ``quantify``; ``CliError`` when it cannot be given."""
    methodology = _methodology(code)
    activity = _load_json(activity_text, "--activity")
    params = _params(methodology, params_text)
    try:
        rejections = methodology.validate(activity, params)
        window = methodology.window(activity)
        result = None if rejections else methodology.quantify(activity, params)
    except ActivityError as exc:
        raise CliError(
            f"malformed activity: {exc.field}: {exc.message.en} / {exc.message.zh_CN}"
        ) from None
    except (ValueError, KeyError) as exc:
        raise CliError(f"parameter set refused by {code}: {exc}") from None
    return {
        "code": methodology.code,
        "version": methodology.version,
        "params_hash": params_hash(params),
        "params": {name: str(value) for name, value in params.items()},
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "baseline_g": result.baseline_g if result else 0,
        "project_g": result.project_g if result else 0,
        "reduction_g": result.reduction_g if result else 0,
        "steps": [s.as_dict() for s in result.steps] if result else [],
        "rejections": [r.as_dict() for r in rejections],
    }


def describe_all() -> list[dict[str, Any]]:
    """Every registered methodology with its dedupe group and default parameter hash."""
    out = []
    for code in registry.available():
        cls = registry.get_class(code)
        out.append(
            {
                **cls.describe(),
                "dedupe_group": cls.dedupe_group,
                "params_hash": params_hash(cls.default_params()),
            }
        )
    return out


def list_text() -> str:
    """The human-readable catalogue printed by ``list``."""
    lines: list[str] = []
    for item in describe_all():
        lines.append(
            f"{item['code']} {item['version']}  {item['name']['zh_CN']} / {item['name']['en']}"
        )
        lines.append(f"  follows: {item['follows']}")
        lines.append(
            f"  dedupe group: {item['dedupe_group']}   default params hash: {item['params_hash']}"
        )
        lines.append("  parameters:")
        for p in item["parameters"]:
            src = p["source"]
            flags = src["grade"] + (", illustrative" if src["illustrative"] else "")
            note = f" — {src['note']}" if src["note"] else ""
            lines.append(
                f"    {p['name']} = {p['value']} {p['unit']}  [{flags}] "
                f"{src['document']} ({src['year']}){note}"
            )
        lines.append("")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m methodologies",
        description="Quantify carbon-inclusion activities without the app or database.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="every methodology with its parameters and sources")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    q = sub.add_parser("quantify", help="quantify one activity and print JSON")
    q.add_argument("code", help="methodology code, e.g. public_transit")
    q.add_argument("--activity", required=True, help="the activity as a JSON object")
    q.add_argument("--params", help="JSON object overriding single parameter values")
    return parser


def _utf8(stream: Any) -> None:
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    _utf8(sys.stdout)
    _utf8(sys.stderr)
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            if args.json:
                print(json.dumps(describe_all(), ensure_ascii=False, indent=2))
            else:
                print(list_text())
            return EXIT_OK
        answer = quantify(args.code, args.activity, args.params)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

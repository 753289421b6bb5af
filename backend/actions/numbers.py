"""Exact numbers from JSON (DESIGN.md invariant 4: never through float).

``json.loads`` turns ``2.49999999999999999`` into the float 2.5, so the same trip sent as
JSON and as CSV could earn different grams. Wherever activity data enters as JSON (a
partner's JSON batch or JSON Lines file, a counter claim, a resident's self-report), it is
read with ``loads``: integers stay integers, and every other number is kept as its exact
decimal text, which the methodologies read with ``Decimal`` (as they read CSV fields).
"""

from __future__ import annotations

import json
from typing import Any


def _exact(literal: str) -> str:
    return literal  # the number exactly as written; Decimal(literal) reads it without loss


# One decoder for every call: ``json.loads`` with hooks builds a new one each time (about
# half the cost of decoding a partner record's line).
_DECODER = json.JSONDecoder(parse_float=_exact, parse_constant=_exact)


def loads(text: str | bytes) -> Any:
    """``json.loads`` with non-integer numbers (and NaN/Infinity, refused later as not
    finite) kept as their exact text."""
    if isinstance(text, str) and not text.startswith("\ufeff"):
        return _DECODER.decode(text)  # what json.loads does with a str, minus the set-up
    return json.loads(text, parse_float=_exact, parse_constant=_exact)

"""Finding words meant for programmers in what people read: snake_case names (field names,
codes like ``portion_reduction_kg`` or ``duplicate``) and our file names (``events_forest.md``).

``internal_words(text)`` lists them, less an allow-list of words people do read (units,
brand names). Used by the page crawl (tests/web/test_plain_words.py) and the browser journeys
(tests/e2e), on pages, CSV files meant for people, and PDF text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

SNAKE = re.compile(r"(?<![\w/.-])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![\w/-])")
FILE = re.compile(r"(?<![\w/])[\w-]+\.(?:py|md|json|html|jinja|txt|yaml|yml|toml|po|mo)\b")
ALLOWED = {
    # units and chemistry people read on a carbon page
    "CO2e",
}


def internal_words(text: str) -> list[str]:
    found = {m.group(0) for m in SNAKE.finditer(text)} | {m.group(0) for m in FILE.finditer(text)}
    return sorted(w for w in found if w not in ALLOWED)


class _Visible(HTMLParser):
    """The text of a page a person sees or hears (not scripts, styles or attribute values,
    but with ``alt``, ``title``, ``aria-label`` and ``placeholder`` texts). An element marked
    ``data-audit`` (a collapsed full calculation, formulas as published) is left out: it is
    the audit trail one tap away, not the words the page speaks in. So is an element marked
    ``translate="no"``: a credential or code people copy character by character (a partner's
    key ID and secret), not words."""

    SKIP = {"script", "style", "template"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0
        self._audit: list[str] = []  # the open audit element's tag, repeated per nesting

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        opens_audit = not self._audit and any(
            name == "data-audit" or (name == "translate" and value == "no") for name, value in attrs
        )
        if opens_audit or (self._audit and tag == self._audit[0]):
            self._audit.append(tag)
        if tag in self.SKIP:
            self._skip += 1
        if self._audit:
            return
        for name, value in attrs:
            if name in ("alt", "title", "aria-label", "placeholder") and value:
                self.parts.append(value)
        if tag == "option":
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if self._audit and tag == self._audit[0]:
            self._audit.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._audit:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)

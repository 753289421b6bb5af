"""Merge zh_CN translations from a JSON file {msgid: msgstr} into the zh_CN catalog.

Usage: python tools/fill_translations.py FILE.json
Run ``make translations`` first so the catalog has every msgid; entries already translated
are overwritten only when the JSON file gives a translation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = (
    Path(__file__).resolve().parent.parent
    / "backend/translations/zh_Hans_CN/LC_MESSAGES/messages.po"
)


def main(path: str) -> None:
    table = json.loads(Path(path).read_text(encoding="utf-8"))
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh_Hans_CN")
    for message in catalog:
        if message.id and message.id in table:
            message.string = table[message.id]
            message.flags.discard("fuzzy")
    with PO.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True, no_location=True)
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"{len(missing)} untranslated")
    for msgid in missing:
        print("  ", msgid)


if __name__ == "__main__":
    main(sys.argv[1])

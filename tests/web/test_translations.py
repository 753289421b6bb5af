"""Every user-facing string has a Chinese translation (zh_CN is the default language)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "backend/translations/zh_Hans_CN/LC_MESSAGES/messages.po"


def test_every_message_in_the_code_is_translated_to_chinese(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh_Hans_CN")
    translated = {m.id for m in catalog if m.id and m.string and "fuzzy" not in m.flags}
    missing = sorted(str(m) for m in wanted - translated)
    assert not missing, "run `make translations` and translate:\n" + "\n".join(missing)


def test_credited_is_said_one_way_not_with_a_homophone():
    """已记入 (entered) and 已计入 (counted) sound the same: a resident's outcome is 已加分 /
    重复未加分, and 已计入 stays only in forest-credit accounting (碳汇, tonnes)."""
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh_Hans_CN")
    texts = [str(m.string) for m in catalog if m.id and m.string]
    assert not [t for t in texts if "已记入" in t or "已经记入" in t]
    assert not [t for t in texts if "已计入" in t and not ("碳汇" in t or "吨" in t)]

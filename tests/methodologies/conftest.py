"""Shared setup for the methodology tests.

The repository root goes first on ``sys.path`` so ``import methodologies`` loads this
checkout's package (with its ``__init__``, which registers the modules) even when the
venv's editable install maps it as a namespace package.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

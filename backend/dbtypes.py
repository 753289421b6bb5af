"""Column types shared by the models."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Enum


def str_enum(cls: type[enum.Enum], length: int = 20) -> Any:
    """Store a StrEnum by its value (not its name) in a VARCHAR with a CHECK constraint."""
    return Enum(
        cls,
        native_enum=False,
        length=length,
        create_constraint=True,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        name=cls.__name__.lower(),
    )

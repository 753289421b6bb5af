"""Registry of methodology classes keyed by their stable code."""

from __future__ import annotations

from .base import Methodology

_REGISTRY: dict[str, type[Methodology]] = {}


def register(cls: type[Methodology]) -> type[Methodology]:
    """Class decorator: make a methodology available under its code."""
    if cls.code in _REGISTRY and _REGISTRY[cls.code] is not cls:
        raise ValueError(f"methodology code {cls.code!r} registered twice")
    _REGISTRY[cls.code] = cls
    return cls


def get(code: str) -> Methodology:
    """An instance of the methodology with this code; KeyError if unknown."""
    return _REGISTRY[code]()


def get_class(code: str) -> type[Methodology]:
    return _REGISTRY[code]


def available() -> list[str]:
    return sorted(_REGISTRY)

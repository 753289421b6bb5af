"""Registry of methodology classes keyed by their stable code and module version.

A code may have several module versions (a new rounding rule, a corrected factor): every
approved methodology version names the module version it was approved with, and is always
quantified by exactly that class, so versions already in force keep recomputing as they did.
Without a version, ``get``/``get_class`` give the latest module version of a code.
"""

from __future__ import annotations

from .base import Methodology

_REGISTRY: dict[str, dict[str, type[Methodology]]] = {}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def register(cls: type[Methodology]) -> type[Methodology]:
    """Class decorator: make a methodology module version available under its code."""
    versions = _REGISTRY.setdefault(cls.code, {})
    if cls.version in versions and versions[cls.version] is not cls:
        raise ValueError(f"methodology {cls.code!r} {cls.version} registered twice")
    versions[cls.version] = cls
    return cls


def get_class(code: str, version: str | None = None) -> type[Methodology]:
    """The class of a code's module ``version`` (the latest without one); KeyError if unknown."""
    versions = _REGISTRY[code]
    if version is None:
        return versions[max(versions, key=_key)]
    return versions[version]


def get(code: str, version: str | None = None) -> Methodology:
    """An instance of the methodology with this code (and module version); KeyError if unknown."""
    return get_class(code, version)()


def module_versions(code: str) -> list[str]:
    """The module versions registered for a code, oldest first."""
    return sorted(_REGISTRY[code], key=_key)


def available() -> list[str]:
    return sorted(_REGISTRY)

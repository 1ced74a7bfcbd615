"""Load the audit configuration: `defaults.toml` plus an optional user override file.

Every value in `defaults.toml` is written as `key = { value = ..., source = "..." }`. An
override file gives plain values (`[testing] lookback_days = 120`). Unknown sections or
keys, and values of the wrong type, are refused with a `UserError` naming the key.

    >>> cfg = load_config()
    >>> cfg["testing"]["lookback_days"]
    90
    >>> cfg.source("testing", "lookback_days")[:8]
    'RULES.md'
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pipeline.errors import UserError
from pipeline.paths import DEFAULTS_TOML


class Config(Mapping):
    """Read-only mapping section -> {key: value}, with the source of each default."""

    def __init__(self, values: dict[str, dict[str, Any]], sources: dict[str, dict[str, str]],
                 origin: str = "defaults"):
        self._values = MappingProxyType({s: MappingProxyType(dict(v)) for s, v in values.items()})
        self._sources = sources
        self.origin = origin

    def __getitem__(self, section: str) -> Mapping[str, Any]:
        return self._values[section]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source(self, section: str, key: str) -> str:
        """The documented source of a default value."""
        return self._sources[section][key]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {s: {k: _thaw(v) for k, v in vals.items()} for s, vals in self._values.items()}

    def hash(self) -> str:
        """SHA-256 of the effective values, for the report manifest."""
        blob = json.dumps(self.as_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]], origin: str = "overrides") -> "Config":
        """A new Config with some values changed (checked like an override file)."""
        values = self.as_dict()
        for section, keys in overrides.items():
            if section not in values:
                raise UserError(f"{origin}: unknown config section [{section}]; known: {', '.join(sorted(values))}")
            if not isinstance(keys, Mapping):
                raise UserError(f"{origin}: [{section}] must be a table of key = value")
            for key, new in keys.items():
                if key not in values[section]:
                    raise UserError(f"{origin}: unknown config key {section}.{key}; known in [{section}]: "
                                    f"{', '.join(sorted(values[section]))}")
                values[section][key] = _check_type(new, values[section][key], f"{section}.{key}", origin)
        return Config(values, self._sources, origin)


def _thaw(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _check_type(new: Any, default: Any, key: str, origin: str) -> Any:
    if isinstance(default, bool):
        ok = isinstance(new, bool)
    elif isinstance(default, float):
        ok = isinstance(new, (int, float)) and not isinstance(new, bool)
        new = float(new) if ok else new
    elif isinstance(default, int):
        ok = isinstance(new, int) and not isinstance(new, bool)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(new, list)
    else:
        ok = isinstance(new, type(default))
    if not ok:
        raise UserError(f"{origin}: {key} must be {type(default).__name__} like the default "
                        f"{default!r}, got {new!r}")
    if isinstance(new, (int, float)) and not isinstance(new, bool) and new < 0:
        raise UserError(f"{origin}: {key} must not be negative, got {new!r}")
    return new


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None


def load_defaults() -> Config:
    raw = _read_toml(DEFAULTS_TOML)
    values: dict[str, dict[str, Any]] = {}
    sources: dict[str, dict[str, str]] = {}
    for section, keys in raw.items():
        values[section], sources[section] = {}, {}
        for key, spec in keys.items():
            values[section][key] = spec["value"]
            sources[section][key] = spec["source"]
    return Config(values, sources)


def load_config(path: str | Path | None = None) -> Config:
    """Defaults, overridden by the TOML file at `path` when given."""
    cfg = load_defaults()
    if path is None:
        return cfg
    path = Path(path)
    return cfg.with_overrides(_read_toml(path), origin=str(path))

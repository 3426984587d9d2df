"""Knob and Config: the seam between the compiler and the autotuner.

A Knob is one choice a pass or an emitter could make either way. Passes and emitters declare
their knobs for the module they are given and read the values from a Config; the autotuner
only ever sees knobs and writes Configs. A Config is plain JSON; a missing entry means the
knob's default (what the heuristics pick).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Iterable

from .errors import XltuneError

JSONScalar = (bool, int, float, str, type(None))


class ConfigError(XltuneError):
    """A Config names a value a knob does not allow."""


@dataclass(frozen=True)
class Knob:
    name: str                 # stable, dotted: "fusion.fuse_into_reduction", "cpu.divide.8.vector_width"
    choices: tuple            # finite and ordered; JSON scalars
    default: Any
    doc: str = ""
    owner: str = ""           # the pass or emitter that declared it

    def __post_init__(self):
        object.__setattr__(self, "choices", tuple(self.choices))
        if not self.choices:
            raise ValueError(f"knob {self.name} has no choices")
        for c in self.choices:
            if not isinstance(c, JSONScalar):
                raise ValueError(f"knob {self.name}: choice {c!r} is not a JSON scalar")
        if self.default not in self.choices:
            raise ValueError(f"knob {self.name}: default {self.default!r} not among {self.choices}")

    def to_dict(self) -> dict:
        return {"name": self.name, "choices": list(self.choices), "default": self.default,
                "doc": self.doc, "owner": self.owner}


class Config(Mapping):
    """An immutable mapping knob name -> value. Hashable; round-trips through JSON."""

    __slots__ = ("_values", "_hash")

    def __init__(self, values: Mapping | Iterable | None = None, **kw):
        vals = dict(values or {})
        vals.update(kw)
        for k, v in vals.items():
            if not isinstance(k, str):
                raise ConfigError(f"config keys are knob names (str), got {k!r}")
            if not isinstance(v, JSONScalar):
                raise ConfigError(f"config value for {k} must be a JSON scalar, got {v!r}")
        self._values = dict(sorted(vals.items()))
        self._hash = None

    # Mapping protocol
    def __getitem__(self, k):
        return self._values[k]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self.to_json())
        return self._hash

    def __eq__(self, other):
        if isinstance(other, Config):
            return self._values == other._values
        if isinstance(other, Mapping):
            return self._values == dict(other)
        return NotImplemented

    def __repr__(self):
        return f"Config({self._values!r})"

    def value(self, knob: Knob):
        """The value this config gives the knob (its default when unset)."""
        if knob.name not in self._values:
            return knob.default
        v = self._values[knob.name]
        if v not in knob.choices:
            raise ConfigError(f"config sets {knob.name}={v!r}, but the knob allows {list(knob.choices)}")
        return v

    def with_values(self, **updates) -> "Config":
        d = dict(self._values)
        d.update(updates)
        return Config(d)

    def merged(self, other: Mapping) -> "Config":
        d = dict(self._values)
        d.update(other)
        return Config(d)

    def without_defaults(self, knobs: Iterable[Knob]) -> "Config":
        """Drop entries equal to their knob's default (the canonical, minimal form)."""
        by = {k.name: k for k in knobs}
        return Config({k: v for k, v in self._values.items() if k not in by or by[k].default != v})

    def to_json(self) -> str:
        return json.dumps(self._values, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Config":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise ConfigError("config JSON must be an object")
        return cls(d)

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def as_config(c) -> Config:
    if c is None:
        return Config()
    if isinstance(c, Config):
        return c
    if isinstance(c, str):
        return Config.from_json(c)
    if isinstance(c, Mapping):
        return Config(c)
    raise ConfigError(f"expected a Config, dict or JSON string, got {type(c).__name__}")


def schema_digest(knobs: Iterable[Knob]) -> str:
    """Identifies a knob schema (names and choices): tuned configs are only reused under the same."""
    body = json.dumps(sorted((k.name, list(k.choices)) for k in knobs))
    return hashlib.sha256(body.encode()).hexdigest()[:16]

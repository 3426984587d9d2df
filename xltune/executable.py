"""The result of compile(): call it with numpy arrays; read .stages, .config, .stats."""
from __future__ import annotations

from collections.abc import ItemsView, ValuesView
from typing import Callable

import numpy as np

from .config import Config
from .errors import ArgumentError
from .ir.types import TensorType, TupleType


class _Pending:
    """A stage's text not made yet: `producer()` makes it on first read."""

    __slots__ = ("producer",)

    def __init__(self, producer: Callable[[], str]):
        self.producer = producer


class Stages(dict):
    """`exe.stages`: an ordered {stage name: text} dict whose entries may be made on first read.

    Some stages cost more to make than everything else in a compile (the CPU backend's
    assembly listing is a third of LLVM's time) and most compiles are never shown, so a backend
    can register a producer instead of the text (`set_lazy`). Every way of reading the dict --
    `[]`, get, items, values, iteration with lookups, ==, repr, copy, json.dumps, dict(...),
    {**stages} -- sees the text: reading an entry makes it once and keeps it. (CPython's
    fast paths for dict subclasses copy raw values only when `__iter__` is dict's own, which
    is why it is overridden here.)
    """

    def set_lazy(self, name: str, producer: Callable[[], str]) -> None:
        dict.__setitem__(self, name, _Pending(producer))

    def is_made(self, name: str) -> bool:
        """Whether the stage's text exists already (reading it costs nothing more)."""
        return not isinstance(dict.get(self, name), _Pending)

    def __getitem__(self, name):
        v = dict.__getitem__(self, name)
        if isinstance(v, _Pending):
            v = v.producer()
            dict.__setitem__(self, name, v)
        return v

    def get(self, name, default=None):
        return self[name] if name in self else default

    def __iter__(self):
        return dict.__iter__(self)

    def items(self):
        return ItemsView(self)

    def values(self):
        return ValuesView(self)

    def made(self) -> dict:
        """A plain dict with every stage's text (making the pending ones)."""
        return {k: self[k] for k in self}

    def copy(self) -> "Stages":
        return Stages(self.made())

    def pop(self, name, *default):
        if name in self:
            v = self[name]
            dict.__delitem__(self, name)
            return v
        if default:
            return default[0]
        raise KeyError(name)

    def popitem(self):
        name = next(reversed(self))   # LIFO, as dict
        return name, self.pop(name)

    def setdefault(self, name, default=None):
        if name not in self:
            self[name] = default
        return self[name]

    def __eq__(self, other):
        if not isinstance(other, dict):
            return NotImplemented
        return self.made() == (other.made() if isinstance(other, Stages) else other)

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __or__(self, other):
        if not isinstance(other, dict):
            return NotImplemented
        return Stages({**self, **other})

    def __ror__(self, other):
        if not isinstance(other, dict):
            return NotImplemented
        return Stages({**other, **self})

    def __reduce__(self):
        return (Stages, (self.made(),))

    def __repr__(self):
        return repr(self.made())


def lazy_stage(stages: dict, name: str, producer: Callable[[], str]) -> None:
    """stages[name] made on first read when stages is a Stages; made now in a plain dict."""
    if isinstance(stages, Stages):
        stages.set_lazy(name, producer)
    else:
        stages[name] = producer()


class Executable:
    def __init__(self, module, backend: str, runner, stages: dict, config: Config, stats: dict):
        self.module = module              # the module as the backend received it
        self.backend = backend
        self.runner = runner
        self.stages = stages if isinstance(stages, Stages) else Stages(stages)  # ordered {name: text}
        self.config = config
        self.stats = stats
        entry = module.entry
        self.param_types = [p.type for p in entry.params]
        self.param_names = [p.name for p in entry.params]
        self.output_types = [o.type for o in entry.outputs]

    # ---- calling --------------------------------------------------------------------------------
    def check_args(self, args) -> list:
        if len(args) != len(self.param_types):
            sig = ", ".join(str(t) for t in self.param_types)
            raise ArgumentError(f"expected {len(self.param_types)} argument(s) ({sig}), got {len(args)}")
        out = []
        for i, (a, t) in enumerate(zip(args, self.param_types)):
            if not isinstance(t, TensorType):
                out.append(a)
                continue
            if not isinstance(a, np.ndarray):
                if np.isscalar(a) or isinstance(a, (list, tuple)) or hasattr(a, "__array__"):
                    try:
                        a = np.asarray(a, dtype=t.dtype.np_dtype)
                    except (TypeError, ValueError, OverflowError) as e:
                        raise ArgumentError(f"argument {i} (%{self.param_names[i]}): cannot convert "
                                            f"{type(a).__name__} to {t}: {e}") from None
                else:
                    raise ArgumentError(f"argument {i} (%{self.param_names[i]}): expected an array of "
                                        f"type {t}, got {type(a).__name__}")
            if a.dtype != t.dtype.np_dtype:
                raise ArgumentError(f"argument {i} (%{self.param_names[i]}): expected dtype "
                                    f"{t.dtype.np_dtype} ({t}), got {a.dtype}")
            if tuple(a.shape) != t.shape:
                raise ArgumentError(f"argument {i} (%{self.param_names[i]}): expected shape "
                                    f"{t.shape} ({t}), got {tuple(a.shape)}")
            out.append(a)
        return out

    def __call__(self, *args):
        outs = self.runner.run(self.check_args(args))
        if len(outs) == 1:
            return outs[0]
        return tuple(outs)

    # ---- measuring --------------------------------------------------------------------------------
    def profile(self, *args, budget_s: float = 0.5):
        """A DataFrame: whole-program time (median, IQR, noisy flag) and, where the backend's
        runner offers per-kernel timing, one row per kernel. No args: random inputs."""
        from .reports.profile import profile_frame
        return profile_frame(self, args or None, budget_s=budget_s)

    # ---- display ----------------------------------------------------------------------------------
    def __repr__(self) -> str:
        sig = ", ".join(str(t) for t in self.param_types)
        res = ", ".join(str(t) for t in self.output_types)
        return (f"<xltune.Executable backend={self.backend} ({sig}) -> ({res}), "
                f"{len(self.stages)} stages, config_source={self.stats.get('config_source')}>")

    def _repr_pretty_(self, p, cycle):
        from .reports.summary import Summary
        p.text(repr(self) if cycle else Summary(self).text())

    def _repr_html_(self) -> str:
        from .reports.summary import Summary
        return Summary(self).html()


def output_arity(t) -> int:
    return len(t.elements) if isinstance(t, TupleType) else 1

"""The result of compile(): call it with numpy arrays; read .stages, .config, .stats."""
from __future__ import annotations

import numpy as np

from .config import Config
from .errors import ArgumentError
from .ir.types import TensorType, TupleType


class Executable:
    def __init__(self, module, backend: str, runner, stages: dict, config: Config, stats: dict):
        self.module = module              # the module as the backend received it
        self.backend = backend
        self.runner = runner
        self.stages = stages              # ordered {stage name: text}
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

"""Pass, Pipeline and the spec grammar.

A pass is a small named class: `run(module, config, ctx) -> bool` (did it change anything) and
`knobs(module) -> list[Knob]` (the choices it could make either way for this module). Passes
are registered by name; a pipeline is built from a spec string:

    spec  := item (',' item)*
    item  := NAME                              a registered pass, or an alias (see ALIASES)
           | 'fixed-point' ['<' INT '>'] '(' spec ')'
                                               run the inner spec until no pass changes the
                                               module (at most INT rounds, default 16)

`simplify` is an alias for `fixed-point(dce,cse,constant-folding,algebraic)`; the CPU
backend's default pipeline is `simplify,fusion,buffers`.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ..config import Config, Knob, as_config
from ..errors import VerificationError, XltuneError
from ..ir.module import Module

PASSES: dict[str, type["Pass"]] = {}
ALIASES: dict[str, str] = {
    "simplify": "fixed-point(dce,cse,constant-folding,algebraic)",
}
DEFAULT_FIXED_POINT_ROUNDS = 16


class PipelineSpecError(XltuneError):
    """A pipeline spec string names an unknown pass or is malformed."""


class Pass:
    """One rewrite (or analysis) of a module. Subclasses set `name` and implement `run`."""

    name: str = ""
    # Record the module text as stage `name` when the pass changed it (False: the pass records
    # its own stages through ctx.add_stage).
    records_stage: bool = True

    def run(self, module: Module, config: Config, ctx: "PassContext") -> bool:
        raise NotImplementedError

    def knobs(self, module: Module, config: Config | None = None) -> list[Knob]:
        """The knobs this pass would read for module (under config: per-candidate knobs depend on
        the other choices)."""
        return []

    def __repr__(self) -> str:
        return self.name


class ComputationPass(Pass):
    """A pass that rewrites every function on its own: `rewrite(comp)` returns how many
    instructions it removed or replaced (counted in stats["changes"][name])."""

    def rewrite(self, comp) -> int:
        raise NotImplementedError

    def run(self, module: Module, config: Config, ctx: "PassContext") -> bool:
        n = sum(self.rewrite(f) for f in module.functions.values())
        if n:
            ctx.count("changes", self.name, n)
        return n > 0


def register(cls: type[Pass]) -> type[Pass]:
    """Class decorator: make a pass available to spec strings under its `name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    PASSES[cls.name] = cls
    return cls


@dataclass
class PassContext:
    """What a running pipeline shares with its passes."""
    stages: dict
    stats: dict
    verify: bool = False
    collect_knobs: list | None = None   # when a list: every pass's knobs are appended before it runs
    record_text: bool = True            # False: no module text in stages (knob collection)
    notes: dict = field(default_factory=dict)  # per-pass scratch (e.g. rule counts)

    def add_stage(self, name: str, text) -> None:
        if self.record_text:
            self.stages[name] = text() if callable(text) else text

    def count(self, key: str, sub: str, n: int = 1) -> None:
        """stats[key][sub] += n (rule and decision counters)."""
        d = self.stats.setdefault(key, {})
        d[sub] = d.get(sub, 0) + n


# ---- pipeline structure ---------------------------------------------------------------------------
class Pipeline:
    """A sequence of passes and fixed-point groups."""

    def __init__(self, items: list):
        self.items = list(items)

    @classmethod
    def parse(cls, spec: str) -> "Pipeline":
        return _Parser(spec).parse()

    def leaf_passes(self) -> list[Pass]:
        out = []
        for it in self.items:
            out.extend(it.leaf_passes() if isinstance(it, (Pipeline, FixedPoint)) else [it])
        return out

    def run(self, module: Module, config: Config, ctx: PassContext) -> bool:
        changed = False
        for it in self.items:
            if isinstance(it, FixedPoint):
                changed |= it.run(module, config, ctx)
            else:
                changed |= _run_one(it, module, config, ctx)
        return changed

    def __str__(self) -> str:
        return ",".join(str(it) for it in self.items)


class FixedPoint:
    """Run an inner pipeline until a whole round changes nothing (or `rounds` rounds)."""

    def __init__(self, inner: Pipeline, rounds: int = DEFAULT_FIXED_POINT_ROUNDS):
        self.inner = inner
        self.rounds = rounds

    def leaf_passes(self) -> list[Pass]:
        return self.inner.leaf_passes()

    def run(self, module: Module, config: Config, ctx: PassContext) -> bool:
        changed_any = False
        for i in range(self.rounds):
            if not self.inner.run(module, config, ctx):
                ctx.stats.setdefault("fixed_point_rounds", []).append(i + 1)
                return changed_any
            changed_any = True
        ctx.stats.setdefault("fixed_point_rounds", []).append(self.rounds)
        ctx.stats.setdefault("warnings", []).append(
            f"fixed-point({self.inner}) still changing after {self.rounds} rounds")
        return changed_any

    def __str__(self) -> str:
        n = "" if self.rounds == DEFAULT_FIXED_POINT_ROUNDS else f"<{self.rounds}>"
        return f"fixed-point{n}({self.inner})"


def _run_one(p: Pass, module: Module, config: Config, ctx: PassContext) -> bool:
    if ctx.collect_knobs is not None:
        ctx.collect_knobs.extend(p.knobs(module, config))
    t0 = time.perf_counter()
    changed = bool(p.run(module, config, ctx))
    dt = time.perf_counter() - t0
    secs = ctx.stats.setdefault("pass_seconds", {})
    secs[p.name] = secs.get(p.name, 0.0) + dt
    ctx.stats.setdefault("passes", []).append({"pass": p.name, "seconds": dt, "changed": changed})
    if changed and p.records_stage:
        ctx.add_stage(p.name, lambda: str(module))
    if ctx.verify:
        verify_module(module, after=p.name)
    return changed


# ---- the spec grammar ---------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_\-.]*)|(?P<int><\s*\d+\s*>)|(?P<punct>[(),]))")


class _Parser:
    def __init__(self, spec: str, depth: int = 0):
        if not isinstance(spec, str):
            raise PipelineSpecError(f"a pipeline spec is a string such as 'simplify,fusion,buffers', "
                                    f"got {type(spec).__name__}")
        self.spec = spec
        self.toks = self._lex(spec)
        self.i = 0
        self.depth = depth

    def _lex(self, s: str) -> list[tuple[str, str, int]]:
        out, pos = [], 0
        while pos < len(s):
            if s[pos:].strip() == "":
                break
            m = _TOKEN.match(s, pos)
            if not m or m.end() == pos:
                raise PipelineSpecError(f"pipeline spec {s!r}: unexpected {s[pos:].strip()[:20]!r} "
                                        f"at column {pos + 1}")
            kind = m.lastgroup
            out.append((kind, m.group(kind).replace(" ", ""), m.start(kind)))
            pos = m.end()
        return out

    def _peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None, len(self.spec))

    def _expect(self, kind, value=None):
        k, v, pos = self._peek()
        if k != kind or (value is not None and v != value):
            want = value or kind
            got = v if v is not None else "end of spec"
            raise PipelineSpecError(f"pipeline spec {self.spec!r}: expected {want!r} at column {pos + 1}, "
                                    f"got {got!r}")
        self.i += 1
        return v

    def parse(self) -> Pipeline:
        p = self._seq()
        if self.i != len(self.toks):
            _, v, pos = self._peek()
            raise PipelineSpecError(f"pipeline spec {self.spec!r}: unexpected {v!r} at column {pos + 1}")
        return p

    def _seq(self) -> Pipeline:
        items = [self._item()]
        while self._peek()[1] == ",":
            self.i += 1
            items.append(self._item())
        return Pipeline(items)

    def _item(self):
        name = self._expect("name")
        if name == "fixed-point":
            rounds = DEFAULT_FIXED_POINT_ROUNDS
            if self._peek()[0] == "int":
                rounds = int(self._expect("int").strip("<>"))
                if rounds < 1:
                    raise PipelineSpecError(f"pipeline spec {self.spec!r}: fixed-point needs at least one round")
            self._expect("punct", "(")
            inner = self._seq()
            self._expect("punct", ")")
            return FixedPoint(inner, rounds)
        if name in ALIASES:
            if self.depth > 8:
                raise PipelineSpecError(f"pipeline alias {name!r} expands into itself")
            sub = _Parser(ALIASES[name], self.depth + 1).parse()
            return sub.items[0] if len(sub.items) == 1 else sub
        if name not in PASSES:
            known = ", ".join(sorted(set(PASSES) | set(ALIASES) | {"fixed-point(...)"}))
            raise PipelineSpecError(f"pipeline spec {self.spec!r}: unknown pass {name!r} (known: {known})")
        return PASSES[name]()


# ---- verification ---------------------------------------------------------------------------------------
def verify_module(module: Module, after: str = "") -> None:
    """The IR verifier plus the invariants passes rely on (invariants.py)."""
    from ..ir.verifier import verify
    from .invariants import check_invariants
    try:
        verify(module)
        check_invariants(module)
    except VerificationError as e:
        if not after:
            raise
        raise VerificationError(f"after pass '{after}': {e.message}", e.loc) from None


# ---- the driver's API ------------------------------------------------------------------------------------
def run_pipeline(module: Module, spec: str, config, stages: dict, stats: dict,
                 verify: bool = False) -> Module:
    """Run the passes of `spec` over module (mutating it); record stages and stats; return it."""
    from .analysis import count_kernels
    from .buffers import naive_bytes
    config = as_config(config)
    pipeline = Pipeline.parse(spec)
    stats["pipeline"] = str(pipeline)
    stats.setdefault("naive_bytes_unfused", naive_bytes(module.entry))
    ctx = PassContext(stages, stats, verify=verify)
    if verify:
        verify_module(module, after="")
    pipeline.run(module, config, ctx)
    stats["kernels"] = count_kernels(module.entry)
    return module


def pipeline_knobs(module: Module, spec: str, config=None) -> list[Knob]:
    """The knobs the passes of `spec` declare for module, in pipeline order, each once.

    Each pass declares its knobs for the module as it will receive it, so the pipeline runs on
    a copy (with `config`) to get there; `module` itself is not changed."""
    config = as_config(config)
    found: list[Knob] = []
    ctx = PassContext({}, {}, collect_knobs=found, record_text=False)
    Pipeline.parse(spec).run(module.clone(), config, ctx)
    out, seen = [], set()
    for k in found:
        if k.name not in seen:
            seen.add(k.name)
            out.append(k)
    return out

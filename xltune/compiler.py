"""The pipeline driver: program -> Module -> passes -> backend -> Executable.

Data flows one way: the frontend makes a Module, the pass pipeline rewrites a copy of it,
the backend builds a runner from the result. Every stage leaves its text in `stages`.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from . import compile_cache
from .backends import get_backend
from .config import Config, as_config
from .errors import XltuneError
from .executable import Executable, Stages
from .ir.module import Module


def program_text(program) -> tuple[str, str | None] | None:
    """(text, path it came from) of StableHLO text, a .mlir path or a Module (its printed form),
    without parsing; None for a function (its text is known once it is traced)."""
    if isinstance(program, Module):
        return str(program), None
    if isinstance(program, Path) or (isinstance(program, str) and program.endswith(".mlir")
                                      and "\n" not in program):
        path = Path(program)
        try:
            return path.read_text(), str(path)
        except OSError as e:
            raise XltuneError(f"{path}: cannot read the program: {e.strerror or e}") from None
    if isinstance(program, str):
        return program, None
    return None


def load_program(program, specs=None) -> tuple[Module, str]:
    """A Module and the text the user gave (or its printed form) from text, a path, a Module or a function."""
    from .frontend.stablehlo import parse

    if isinstance(program, Module):
        return program.clone(), str(program)
    found = program_text(program)
    if found is not None:
        text, path = found
        return (parse(text, source=path) if path else parse(text)), text
    if callable(program):
        from .frontend.trace import trace
        module = trace(program, *(specs or ()))
        return module, str(module)
    raise XltuneError(f"cannot compile a {type(program).__name__}: give StableHLO text, a .mlir path, "
                      f"a Module or a Python function")


def resolve_config(module: Module, backend, config, use_tuned: bool) -> tuple[Config, str]:
    """The Config to build with and where it came from: 'explicit', 'tuned' or 'default'."""
    if config is not None:
        return as_config(config), "explicit"
    if use_tuned and os.environ.get("XLTUNE_NO_TUNED") != "1":
        try:
            from .autotune.cache import lookup_tuned
        except ImportError:
            lookup_tuned = None
        if lookup_tuned is not None:
            found = lookup_tuned(module, backend)
            if found is not None:
                return found, "tuned"
    return Config(), "default"


def verify_between_passes() -> bool:
    return os.environ.get("XLTUNE_VERIFY", "") not in ("", "0")


def optimize(module: Module, backend, config: Config, stages: dict, stats: dict,
             pipeline: str | None = None) -> Module:
    """Run the backend's pass pipeline (or `pipeline`) over module; records stages and stats."""
    if not backend.runs_passes:
        return module
    from .passes import run_pipeline
    return run_pipeline(module, backend.default_pipeline if pipeline is None else pipeline, config, stages, stats,
                        verify=verify_between_passes())


def build(module: Module, backend, config: Config, stages: dict, stats: dict, t0: float | None = None) -> Executable:
    """Hand an optimized module to the backend and wrap the runner in an Executable."""
    t0 = time.perf_counter() if t0 is None else t0
    if not isinstance(stages, Stages):
        stages = Stages(stages)     # backends may leave stages to be made when read (lazy_stage)
    stats["ops_after"] = count_ops(module)
    runner = backend.build(module, config, stages, stats)
    stats["compile_seconds"] = time.perf_counter() - t0
    return Executable(module, backend.name, runner, stages, config, stats)


def compile(program, backend: str = "cpu", config=None, *, specs=None, pipeline: str | None = None,
            use_tuned: bool = True) -> Executable:
    """Compile StableHLO text / a .mlir path / a Module / a Python function for a backend.

    config: a Config (or dict / JSON); None uses a stored tuned Config for this program and
    device when there is one, else the defaults. pipeline overrides the backend's pass pipeline.
    A program compiled before with the same Config skips the passes (xltune/compile_cache.py;
    stats["compile_cache"] says "hit", "miss" or "off").
    """
    t0 = time.perf_counter()
    be = get_backend(backend)
    spec = be.default_pipeline if pipeline is None else pipeline
    # a warm compile skips the passes (their result is in the compile cache) and, when the
    # Config is given and the program is text, parsing as well
    rebuild = compile_cache.policy(spec) if be.runs_passes and compile_cache.enabled() else None
    early = program_text(program) if rebuild is not None and config is not None else None
    if early is not None:
        cfg = as_config(config)
        exe = _cached(early[0], be, cfg, "explicit", spec, rebuild, t0)
        if exe is not None:
            return exe
    module, text = load_program(program, specs)
    cfg, source = resolve_config(module, be, config, use_tuned)
    key = compile_cache.key_of(text, be, cfg, spec) if rebuild is not None else None
    if key and early is None:
        exe = _cached(text, be, cfg, source, spec, rebuild, t0)
        if exe is not None:
            return exe
    stages = Stages({"input": text, "hlo": str(module)})
    stats: dict = {"config_source": source, "ops_before": count_ops(module)}
    module = optimize(module, be, cfg, stages, stats, spec)
    if key:
        compile_cache.store(key, module, stages, stats)
    stats["compile_cache"] = "miss" if key else "off"
    return build(module, be, cfg, stages, stats, t0)


def _cached(text: str, be, cfg: Config, source: str, spec: str, rebuild: str, t0: float) -> Executable | None:
    """The Executable from a compile cache entry (the backend builds it as usual), or None."""
    hit = compile_cache.lookup(compile_cache.key_of(text, be, cfg, spec), cfg, rebuild)
    if hit is None:
        return None
    module, found, stats = hit
    stats.update(config_source=source, compile_cache="hit")
    return build(module, be, cfg, Stages(found), stats, t0)


def count_ops(module: Module) -> int:
    """Instructions in the entry computation that do work (not parameters, constants, tuples)."""
    skip = {"parameter", "constant", "get_tuple_element", "tuple", "fusion"}
    return sum(1 for i in module.entry.walk() if i.opcode not in skip)


def knobs(program, backend: str = "cpu", *, specs=None, pipeline: str | None = None, config=None):
    """Every knob (pass knobs and the backend's kernel knobs) for a program, with choices and defaults."""
    module, _ = load_program(program, specs)
    be = get_backend(backend)
    if not be.runs_passes:
        return []
    from .passes import pipeline_knobs, run_pipeline
    cfg = as_config(config)
    spec = be.default_pipeline if pipeline is None else pipeline
    found = list(pipeline_knobs(module, spec, cfg))
    fused = run_pipeline(module, spec, cfg, {}, {}, verify=False)
    found.extend(be.knobs(fused))
    return found

"""Python functions -> Modules: `xltune.trace(fn, *specs)` and `@xltune.jit`.

trace(fn, *specs)      runs fn once on traced Arrays (xltune.numpy) and returns the Module it
                       built. specs: xnp.f32[1024, 512]-style TensorSpecs, TensorTypes, example
                       numpy arrays or anything with .shape/.dtype (jax.ShapeDtypeStruct), in
                       pytrees (tuples, lists, dicts); with no specs the parameters' annotations
                       are used. Other values (ints, strings, ...) are passed to fn as they are.
jit(fn, backend=...)   compiles fn on first call for each (shapes, dtypes, static args) signature,
                       as jax.jit does, and caches the Executable; `.lower(*args)` gives it
                       without running, `.executables` lists the cached ones (read `.stages`).
"""
from __future__ import annotations

import functools
import inspect
import re

import numpy as np

from ..errors import SourceLoc, TraceError, XltuneError
from ..ir import dtypes as D
from ..ir.module import Computation, Module
from ..ir.types import TensorType
from ..numpy import _tree
from ..numpy._core import Array, asarray, error, is_python_scalar, tracing
from ..numpy._dtypes import ScalarType, TensorSpec, python_scalar_dtype, to_dtype


# ---- specs -----------------------------------------------------------------------------------------------
def spec_type(leaf, scalars_dynamic: bool = False):
    """(TensorType, weak) when leaf describes a traced parameter, else None (a static value)."""
    if isinstance(leaf, TensorSpec):
        return leaf.type, False
    if isinstance(leaf, TensorType):
        return leaf, False
    if isinstance(leaf, ScalarType):
        return TensorType((), leaf.xdtype), False
    if isinstance(leaf, Array):
        raise error("a traced value was given as a spec; pass a TensorSpec such as xnp.f32[8, 16]")
    if is_python_scalar(leaf):
        if not scalars_dynamic:
            return None
        return TensorType((), python_scalar_dtype(leaf)), not isinstance(leaf, bool)
    if isinstance(leaf, (np.ndarray, np.generic)):
        return TensorType(leaf.shape, D.from_numpy(leaf.dtype)), False
    shape, dtype = getattr(leaf, "shape", None), getattr(leaf, "dtype", None)
    if shape is not None and dtype is not None and not isinstance(leaf, type):
        try:
            return TensorType(tuple(int(d) for d in shape), to_dtype(dtype)), False
        except (TypeError, ValueError, XltuneError):
            return None
    return None


def _sanitize(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_")
    s = re.sub(r"_+", "_", s)
    return s or "arg"


def _leaf_names(arg_names: list[str], trees) -> list[str]:
    out = []
    for name, tree in zip(arg_names, trees):
        for p in _tree.paths(tree, name):
            out.append(_sanitize(p))
    return out


# ---- tracing -----------------------------------------------------------------------------------------------
def trace_flat(fn, args: tuple, kwargs: dict, *, scalars_dynamic: bool = False, name: str | None = None,
               arg_names: list[str] | None = None, statics: list | None = None):
    """Trace fn(*args, **kwargs); leaves that are specs become parameters, in flatten order.
    Top-level _Static(i) markers in args/kwargs are replaced by statics[i] when fn is called.

    Returns (module, in_types, out_tree).
    """
    fname = name or getattr(inspect.unwrap(fn), "__name__", None) or "fn"
    module = Module(_sanitize(fname))
    entry = Computation("main")
    module.add_function(entry)
    leaves, tree = _tree.flatten((tuple(args), dict(kwargs)))
    names = _param_names(fn, args, kwargs, arg_names)
    in_types = []
    with tracing(module, entry):
        new_leaves = []
        for leaf, pname in zip(leaves, names):
            st = None if isinstance(leaf, _Static) else spec_type(leaf, scalars_dynamic)
            if st is None:
                new_leaves.append(leaf)
                continue
            t, weak = st
            p = entry.add_parameter(t, pname)
            in_types.append((t, weak))
            new_leaves.append(Array(p, weak))
        cargs, ckwargs = _tree.unflatten(tree, new_leaves)
        if statics is not None:
            cargs = [statics[a.i] if isinstance(a, _Static) else a for a in cargs]
            ckwargs = {k: statics[v.i] if isinstance(v, _Static) else v for k, v in ckwargs.items()}
        out = fn(*cargs, **ckwargs)
        out_leaves, out_tree = _tree.flatten(out)
        outs = []
        for i, o in enumerate(out_leaves):
            if not isinstance(o, Array) and not _array_like(o):
                raise TraceError(f"{fname} returned a {type(o).__name__} "
                                 f"({_tree.paths(out_tree, 'result')[i]}); return arrays or numbers",
                                 _def_loc(inspect.unwrap(fn)))
            outs.append(asarray(o).inst)
    entry.set_outputs(outs)
    _dce(entry)
    return module, in_types, out_tree


def _array_like(v) -> bool:
    return is_python_scalar(v) or isinstance(v, (np.ndarray, np.generic, list, tuple))


def _param_names(fn, args, kwargs, given) -> list[str]:
    """One readable name per leaf of (args, kwargs): the parameter name plus the pytree path."""
    if given is not None:
        pos_names = list(given)
    else:
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        pos_names = []
        for i in range(len(args)):
            if i < len(params) and params[i].kind in (params[i].POSITIONAL_ONLY,
                                                       params[i].POSITIONAL_OR_KEYWORD):
                pos_names.append(params[i].name)
            else:
                pos_names.append(f"arg{i}")
    names = []
    for n, a in zip(pos_names, args):
        names += [_sanitize(p) for p in _tree.paths(_tree.flatten(a)[1], n)]
    for k in sorted(kwargs, key=repr):
        names += [_sanitize(p) for p in _tree.paths(_tree.flatten(kwargs[k])[1], str(k))]
    return names


def _dce(comp: Computation):
    """Drop values nothing uses (jax never emits them); keeps parameters and side effects."""
    live_outputs = set(comp.outputs)
    for inst in reversed(list(comp.instructions)):
        if inst.opcode == "parameter":
            continue
        for r in inst.regions:
            _dce(r)
        if not inst.users and inst not in live_outputs and not inst.opdef.side_effect:
            comp.remove(inst)


def _annotation_specs(fn, n_given: int, given_kw: dict):
    """Specs for the parameters not given positionally, from annotations (or their defaults)."""
    target = inspect.unwrap(fn)
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return [], {}
    try:
        ann = inspect.get_annotations(target, eval_str=True)
    except Exception as e:
        raise TraceError(f"cannot evaluate the annotations of {target.__name__}: {e}") from None
    extra_pos, extra_kw = [], {}
    for i, p in enumerate(sig.parameters.values()):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if i < n_given or p.name in given_kw:
            continue
        a = ann.get(p.name, inspect.Parameter.empty)
        if a is not inspect.Parameter.empty and spec_type(a) is not None:
            spec = a
        elif p.default is not inspect.Parameter.empty:
            continue  # the default is used as a static value
        else:
            raise TraceError(f"{target.__name__}: no spec for parameter {p.name!r}; give one "
                             f"(xltune.trace(fn, xnp.f32[8, 16], ...)) or annotate it "
                             f"({p.name}: xnp.f32[8, 16])", _def_loc(target))
        if p.kind == p.KEYWORD_ONLY:
            extra_kw[p.name] = spec
        elif not extra_kw:
            extra_pos.append(spec)
        else:
            extra_kw[p.name] = spec
    return extra_pos, extra_kw


def _def_loc(fn) -> SourceLoc | None:
    code = getattr(fn, "__code__", None)
    return SourceLoc(code.co_firstlineno, 1, code.co_filename) if code is not None else None


def trace(fn, *specs, **kwargs) -> Module:
    """Trace fn into a Module. specs describe the parameters (see the module docstring); the
    parameters not given are read from annotations: `def f(x: f32[4096, 1024]): ...`."""
    if not callable(fn):
        raise TraceError(f"xltune.trace needs a function, got {type(fn).__name__}")
    extra_pos, extra_kw = _annotation_specs(fn, len(specs), kwargs)
    module, _, _ = trace_flat(fn, tuple(specs) + tuple(extra_pos), {**kwargs, **extra_kw})
    return module


# ---- jit ---------------------------------------------------------------------------------------------------
class _Entry:
    __slots__ = ("executable", "module", "out_tree", "n_out", "in_types")

    def __init__(self, executable, module, out_tree, in_types):
        self.executable = executable
        self.module = module
        self.out_tree = out_tree
        self.n_out = len(module.entry.outputs)
        self.in_types = in_types


class _Static:
    """Marks a static top-level argument in the flattened structure (its value is in the key)."""
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i

    def __eq__(self, other):
        return isinstance(other, _Static) and other.i == self.i

    def __hash__(self):
        return hash(("static", self.i))


class JitFunction:
    """fn compiled per argument signature on first call; see `jit`."""

    def __init__(self, fn, backend="cpu", config=None, static_argnums=(), static_argnames=(),
                 pipeline=None, use_tuned=True):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.backend = backend
        self.config = config
        self.pipeline = pipeline
        self.use_tuned = use_tuned
        self.static_argnums = tuple((static_argnums,) if isinstance(static_argnums, int) else static_argnums)
        self.static_argnames = tuple((static_argnames,) if isinstance(static_argnames, str) else static_argnames)
        try:
            self._params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            self._params = []
        self._cache: dict = {}

    # -- signature ------------------------------------------------------------------------
    def _split(self, args, kwargs):
        """(key, dynamic leaves, rebuild info) for a call."""
        pos_names = [p.name for p in self._params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        static_idx = {i % max(len(args), 1) if i < 0 else i for i in self.static_argnums}
        static_names = set(self.static_argnames)
        for i in self.static_argnums:
            if 0 <= i < len(pos_names):
                static_names.add(pos_names[i])
        args_s, statics = [], []
        for i, a in enumerate(args):
            if i in static_idx or (i < len(pos_names) and pos_names[i] in static_names):
                args_s.append(_Static(len(statics)))
                statics.append(a)
            else:
                args_s.append(a)
        kw_s = {}
        for k in sorted(kwargs):
            if k in static_names:
                kw_s[k] = _Static(len(statics))
                statics.append(kwargs[k])
            else:
                kw_s[k] = kwargs[k]
        leaves, tree = _tree.flatten((tuple(args_s), kw_s))
        sig, dyn = [], []
        for leaf in leaves:
            if isinstance(leaf, _Static):
                sig.append(leaf)
                continue
            st = spec_type(leaf, scalars_dynamic=True)
            if st is None or isinstance(leaf, (TensorSpec, TensorType, ScalarType)):
                sig.append(("static", _hashable(leaf, self.__name__)))
                continue
            t, weak = st
            sig.append(("array", t.shape, t.dtype.name, weak))
            dyn.append((leaf, t))
        key = (tree, tuple(sig), tuple(_hashable(s, self.__name__) for s in statics))
        return key, dyn, (args_s, kw_s, statics)

    def _compile(self, key, split) -> _Entry:
        entry = self._cache.get(key)
        if entry is not None:
            return entry
        from ..compiler import compile as _compile
        module, in_types, out_tree = self._trace(split)
        exe = _compile(module, backend=self.backend, config=self.config, pipeline=self.pipeline,
                       use_tuned=self.use_tuned)
        entry = self._cache[key] = _Entry(exe, module, out_tree, in_types)
        return entry

    def _trace(self, split):
        args_s, kw_s, statics = split
        pos_names = [p.name for p in self._params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        names = [pos_names[i] if i < len(pos_names) else f"arg{i}" for i in range(len(args_s))]
        return trace_flat(self.fn, tuple(args_s), dict(kw_s), scalars_dynamic=True, arg_names=names,
                          name=self.__name__, statics=statics)

    # -- public ------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        leaves, _ = _tree.flatten((args, kwargs))
        if any(isinstance(v, Array) for v in leaves):
            return self.fn(*args, **kwargs)  # called inside another trace: inline, as jax does
        key, dyn, split = self._split(args, kwargs)
        entry = self._compile(key, split)
        arrays = [_to_numpy(v, t) for v, t in dyn]
        outs = entry.executable(*arrays)
        outs = [outs] if entry.n_out == 1 else list(outs)
        return _tree.unflatten(entry.out_tree, outs)

    def lower(self, *args, **kwargs):
        """The Executable for these arguments (compiled and cached, not run); read `.stages`."""
        key, _, split = self._split(args, kwargs)
        return self._compile(key, split).executable

    def trace(self, *args, **kwargs) -> Module:
        """The Module fn traces to for these arguments (not compiled)."""
        return self._trace(self._split(args, kwargs)[2])[0]

    @property
    def executables(self) -> list:
        return [e.executable for e in self._cache.values()]

    def cache_size(self) -> int:
        return len(self._cache)

    def clear_cache(self):
        self._cache.clear()

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self):
        return f"<xltune.jit {self.__name__} backend={self.backend} ({len(self._cache)} compiled)>"


def _hashable(v, fname):
    try:
        hash(v)
    except TypeError:
        raise TraceError(f"{fname}: a static argument must be hashable, got {type(v).__name__}; "
                         f"pass arrays as arrays, or make it a tuple") from None
    return v


def _to_numpy(v, t: TensorType) -> np.ndarray:
    arr = v if isinstance(v, np.ndarray) else np.asarray(v, dtype=t.dtype.np_dtype)
    return arr


def jit(fn=None, *, backend: str = "cpu", config=None, static_argnums=(), static_argnames=(),
        pipeline: str | None = None, use_tuned: bool = True):
    """Compile fn per argument signature on first call and cache it, like jax.jit.

    Use as `@xltune.jit` or `@xltune.jit(backend="interpreter")`. Arrays (numpy, or anything
    with shape and dtype) and Python numbers (weakly typed scalars, as in jax) are traced;
    arguments named in static_argnums / static_argnames, and any other hashable values, are
    compile-time constants (each distinct value compiles once).
    """
    def wrap(f):
        return JitFunction(f, backend=backend, config=config, static_argnums=static_argnums,
                           static_argnames=static_argnames, pipeline=pipeline, use_tuned=use_tuned)
    return wrap if fn is None else wrap(fn)

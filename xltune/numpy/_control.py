"""Structured control flow: fori_loop, while_loop (stablehlo.while) and cond, switch (stablehlo.case).

The Python callables are traced once into regions: a while's cond and body regions take one
parameter per carried leaf; case branches take none and read the operands from the enclosing
computation (StableHLO regions are not isolated from above). Loop carries and branch results
are pytrees; their shapes and dtypes must agree, except that weak-typed (Python scalar)
values are promoted, as jax.lax does.
"""
from __future__ import annotations

from ..ir import dtypes as D
from ..ir.types import TensorType
from . import _tree
from ._core import (Array, api, asarray, check_live, compare, constant, convert, emit, error, in_region,
                    is_python_scalar, new_region, results, typeof, wrap)
from ._dtypes import DEFAULT_INT, promote, short_name


def _discard(region):
    """Forget a region traced in vain: drop the uses its instructions made of outer values."""
    for inst in region.walk():
        inst._unlink()


def _fmt(t: TensorType) -> str:
    return f"{short_name(t.dtype)}[{', '.join(map(str, t.shape))}]"


def _as_leaves(values, what: str) -> list[Array]:
    out = []
    for v in values:
        if isinstance(v, Array):
            out.append(check_live(v))
        else:
            try:
                out.append(asarray(v))
            except Exception:
                raise error(f"{what} must be arrays or numbers, got {type(v).__name__}") from None
    return out


def _trace_region(kind: str, param_leaves: list[Array] | None, fn, tree_in=None):
    """Trace fn into a new region. With param_leaves, the region takes parameters typed like
    them and fn receives them unflattened with tree_in. Returns (region, out leaves, out tree)."""
    region = new_region(kind)
    args = []
    if param_leaves is not None:
        for leaf in param_leaves:
            args.append(Array(region.add_parameter(leaf.type), leaf.weak))
    with in_region(region):
        if param_leaves is not None:
            out = fn(*args) if tree_in is None else fn(_tree.unflatten(tree_in, args))
        else:
            out = fn()
        leaves, tree = _tree.flatten(out)
        leaves = _as_leaves(leaves, f"the values a {kind} returns")
    return region, leaves, tree


def _set_outputs(region, leaves: list[Array]):
    region.set_outputs([a.inst for a in leaves])


# ---- while -----------------------------------------------------------------------------------------
def _while(init: list[Array], init_tree, cond_fn, body_fn, names: list[str]) -> list[Array]:
    for attempt in range(2):
        cond_r, cond_out, _ = _trace_region("cond", init, cond_fn, init_tree)
        if len(cond_out) != 1 or cond_out[0].shape != () or not cond_out[0].xdtype.is_pred:
            got = ", ".join(repr(c) for c in cond_out)
            _discard(cond_r)
            raise error(f"the loop condition must return one boolean scalar, got {got}")
        _set_outputs(cond_r, cond_out)
        body_r, body_out, body_tree = _trace_region("body", init, body_fn, init_tree)
        if body_tree != init_tree:
            _discard(cond_r), _discard(body_r)
            raise error(f"the loop body must return the structure it was given: "
                        f"{_tree.describe(init_tree)}, got {_tree.describe(body_tree)}")
        # weak-typed carries take the dtype the body produces (then the loop is traced again)
        promoted, mismatch = list(init), []
        for i, (a, b) in enumerate(zip(init, body_out)):
            if a.shape != b.shape:
                mismatch.append(f"{names[i]}: {_fmt(a.type)} in, {_fmt(b.type)} out")
            elif a.xdtype is not b.xdtype:
                if a.weak and attempt == 0:
                    dt, _ = promote((a.xdtype, True), (b.xdtype, b.weak))
                    if dt is b.xdtype:
                        promoted[i] = None
                        continue
                if b.weak and promote((a.xdtype, a.weak), (b.xdtype, True))[0] is a.xdtype:
                    continue
                mismatch.append(f"{names[i]}: {_fmt(a.type)} in, {_fmt(b.type)} out")
        if mismatch:
            _discard(cond_r), _discard(body_r)
            raise error(f"the body must return the types it was given; {'; '.join(mismatch)}")
        if any(p is None for p in promoted):
            _discard(cond_r), _discard(body_r)
            init = [convert(a, b.xdtype) if p is None else a for a, b, p in zip(init, body_out, promoted)]
            continue
        with in_region(body_r):
            body_out = [convert(b, a.xdtype, weak=b.weak) for a, b in zip(init, body_out)]
        _set_outputs(body_r, body_out)
        inst = emit("while", init, regions=[cond_r, body_r])
        return [wrap(r, a.weak and b.weak) for r, a, b in zip(results(inst), init, body_out)]
    raise AssertionError("unreachable")


@api
def while_loop(cond_fun, body_fun, init_val):
    """jax.lax.while_loop: while cond_fun(val): val = body_fun(val)."""
    leaves, tree = _tree.flatten(init_val)
    init = _as_leaves(leaves, "init_val leaves")
    if not init:
        raise error("init_val has no arrays to carry")
    out = _while(init, tree, cond_fun, body_fun, _tree.paths(tree, "init_val"))
    return _tree.unflatten(tree, out)


@api
def fori_loop(lower, upper, body_fun, init_val):
    """jax.lax.fori_loop: for i in range(lower, upper): val = body_fun(i, val)."""
    idx_dt, _ = promote(typeof(lower), typeof(upper))
    if not idx_dt.is_int:
        raise error(f"lower and upper must be integers, got {short_name(idx_dt)}")
    lo = asarray(lower, idx_dt if not is_python_scalar(lower) else None)
    lo = convert(lo, idx_dt, weak=False)
    leaves, tree = _tree.flatten(init_val)
    init = [lo] + _as_leaves(leaves, "init_val leaves")
    full_tree = ("tuple", (_tree.LEAF, tree))

    def cond(carry):
        i = carry[0]
        hi = upper if is_python_scalar(upper) else convert(asarray(upper), idx_dt)
        return _lt(i, hi)

    def body(carry):
        i, val = carry
        new = body_fun(i, val)
        one = constant(1, idx_dt)
        return (wrap(emit("add", [i, one])), new)

    out = _while(init, full_tree, cond, body, ["i"] + _tree.paths(tree, "init_val"))
    return _tree.unflatten(tree, out[1:])


def _lt(i: Array, hi) -> Array:
    h = hi if isinstance(hi, Array) else constant(hi, i.xdtype)
    return compare(i, h, "LT")


# ---- case ---------------------------------------------------------------------------------------------
def _case(index: Array, branches, operands, what: str):
    traced = []
    for k, fn in enumerate(branches):
        traced.append(_trace_region("branch", None, lambda fn=fn: fn(*operands)))
    trees = {t for _, _, t in traced}
    if len(trees) != 1:
        for r, _, _ in traced:
            _discard(r)
        raise error(f"{what}: the branches return different structures: "
                    f"{' vs '.join(_tree.describe(t) for _, _, t in traced)}")
    tree = traced[0][2]
    n = len(traced[0][1])
    outs_t = []
    for j in range(n):
        leaves = [out[j] for _, out, _ in traced]
        shapes = {a.shape for a in leaves}
        try:
            dt, weak = promote(*((a.xdtype, a.weak) for a in leaves))
        except Exception:
            dt, weak = None, False
        if len(shapes) != 1 or dt is None or any(a.xdtype is not dt and not a.weak for a in leaves):
            for r, _, _ in traced:
                _discard(r)
            raise error(f"{what}: the branches return different types for output {j}: "
                        f"{', '.join(_fmt(a.type) for a in leaves)}")
        outs_t.append((dt, weak))
    for r, out, _ in traced:
        with in_region(r):
            fixed = [convert(a, dt, weak=a.weak) for a, (dt, _) in zip(out, outs_t)]
        _set_outputs(r, fixed)
    inst = emit("case", [index], regions=[r for r, _, _ in traced])
    res = results(inst) if outs_t else []
    return _tree.unflatten(tree, [wrap(r, w) for r, (_, w) in zip(res, outs_t)])


@api
def cond(pred, true_fun, false_fun, *operands):
    """jax.lax.cond: true_fun(*operands) if pred else false_fun(*operands), both traced."""
    p = asarray(pred)
    if p.shape != ():
        raise error(f"pred must be a scalar, got shape {p.shape}")
    if p.xdtype.is_complex or p.xdtype.is_float:
        raise error(f"pred must be a boolean or integer scalar, got {short_name(p.xdtype)}")
    if not p.xdtype.is_pred:
        p = convert(p, D.I1)
    idx = convert(p, DEFAULT_INT)
    return _case(idx, [false_fun, true_fun], operands, "cond")


@api
def switch(index, branches, *operands):
    """jax.lax.switch: branches[index](*operands); the index is clamped into range."""
    i = asarray(index)
    if i.shape != () or not i.xdtype.is_int:
        raise error(f"index must be an integer scalar, got {i!r}")
    if not branches:
        raise error("needs at least one branch")
    i = convert(i, DEFAULT_INT)
    lo = constant(0, DEFAULT_INT)
    hi = constant(len(branches) - 1, DEFAULT_INT)
    i = wrap(emit("clamp", [lo, i, hi]))
    return _case(i, list(branches), operands, "switch")

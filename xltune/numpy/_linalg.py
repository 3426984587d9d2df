"""Contractions: matmul, dot, tensordot, einsum, inner, outer — all as stablehlo.dot_general.

dot_general puts batch dimensions first, then the lhs free dimensions, then the rhs free ones;
each function below chooses dimension numbers (and a final transpose where numpy's order
differs) so the result is numpy's.
"""
from __future__ import annotations

import builtins
import string

from ..ir.attrs import DotDimensionNumbers
from ._core import (Array, api, asarray, broadcast_in_dim, emit, error, normalize_axis, promote_args,
                    reshape_to, wrap)


def dot_general(lhs: Array, rhs: Array, lc, rc, lb=(), rb=()) -> Array:
    """stablehlo.dot_general; checks that contracted and batch sizes agree."""
    for kind, ls, rs in (("contracting", lc, rc), ("batch", lb, rb)):
        for a, b in zip(ls, rs):
            if lhs.shape[a] != rhs.shape[b]:
                raise error(f"{kind} dimensions differ: lhs {lhs.shape} axis {a} has size {lhs.shape[a]}, "
                            f"rhs {rhs.shape} axis {b} has size {rhs.shape[b]}")
    dn = DotDimensionNumbers(tuple(lb), tuple(rb), tuple(lc), tuple(rc))
    return wrap(emit("dot_general", [lhs, rhs], {"dot_dimension_numbers": dn}), lhs.weak and rhs.weak)


def _operands(a, b):
    (x, y), _, _ = promote_args(a, b)
    return x, y


@api
def matmul(a, b):
    x, y = _operands(a, b)
    if x.ndim == 0 or y.ndim == 0:
        raise error(f"matmul needs arrays of rank >= 1, got shapes {x.shape} and {y.shape} "
                    f"(use * for scalars)")
    if x.ndim == 1:  # (K) @ (..., K[, N]): result (..., N)
        return dot_general(x, y, (0,), (builtins.max(y.ndim - 2, 0),))
    if y.ndim <= 2:  # (..., M, K) @ (K[, N]): lhs free then rhs free is numpy's order
        return dot_general(x, y, (x.ndim - 1,), (0,))
    # both have batch dimensions (or lhs is a matrix and rhs is batched): broadcast batches
    from ._core import broadcast_shapes
    xb, yb = x.shape[:-2], y.shape[:-2]
    batch = broadcast_shapes(xb, yb, what="matmul batch dimensions")
    nb = len(batch)
    x = _bcast_batch(x, batch)
    y = _bcast_batch(y, batch)
    return dot_general(x, y, (nb + 1,), (nb,), tuple(range(nb)), tuple(range(nb)))


def _bcast_batch(x: Array, batch) -> Array:
    shape = tuple(batch) + x.shape[-2:]
    if x.shape == shape:
        return x
    lead = len(shape) - x.ndim
    return broadcast_in_dim(x, shape, range(lead, len(shape)))


@api
def dot(a, b):
    x, y = _operands(a, b)
    if x.ndim == 0 or y.ndim == 0:
        from ._elementwise import multiply
        return multiply(x, y)
    rc = 0 if y.ndim == 1 else y.ndim - 2
    return dot_general(x, y, (x.ndim - 1,), (rc,))


@api
def vdot(a, b):
    from ._elementwise import conjugate
    x, y = _operands(a, b)
    x = reshape_to(conjugate(x), (x.size,))
    return dot_general(x, reshape_to(y, (y.size,)), (0,), (0,))


@api
def inner(a, b):
    x, y = _operands(a, b)
    if x.ndim == 0 or y.ndim == 0:
        from ._elementwise import multiply
        return multiply(x, y)
    return dot_general(x, y, (x.ndim - 1,), (y.ndim - 1,))


@api
def outer(a, b):
    from ._elementwise import multiply
    x, y = _operands(a, b)
    x = reshape_to(x, (x.size, 1))
    y = reshape_to(y, (1, y.size))
    return multiply(x, y)


@api
def tensordot(a, b, axes=2):
    x, y = _operands(a, b)
    if isinstance(axes, int):
        if axes > builtins.min(x.ndim, y.ndim) or axes < 0:
            raise error(f"axes={axes} is more than the ranks of {x.shape} and {y.shape} allow")
        la = tuple(range(x.ndim - axes, x.ndim))
        ra = tuple(range(axes))
    else:
        try:
            la_in, ra_in = axes
        except (TypeError, ValueError):
            raise error(f"axes must be an int or a pair of axis lists, got {axes!r}") from None
        la_in = la_in if isinstance(la_in, (list, tuple)) else [la_in]
        ra_in = ra_in if isinstance(ra_in, (list, tuple)) else [ra_in]
        if len(la_in) != len(ra_in):
            raise error("the two axis lists must have the same length")
        la = tuple(normalize_axis(i, x.ndim) for i in la_in)
        ra = tuple(normalize_axis(i, y.ndim) for i in ra_in)
    return dot_general(x, y, la, ra)


# ---- einsum ------------------------------------------------------------------------------------------
def _parse_einsum(subscripts: str, operands):
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
        explicit = True
    else:
        ins, out, explicit = spec, None, False
    terms = ins.split(",")
    if len(terms) != len(operands):
        raise error(f"{subscripts!r} names {len(terms)} operand(s), got {len(operands)}")
    used = set(spec) - set(".,->")
    for ch in used:
        if not ch.isalpha():
            raise error(f"invalid subscript {ch!r} in {subscripts!r}")
    fresh = [c for c in string.ascii_letters if c not in used]
    ell_rank = 0
    for t, op in zip(terms, operands):
        if "..." in t:
            ell_rank = builtins.max(ell_rank, op.ndim - (len(t) - 3))
    ell = "".join(fresh[:ell_rank])
    labels = []
    for t, op in zip(terms, operands):
        if "..." in t:
            k = op.ndim - (len(t) - 3)
            if k < 0:
                raise error(f"operand of shape {op.shape} has fewer dimensions than {t!r} names")
            t = t.replace("...", ell[ell_rank - k:])
        if "." in t:
            raise error(f"invalid subscripts {subscripts!r}")
        if len(t) != op.ndim:
            raise error(f"subscripts {t!r} name {len(t)} dimension(s) for an operand of shape {op.shape}")
        if len(set(t)) != len(t):
            raise error(f"repeated subscript in {t!r} (diagonals) is not supported")
        labels.append(t)
    if explicit:
        if "..." in out:
            out = out.replace("...", ell)
        if len(set(out)) != len(out):
            raise error(f"repeated subscript in output {out!r}")
        for c in out:
            if not builtins.any(c in t for t in labels):
                raise error(f"output subscript {c!r} does not appear in the inputs")
    else:
        counts: dict = {}
        for t in labels:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return labels, out


@api
def einsum(subscripts, *operands, optimize=None, precision=None, preferred_element_type=None):
    if not isinstance(subscripts, str):
        raise error("only the subscripts-string form is supported")
    if not operands:
        raise error("needs at least one operand")
    xs, _, _ = promote_args(*operands)
    labels, out = _parse_einsum(subscripts, xs)
    # sizes: a label's size must agree everywhere (size-1 dimensions broadcast)
    sizes: dict = {}
    for t, x in zip(labels, xs):
        for c, d in zip(t, x.shape):
            if sizes.get(c, 1) != 1 and d != 1 and sizes[c] != d:
                raise error(f"subscript {c!r} has size {sizes[c]} in one operand and {d} in another")
            sizes[c] = builtins.max(sizes.get(c, 1), d)
    ops = []
    for t, x in zip(labels, xs):
        want = tuple(sizes[c] for c in t)
        if x.shape != want:
            x = broadcast_in_dim(x, want, range(x.ndim))
        ops.append((t, x))
    # sum out labels that only one operand has and the output does not keep
    for i, (t, x) in enumerate(ops):
        others = set("".join(u for j, (u, _) in enumerate(ops) if j != i)) | set(out)
        drop = tuple(k for k, c in enumerate(t) if c not in others)
        if drop:
            from ._reductions import sum as _sum
            x = _sum(x, drop)
            t = "".join(c for k, c in enumerate(t) if k not in drop)
            ops[i] = (t, x)
    t, acc = ops[0]
    for i in range(1, len(ops)):
        u, y = ops[i]
        later = set(out) | set("".join(v for v, _ in ops[i + 1:]))
        both = [c for c in t if c in u]
        batch = [c for c in both if c in later]
        contract = [c for c in both if c not in later]
        acc = dot_general(acc, y, tuple(t.index(c) for c in contract), tuple(u.index(c) for c in contract),
                          tuple(t.index(c) for c in batch), tuple(u.index(c) for c in batch))
        t = "".join(batch) + "".join(c for c in t if c not in both) + "".join(c for c in u if c not in both)
    from ._shape import transpose
    return transpose(acc, tuple(t.index(c) for c in out))


@api
def trace(a, offset=0, axis1=0, axis2=1):
    from ._creation import eye
    from ._reductions import sum as _sum
    from ._shape import moveaxis
    from ._elementwise import multiply
    x = asarray(a)
    x = moveaxis(x, (axis1, axis2), (-2, -1))
    n, m = x.shape[-2:]
    return _sum(multiply(x, eye(n, m, offset, dtype=x.xdtype)), (-2, -1))

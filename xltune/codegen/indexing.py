"""Index math: where a result element of a data-movement op comes from.

An `Index` names one element of a tensor of some shape by its coordinates, its row-major linear
offset, or both; either may be lazy (a function computing it on first use). The elemental
emitter walks a fused computation from an output back to its parameters carrying an Index:
elementwise ops pass theirs through unchanged, data-movement ops map it with the functions in
`MOVEMENT` (one per opcode), and parameters are finally read at `linear(index)`.

Keeping the linear offset alongside the coordinates is what makes contiguous elementwise chains
(and reshapes of them) cost one add per element: nothing is ever delinearized unless an op really
needs coordinates.

    MOVEMENT[opcode](em, inst, index) -> compute value of inst at index

To support a new data-movement op in every kernel: add a function here.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

from llvmlite import ir

from .lltypes import I1, I64, NotLowerable


class Index:
    """One element of a tensor of `shape`. Hashes by identity (the emitter memoizes on it)."""

    __slots__ = ("shape", "coords", "linear", "coords_fn", "linear_fn", "__weakref__")

    def __init__(self, shape: Sequence[int], coords: list | None = None, linear=None,
                 coords_fn: Callable | None = None, linear_fn: Callable | None = None):
        self.shape = tuple(shape)
        self.coords = list(coords) if coords is not None else None
        self.linear = linear
        self.coords_fn = coords_fn
        self.linear_fn = linear_fn
        if coords is not None and len(coords) != len(self.shape):
            raise ValueError(f"index of rank {len(coords)} for shape {self.shape}")

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __repr__(self):
        return f"Index{self.shape}"


def c64(v: int):
    return ir.Constant(I64, int(v))


def row_major_strides(shape) -> list[int]:
    strides = [1] * len(shape)
    acc = 1
    for i in range(len(shape) - 1, -1, -1):
        strides[i] = acc
        acc *= shape[i]
    return strides


def linearize(b: ir.IRBuilder, coords, shape):
    """sum(coords[i] * stride[i]) for a row-major shape (dims of size 1 contribute nothing)."""
    strides = row_major_strides(shape)
    acc = None
    for c, d, s in zip(coords, shape, strides):
        if d == 1:
            continue
        term = c if s == 1 else b.mul(c, c64(s), flags=("nuw", "nsw"))
        acc = term if acc is None else b.add(acc, term, flags=("nuw", "nsw"))
    return acc if acc is not None else c64(0)


def delinearize(b: ir.IRBuilder, linear, shape):
    """Coordinates of a row-major linear offset (constant divisors: LLVM makes them mul/shift)."""
    coords = [None] * len(shape)
    rest = linear
    first_big = next((i for i, d in enumerate(shape) if d != 1), None)
    for i in range(len(shape) - 1, -1, -1):
        d = shape[i]
        if d == 1:
            coords[i] = c64(0)
            continue
        if i == first_big:
            coords[i] = rest      # the outermost non-trivial dim needs no remainder
            break
        coords[i] = b.urem(rest, c64(d))
        rest = b.udiv(rest, c64(d))
    for i in range(len(shape)):
        if coords[i] is None:
            coords[i] = c64(0)
    return coords


def reshape_groups(src: Sequence[int], dst: Sequence[int]):
    """Split a reshape into groups of dims with equal products: [(src dims, dst dims), ...].
    Unit dims ride along with the group they meet; leftovers join the last group."""
    n, m = len(src), len(dst)
    if n == 0 or m == 0 or 0 in src or 0 in dst:
        return [(list(range(n)), list(range(m)))]
    groups = []
    i = j = 0
    while i < n and j < m:
        si, dj = [i], [j]
        ps, pd = src[i], dst[j]
        i += 1
        j += 1
        while ps != pd:
            if ps < pd:
                si.append(i)
                ps *= src[i]
                i += 1
            else:
                dj.append(j)
                pd *= dst[j]
                j += 1
        groups.append((si, dj))
    groups[-1][0].extend(range(i, n))
    groups[-1][1].extend(range(j, m))
    return groups


# ---- the data-movement table -------------------------------------------------------------------------
MOVEMENT: dict[str, Callable] = {}


def movement(*names):
    def deco(fn):
        for n in names:
            MOVEMENT[n] = fn
        return fn
    return deco


def _with_coords(shape, fn):
    return Index(shape, coords_fn=fn)


@movement("broadcast_in_dim", "dynamic_broadcast_in_dim")
def _broadcast_in_dim(em, inst, index):
    x = inst.operands[0]
    dims = tuple(inst.attrs["broadcast_dimensions"])
    xs = x.shape
    if math.prod(xs) == 1:
        return em.value(x, em.scalar_index(xs))
    if xs == index.shape and dims == tuple(range(len(xs))):
        return em.value(x, index)

    def coords():
        c = em.coords(index)
        return [c[d] if s != 1 else c64(0) for d, s in zip(dims, xs)]
    return em.value(x, _with_coords(xs, coords))


@movement("broadcast")
def _broadcast(em, inst, index):
    x = inst.operands[0]
    lead = len(inst.attrs["broadcast_sizes"])
    if math.prod(x.shape) == 1:
        return em.value(x, em.scalar_index(x.shape))
    return em.value(x, _with_coords(x.shape, lambda: em.coords(index)[lead:]))


@movement("reshape", "dynamic_reshape")
def _reshape(em, inst, index):
    x = inst.operands[0]
    xs = x.shape
    if xs == index.shape:
        return em.value(x, index)
    if math.prod(xs) <= 1:
        return em.value(x, em.scalar_index(xs))

    def coords():
        # Dims map group by group; only groups that really split or merge dims need div/mod.
        c = em.coords(index)
        out = [None] * len(xs)
        for si, dj in reshape_groups(xs, index.shape):
            if len(si) == 1 and len(dj) <= 1:
                out[si[0]] = c[dj[0]] if dj else c64(0)
                continue
            big_dst = [j for j in dj if index.shape[j] != 1]
            big_src = [i for i in si if xs[i] != 1]
            if len(big_src) == 1 and len(big_dst) == 1:
                for i in si:
                    out[i] = c[big_dst[0]] if i == big_src[0] else c64(0)
                continue
            lin = linearize(em.b, [c[j] for j in dj], [index.shape[j] for j in dj])
            part = delinearize(em.b, lin, [xs[i] for i in si])
            for i, v in zip(si, part):
                out[i] = v
        return [v if v is not None else c64(0) for v in out]

    return em.value(x, Index(xs, coords_fn=coords, linear_fn=lambda: em.linear(index)))


@movement("transpose")
def _transpose(em, inst, index):
    x = inst.operands[0]
    perm = tuple(inst.attrs["permutation"])

    def coords():
        c = em.coords(index)
        out = [None] * len(perm)
        for i, p in enumerate(perm):
            out[p] = c[i]
        return out
    return em.value(x, _with_coords(x.shape, coords))


@movement("slice")
def _slice(em, inst, index):
    x = inst.operands[0]
    starts = tuple(inst.attrs["start_indices"])
    strides = tuple(inst.attrs.get("strides") or (1,) * len(starts))
    b = em.b

    def coords():
        c = em.coords(index)
        out = []
        for ci, st, sd in zip(c, starts, strides):
            v = ci if sd == 1 else b.mul(ci, c64(sd), flags=("nuw", "nsw"))
            out.append(v if st == 0 else b.add(v, c64(st), flags=("nuw", "nsw")))
        return out
    if all(s == 0 for s in starts) and x.shape == index.shape:
        return em.value(x, index)
    return em.value(x, _with_coords(x.shape, coords))


@movement("reverse")
def _reverse(em, inst, index):
    x = inst.operands[0]
    dims = set(inst.attrs["dimensions"])
    b = em.b

    def coords():
        c = em.coords(index)
        return [b.sub(c64(x.shape[i] - 1), ci) if i in dims and x.shape[i] > 1 else ci
                for i, ci in enumerate(c)]
    return em.value(x, _with_coords(x.shape, coords))


@movement("iota", "dynamic_iota")
def _iota(em, inst, index):
    from .scalar import convert_value
    from ..ir import dtypes as D
    d = int(inst.attrs["iota_dimension"])
    if inst.shape[d] == 1:
        pos = c64(0)
    else:
        pos = em.coords(index)[d]
    return convert_value(em, pos, D.I64, inst.dtype)


@movement("pad")
def _pad(em, inst, index):
    x, padv = inst.operands
    lo = tuple(inst.attrs["edge_padding_low"])
    interior = tuple(inst.attrs.get("interior_padding") or (0,) * len(lo))
    b = em.b
    c = em.coords(index)
    ok = ir.Constant(I1, 1)
    src = []
    for i, (ci, l, it, n) in enumerate(zip(c, lo, interior, x.shape)):
        t = b.sub(ci, c64(l)) if l != 0 else ci
        if it:
            q = b.sdiv(t, c64(it + 1))
            r = b.srem(t, c64(it + 1))
            ok = b.and_(ok, b.icmp_signed("==", r, c64(0)))
        else:
            q = t
        ok = b.and_(ok, b.icmp_signed(">=", q, c64(0)))
        ok = b.and_(ok, b.icmp_signed("<", q, c64(n)))
        src.append(q)
    if math.prod(x.shape) == 0:
        return em.value(padv, em.scalar_index(padv.shape))
    # Read the operand at a clamped (always valid) position and select: no branches, so the
    # loop still vectorizes; the pad value is a scalar.
    safe = [b.select(ok, q, c64(0)) for q in src]
    inner = em.value(x, Index(x.shape, coords=safe))
    pv = em.value(padv, em.scalar_index(padv.shape))
    return em.select(ok, inner, pv)


@movement("concatenate")
def _concatenate(em, inst, index):
    dim = int(inst.attrs["dimension"])
    ops = [o for o in inst.operands if o.shape[dim] > 0]
    if len(ops) == 1:
        o = ops[0]
        return em.value(o, index if o.shape == index.shape else Index(o.shape, coords=em.coords(index)))
    b = em.b
    c = em.coords(index)
    pos = c[dim]
    offsets = []
    off = 0
    for o in ops:
        offsets.append(off)
        off += o.shape[dim]

    def operand_index(o, start):
        cc = list(c)
        cc[dim] = b.sub(pos, c64(start)) if start else pos
        return Index(o.shape, coords=cc)

    if all(em.is_cheap(o) for o in ops) and len(ops) <= 4:
        # Branch-free: read every operand at a clamped position, select the right one.
        result = None
        for k in range(len(ops) - 1, -1, -1):
            o, start = ops[k], offsets[k]
            cc = list(c)
            rel = b.sub(pos, c64(start)) if start else pos
            rel = b.select(b.icmp_signed("<", rel, c64(0)), c64(0), rel)
            rel = b.select(b.icmp_signed(">=", rel, c64(o.shape[dim])), c64(o.shape[dim] - 1), rel)
            cc[dim] = rel
            v = em.value(o, Index(o.shape, coords=cc))
            if result is None:
                result = v
            else:
                result = em.select(b.icmp_signed("<", pos, c64(start + o.shape[dim])), v, result)
        return result
    # Branches: only the operand that owns the element is computed.
    return em.branch_chain(
        [(b.icmp_signed("<", pos, c64(start + o.shape[dim])) if k + 1 < len(ops) else None,
          (lambda o=o, start=start: em.value(o, operand_index(o, start))))
         for k, (o, start) in enumerate(zip(ops, offsets))],
        inst.dtype)


def _start_values(em, inst, first, dims, sizes):
    """Dynamic start indices, clamped to [0, dim - size] as StableHLO specifies."""
    from .scalar import convert_value
    from ..ir import dtypes as D
    b = em.b
    out = []
    for k, (d, sz) in enumerate(zip(dims, sizes)):
        sv = inst.operands[first + k]
        v = em.value(sv, em.scalar_index(sv.shape))
        v = convert_value(em, v, sv.dtype, D.I64)
        hi = max(d - sz, 0)
        v = b.select(b.icmp_signed("<", v, c64(0)), c64(0), v)
        v = b.select(b.icmp_signed(">", v, c64(hi)), c64(hi), v)
        out.append(v)
    return out


@movement("dynamic_slice")
def _dynamic_slice(em, inst, index):
    x = inst.operands[0]
    sizes = tuple(inst.attrs["slice_sizes"])
    b = em.b
    starts = _start_values(em, inst, 1, x.shape, sizes)
    c = em.coords(index)
    return em.value(x, Index(x.shape, coords=[b.add(ci, s) for ci, s in zip(c, starts)]))


@movement("dynamic_update_slice")
def _dynamic_update_slice(em, inst, index):
    x, upd = inst.operands[0], inst.operands[1]
    b = em.b
    starts = _start_values(em, inst, 2, x.shape, upd.shape)
    c = em.coords(index)
    inside = ir.Constant(I1, 1)
    rel = []
    for ci, s, n in zip(c, starts, upd.shape):
        r = b.sub(ci, s)
        inside = b.and_(inside, b.icmp_signed(">=", r, c64(0)))
        inside = b.and_(inside, b.icmp_signed("<", r, c64(n)))
        rel.append(r)
    safe = [b.select(inside, r, c64(0)) for r in rel]
    base = em.value(x, index)
    if math.prod(upd.shape) == 0:
        return base
    new = em.value(upd, Index(upd.shape, coords=safe))
    return em.select(inside, new, base)


def coords_needed(inst) -> bool:
    """Does evaluating inst at an index need that index's coordinates (not just its offset)?"""
    op = inst.opcode
    if op in ("reshape", "dynamic_reshape"):
        return False
    if op in ("broadcast_in_dim", "dynamic_broadcast_in_dim", "broadcast"):
        x = inst.operands[0]
        if math.prod(x.shape) == 1:
            return False
        dims = tuple(inst.attrs.get("broadcast_dimensions", ()))
        return not (x.shape == inst.shape and dims == tuple(range(len(x.shape))))
    if op == "slice":
        return not (all(s == 0 for s in inst.attrs["start_indices"]) and inst.operands[0].shape == inst.shape)
    return op in MOVEMENT


__all__ = ["Index", "MOVEMENT", "linearize", "delinearize", "row_major_strides", "reshape_groups",
           "coords_needed", "NotLowerable"]

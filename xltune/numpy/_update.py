"""Functional updates, as in jax: `x.at[idx].set(v)`, `.add(v)`, `.multiply(v)`, `.min(v)`, `.max(v)`.

Every form is one stablehlo.scatter: the index vector has one entry per axis — integer
arrays (and ints, which join them) as scatter batch indices, static unit-step slices as the
window start — and the update has the shape `x[idx]` has. As in jax, updates that fall out of
range are dropped.
"""
from __future__ import annotations

import builtins

from ..ir.attrs import ScatterDimensionNumbers
from ._core import (Array, asarray, broadcast_shapes, broadcast_to, constant, convert, emit, error,
                    reshape_to, wrap)
from ._dtypes import DEFAULT_INT
from ._indexing import _classify, _index_array, _norm_index, getitem
from ._reductions import scalar_region


class At:
    __slots__ = ("x",)

    def __init__(self, x: Array):
        self.x = x

    def __getitem__(self, idx) -> "IndexUpdate":
        return IndexUpdate(self.x, idx)


class IndexUpdate:
    __slots__ = ("x", "idx")

    def __init__(self, x, idx):
        self.x, self.idx = x, idx

    def get(self):
        return getitem(self.x, self.idx)

    def set(self, values):
        return _scatter(self.x, self.idx, values, None)

    def add(self, values):
        return _scatter(self.x, self.idx, values, "add")

    def multiply(self, values):
        return _scatter(self.x, self.idx, values, "multiply")

    mul = multiply

    def min(self, values):
        return _scatter(self.x, self.idx, values, "minimum")

    def max(self, values):
        return _scatter(self.x, self.idx, values, "maximum")


def _scatter(x, idx, values, opcode):
    x = asarray(x)
    items = [_classify(i) for i in (idx if isinstance(idx, tuple) else (idx,))]
    if builtins.any(k in ("new", "mask") for k, _ in items):
        raise error(".at[] does not take None or boolean masks; use xnp.where for masked updates")
    n_ell = builtins.sum(1 for k, _ in items if k == "ell")
    consumed = len(items) - n_ell
    if n_ell > 1 or consumed > x.ndim:
        raise error(f"bad index for an array of shape {x.shape}")
    fill = [("slice", slice(None))] * (x.ndim - consumed)
    if n_ell:
        i = next(i for i, (k, _) in enumerate(items) if k == "ell")
        items = items[:i] + fill + items[i + 1:]
    else:
        items = items + fill
    has_arr = builtins.any(k == "arr" for k, _ in items)
    adv = [ax for ax, (k, _) in enumerate(items) if k in ("arr", "int", "dyn")] if has_arr else \
        [ax for ax, (k, _) in enumerate(items) if k in ("int", "dyn")]
    cols, windows = [], []
    for ax, ((kind, v), n) in enumerate(zip(items, x.shape)):
        if kind == "slice":
            lo, hi, st = v.indices(n)
            if st != 1:
                raise error(".at[] supports unit-step slices only")
            windows.append(builtins.max(hi - lo, 0))
            cols.append(constant(lo, DEFAULT_INT))
        elif kind in ("int", "dyn"):
            windows.append(1)
            cols.append(_norm_index(v, n))
        else:
            windows.append(1)
            cols.append(_index_array(v, n, ax))
    batch = broadcast_shapes(*(cols[ax].shape for ax in adv)) if adv else ()
    nb = len(batch)
    idx_arr = [reshape_to(broadcast_to(c, batch), batch + (1,)) for c in cols]
    start = idx_arr[0] if len(idx_arr) == 1 else wrap(emit(
        "concatenate", idx_arr, {"dimension": nb}))
    rest = [ax for ax in range(x.ndim) if ax not in adv]
    adjacent = not adv or adv == list(range(adv[0], adv[-1] + 1))
    insert_at = builtins.sum(1 for ax in rest if ax < adv[0]) if (adv and adjacent) else 0
    window_dims = tuple(r if r < insert_at else r + nb for r in range(len(rest)))
    rest_sizes = [windows[ax] for ax in rest]
    upd_shape = tuple(rest_sizes[:insert_at]) + batch + tuple(rest_sizes[insert_at:])
    v = asarray(values)
    v = convert(v, x.xdtype)
    try:
        broadcast_shapes(v.shape, upd_shape)
    except Exception:
        raise error(f"cannot broadcast update of shape {v.shape} to the indexed shape {upd_shape}") from None
    v = broadcast_to(v, upd_shape)
    dn = ScatterDimensionNumbers(update_window_dims=window_dims, inserted_window_dims=tuple(adv),
                                 scatter_dims_to_operand_dims=tuple(range(x.ndim)), index_vector_dim=nb)
    dt = x.xdtype

    def combine(old, new):
        if opcode is None:
            return [new]
        return [wrap(emit(opcode, [old, new]))]

    region = scalar_region("update", [dt, dt], combine)
    inst = emit("scatter", [x, start, v], {"scatter_dimension_numbers": dn}, regions=[region])
    return wrap(inst, x.weak)


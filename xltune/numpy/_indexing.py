"""Indexing with []: numpy basic indexing (ints, slices, None, ...) and integer-array indexing.

Plan for `x[idx]`:
1. expand `...`, turn each `None` into a size-1 axis (a reshape) indexed by `:`, so every item
   consumes exactly one axis; a static boolean mask becomes the integer arrays np.nonzero gives;
2. slices: one `reverse` for negative steps, one static `slice`;
3. no integer arrays: ints drop their axis (static ones in the slice, traced scalars through
   `dynamic_slice`), then one `reshape`;
   integer arrays (numpy "advanced" indexing; ints join them): one `gather`, its batch
   dimensions placed where numpy puts them (at the first advanced axis when those are
   adjacent, else in front).
Out-of-range *static* indices are an error, as in numpy; traced indices are clamped, as in jax.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..ir.attrs import GatherDimensionNumbers
from ._core import (Array, api, asarray, broadcast_shapes, broadcast_to, compare, constant, convert, emit,
                    error, normalize_axis, reshape_to, wrap)
from ._dtypes import DEFAULT_INT
from ._shape import slice_static


def _classify(item):
    if item is None:
        return ("new", None)
    if item is Ellipsis:
        return ("ell", None)
    if isinstance(item, slice):
        for part in (item.start, item.stop, item.step):
            if isinstance(part, Array):
                raise error("slice bounds must be static; for a traced start use "
                            "xnp.dynamic_slice(x, starts, sizes)")
        return ("slice", item)
    if isinstance(item, Array):
        if item.xdtype.is_pred:
            raise error("boolean-mask indexing with a traced mask has a data-dependent shape; "
                        "use xnp.where(mask, x, 0) instead")
        if not item.xdtype.is_int:
            raise error(f"indices must be integers, got {item.xdtype}")
        return ("dyn", item) if item.ndim == 0 else ("arr", item)
    if isinstance(item, (bool, np.bool_)):
        raise error("a bare boolean index is not supported")
    if isinstance(item, (int, np.integer)):
        return ("int", int(item))
    try:
        arr = np.asarray(item)
    except Exception:
        raise error(f"unsupported index {item!r}") from None
    if arr.dtype == np.bool_:
        return ("mask", arr)
    if arr.dtype.kind not in "iu":
        raise error(f"indices must be integers, got {arr.dtype} ({item!r})")
    if arr.ndim == 0:
        return ("int", int(arr))
    return ("arr", arr)


def getitem(x: Array, idx) -> Array:
    x = asarray(x)
    items = [_classify(i) for i in (idx if isinstance(idx, tuple) else (idx,))]
    # static boolean masks -> the integer arrays np.nonzero gives
    expanded = []
    for kind, v in items:
        if kind == "mask":
            expanded.extend(("arr", nz) for nz in np.nonzero(v))
        else:
            expanded.append((kind, v))
    items = expanded
    n_ell = builtins.sum(1 for k, _ in items if k == "ell")
    if n_ell > 1:
        raise error("an index can only have a single ellipsis ('...')")
    consumed = builtins.sum(1 for k, _ in items if k not in ("new", "ell"))
    if consumed > x.ndim:
        raise error(f"too many indices for an array of shape {x.shape}: {consumed} were given")
    fill = [("slice", slice(None))] * (x.ndim - consumed)
    if n_ell:
        i = next(i for i, (k, _) in enumerate(items) if k == "ell")
        items = items[:i] + fill + items[i + 1:]
    else:
        items = items + fill
    # None -> a new size-1 axis indexed by ':'
    if builtins.any(k == "new" for k, _ in items):
        it = iter(x.shape)
        shape = []
        for k, _ in items:
            shape.append(1 if k == "new" else next(it))
        x = reshape_to(x, tuple(shape))
        items = [("slice", slice(None)) if k == "new" else (k, v) for k, v in items]
    # slices (and static ints) first
    starts, limits, strides, rev = [], [], [], []
    for ax, ((kind, v), n) in enumerate(zip(items, x.shape)):
        if kind == "slice":
            lo, hi, st = v.indices(n)
            size = len(range(lo, hi, st))
            if st < 0:
                rev.append(ax)
                lo, st = n - 1 - lo, -st
            hi = lo + (size - 1) * st + 1 if size else lo
            starts.append(lo), limits.append(hi), strides.append(st)
        elif kind == "int":
            if not -n <= v < n:
                raise error(f"index {v} is out of bounds for axis {ax} with size {n}")
            v %= n
            starts.append(v), limits.append(v + 1), strides.append(1)
        else:
            starts.append(0), limits.append(n), strides.append(1)
    if rev:
        x = wrap(emit("reverse", [x], {"dimensions": tuple(rev)}), x.weak)
    x = slice_static(x, starts, limits, strides)
    if builtins.any(k == "arr" for k, _ in items):
        return _gather(x, items)
    # basic: traced scalar indices through dynamic_slice, then drop the indexed axes
    if builtins.any(k == "dyn" for k, _ in items):
        sizes = tuple(1 if k == "dyn" else d for (k, _), d in zip(items, x.shape))
        st = [_norm_index(v, d) if k == "dyn" else constant(0, DEFAULT_INT)
              for (k, v), d in zip(items, x.shape)]
        x = wrap(emit("dynamic_slice", [x, *st], {"slice_sizes": sizes}), x.weak)
    return reshape_to(x, tuple(d for (k, _), d in zip(items, x.shape) if k == "slice"))


def _norm_index(i, n: int) -> Array:
    """A traced or static scalar index as i32, negative values counted from the end."""
    if not isinstance(i, Array):
        if not -n <= i < n:
            raise error(f"index {i} is out of bounds for size {n}")
        return constant(i % n, DEFAULT_INT)
    i = convert(i, DEFAULT_INT) if i.xdtype is not DEFAULT_INT else i
    return _wrap_negative(i, n)


def _wrap_negative(i: Array, n: int) -> Array:
    zero = broadcast_to(constant(0, i.xdtype), i.shape)
    neg = compare(i, zero, "LT")
    plus = wrap(emit("add", [i, broadcast_to(constant(n, i.xdtype), i.shape)]))
    return wrap(emit("select", [neg, plus, i]))


def _index_array(v, n: int, ax: int) -> Array:
    if isinstance(v, Array):
        if v.xdtype.is_unsigned:
            return convert(v, DEFAULT_INT)
        return _wrap_negative(convert(v, DEFAULT_INT), n)
    arr = np.asarray(v)
    if arr.size and (arr.min() < -n or arr.max() >= n):
        bad = arr[(arr < -n) | (arr >= n)].flat[0]
        raise error(f"index {bad} is out of bounds for axis {ax} with size {n}")
    return constant(np.where(arr < 0, arr + n, arr).astype(np.int32), DEFAULT_INT)


def _gather(x: Array, items) -> Array:
    adv = [ax for ax, (k, _) in enumerate(items) if k in ("arr", "int", "dyn")]
    idx = []
    for ax in adv:
        kind, v = items[ax]
        n = x.shape[ax]
        if kind == "int":
            idx.append(constant(0, DEFAULT_INT))  # the static slice already selected it
        elif kind == "dyn":
            idx.append(_norm_index(v, n))
        else:
            idx.append(_index_array(v, n, ax))
    batch = broadcast_shapes(*(i.shape for i in idx), what="index arrays")
    cols = [reshape_to(broadcast_to(i, batch), batch + (1,)) for i in idx]
    if len(cols) == 1:
        start = cols[0]
    else:
        start = wrap(emit("concatenate", cols, {"dimension": len(batch)}))
    rest = [ax for ax in range(x.ndim) if ax not in adv]
    adjacent = adv == list(range(adv[0], adv[-1] + 1))
    insert_at = builtins.sum(1 for ax in rest if ax < adv[0]) if adjacent else 0
    nb = len(batch)
    offset_dims = tuple(r if r < insert_at else r + nb for r in range(len(rest)))
    slice_sizes = tuple(1 if ax in adv else x.shape[ax] for ax in range(x.ndim))
    dn = GatherDimensionNumbers(offset_dims=offset_dims, collapsed_slice_dims=tuple(adv),
                                start_index_map=tuple(adv), index_vector_dim=nb)
    return wrap(emit("gather", [x, start], {"dimension_numbers": dn, "slice_sizes": slice_sizes}), x.weak)


@api
def take(a, indices, axis=None, mode=None, fill_value=None):
    x = asarray(a)
    if mode not in (None, "clip", "promise_in_bounds"):
        raise error(f"mode={mode!r} is not supported; indices are clamped into range ('clip')")
    if axis is None:
        x = reshape_to(x, (x.size,))
        axis = 0
    ax = normalize_axis(axis, x.ndim)
    if not isinstance(indices, Array):
        indices = np.asarray(indices)
        if mode == "clip":
            indices = np.clip(indices, 0, x.shape[ax] - 1)
    key = (slice(None),) * ax + (indices,)
    if isinstance(indices, Array) and indices.ndim == 0:
        return getitem(x, key)
    if not isinstance(indices, Array) and indices.ndim == 0:
        return getitem(x, key[:-1] + (int(indices),))
    return getitem(x, key)


@api
def take_along_axis(arr, indices, axis):
    x = asarray(arr)
    if axis is None:
        x = reshape_to(x, (x.size,))
        axis = 0
    ax = normalize_axis(axis, x.ndim)
    ind = indices if isinstance(indices, Array) else np.asarray(indices)
    if len(ind.shape) != x.ndim:
        raise error(f"indices of shape {tuple(ind.shape)} must have the rank of the array {x.shape}")
    shape = broadcast_shapes(tuple(ind.shape[:ax]) + (1,) + tuple(ind.shape[ax + 1:]),
                             x.shape[:ax] + (1,) + x.shape[ax + 1:])
    key = []
    for d in range(x.ndim):
        if d == ax:
            key.append(ind)
        else:
            sh = [1] * x.ndim
            sh[d] = shape[d]
            key.append(np.arange(shape[d]).reshape(sh))
    return getitem(x, tuple(key))


@api
def dynamic_slice(operand, start_indices, slice_sizes):
    """lax.dynamic_slice: starts may be traced; they are clamped so the slice fits."""
    x = asarray(operand)
    if len(start_indices) != x.ndim or len(slice_sizes) != x.ndim:
        raise error(f"needs one start index and one size per axis of {x.shape}")
    sizes = tuple(int(s) for s in slice_sizes)
    for s, n in zip(sizes, x.shape):
        if not 0 <= s <= n:
            raise error(f"slice sizes {sizes} do not fit in shape {x.shape}")
    st = [_start(i) for i in start_indices]
    return wrap(emit("dynamic_slice", [x, *st], {"slice_sizes": sizes}), x.weak)


@api
def dynamic_update_slice(operand, update, start_indices):
    """lax.dynamic_update_slice: operand with update written at (clamped) start_indices."""
    x = asarray(operand)
    u = convert(asarray(update), x.xdtype)
    if u.ndim != x.ndim or len(start_indices) != x.ndim:
        raise error(f"update {u.shape} and start indices must match the rank of {x.shape}")
    if builtins.any(a > b for a, b in zip(u.shape, x.shape)):
        raise error(f"update of shape {u.shape} does not fit in {x.shape}")
    st = [_start(i) for i in start_indices]
    return wrap(emit("dynamic_update_slice", [x, u, *st]), x.weak)


def _start(i) -> Array:
    a = asarray(i)
    if a.ndim != 0 or not a.xdtype.is_int:
        raise error(f"start indices must be integer scalars, got {a!r}")
    return convert(a, DEFAULT_INT)

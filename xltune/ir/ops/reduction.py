"""Reductions: reduce (variadic, arbitrary body), reduce_window, select_and_scatter, sort, top_k."""
from __future__ import annotations

import itertools
import math

import numpy as np

from .. import dtypes as D
from ..types import TensorType, TupleType
from . import OTHER, REDUCTION, defop
from . import _num as N
from ._common import (check_dims, count, dims_attr, pack, pairs_attr, region_output_types, same_shape,
                      tensor_arg, tensors, window_output_dim)
from ._index import apply_updates
from .elementwise import compare_values, minmax_values
from .movement import pad_value

# above this many sequential steps a reduction with an arbitrary body is done as a pairwise tree
_SEQUENTIAL_LIMIT = 256


# ---- reduce ---------------------------------------------------------------------------------------
def _split_inputs(ts):
    if len(ts) % 2:
        raise ValueError(f"expects N inputs and N init values, got {len(ts)} operands")
    n = len(ts) // 2
    return ts[:n], ts[n:]


def _body_dtypes(regions, inits):
    if regions:
        outs = region_output_types(regions[0])
        if len(outs) == len(inits) and all(isinstance(o, TensorType) for o in outs):
            return [o.dtype for o in outs]
    return [t.dtype for t in inits]


def _infer_reduce(ts, attrs, regions):
    ts = tensors(ts)
    inputs, inits = _split_inputs(ts)
    if not inputs:
        raise ValueError("expects at least one input")
    shape = same_shape(inputs, "inputs")
    for t in inits:
        if t.shape != ():
            raise ValueError(f"init values must be scalars, got {t}")
    dims = dims_attr(attrs, "dimensions")
    check_dims(dims, len(shape), "dimensions")
    out = tuple(s for d, s in enumerate(shape) if d not in dims)
    return pack(TensorType(out, dt) for dt in _body_dtypes(regions, inits))


_UFUNC_INT = {"add": np.add, "multiply": np.multiply, "maximum": np.maximum, "minimum": np.minimum,
              "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}
_UFUNC_PRED = {"add": np.logical_or, "or": np.logical_or, "maximum": np.logical_or, "multiply": np.logical_and,
               "and": np.logical_and, "minimum": np.logical_and, "xor": np.logical_xor}


def _fast_reduce(opcode: str, x: np.ndarray, init: np.ndarray, axes: tuple, dt: D.DType):
    """ufunc.reduce for a body that is one binary op; None where it would change the result."""
    if dt.is_pred:
        f = _UFUNC_PRED.get(opcode)
        if f is None:
            return None
        return f(f.reduce(x, axis=axes), init)
    if dt.is_int:
        f = _UFUNC_INT.get(opcode)
        if f is None:
            return None
        xi = N.to_int(x, dt)
        return N.wrap_int(f(f.reduce(xi, axis=axes), N.to_int(init, dt)), dt)
    if opcode in ("maximum", "minimum"):
        if dt.is_complex:
            return None
        is_max = opcode == "maximum"
        c = N.to_compute(x, dt)
        i = N.to_compute(init, dt)
        out_shape = tuple(s for d, s in enumerate(c.shape) if d not in axes)
        f = np.maximum if is_max else np.minimum
        r = f.reduce(c, axis=axes) if c.size else np.full(out_shape, -np.inf if is_max else np.inf)
        r = minmax_values(r, i, D.F64, is_max)
        if np.any(r == 0):
            # maximum prefers +0 over -0, minimum -0 over +0 (ufunc.reduce may pick either)
            want_neg = not is_max
            hit = np.any((c == 0) & (np.signbit(c) == want_neg), axis=axes) | \
                ((i == 0) & (np.signbit(i) == want_neg))
            pref, other = (-0.0, 0.0) if want_neg else (0.0, -0.0)
            r = np.where(r == 0, np.where(hit, pref, other), r)
        return N.from_compute(r, dt)
    if opcode in ("add", "multiply"):
        # computed in f64/c128 (pairwise summation) and rounded once: within an ulp or two of any
        # summation order the spec allows, and closer to the exact sum than sequential f32
        c = N.to_compute(x, dt)
        f = np.add if opcode == "add" else np.multiply
        return N.from_compute(f(f.reduce(c, axis=axes), N.to_compute(init, dt)), dt)
    return None


def reduce_values(inputs, inits, axes, region, ev, result_dtypes):
    """Reduce `inputs` over `axes` with `region` (2N scalar params: accumulators, then elements)."""
    axes = tuple(sorted(axes))
    n = len(inputs)
    shape = inputs[0].shape
    if any(shape[d] == 0 for d in axes):  # nothing to reduce: the init values
        out_shape = tuple(s for d, s in enumerate(shape) if d not in axes)
        return [np.broadcast_to(np.asarray(i).astype(dt.np_dtype), out_shape).copy()
                for i, dt in zip(inits, result_dtypes)]
    if n == 1:
        fast = ev.simple_binary(region)
        if fast is not None and fast[0] != "replace" and inputs[0].dtype == result_dtypes[0].np_dtype:
            r = _fast_reduce(fast[0], inputs[0], inits[0], axes, result_dtypes[0])
            if r is not None:
                return [np.asarray(r).astype(result_dtypes[0].np_dtype, copy=False)]
    shape = inputs[0].shape
    keep = [d for d in range(len(shape)) if d not in axes]
    out_shape = tuple(shape[d] for d in keep)
    m = math.prod(out_shape)
    length = math.prod(shape[d] for d in axes)
    xs = [np.transpose(x, keep + list(axes)).reshape(m, length) for x in inputs]
    accs = [np.broadcast_to(np.asarray(i).astype(dt.np_dtype), (m,)).copy() for i, dt in zip(inits, result_dtypes)]
    if length <= _SEQUENTIAL_LIMIT:
        for j in range(length):
            accs = ev.map_region(region, accs + [x[:, j] for x in xs])
    else:
        # fold the init into the first element, then combine pairwise
        cur = ev.map_region(region, accs + [x[:, 0] for x in xs])
        rest = [x[:, 1:] for x in xs]
        vals = [np.concatenate([c[:, None], r], axis=1) for c, r in zip(cur, rest)]
        while vals[0].shape[1] > 1:
            k = vals[0].shape[1]
            half = k // 2
            a = [v[:, 0:2 * half:2] for v in vals]
            b = [v[:, 1:2 * half:2] for v in vals]
            comb = ev.map_region(region, [np.ascontiguousarray(v) for v in a] + [np.ascontiguousarray(v) for v in b])
            comb = [c.reshape(m, half) for c in comb]
            if k % 2:
                comb = [np.concatenate([c, v[:, -1:]], axis=1) for c, v in zip(comb, vals)]
            vals = comb
        accs = [v[:, 0] for v in vals]
    return [np.asarray(a).astype(dt.np_dtype, copy=False).reshape(out_shape) for a, dt in zip(accs, result_dtypes)]


def _ev_reduce(inst, args, ev):
    n = len(args) // 2
    dts = [t.dtype for t in inst.result_types]
    outs = reduce_values(args[:n], args[n:], dims_attr(inst.attrs, "dimensions"), inst.regions[0], ev, dts)
    return outs[0] if not inst.multi else tuple(outs)


# ---- reduce_window ---------------------------------------------------------------------------------
def _window_attrs(attrs, rank):
    wd = dims_attr(attrs, "window_dimensions")
    ws = dims_attr(attrs, "window_strides", (1,) * rank)
    bd = dims_attr(attrs, "base_dilations", (1,) * rank)
    wdl = dims_attr(attrs, "window_dilations", (1,) * rank)
    pad = pairs_attr(attrs, "padding", rank)
    for name, v in (("window_dimensions", wd), ("window_strides", ws), ("base_dilations", bd),
                    ("window_dilations", wdl)):
        if len(v) != rank:
            raise ValueError(f"{name} must have {rank} entries, got {len(v)}")
        if any(x <= 0 for x in v):
            raise ValueError(f"{name} must be positive, got {list(v)}")
    return wd, ws, bd, wdl, pad


def _infer_reduce_window(ts, attrs, regions):
    ts = tensors(ts)
    inputs, inits = _split_inputs(ts)
    if not inputs:
        raise ValueError("expects at least one input")
    shape = same_shape(inputs, "inputs")
    wd, ws, bd, wdl, pad = _window_attrs(attrs, len(shape))
    out = tuple(window_output_dim(shape[d], wd[d], ws[d], pad[d], bd[d], wdl[d]) for d in range(len(shape)))
    return pack(TensorType(out, dt) for dt in _body_dtypes(regions, inits))


def _window_slices(padded_shape, out_shape, wd, ws, wdl):
    """For each window offset (row-major), the strided slice of the padded input it reads."""
    for off in itertools.product(*(range(w) for w in wd)):
        yield tuple(slice(o * dl, o * dl + (n - 1) * s + 1, s) if n > 0 else slice(0, 0)
                    for o, dl, n, s in zip(off, wdl, out_shape, ws))


def _ev_reduce_window(inst, args, ev):
    n = len(args) // 2
    inputs, inits = args[:n], args[n:]
    rank = inputs[0].ndim
    wd, ws, bd, wdl, pad = _window_attrs(inst.attrs, rank)
    dts = [t.dtype for t in inst.result_types]
    out_shape = inst.result_types[0].shape
    padded = [pad_value(x, np.asarray(i).astype(x.dtype), [p[0] for p in pad], [p[1] for p in pad],
                        [b - 1 for b in bd]) for x, i in zip(inputs, inits)]
    accs = [np.broadcast_to(np.asarray(i).astype(dt.np_dtype), out_shape).copy() for i, dt in zip(inits, dts)]
    fast = ev.simple_binary(inst.regions[0]) if n == 1 else None
    dt = dts[0]
    if fast is not None and fast[0] in ("add", "maximum", "minimum") and not dt.is_complex and \
            not dt.is_pred and dt == inst.operands[0].type.dtype:
        op = fast[0]
        if dt.is_int:
            acc = N.to_int(accs[0], dt).astype(np.int64) if op == "add" else N.to_int(accs[0], dt)
            for sl in _window_slices(padded[0].shape, out_shape, wd, ws, wdl):
                v = N.to_int(padded[0][sl], dt)
                acc = acc + v if op == "add" else (np.maximum(acc, v) if op == "maximum" else np.minimum(acc, v))
            return N.wrap_int(acc, dt)
        # one step per window element in row-major order, rounded to the element type each time
        # (the reference's order; XLA's too: the conformance files' cumsums depend on it)
        acc = accs[0]
        for sl in _window_slices(padded[0].shape, out_shape, wd, ws, wdl):
            v = padded[0][sl]
            if op == "add":
                acc = N.from_compute(N.to_compute(acc, dt) + N.to_compute(v, dt), dt)
            else:
                acc = minmax_values(acc, v, dt, op == "maximum")
        return acc
    for sl in _window_slices(padded[0].shape, out_shape, wd, ws, wdl):
        accs = ev.map_region(inst.regions[0], accs + [p[sl] for p in padded])
    outs = [np.asarray(a).astype(d.np_dtype, copy=False).reshape(out_shape) for a, d in zip(accs, dts)]
    return outs[0] if not inst.multi else tuple(outs)


# ---- select_and_scatter ---------------------------------------------------------------------------
def _infer_select_and_scatter(ts, attrs, regions):
    count(ts, 3)
    op, src, init = tensors(ts)
    rank = op.rank
    wd = dims_attr(attrs, "window_dimensions", (1,) * rank)
    ws = dims_attr(attrs, "window_strides", (1,) * rank)
    pad = pairs_attr(attrs, "padding", rank)
    if len(wd) != rank or len(ws) != rank:
        raise ValueError(f"window attributes must have {rank} entries")
    expect = tuple(window_output_dim(op.shape[d], wd[d], ws[d], pad[d], 1, 1) for d in range(rank))
    if src.shape != expect:
        raise ValueError(f"source shape {src.shape} differs from the number of windows {expect}")
    if init.shape != ():
        raise ValueError(f"init_value must be a scalar, got {init}")
    return op


def _ev_select_and_scatter(inst, args, ev):
    operand, source, init = args
    rank = operand.ndim
    wd = dims_attr(inst.attrs, "window_dimensions", (1,) * rank)
    ws = dims_attr(inst.attrs, "window_strides", (1,) * rank)
    pad = pairs_attr(inst.attrs, "padding", rank)
    select, scatter = inst.regions
    src_shape = source.shape
    grids = np.meshgrid(*(np.arange(s) for s in src_shape), indexing="ij") if rank else []
    sel_val = None
    sel_idx = np.full(src_shape, -1, np.int64)
    for off in itertools.product(*(range(w) for w in wd)):
        pos = [g * s + o - p[0] for g, s, o, p in zip(grids, ws, off, pad)]
        valid = np.ones(src_shape, bool)
        for d in range(rank):
            valid &= (pos[d] >= 0) & (pos[d] < operand.shape[d])
        clipped = [np.clip(p, 0, max(n - 1, 0)) for p, n in zip(pos, operand.shape)]
        cur = operand[tuple(clipped)] if rank else operand
        flat = np.ravel_multi_index(clipped, operand.shape) if rank else np.zeros(src_shape, np.int64)
        if sel_val is None:
            sel_val = np.array(cur, copy=True)
        first = valid & (sel_idx < 0)
        sel_val = np.where(first, cur, sel_val)
        sel_idx = np.where(first, flat, sel_idx)
        keep = ev.map_region(select, [sel_val, cur])[0].astype(bool)
        switch = valid & ~first & ~keep
        sel_val = np.where(switch, cur, sel_val)
        sel_idx = np.where(switch, flat, sel_idx)
    rdt = inst.type.dtype
    result = np.broadcast_to(np.asarray(init).astype(rdt.np_dtype), operand.shape).copy().reshape(-1)
    has = sel_idx.reshape(-1) >= 0
    apply_updates([result], sel_idx.reshape(-1)[has], [source.reshape(-1)[has]], scatter, ev)
    return result.reshape(operand.shape)


# ---- sort -------------------------------------------------------------------------------------------
def _infer_sort(ts, attrs, regions):
    ts = tensors(ts)
    if not ts:
        raise ValueError("expects at least one input")
    shape = same_shape(ts, "inputs")
    d = int(attrs.get("dimension", -1))
    if not -len(shape) <= d < max(len(shape), 1):
        raise ValueError(f"dimension {d} out of range for rank {len(shape)}")
    return pack(ts)


def _simple_comparator(region):
    """(input index, descending, compare_type) when the comparator is one compare of a param pair."""
    insts = [i for i in region.instructions if i.opcode != "parameter"]
    if len(insts) != 1 or insts[0].opcode != "compare" or region.outputs != [insts[0]]:
        return None
    c = insts[0]
    a, b = c.operands
    if a.opcode != "parameter" or b.opcode != "parameter" or a.parent is not region or b.parent is not region:
        return None
    ia, ib = a.attrs["index"], b.attrs["index"]
    if ia // 2 != ib // 2 or ia == ib:
        return None
    direction = c.attrs["comparison_direction"]
    if direction not in ("LT", "GT"):
        return None
    descending = (direction == "GT") == (ia % 2 == 0)
    return ia // 2, descending, c.attrs.get("compare_type")


def _sort_keys_fast(x: np.ndarray, dt: D.DType, compare_type):
    """Integer/float keys whose ascending order is the comparator's, or None."""
    if dt.is_pred:
        return x.astype(np.int8)
    if dt.is_int:
        return N.to_int(x, dt)
    if dt.is_float:
        if compare_type == "TOTALORDER":
            return N.total_order_key(x, dt)
        c = N.to_compute(x, dt)
        if np.isnan(c).any():
            return None
        return c + 0.0  # -0 == +0 under FLOAT compare; stable sort keeps their order
    return None


def sort_values(inputs, dim, region, ev):
    rank = inputs[0].ndim
    if rank == 0:
        return list(inputs)
    dim = dim % rank
    moved = [np.moveaxis(x, dim, -1) for x in inputs]
    shape = moved[0].shape
    length = shape[-1]
    rows = math.prod(shape[:-1])
    flat = [m.reshape(rows, length) for m in moved]
    perm = None
    simple = _simple_comparator(region)
    if simple is not None:
        k, desc, ctype = simple
        dt = D.from_numpy(flat[k].dtype) if flat[k].dtype != np.bool_ else D.I1
        keys = _sort_keys_fast(flat[k], dt, ctype)
        if keys is not None:
            if desc:
                perm = length - 1 - np.argsort(keys[:, ::-1], axis=1, kind="stable")[:, ::-1]
            else:
                perm = np.argsort(keys, axis=1, kind="stable")
    if perm is None:
        perm = _general_sort_perm(flat, region, ev, rows, length)
    outs = [np.take_along_axis(f, perm, axis=1).reshape(shape) for f in flat]
    return [np.ascontiguousarray(np.moveaxis(o, -1, dim)) for o in outs]


_PAIR_BUDGET = 1 << 22  # comparator evaluations per vectorized batch


def _general_sort_perm(flat, region, ev, rows, length):
    """Stable sort by an arbitrary comparator. Each element's rank is how many others precede it
    (j precedes i when less(j, i), or neither is less and j < i); the comparator is evaluated on
    blocks of element pairs at once. Rows too long for that (> 8192) use a Python merge sort."""
    if length <= 8192:
        perm = np.empty((rows, length), np.int64)
        j_idx = np.arange(length)
        rows_per = max(1, _PAIR_BUDGET // max(length * length, 1))
        i_block = max(1, min(length, _PAIR_BUDGET // max(length, 1)))
        ok = True
        for r0 in range(0, rows, rows_per):
            r1 = min(rows, r0 + rows_per)
            nr = r1 - r0
            rank = np.zeros((nr, length), np.int64)
            for i0 in range(0, length, i_block):
                i1 = min(length, i0 + i_block)
                bi = i1 - i0
                xi = [f[r0:r1, i0:i1, None] for f in flat]
                xj = [f[r0:r1, None, :] for f in flat]
                ij, ji = [], []
                for a, b in zip(xi, xj):
                    a_b = np.broadcast_to(a, (nr, bi, length)).reshape(-1)
                    b_b = np.broadcast_to(b, (nr, bi, length)).reshape(-1)
                    ij += [a_b, b_b]
                    ji += [b_b, a_b]
                less_ij = ev.map_region(region, ij)[0].astype(bool).reshape(nr, bi, length)
                less_ji = ev.map_region(region, ji)[0].astype(bool).reshape(nr, bi, length)
                i_pos = np.arange(i0, i1)[:, None]
                before = less_ji | (~less_ij & (j_idx[None, :] < i_pos))
                before &= j_idx[None, :] != i_pos
                rank[:, i0:i1] = before.sum(axis=2)
            for r in range(nr):
                if np.bincount(rank[r], minlength=length).max(initial=0) > 1:
                    ok = False  # not a strict weak order: ranks collide
                    break
                perm[r0 + r, rank[r]] = np.arange(length)
            if not ok:
                break
        if ok:
            return perm
    perm = np.empty((rows, length), np.int64)
    for r in range(rows):
        cols = [f[r] for f in flat]

        def less(i, j, cols=cols):
            args = []
            for c in cols:
                args += [c[i:i + 1], c[j:j + 1]]
            return bool(ev.map_region(region, args)[0].reshape(-1)[0])
        perm[r] = _merge_sort(list(range(length)), less)
    return perm


def _merge_sort(items, less):
    """Stable: an element moves before an earlier one only if it is strictly less."""
    if len(items) <= 1:
        return items
    mid = len(items) // 2
    a, b = _merge_sort(items[:mid], less), _merge_sort(items[mid:], less)
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if less(b[j], a[i]):
            out.append(b[j])
            j += 1
        else:
            out.append(a[i])
            i += 1
    return out + a[i:] + b[j:]


def _ev_sort(inst, args, ev):
    outs = sort_values(list(args), int(inst.attrs.get("dimension", -1)), inst.regions[0], ev)
    return outs[0] if not inst.multi else tuple(outs)


# ---- top_k --------------------------------------------------------------------------------------------
def _infer_top_k(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0])
    k = int(attrs["k"])
    if t.rank < 1 or not 0 <= k <= t.shape[-1]:
        raise ValueError(f"k = {k} out of range for {t}")
    shape = t.shape[:-1] + (k,)
    return TupleType((TensorType(shape, t.dtype), TensorType(shape, D.I32)))


def _ev_top_k(inst, args, _ev):
    x = args[0]
    dt = inst.operands[0].type.dtype
    k = int(inst.attrs["k"])
    if dt.is_float:
        keys = N.total_order_key(x, dt)
    elif dt.is_pred:
        keys = x.astype(np.int8)
    else:
        keys = N.to_int(x, dt)
    n = x.shape[-1]
    order = n - 1 - np.argsort(keys[..., ::-1], axis=-1, kind="stable")[..., ::-1]
    idx = order[..., :k]
    vals = np.take_along_axis(x, idx, axis=-1)
    return (np.ascontiguousarray(vals), idx.astype(np.int32))


# ---- the table ----------------------------------------------------------------------------------------
defop("reduce", REDUCTION, None, attrs=("dimensions",), num_regions=1, variadic_results=True,
      infer=_infer_reduce, evaluate=_ev_reduce)
defop("reduce_window", REDUCTION, None, attrs=("window_dimensions",),
      optional_attrs=("window_strides", "base_dilations", "window_dilations", "padding"),
      num_regions=1, variadic_results=True, infer=_infer_reduce_window, evaluate=_ev_reduce_window)
defop("select_and_scatter", OTHER, 3, attrs=(),
      optional_attrs=("window_dimensions", "window_strides", "padding"), num_regions=2,
      infer=_infer_select_and_scatter, evaluate=_ev_select_and_scatter)
defop("sort", OTHER, None, optional_attrs=("dimension", "is_stable"), num_regions=1, variadic_results=True,
      infer=_infer_sort, evaluate=_ev_sort)
defop("top_k", OTHER, 1, attrs=("k",), optional_attrs=("recall_target",), dialect="chlo",
      variadic_results=True, infer=_infer_top_k, evaluate=_ev_top_k)

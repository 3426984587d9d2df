"""Index arithmetic for gather and scatter, and in-order application of updates with a region.

Both ops follow the StableHLO spec's formulas, vectorized: the operand (result) index of every
result (update) element is computed as integer arrays, then numpy's advanced indexing moves the
data. Scatter applies updates in row-major order of the update index (the reference
interpreter's schedule): updates to distinct locations are applied together, repeated locations
in successive rounds, so a non-commutative update computation sees them in order.
"""
from __future__ import annotations

import numpy as np

from ..attrs import GatherDimensionNumbers, ScatterDimensionNumbers


def _index_vectors(indices: np.ndarray, ivd: int) -> np.ndarray:
    idx = np.asarray(indices).astype(np.int64)
    if ivd == idx.ndim:
        return idx[..., None]
    return np.moveaxis(idx, ivd, -1)


def _batch_dim(d_start: int, ivd: int) -> int:
    return d_start if d_start < ivd else d_start - 1


def gather_values(operand: np.ndarray, indices: np.ndarray, dn: GatherDimensionNumbers, sizes,
                  out_shape) -> np.ndarray:
    idx = _index_vectors(indices, dn.index_vector_dim)
    batch_shape = idx.shape[:-1]
    nb = len(batch_shape)
    rank = operand.ndim
    index = []
    for d in range(rank):
        if d in dn.start_index_map:
            k = dn.start_index_map.index(d)
            s = np.clip(idx[..., k], 0, operand.shape[d] - sizes[d])
        elif d in dn.operand_batching_dims:
            i = dn.operand_batching_dims.index(d)
            bd = _batch_dim(dn.start_indices_batching_dims[i], dn.index_vector_dim)
            view = [1] * nb
            view[bd] = batch_shape[bd]
            s = np.broadcast_to(np.arange(batch_shape[bd]).reshape(view), batch_shape)
        else:
            s = np.zeros(batch_shape, np.int64)
        off_view = [1] * (nb + rank)
        off_view[nb + d] = sizes[d]
        index.append(np.reshape(s, batch_shape + (1,) * rank) + np.arange(sizes[d]).reshape(off_view))
    g = operand[tuple(index)] if rank else np.broadcast_to(operand, batch_shape)
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    g = g.reshape(batch_shape + tuple(sizes[d] for d in range(rank) if d not in dropped))
    out_rank = g.ndim
    src, bi, oi = [], 0, 0
    for d in range(out_rank):
        if d in dn.offset_dims:
            src.append(nb + oi)
            oi += 1
        else:
            src.append(bi)
            bi += 1
    return np.ascontiguousarray(np.transpose(g, src)).reshape(out_shape)


def scatter_targets(input_shape, indices: np.ndarray, update_shape, dn: ScatterDimensionNumbers):
    """Flat target index of every in-bounds update element (row-major order), and the mask of
    the update elements that are in bounds (the spec skips each out-of-bounds element)."""
    idx = _index_vectors(indices, dn.index_vector_dim)
    rank = len(input_shape)
    urank = len(update_shape)
    scatter_dims = [d for d in range(urank) if d not in dn.update_window_dims]
    window_input_dims = [d for d in range(rank) if d not in dn.inserted_window_dims
                         and d not in dn.input_batching_dims]

    def along(axis: int, values: np.ndarray) -> np.ndarray:
        view = [1] * urank
        view[axis] = values.shape[0]
        return values.reshape(view)

    def scatter_view(a: np.ndarray) -> np.ndarray:
        # a has the index batch shape; put its axes on the update's scatter dims
        view = [1] * urank
        for j, d in enumerate(scatter_dims):
            view[d] = a.shape[j]
        return a.reshape(view)

    full = []
    for d in range(rank):
        r = np.zeros((1,) * urank, np.int64)
        if d in dn.scatter_dims_to_operand_dims:
            r = r + scatter_view(idx[..., dn.scatter_dims_to_operand_dims.index(d)])
        if d in dn.input_batching_dims:
            i = dn.input_batching_dims.index(d)
            ax = scatter_dims[_batch_dim(dn.scatter_indices_batching_dims[i], dn.index_vector_dim)]
            r = r + along(ax, np.arange(update_shape[ax]))
        if d in window_input_dims:
            ax = dn.update_window_dims[window_input_dims.index(d)]
            r = r + along(ax, np.arange(update_shape[ax]))
        full.append(np.broadcast_to(r, update_shape))
    valid = np.ones(update_shape, bool)
    for d in range(rank):
        valid = valid & (full[d] >= 0) & (full[d] < input_shape[d])
    valid = valid.reshape(-1)
    flat_idx = [f.reshape(-1)[valid] for f in full]
    targets = np.ravel_multi_index(flat_idx, input_shape) if rank else np.zeros(int(valid.sum()), np.int64)
    return np.asarray(targets, np.int64), valid


def occurrence_rounds(targets: np.ndarray) -> np.ndarray:
    """For each position, how many earlier positions have the same target."""
    if targets.size == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(targets, kind="stable")
    st = targets[order]
    new_group = np.r_[True, st[1:] != st[:-1]]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(st.size), 0))
    occ_sorted = np.arange(st.size) - group_start
    occ = np.empty_like(occ_sorted)
    occ[order] = occ_sorted
    return occ


def apply_updates(results: list[np.ndarray], targets: np.ndarray, values: list[np.ndarray], region, ev):
    """results[k].flat[targets[i]] = region(results..., values...[i]) for every i in order.
    `results` are flat arrays, modified in place."""
    if targets.size == 0:
        return
    fast = ev.simple_binary(region) if len(results) == 1 else None
    if fast is not None:
        done = _fast_update(results[0], targets, values[0], fast)
        if done:
            return
    occ = occurrence_rounds(targets)
    for r in range(int(occ.max()) + 1):
        sel = occ == r
        t = targets[sel]
        cur = [res[t] for res in results]
        new = ev.map_region(region, cur + [v[sel] for v in values])
        for res, nv in zip(results, new):
            res[t] = nv


def _fast_update(res: np.ndarray, targets: np.ndarray, vals: np.ndarray, fast) -> bool:
    opcode, swapped = fast
    kind = res.dtype.kind
    if opcode == "replace":
        # last writer wins
        rev_t = targets[::-1]
        _, first = np.unique(rev_t, return_index=True)
        res[rev_t[first]] = vals[::-1][first]
        return True
    if kind in "fc":
        # numpy's f16/f32/f64 add (and real multiply) round exactly like the region's op, one
        # update at a time in order; other float ops keep the region's exact semantics (NaN, -0)
        if res.dtype not in (np.float16, np.float32, np.float64, np.complex64, np.complex128):
            return False
        if opcode == "add" or (opcode == "multiply" and kind == "f"):
            (np.add if opcode == "add" else np.multiply).at(res, targets, vals.astype(res.dtype, copy=False))
            return True
        return False
    if kind not in "iub":
        return False
    if kind == "b":
        ufunc = {"or": np.logical_or, "add": np.logical_or, "and": np.logical_and,
                 "multiply": np.logical_and, "maximum": np.logical_or, "minimum": np.logical_and,
                 "xor": np.logical_xor}.get(opcode)
    else:
        ufunc = {"add": np.add, "multiply": np.multiply, "maximum": np.maximum, "minimum": np.minimum,
                 "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}.get(opcode)
    if ufunc is None or res.dtype.itemsize * 8 not in (8, 16, 32, 64) or res.dtype.name.startswith(("int4", "uint4", "int2", "uint2")):
        return False
    ufunc.at(res, targets, vals.astype(res.dtype, copy=False))
    return True


def scatter_values(inputs, indices, updates, dn: ScatterDimensionNumbers, region, ev, result_dtypes):
    shape = inputs[0].shape
    targets, valid = scatter_targets(shape, indices, updates[0].shape, dn)
    results = [np.array(x, copy=True).astype(dt.np_dtype, copy=False).reshape(-1)
               for x, dt in zip(inputs, result_dtypes)]
    vals = [np.asarray(u).reshape(-1)[valid] for u in updates]
    apply_updates(results, targets, vals, region, ev)
    return [r.reshape(shape) for r in results]

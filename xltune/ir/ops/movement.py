"""Data movement: ops that only move (or generate) elements. Each has an index map from result
coordinates to operand coordinates, which codegen uses to fuse it."""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from ..attrs import GatherDimensionNumbers, ScatterDimensionNumbers
from ..types import TensorType
from . import DATA_MOVEMENT, OTHER, defop
from . import _num as N
from ._common import (needs_type, check_dims, count, dims_attr, pack, region_output_types, same_dtype, same_shape,
                      tensor_arg, tensors)
from ._index import gather_values, scatter_values


def _out(inst) -> TensorType:
    return inst.type


# ---- broadcast_in_dim / broadcast --------------------------------------------------------------
def check_broadcast_in_dim(operand: TensorType, result: TensorType, dims) -> None:
    if len(dims) != operand.rank:
        raise ValueError(f"broadcast_dimensions {list(dims)} must have one entry per operand dimension "
                         f"(rank {operand.rank})")
    check_dims(dims, result.rank, "broadcast_dimensions")
    for i, d in enumerate(dims):
        if operand.shape[i] not in (1, result.shape[d]):
            raise ValueError(f"operand dimension {i} (size {operand.shape[i]}) cannot broadcast to "
                             f"result dimension {d} (size {result.shape[d]})")


def broadcast_in_dim_value(x: np.ndarray, dims, shape) -> np.ndarray:
    rank = len(shape)
    view_shape = [1] * rank
    # operand dims land on `dims`; keep the operand's order where dims is not increasing
    order = sorted(range(len(dims)), key=lambda i: dims[i])
    xt = np.transpose(x, order) if order != list(range(len(dims))) else x
    for i in order:
        view_shape[dims[i]] = x.shape[i]
    return np.ascontiguousarray(np.broadcast_to(xt.reshape(view_shape), tuple(shape)))


def _ev_broadcast_in_dim(inst, args, _ev):
    return broadcast_in_dim_value(args[0], dims_attr(inst.attrs, "broadcast_dimensions"), _out(inst).shape)


def _infer_broadcast(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0])
    return TensorType(dims_attr(attrs, "broadcast_sizes") + t.shape, t.dtype)


def _ev_broadcast(inst, args, _ev):
    return np.ascontiguousarray(np.broadcast_to(args[0], _out(inst).shape))


# ---- reshape / transpose / reverse ----------------------------------------------------------------
def _ev_reshape(inst, args, _ev):
    return np.reshape(args[0], _out(inst).shape)


def _infer_transpose(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0])
    perm = dims_attr(attrs, "permutation")
    if sorted(perm) != list(range(t.rank)):
        raise ValueError(f"permutation {list(perm)} is not a permutation of 0..{t.rank - 1}")
    return TensorType(tuple(t.shape[p] for p in perm), t.dtype)


def _ev_transpose(inst, args, _ev):
    return np.ascontiguousarray(np.transpose(args[0], dims_attr(inst.attrs, "permutation")))


def _infer_reverse(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0])
    check_dims(dims_attr(attrs, "dimensions"), t.rank, "dimensions")
    return t


def _ev_reverse(inst, args, _ev):
    dims = dims_attr(inst.attrs, "dimensions")
    return np.ascontiguousarray(np.flip(args[0], dims)) if dims else args[0]


# ---- slices ---------------------------------------------------------------------------------------
def _infer_slice(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0])
    start = dims_attr(attrs, "start_indices")
    limit = dims_attr(attrs, "limit_indices")
    strides = dims_attr(attrs, "strides", (1,) * t.rank)
    if not (len(start) == len(limit) == len(strides) == t.rank):
        raise ValueError(f"start/limit/strides must have {t.rank} entries")
    shape = []
    for d, (s, l, st) in enumerate(zip(start, limit, strides)):
        if not (0 <= s <= l <= t.shape[d]) or st <= 0:
            raise ValueError(f"bad slice {s}:{l}:{st} of dimension {d} (size {t.shape[d]})")
        shape.append(-(-(l - s) // st))
    return TensorType(tuple(shape), t.dtype)


def _ev_slice(inst, args, _ev):
    x = args[0]
    start = dims_attr(inst.attrs, "start_indices")
    limit = dims_attr(inst.attrs, "limit_indices")
    strides = dims_attr(inst.attrs, "strides", (1,) * x.ndim)
    return np.ascontiguousarray(x[tuple(slice(s, l, st) for s, l, st in zip(start, limit, strides))])


def _infer_dynamic_slice(ts, attrs, regions):
    ts = tensors(ts)
    if not ts:
        raise ValueError("expects an operand")
    t = ts[0]
    sizes = dims_attr(attrs, "slice_sizes")
    if len(ts) - 1 != t.rank or len(sizes) != t.rank:
        raise ValueError(f"expects {t.rank} start indices and slice sizes")
    for i, s in enumerate(ts[1:]):
        if s.shape != () or not s.dtype.is_int:
            raise TypeError(f"start index #{i} must be an integer scalar, got {s}")
    for d, sz in enumerate(sizes):
        if not 0 <= sz <= t.shape[d]:
            raise ValueError(f"slice size {sz} out of range for dimension {d} (size {t.shape[d]})")
    return TensorType(sizes, t.dtype)


def clamp_starts(starts, dims, sizes):
    return [int(min(max(int(s), 0), d - z)) for s, d, z in zip(starts, dims, sizes)]


def _ev_dynamic_slice(inst, args, _ev):
    x = args[0]
    sizes = dims_attr(inst.attrs, "slice_sizes")
    st = clamp_starts([a.item() for a in args[1:]], x.shape, sizes)
    return np.ascontiguousarray(x[tuple(slice(s, s + z) for s, z in zip(st, sizes))])


def _infer_dynamic_update_slice(ts, attrs, regions):
    ts = tensors(ts)
    if len(ts) < 2:
        raise ValueError("expects an operand and an update")
    t, u = ts[0], ts[1]
    if len(ts) - 2 != t.rank or u.rank != t.rank:
        raise ValueError(f"expects an update of rank {t.rank} and {t.rank} start indices")
    if u.dtype != t.dtype:
        raise TypeError(f"update element type {u.dtype} differs from the operand's {t.dtype}")
    for d in range(t.rank):
        if u.shape[d] > t.shape[d]:
            raise ValueError(f"update dimension {d} ({u.shape[d]}) exceeds the operand's ({t.shape[d]})")
    return t


def _ev_dynamic_update_slice(inst, args, _ev):
    x, u = args[0], args[1]
    st = clamp_starts([a.item() for a in args[2:]], x.shape, u.shape)
    out = np.array(x, copy=True)
    out[tuple(slice(s, s + z) for s, z in zip(st, u.shape))] = u
    return out


# ---- concatenate / pad ----------------------------------------------------------------------------
def _infer_concatenate(ts, attrs, regions):
    ts = tensors(ts)
    if not ts:
        raise ValueError("expects at least one operand")
    dim = int(attrs["dimension"])
    rank = ts[0].rank
    if not 0 <= dim < rank:
        raise ValueError(f"dimension {dim} out of range for rank {rank}")
    same_dtype(ts)
    for t in ts:
        if t.rank != rank or any(t.shape[d] != ts[0].shape[d] for d in range(rank) if d != dim):
            raise ValueError("operand shapes differ outside the concatenated dimension: " +
                             ", ".join(map(str, ts)))
    shape = list(ts[0].shape)
    shape[dim] = sum(t.shape[dim] for t in ts)
    return TensorType(tuple(shape), ts[0].dtype)


def _ev_concatenate(inst, args, _ev):
    return np.concatenate(args, axis=int(inst.attrs["dimension"])).astype(_out(inst).dtype.np_dtype, copy=False)


def pad_shape(shape, low, high, interior):
    out = []
    for d, (n, lo, hi, it) in enumerate(zip(shape, low, high, interior)):
        if it < 0:
            raise ValueError(f"interior padding must be >= 0, got {it}")
        size = lo + hi + n + max(n - 1, 0) * it
        if size < 0:
            raise ValueError(f"padding makes dimension {d} negative ({size})")
        out.append(size)
    return tuple(out)


def _infer_pad(ts, attrs, regions):
    count(ts, 2)
    t, pv = tensors(ts)
    if pv.shape != () or pv.dtype != t.dtype:
        raise TypeError(f"padding_value must be a scalar of {t.dtype}, got {pv}")
    low, high, interior = (dims_attr(attrs, k) for k in ("edge_padding_low", "edge_padding_high",
                                                          "interior_padding"))
    if not len(low) == len(high) == len(interior) == t.rank:
        raise ValueError(f"padding attributes must have {t.rank} entries")
    return TensorType(pad_shape(t.shape, low, high, interior), t.dtype)


def pad_value(x: np.ndarray, pv, low, high, interior) -> np.ndarray:
    shape = pad_shape(x.shape, low, high, interior)
    out = np.full(shape, pv, dtype=x.dtype)
    src, dst = [], []
    for n, lo, it, size in zip(x.shape, low, interior, shape):
        step = it + 1
        # input index i lands at lo + i * step; keep those in [0, size)
        i0 = 0 if lo >= 0 else (-lo + step - 1) // step
        if n == 0:
            src.append(slice(0, 0))
            dst.append(slice(0, 0))
            continue
        i1 = n - 1
        last = lo + i1 * step
        if last >= size:
            i1 = (size - 1 - lo) // step
        if i1 < i0:
            src.append(slice(0, 0))
            dst.append(slice(0, 0))
            continue
        src.append(slice(i0, i1 + 1))
        dst.append(slice(lo + i0 * step, lo + i1 * step + 1, step))
    out[tuple(dst)] = x[tuple(src)]
    return out


def _ev_pad(inst, args, _ev):
    low, high, interior = (dims_attr(inst.attrs, k) for k in ("edge_padding_low", "edge_padding_high",
                                                               "interior_padding"))
    return pad_value(args[0], args[1], low, high, interior)


# ---- generators / conversions ---------------------------------------------------------------------
def iota_value(t: TensorType, dim: int) -> np.ndarray:
    if not 0 <= dim < max(t.rank, 1) or (t.rank == 0):
        raise ValueError(f"iota_dimension {dim} out of range for {t}")
    n = t.shape[dim]
    ar = np.arange(n, dtype=np.int64)
    view = [1] * t.rank
    view[dim] = n
    ar = np.broadcast_to(ar.reshape(view), t.shape)
    dt = t.dtype
    if dt.is_int or dt.is_pred:
        return N.convert(ar, D.I64, dt)
    return N.convert(ar.astype(np.int64), D.I64, dt)


def _ev_iota(inst, args, _ev):
    return np.ascontiguousarray(iota_value(_out(inst), int(inst.attrs["iota_dimension"])))


def _ev_bitcast_convert(inst, args, _ev):
    src = inst.operands[0].type.dtype
    return N.bitcast(args[0], src, _out(inst).dtype, _out(inst).shape)


def _infer_get_dimension_size(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0])
    d = int(attrs["dimension"])
    if not 0 <= d < t.rank:
        raise ValueError(f"dimension {d} out of range for rank {t.rank}")
    return TensorType((), D.I32)


def _ev_get_dimension_size(inst, args, _ev):
    return np.array(args[0].shape[int(inst.attrs["dimension"])], dtype=np.int32)


# ---- gather / scatter -----------------------------------------------------------------------------
def gather_shape(operand: TensorType, indices: TensorType, dn: GatherDimensionNumbers, sizes) -> tuple:
    ivd = dn.index_vector_dim
    if not 0 <= ivd <= indices.rank:
        raise ValueError(f"index_vector_dim {ivd} out of range for start_indices of rank {indices.rank}")
    if len(sizes) != operand.rank:
        raise ValueError(f"slice_sizes must have {operand.rank} entries, got {len(sizes)}")
    nidx = indices.shape[ivd] if ivd < indices.rank else 1
    if len(dn.start_index_map) != nidx:
        raise ValueError(f"start_index_map has {len(dn.start_index_map)} entries, index vectors have {nidx}")
    if len(dn.offset_dims) + len(dn.collapsed_slice_dims) + len(dn.operand_batching_dims) != operand.rank:
        raise ValueError("offset_dims + collapsed_slice_dims + operand_batching_dims must cover the operand rank")
    check_dims(dn.collapsed_slice_dims + dn.operand_batching_dims, operand.rank,
               "collapsed_slice_dims + operand_batching_dims")
    check_dims(dn.start_index_map, operand.rank, "start_index_map")
    for d in dn.collapsed_slice_dims + dn.operand_batching_dims:
        if sizes[d] > 1:
            raise ValueError(f"slice_sizes[{d}] must be <= 1 for a collapsed/batching dimension")
    for d, s in enumerate(sizes):
        if not 0 <= s <= operand.shape[d]:
            raise ValueError(f"slice_sizes[{d}] = {s} out of range (dimension size {operand.shape[d]})")
    batch = [s for d, s in enumerate(indices.shape) if d != ivd]
    offs = [s for d, s in enumerate(sizes) if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
    rank = len(batch) + len(offs)
    check_dims(dn.offset_dims, rank, "offset_dims")
    out, bi, oi = [], 0, 0
    for d in range(rank):
        if d in dn.offset_dims:
            out.append(offs[oi])
            oi += 1
        else:
            out.append(batch[bi])
            bi += 1
    return tuple(out)


def _infer_gather(ts, attrs, regions):
    count(ts, 2)
    op, idx = tensors(ts)
    if not idx.dtype.is_int:
        raise TypeError(f"start_indices must be integers, got {idx}")
    dn = attrs["dimension_numbers"]
    return TensorType(gather_shape(op, idx, dn, dims_attr(attrs, "slice_sizes")), op.dtype)


def _ev_gather(inst, args, _ev):
    return gather_values(args[0], args[1], inst.attrs["dimension_numbers"],
                         dims_attr(inst.attrs, "slice_sizes"), _out(inst).shape)


def _ev_dynamic_gather(inst, args, _ev):
    sizes = tuple(int(v) for v in np.asarray(args[2]).reshape(-1))
    return gather_values(args[0], args[1], inst.attrs["dimension_numbers"], sizes, _out(inst).shape)


def _infer_scatter(ts, attrs, regions):
    ts = tensors(ts)
    if len(ts) < 3 or len(ts) % 2 == 0:
        raise ValueError(f"expects N inputs, scatter_indices and N updates, got {len(ts)} operands")
    n = (len(ts) - 1) // 2
    inputs, idx, updates = ts[:n], ts[n], ts[n + 1:]
    same_shape(inputs, "inputs")
    same_shape(updates, "updates")
    if not idx.dtype.is_int:
        raise TypeError(f"scatter_indices must be integers, got {idx}")
    dn: ScatterDimensionNumbers = attrs["scatter_dimension_numbers"]
    rank = inputs[0].rank
    if len(dn.update_window_dims) + len(dn.inserted_window_dims) + len(dn.input_batching_dims) != rank:
        raise ValueError("update_window_dims + inserted_window_dims + input_batching_dims must cover the input rank")
    ivd = dn.index_vector_dim
    if not 0 <= ivd <= idx.rank:
        raise ValueError(f"index_vector_dim {ivd} out of range")
    nidx = idx.shape[ivd] if ivd < idx.rank else 1
    if len(dn.scatter_dims_to_operand_dims) != nidx:
        raise ValueError("scatter_dims_to_operand_dims size differs from the index vector size")
    check_dims(dn.scatter_dims_to_operand_dims, rank, "scatter_dims_to_operand_dims")
    check_dims(dn.inserted_window_dims + dn.input_batching_dims, rank, "inserted_window_dims + input_batching_dims")
    urank = updates[0].rank
    check_dims(dn.update_window_dims, urank, "update_window_dims")
    scatter_sizes = [s for d, s in enumerate(idx.shape) if d != ivd]
    upd_scatter = [s for d, s in enumerate(updates[0].shape) if d not in dn.update_window_dims]
    if scatter_sizes != upd_scatter:
        raise ValueError(f"update scatter dimensions {upd_scatter} differ from the index batch {scatter_sizes}")
    if regions:
        outs = region_output_types(regions[0])
        if len(outs) == n:
            return pack(TensorType(inputs[i].shape, outs[i].dtype) for i in range(n))
    return pack(inputs)


def _ev_scatter(inst, args, ev):
    n = (len(args) - 1) // 2
    outs = scatter_values(args[:n], args[n], args[n + 1:], inst.attrs["scatter_dimension_numbers"],
                          inst.regions[0], ev, [t.dtype for t in inst.result_types])
    return outs[0] if n == 1 and not inst.multi else tuple(outs)


# ---- dynamic shape ops with static result types -------------------------------------------------
def _ev_dynamic_broadcast_in_dim(inst, args, _ev):
    return broadcast_in_dim_value(args[0], dims_attr(inst.attrs, "broadcast_dimensions"), _out(inst).shape)


def _ev_dynamic_pad(inst, args, _ev):
    low, high, interior = (tuple(int(v) for v in np.asarray(a).reshape(-1)) for a in args[2:5])
    return pad_value(args[0], args[1], low, high, interior)


# ---- the table ------------------------------------------------------------------------------------
defop("broadcast_in_dim", DATA_MOVEMENT, 1, attrs=("broadcast_dimensions",), evaluate=_ev_broadcast_in_dim, infer=needs_type)
defop("broadcast", DATA_MOVEMENT, 1, attrs=("broadcast_sizes",), infer=_infer_broadcast,
      evaluate=_ev_broadcast)  # legacy: prepends dims
defop("reshape", DATA_MOVEMENT, 1, evaluate=_ev_reshape, infer=needs_type)
defop("transpose", DATA_MOVEMENT, 1, attrs=("permutation",), infer=_infer_transpose, evaluate=_ev_transpose)
defop("slice", DATA_MOVEMENT, 1, attrs=("start_indices", "limit_indices", "strides"), infer=_infer_slice,
      evaluate=_ev_slice)
defop("dynamic_slice", DATA_MOVEMENT, None, attrs=("slice_sizes",), infer=_infer_dynamic_slice,
      evaluate=_ev_dynamic_slice)  # (operand, *scalar start indices)
defop("dynamic_update_slice", DATA_MOVEMENT, None, infer=_infer_dynamic_update_slice,
      evaluate=_ev_dynamic_update_slice)  # (operand, update, *scalar start indices)
defop("concatenate", DATA_MOVEMENT, None, attrs=("dimension",), infer=_infer_concatenate,
      evaluate=_ev_concatenate)
defop("pad", DATA_MOVEMENT, 2, attrs=("edge_padding_low", "edge_padding_high", "interior_padding"),
      infer=_infer_pad, evaluate=_ev_pad)
defop("reverse", DATA_MOVEMENT, 1, attrs=("dimensions",), infer=_infer_reverse, evaluate=_ev_reverse)
defop("iota", DATA_MOVEMENT, 0, attrs=("iota_dimension",), evaluate=_ev_iota, infer=needs_type)
defop("bitcast_convert", OTHER, 1, evaluate=_ev_bitcast_convert, infer=needs_type)
defop("gather", OTHER, 2, attrs=("dimension_numbers", "slice_sizes"), optional_attrs=("indices_are_sorted",),
      infer=_infer_gather, evaluate=_ev_gather)
defop("scatter", OTHER, None, attrs=("scatter_dimension_numbers",),
      optional_attrs=("indices_are_sorted", "unique_indices"), num_regions=1, variadic_results=True,
      infer=_infer_scatter, evaluate=_ev_scatter)
defop("get_dimension_size", OTHER, 1, attrs=("dimension",), infer=_infer_get_dimension_size,
      evaluate=_ev_get_dimension_size)
# dynamic_* variants with static result types (shape operands are constants)
defop("dynamic_iota", DATA_MOVEMENT, 1, attrs=("iota_dimension",), evaluate=_ev_iota, infer=needs_type)
defop("dynamic_reshape", DATA_MOVEMENT, 2, evaluate=_ev_reshape, infer=needs_type)
defop("dynamic_broadcast_in_dim", DATA_MOVEMENT, 2, attrs=("broadcast_dimensions",),
      optional_attrs=("known_expanding_dimensions", "known_nonexpanding_dimensions"),
      evaluate=_ev_dynamic_broadcast_in_dim, infer=needs_type)
defop("dynamic_pad", DATA_MOVEMENT, 5, evaluate=_ev_dynamic_pad, infer=needs_type)
defop("dynamic_gather", OTHER, 3, attrs=("dimension_numbers",), optional_attrs=("indices_are_sorted",),
      evaluate=_ev_dynamic_gather, infer=needs_type)

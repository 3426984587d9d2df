"""Contractions: dot_general (and legacy dot), convolution.

Evaluation converts both operands to the result element type (StableHLO's preferred element type
semantics), then accumulates in f64/c128 (floats) or int64 (integers, wrapped at the end).
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from ..attrs import ConvDimensionNumbers, DotDimensionNumbers
from ..types import TensorType
from . import CONTRACTION, defop
from . import _num as N
from ._common import needs_type, check_dims, count, dims_attr, pairs_attr, tensors, window_output_dim
from .movement import pad_value


# ---- dot_general ---------------------------------------------------------------------------------
def _infer_dot_general(ts, attrs, regions):
    count(ts, 2)
    lhs, rhs = tensors(ts)
    dn: DotDimensionNumbers = attrs["dot_dimension_numbers"]
    lb, rb = dn.lhs_batching_dimensions, dn.rhs_batching_dimensions
    lc, rc = dn.lhs_contracting_dimensions, dn.rhs_contracting_dimensions
    if len(lb) != len(rb) or len(lc) != len(rc):
        raise ValueError("lhs and rhs batching/contracting dimension lists differ in length")
    check_dims(lb + lc, lhs.rank, "lhs batching + contracting dimensions")
    check_dims(rb + rc, rhs.rank, "rhs batching + contracting dimensions")
    for a, b in zip(lb, rb):
        if lhs.shape[a] != rhs.shape[b]:
            raise ValueError(f"batching dimension sizes differ: lhs[{a}]={lhs.shape[a]}, rhs[{b}]={rhs.shape[b]}")
    for a, b in zip(lc, rc):
        if lhs.shape[a] != rhs.shape[b]:
            raise ValueError(f"contracting dimension sizes differ: lhs[{a}]={lhs.shape[a]}, rhs[{b}]={rhs.shape[b]}")
    shape = tuple(lhs.shape[d] for d in lb)
    shape += tuple(s for d, s in enumerate(lhs.shape) if d not in lb and d not in lc)
    shape += tuple(s for d, s in enumerate(rhs.shape) if d not in rb and d not in rc)
    return TensorType(shape, lhs.dtype)


def _to_acc(x: np.ndarray, src: D.DType, dst: D.DType) -> np.ndarray:
    """Operand values converted to the result type, then widened for accumulation."""
    v = N.convert(x, src, dst) if src != dst else x
    if dst.is_int:
        return N.to_int(v, dst).astype(np.int64 if dst.is_signed or dst.bits < 64 else np.uint64)
    if dst.is_pred:
        return v.astype(np.int64)
    # floats accumulate in f32 (f64 for f64), complex in c64 (c128): what XLA does, and the
    # conformance files' expected values carry its rounding
    if dst.is_complex:
        return v
    return v if v.dtype in (np.float32, np.float64) else v.astype(np.float32)


def _from_acc(y: np.ndarray, dst: D.DType) -> np.ndarray:
    if dst.is_int:
        return N.wrap_int(y, dst)
    if dst.is_pred:
        return y != 0
    return N.from_compute(y, dst)


def dot_general_values(lhs, rhs, lhs_dt, rhs_dt, dn: DotDimensionNumbers, out: TensorType) -> np.ndarray:
    dst = out.dtype
    a, b = _to_acc(lhs, lhs_dt, dst), _to_acc(rhs, rhs_dt, dst)
    lb, rb = list(dn.lhs_batching_dimensions), list(dn.rhs_batching_dimensions)
    lc, rc = list(dn.lhs_contracting_dimensions), list(dn.rhs_contracting_dimensions)
    lf = [d for d in range(a.ndim) if d not in lb and d not in lc]
    rf = [d for d in range(b.ndim) if d not in rb and d not in rc]
    bsz = math.prod(a.shape[d] for d in lb)
    m = math.prod(a.shape[d] for d in lf)
    n = math.prod(b.shape[d] for d in rf)
    k = math.prod(a.shape[d] for d in lc)
    at = np.transpose(a, lb + lf + lc).reshape(bsz, m, k)
    bt = np.transpose(b, rb + rc + rf).reshape(bsz, k, n)
    if at.dtype.kind == "c":
        # complex: accumulate one product at a time in the element type (matches XLA's rounding)
        r = np.zeros((bsz, m, n), at.dtype)
        for j in range(k):
            r += at[:, :, j, None] * bt[:, None, j, :]
    else:
        r = np.matmul(at, bt)  # integer matmul wraps modulo 2**64, as the result's wrapping needs
    return _from_acc(r.reshape(out.shape), dst)


def _ev_dot_general(inst, args, _ev):
    return dot_general_values(args[0], args[1], inst.operands[0].type.dtype, inst.operands[1].type.dtype,
                              inst.attrs["dot_dimension_numbers"], inst.type)


def _dot_numbers(lhs: TensorType, rhs: TensorType) -> DotDimensionNumbers:
    if lhs.rank not in (1, 2) or rhs.rank not in (1, 2):
        raise ValueError(f"dot expects rank-1 or rank-2 operands, got {lhs} and {rhs}")
    return DotDimensionNumbers((), (), (lhs.rank - 1,), (0,))


def _infer_dot(ts, attrs, regions):
    count(ts, 2)
    lhs, rhs = tensors(ts)
    return _infer_dot_general(ts, {"dot_dimension_numbers": _dot_numbers(lhs, rhs)}, regions)


def _ev_dot(inst, args, _ev):
    lt, rt = inst.operands[0].type, inst.operands[1].type
    return dot_general_values(args[0], args[1], lt.dtype, rt.dtype, _dot_numbers(lt, rt), inst.type)


# ---- convolution ---------------------------------------------------------------------------------
def _conv_attrs(attrs, nsp):
    ws = dims_attr(attrs, "window_strides", (1,) * nsp)
    pad = pairs_attr(attrs, "padding", nsp)
    ld = dims_attr(attrs, "lhs_dilation", (1,) * nsp)
    rd = dims_attr(attrs, "rhs_dilation", (1,) * nsp)
    rev = tuple(bool(x) for x in attrs.get("window_reversal") or (False,) * nsp)
    for name, v in (("window_strides", ws), ("lhs_dilation", ld), ("rhs_dilation", rd), ("window_reversal", rev)):
        if len(v) != nsp:
            raise ValueError(f"{name} must have {nsp} entries, got {len(v)}")
    for name, v in (("window_strides", ws), ("lhs_dilation", ld), ("rhs_dilation", rd)):
        if any(x <= 0 for x in v):
            raise ValueError(f"{name} must be positive, got {list(v)}")
    return ws, pad, ld, rd, rev


def _infer_convolution(ts, attrs, regions):
    count(ts, 2)
    lhs, rhs = tensors(ts)
    dn: ConvDimensionNumbers = attrs["dimension_numbers"]
    if lhs.rank != rhs.rank:
        raise ValueError(f"lhs and rhs ranks differ: {lhs} vs {rhs}")
    nsp = lhs.rank - 2
    ws, pad, ld, rd, rev = _conv_attrs(attrs, nsp)
    fgc = int(attrs.get("feature_group_count", 1))
    bgc = int(attrs.get("batch_group_count", 1))
    if fgc < 1 or bgc < 1 or (fgc > 1 and bgc > 1):
        raise ValueError("feature_group_count and batch_group_count must be positive, one of them 1")
    in_dims = (dn.input_batch_dimension,) + tuple(dn.input_spatial_dimensions) + (dn.input_feature_dimension,)
    k_dims = tuple(dn.kernel_spatial_dimensions) + (dn.kernel_input_feature_dimension, dn.kernel_output_feature_dimension)
    o_dims = (dn.output_batch_dimension,) + tuple(dn.output_spatial_dimensions) + (dn.output_feature_dimension,)
    for what, dims in (("input", in_dims), ("kernel", k_dims), ("output", o_dims)):
        if len(dims) != lhs.rank:
            raise ValueError(f"{what} dimension numbers do not cover rank {lhs.rank}")
        check_dims(dims, lhs.rank, f"{what} dimensions")
    n = lhs.shape[dn.input_batch_dimension]
    c = lhs.shape[dn.input_feature_dimension]
    if n % bgc or c % fgc:
        raise ValueError("batch/feature sizes are not divisible by the group counts")
    if rhs.shape[dn.kernel_input_feature_dimension] * fgc != c:
        raise ValueError(f"kernel input features ({rhs.shape[dn.kernel_input_feature_dimension]}) x "
                         f"feature_group_count ({fgc}) != input features ({c})")
    o = rhs.shape[dn.kernel_output_feature_dimension]
    if o % bgc or o % fgc:
        raise ValueError("kernel output features are not divisible by the group counts")
    shape = [0] * lhs.rank
    shape[dn.output_batch_dimension] = n // bgc
    shape[dn.output_feature_dimension] = o
    for i in range(nsp):
        shape[dn.output_spatial_dimensions[i]] = window_output_dim(
            lhs.shape[dn.input_spatial_dimensions[i]], rhs.shape[dn.kernel_spatial_dimensions[i]], ws[i], pad[i],
            ld[i], rd[i])
    return TensorType(tuple(shape), lhs.dtype)


def convolution_values(lhs, rhs, lhs_dt, rhs_dt, attrs, out: TensorType) -> np.ndarray:
    dn: ConvDimensionNumbers = attrs["dimension_numbers"]
    nsp = lhs.ndim - 2
    ws, pad, ld, rd, rev = _conv_attrs(attrs, nsp)
    fgc = int(attrs.get("feature_group_count", 1))
    bgc = int(attrs.get("batch_group_count", 1))
    dst = out.dtype
    a = _to_acc(lhs, lhs_dt, dst)
    b = _to_acc(rhs, rhs_dt, dst)
    # canonical layouts: lhs (N, C, *S), rhs (O, I, *K)
    a = np.transpose(a, (dn.input_batch_dimension, dn.input_feature_dimension) + tuple(dn.input_spatial_dimensions))
    b = np.transpose(b, (dn.kernel_output_feature_dimension, dn.kernel_input_feature_dimension)
                     + tuple(dn.kernel_spatial_dimensions))
    flip = tuple(2 + i for i in range(nsp) if rev[i])
    if flip:
        b = np.flip(b, flip)
    zero = np.zeros((), a.dtype)
    a = pad_value(a, zero, [0, 0] + [p[0] for p in pad], [0, 0] + [p[1] for p in pad], [0, 0] + [x - 1 for x in ld])
    b = pad_value(b, np.zeros((), b.dtype), [0] * b.ndim, [0] * b.ndim, [0, 0] + [x - 1 for x in rd])
    nb, c = a.shape[:2]
    o, ci = b.shape[:2]
    ksp = b.shape[2:]
    osp = tuple(out.shape[d] for d in dn.output_spatial_dimensions)
    # windows: (N, C, *O, *K)
    if any(s == 0 for s in osp) or any(k == 0 for k in ksp):
        win = np.zeros((nb, c) + osp + ksp, a.dtype)
    else:
        win = np.lib.stride_tricks.sliding_window_view(a, ksp, axis=tuple(range(2, 2 + nsp)))
        win = win[(slice(None), slice(None)) + tuple(slice(0, (n - 1) * s + 1, s) for n, s in zip(osp, ws))]
    sp_letters = "abcdefghijklm"[:nsp]
    k_letters = "pqrstuvwxyz"[:nsp]
    results = []
    if bgc > 1:
        ng = nb // bgc
        og = o // bgc
        for g in range(bgc):
            wg = win[g * ng:(g + 1) * ng]
            bg = b[g * og:(g + 1) * og]
            results.append(np.einsum(f"NC{sp_letters}{k_letters},OC{k_letters}->NO{sp_letters}", wg, bg))
        r = np.concatenate(results, axis=1)
    else:
        cg = c // fgc
        og = o // fgc
        for g in range(fgc):
            wg = win[:, g * cg:(g + 1) * cg]
            bg = b[g * og:(g + 1) * og]
            results.append(np.einsum(f"NC{sp_letters}{k_letters},OC{k_letters}->NO{sp_letters}", wg, bg))
        r = np.concatenate(results, axis=1)
    # r is (N, O, *spatial): move into the output layout
    src = [dn.output_batch_dimension, dn.output_feature_dimension] + list(dn.output_spatial_dimensions)
    inv = np.argsort(src)
    r = np.transpose(r, inv)
    return _from_acc(np.ascontiguousarray(r).reshape(out.shape), dst)


def _ev_convolution(inst, args, _ev):
    return convolution_values(args[0], args[1], inst.operands[0].type.dtype, inst.operands[1].type.dtype,
                              inst.attrs, inst.type)


def _ev_dynamic_conv(inst, args, _ev):
    attrs = dict(inst.attrs)
    attrs["padding"] = tuple(tuple(int(v) for v in row) for row in np.asarray(args[2]).reshape(-1, 2))
    return convolution_values(args[0], args[1], inst.operands[0].type.dtype, inst.operands[1].type.dtype,
                              attrs, inst.type)


defop("dot_general", CONTRACTION, 2, attrs=("dot_dimension_numbers",),
      optional_attrs=("precision_config", "algorithm"), infer=_infer_dot_general, evaluate=_ev_dot_general)
defop("dot", CONTRACTION, 2, optional_attrs=("precision_config",), infer=_infer_dot, evaluate=_ev_dot)
defop("convolution", CONTRACTION, 2,
      attrs=("dimension_numbers", "feature_group_count", "batch_group_count"),
      optional_attrs=("window_strides", "padding", "lhs_dilation", "rhs_dilation", "window_reversal",
                      "precision_config"), infer=_infer_convolution, evaluate=_ev_convolution)
# (operand, kernel, padding tensor): convolution with the padding given as an operand
defop("dynamic_conv", CONTRACTION, 3,
      attrs=("dimension_numbers", "feature_group_count", "batch_group_count"),
      optional_attrs=("window_strides", "lhs_dilation", "rhs_dilation", "window_reversal",
                      "precision_config"), infer=needs_type, evaluate=_ev_dynamic_conv)

"""Convolution as a GEMM (implicit im2col), target independent.

A convolution with one feature group and one batch group, no input (lhs) dilation and no window
reversal is, per batch element, C[m, n] = sum_k A[m, k] B[k, n] with
  m = output position (the output's spatial dims, row-major),
  n = output feature,
  k = (window position, input feature), in the order that walks the input most contiguously,
  A[m, k] = input[b, pos(m, k), c(k)] (0 where the window hangs over the padding),
  B[k, n] = kernel[window position, c, n].
The patches matrix A is never stored: the GEMM's A packing calls `load_a`, which reads the input
where the window element lies (or 0). Any input, kernel and output layout works: the form keeps
each dim's stride, and `out_coords` places (b, m, n) in the output.
Anything else (feature/batch groups, lhs dilation, reversal) is not a GEMM here: `conv_form`
says why and the backend keeps the interpreter's implementation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from llvmlite import ir

from ..ir.dtypes import DType
from . import lltypes as T
from .gemm import Axis, Contraction, row_major_strides
from .indexing import c64, delinearize


@dataclass(frozen=True)
class SpatialDim:
    in_size: int
    in_stride: int          # input element stride
    out_size: int
    window_stride: int
    k_size: int
    k_stride: int           # kernel element stride
    dilation: int           # window (rhs) dilation
    pad_lo: int


@dataclass(frozen=True)
class ConvForm:
    con: Contraction
    spatial: tuple[SpatialDim, ...]
    batch_stride: int       # input
    c_size: int
    c_stride: int           # input feature stride
    feature_last: bool      # k = (window..., c) (else (c, window...))
    out_batch: int          # output dims
    out_feature: int
    out_spatial: tuple[int, ...]
    out_rank: int

    @property
    def k_shape(self) -> tuple[int, ...]:
        ks = tuple(s.k_size for s in self.spatial)
        return ks + (self.c_size,) if self.feature_last else (self.c_size,) + ks

    def out_coords(self, b: ir.IRBuilder, bi, m, n) -> list:
        coords = [c64(0)] * self.out_rank
        coords[self.out_batch] = bi
        coords[self.out_feature] = n
        for d, v in zip(self.out_spatial, delinearize(b, m, tuple(s.out_size for s in self.spatial))):
            coords[d] = v
        return coords

    def load_a(self, b: ir.IRBuilder, x, dt: DType, bi, m, k):
        """A[bi, m, k]: the input element under window element k at output position m (0 in the
        padding), as a compute value of dt."""
        sp = self.spatial
        oc = delinearize(b, m, tuple(s.out_size for s in sp))
        kc = delinearize(b, k, self.k_shape)
        c = kc[-1] if self.feature_last else kc[0]
        wk = kc[:-1] if self.feature_last else kc[1:]
        off = b.add(b.mul(bi, c64(self.batch_stride)), b.mul(c, c64(self.c_stride)))
        valid = ir.Constant(T.I1, 1)
        for s, o, w in zip(sp, oc, wk):
            pos = b.sub(b.add(b.mul(o, c64(s.window_stride)), b.mul(w, c64(s.dilation))), c64(s.pad_lo))
            # unsigned compare: also false for negative positions
            valid = b.and_(valid, b.icmp_unsigned("<", pos, c64(s.in_size)))
            off = b.add(off, b.mul(pos, c64(s.in_stride)))
        safe = b.select(valid, off, c64(0))
        v = T.load(b, x, dt, safe)
        return _select(b, valid, v, T.zero(dt))


def _select(b, p, x, y):
    if isinstance(x, tuple):
        return (b.select(p, x[0], y[0]), b.select(p, x[1], y[1]))
    return b.select(p, x, y)


def conv_form(lhs_shape, rhs_shape, out_shape, attrs) -> ConvForm | str:
    """The GEMM form of a convolution, or why it has none."""
    from ..ir.ops.contraction import _conv_attrs
    dn = attrs["dimension_numbers"]
    nsp = len(lhs_shape) - 2
    try:
        ws, pad, ld, rd, rev = _conv_attrs(attrs, nsp)
    except (ValueError, KeyError) as e:
        return f"convolution attributes: {e}"
    if int(attrs.get("feature_group_count", 1)) != 1 or int(attrs.get("batch_group_count", 1)) != 1:
        return "grouped convolution (feature_group_count/batch_group_count > 1) has no GEMM form here"
    if any(x != 1 for x in ld):
        return "convolution with lhs (input) dilation has no GEMM form here"
    if any(rev):
        return "convolution with window reversal has no GEMM form here"
    ls, ks = row_major_strides(lhs_shape), row_major_strides(rhs_shape)
    spatial = tuple(SpatialDim(lhs_shape[d], ls[d], out_shape[od], ws[i], rhs_shape[kd], ks[kd], rd[i], pad[i][0])
                    for i, (d, kd, od) in enumerate(zip(dn.input_spatial_dimensions, dn.kernel_spatial_dimensions,
                                                        dn.output_spatial_dimensions)))
    c_dim = dn.input_feature_dimension
    feature_last = ls[c_dim] == 1 or all(ls[c_dim] < s.in_stride for s in spatial)
    c_size = lhs_shape[c_dim]
    # B[k, n]: kernel over (window..., i) or (i, window...), and o
    kdims = [(s.k_size, s.k_stride) for s in spatial]
    idim = (rhs_shape[dn.kernel_input_feature_dimension], ks[dn.kernel_input_feature_dimension])
    kdims = kdims + [idim] if feature_last else [idim] + kdims
    b_k = Axis(tuple(_merged(kdims)))
    o_dim = dn.kernel_output_feature_dimension
    b_n = Axis(((rhs_shape[o_dim], ks[o_dim]),) if rhs_shape[o_dim] != 1 else ())
    nb = out_shape[dn.output_batch_dimension]
    M = math.prod(s.out_size for s in spatial)
    K = c_size * math.prod(s.k_size for s in spatial)
    # A's axes describe the (never stored) patches matrix [B, M, K]
    con = Contraction(Axis(((nb, M * K),) if nb != 1 else ()), Axis(()), Axis(((M, K),) if M != 1 else ()),
                      Axis(((K, 1),) if K != 1 else ()), b_k, b_n, tuple(out_shape), (nb,),
                      tuple(s.out_size for s in spatial), (rhs_shape[o_dim],))
    return ConvForm(con, spatial, ls[dn.input_batch_dimension], c_size, ls[c_dim], feature_last,
                    dn.output_batch_dimension, dn.output_feature_dimension, tuple(dn.output_spatial_dimensions),
                    len(out_shape))


def _merged(dims):
    out = []
    for size, stride in dims:
        if size == 1:
            continue
        if out and out[-1][1] == stride * size:
            out[-1] = (out[-1][0] * size, stride)
        else:
            out.append((size, stride))
    return out


__all__ = ["ConvForm", "SpatialDim", "conv_form"]

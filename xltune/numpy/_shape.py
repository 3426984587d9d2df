"""Shape manipulation: reshape, transpose, squeeze, concatenate, stack, pad, flip, tile, ...

Static shapes only: every size is known while tracing, so each of these is one data-movement
op (reshape, transpose, broadcast_in_dim, slice, concatenate, pad, reverse) or a few.
"""
from __future__ import annotations

import builtins
import math

from ..ir.types import TensorType
from ._core import (Array, api, asarray, broadcast_in_dim, broadcast_shapes, constant, emit,
                    error, normalize_axes, normalize_axis, promote_args, reshape_to, static_int, static_shape,
                    wrap)


@api
def reshape(a, shape=None, order="C", *, newshape=None):
    x = asarray(a)
    shape = newshape if shape is None else shape
    if order != "C":
        raise error(f"order={order!r} is not supported (only 'C')")
    dims = list(static_shape(shape))
    if dims.count(-1) > 1:
        raise error(f"can only specify one unknown dimension (-1), got {tuple(dims)}")
    if builtins.any(d < -1 for d in dims):
        raise error(f"negative dimension in {tuple(dims)}")
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or x.size % known:
            raise error(f"cannot reshape array of shape {x.shape} (size {x.size}) into {tuple(dims)}")
        dims[dims.index(-1)] = x.size // known
    if math.prod(dims) != x.size:
        raise error(f"cannot reshape array of shape {x.shape} (size {x.size}) into shape {tuple(dims)}")
    return reshape_to(x, tuple(dims))


@api
def ravel(a, order="C"):
    return reshape(a, (-1,), order)


@api
def transpose(a, axes=None):
    x = asarray(a)
    if axes is None:
        perm = tuple(reversed(range(x.ndim)))
    else:
        perm = tuple(normalize_axis(p, x.ndim) for p in axes)
        if sorted(perm) != list(range(x.ndim)):
            raise error(f"axes {tuple(axes)} are not a permutation of the {x.ndim} axes")
    if perm == tuple(range(x.ndim)):
        return x
    return wrap(emit("transpose", [x], {"permutation": perm}), x.weak)


permute_dims = transpose


@api
def matrix_transpose(x):
    a = asarray(x)
    if a.ndim < 2:
        raise error(f"needs rank >= 2, got shape {a.shape}")
    perm = list(range(a.ndim))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return transpose(a, perm)


@api
def swapaxes(a, axis1, axis2):
    x = asarray(a)
    i, j = normalize_axis(axis1, x.ndim), normalize_axis(axis2, x.ndim)
    perm = list(range(x.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(x, perm)


@api
def moveaxis(a, source, destination):
    x = asarray(a)
    src = [normalize_axis(s, x.ndim) for s in (source if isinstance(source, (list, tuple)) else [source])]
    dst = [normalize_axis(d, x.ndim) for d in
           (destination if isinstance(destination, (list, tuple)) else [destination])]
    if len(src) != len(dst):
        raise error("source and destination must have the same number of axes")
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


@api
def squeeze(a, axis=None):
    x = asarray(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axes(axis, x.ndim)
        for i in axes:
            if x.shape[i] != 1:
                raise error(f"cannot squeeze axis {i} of shape {x.shape}: its size is {x.shape[i]}, not 1")
    return reshape_to(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


@api
def expand_dims(a, axis):
    x = asarray(a)
    axes_in = axis if isinstance(axis, (list, tuple)) else (axis,)
    out_rank = x.ndim + len(axes_in)
    axes = normalize_axes(tuple(axes_in), out_rank)
    shape = list(x.shape)
    for i in axes:
        shape.insert(i, 1)
    return reshape_to(x, tuple(shape))


@api
def broadcast_to(a, shape):
    x = asarray(a)
    shape = static_shape(shape)
    broadcast_shapes(x.shape, shape, what="broadcast_to: array and shape")
    if len(shape) < x.ndim:
        raise error(f"cannot broadcast shape {x.shape} to the lower-rank shape {shape}")
    from ._core import broadcast_to as _b
    return _b(x, shape)


@api
def broadcast_arrays(*args):
    xs = [asarray(a) for a in args]
    shape = broadcast_shapes(*(x.shape for x in xs))
    from ._core import broadcast_to as _b
    return [_b(x, shape) for x in xs]


@api
def atleast_1d(*arys):
    out = [reshape_to(asarray(a), (1,)) if asarray(a).ndim == 0 else asarray(a) for a in arys]
    return out[0] if len(out) == 1 else out


@api
def atleast_2d(*arys):
    out = []
    for a in arys:
        x = asarray(a)
        out.append(reshape_to(x, (1,) * (2 - x.ndim) + x.shape) if x.ndim < 2 else x)
    return out[0] if len(out) == 1 else out


# ---- joining and splitting ------------------------------------------------------------------------
@api
def concatenate(arrays, axis=0, dtype=None):
    if isinstance(arrays, Array) or not hasattr(arrays, "__len__"):
        raise error("takes a sequence of arrays")
    if len(arrays) == 0:
        raise error("need at least one array to concatenate")
    xs, dt, weak = promote_args(*arrays)
    if dtype is not None:
        from ._core import convert
        from ._dtypes import to_dtype
        dt = to_dtype(dtype)
        xs = [convert(x, dt) for x in xs]
    if axis is None:
        xs = [reshape_to(x, (x.size,)) for x in xs]
        axis = 0
    rank = xs[0].ndim
    if rank == 0:
        raise error("zero-dimensional arrays cannot be concatenated")
    ax = normalize_axis(axis, rank)
    for x in xs:
        if x.ndim != rank or builtins.any(x.shape[i] != xs[0].shape[i] for i in range(rank) if i != ax):
            raise error(f"all input dimensions except the concatenation axis {ax} must match: "
                        f"{', '.join(str(y.shape) for y in xs)}")
    if len(xs) == 1:
        return xs[0]
    shape = list(xs[0].shape)
    shape[ax] = builtins.sum(x.shape[ax] for x in xs)
    return wrap(emit("concatenate", xs, {"dimension": ax}), weak)


concat = concatenate


@api
def stack(arrays, axis=0, dtype=None):
    if len(arrays) == 0:
        raise error("need at least one array to stack")
    xs, _, _ = promote_args(*arrays)
    shapes = {x.shape for x in xs}
    if len(shapes) != 1:
        raise error(f"all input arrays must have the same shape, got {', '.join(str(x.shape) for x in xs)}")
    ax = normalize_axis(axis, xs[0].ndim + 1)
    return concatenate([expand_dims(x, ax) for x in xs], ax, dtype=dtype)


@api
def hstack(tup):
    xs = [asarray(t) for t in tup]
    if builtins.all(x.ndim <= 1 for x in xs):
        return concatenate([reshape_to(x, (x.size,)) for x in xs], 0)
    return concatenate(xs, 1)


@api
def vstack(tup):
    return concatenate([atleast_2d(t) for t in tup], 0)


def slice_static(x: Array, starts, limits, strides=None) -> Array:
    strides = tuple(strides or (1,) * x.ndim)
    starts, limits = tuple(starts), tuple(limits)
    if starts == (0,) * x.ndim and limits == x.shape and strides == (1,) * x.ndim:
        return x
    return wrap(emit("slice", [x], {"start_indices": starts, "limit_indices": limits, "strides": strides}), x.weak)


def slice_axis(x: Array, ax: int, lo: int, hi: int) -> Array:
    starts = [0] * x.ndim
    limits = list(x.shape)
    starts[ax], limits[ax] = lo, hi
    return slice_static(x, starts, limits)


@api
def split(ary, indices_or_sections, axis=0):
    x = asarray(ary)
    ax = normalize_axis(axis, x.ndim)
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int,)) or (hasattr(indices_or_sections, "__index__")
                                                   and not isinstance(indices_or_sections, Array)):
        k = static_int(indices_or_sections, "sections")
        if k <= 0 or n % k:
            raise error(f"array split does not result in an equal division ({n} into {k})")
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + [static_int(i, "split index") for i in indices_or_sections] + [n]
    return [slice_axis(x, ax, builtins.min(builtins.max(lo, 0), n), builtins.min(builtins.max(hi, lo), n))
            for lo, hi in zip(bounds[:-1], bounds[1:])]


@api
def array_split(ary, indices_or_sections, axis=0):
    x = asarray(ary)
    ax = normalize_axis(axis, x.ndim)
    n = x.shape[ax]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
        bounds = [0]
        for s in sizes:
            bounds.append(bounds[-1] + s)
        return [slice_axis(x, ax, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    return split(x, indices_or_sections, axis)


# ---- padding, flipping, tiling -----------------------------------------------------------------------
def _pad_widths(pad_width, ndim):
    import numpy as np
    try:
        pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (ndim, 2))
    except ValueError:
        raise error(f"pad_width {pad_width!r} does not fit an array of rank {ndim}") from None
    if (pw < 0).any():
        raise error(f"pad_width must be non-negative, got {pad_width!r}")
    return tuple(int(v) for v in pw[:, 0]), tuple(int(v) for v in pw[:, 1])


@api
def pad(array, pad_width, mode="constant", constant_values=0):
    x = asarray(array)
    if mode != "constant":
        raise error(f"mode={mode!r} is not supported (only 'constant')")
    lo, hi = _pad_widths(pad_width, x.ndim)
    cv = constant_values
    if isinstance(cv, (list, tuple)):
        raise error("per-axis constant_values are not supported; give one scalar")
    if isinstance(cv, Array):
        if cv.ndim:
            raise error("constant_values must be a scalar")
        from ._core import convert
        value = convert(cv, x.xdtype)
    else:
        value = constant(cv, x.xdtype)
    return wrap(emit("pad", [x, value], {"edge_padding_low": lo, "edge_padding_high": hi,
                                         "interior_padding": (0,) * x.ndim}), x.weak)


@api
def flip(m, axis=None):
    x = asarray(m)
    axes = normalize_axes(axis, x.ndim)
    if not axes:
        return x
    return wrap(emit("reverse", [x], {"dimensions": axes}), x.weak)


@api
def fliplr(m):
    return flip(m, 1)


@api
def flipud(m):
    return flip(m, 0)


@api
def roll(a, shift, axis=None):
    x = asarray(a)
    if axis is None:
        return reshape_to(roll(reshape_to(x, (x.size,)), shift, 0), x.shape)
    shifts = shift if isinstance(shift, (list, tuple)) else (shift,)
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    if len(shifts) != len(axes):
        raise error("shift and axis must have the same length")
    for s, ax in zip(shifts, axes):
        ax = normalize_axis(ax, x.ndim)
        n = x.shape[ax]
        if n == 0:
            continue
        s = static_int(s, "shift") % n
        if s:
            x = concatenate([slice_axis(x, ax, n - s, n), slice_axis(x, ax, 0, n - s)], ax)
    return x


@api
def tile(A, reps):
    x = asarray(A)
    reps = static_shape(reps, "reps")
    rank = builtins.max(x.ndim, len(reps))
    reps = (1,) * (rank - len(reps)) + tuple(reps)
    x = reshape_to(x, (1,) * (rank - x.ndim) + x.shape)
    inter = []
    for r, d in zip(reps, x.shape):
        inter += [r, d]
    b = broadcast_in_dim(x, inter, tuple(range(1, 2 * rank, 2)))
    return reshape_to(b, tuple(r * d for r, d in zip(reps, x.shape)))


@api
def repeat(a, repeats, axis=None):
    x = asarray(a)
    if isinstance(repeats, Array) or (hasattr(repeats, "__len__")):
        raise error("only a static int number of repeats is supported")
    k = static_int(repeats, "repeats")
    if axis is None:
        x = reshape_to(x, (x.size,))
        axis = 0
    ax = normalize_axis(axis, x.ndim)
    inter = x.shape[:ax + 1] + (k,) + x.shape[ax + 1:]
    dims = tuple(i if i <= ax else i + 1 for i in range(x.ndim))
    b = broadcast_in_dim(x, inter, dims)
    return reshape_to(b, x.shape[:ax] + (x.shape[ax] * k,) + x.shape[ax + 1:])


def _tri_mask(n, m, k, lower: bool) -> Array:
    from ._core import compare
    from ..ir import dtypes as D
    rows = wrap(emit("iota", [], {"iota_dimension": 0}, type=TensorType((n, m), D.I32)))
    cols = wrap(emit("iota", [], {"iota_dimension": 1}, type=TensorType((n, m), D.I32)))
    shifted = wrap(emit("add", [rows, broadcast_to(constant(k, D.I32), (n, m))]))
    return compare(cols, shifted, "LE" if lower else "GE")


@api
def tril(m, k=0):
    from ._elementwise import where
    x = asarray(m)
    if x.ndim < 2:
        raise error(f"needs rank >= 2, got shape {x.shape}")
    mask = broadcast_to(_tri_mask(x.shape[-2], x.shape[-1], static_int(k, "k"), True), x.shape)
    return where(mask, x, 0)


@api
def triu(m, k=0):
    from ._elementwise import where
    x = asarray(m)
    if x.ndim < 2:
        raise error(f"needs rank >= 2, got shape {x.shape}")
    mask = broadcast_to(_tri_mask(x.shape[-2], x.shape[-1], static_int(k, "k"), False), x.shape)
    return where(mask, x, 0)

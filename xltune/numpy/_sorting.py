"""sort and argsort: stablehlo.sort with a comparator region (NaNs sort last, as in numpy)."""
from __future__ import annotations

from ..ir.types import TensorType
from ._core import Array, api, asarray, compare, emit, error, normalize_axis, reshape_to, results, wrap
from ._dtypes import DEFAULT_INT
from ._reductions import scalar_region


def _less(a: Array, b: Array, descending: bool) -> Array:
    """a sorts before b: a < b (a > b descending); NaN after every number."""
    lt = compare(a, b, "GT" if descending else "LT")
    if not a.xdtype.is_float:
        return lt
    b_nan = compare(b, b, "NE")
    a_num = compare(a, a, "EQ")
    nan_last = wrap(emit("and", [b_nan, a_num]))
    return wrap(emit("or", [lt, nan_last]))


def _sort(operands: list[Array], ax: int, stable: bool, descending: bool) -> list[Array]:
    dts = []
    for x in operands:
        dts += [x.xdtype, x.xdtype]

    def body(*params):
        return [_less(params[0], params[1], descending)]

    region = scalar_region("comparator", dts, body)
    inst = emit("sort", operands, {"dimension": ax, "is_stable": stable}, regions=[region])
    return [wrap(r, x.weak) for r, x in zip(results(inst), operands)]


def _flat_axis(a, axis):
    x = asarray(a)
    if axis is None:
        return reshape_to(x, (x.size,)), 0
    if x.ndim == 0:
        raise error("cannot sort a 0-d array")
    return x, normalize_axis(axis, x.ndim)


@api
def sort(a, axis=-1, kind=None, order=None, *, stable=True, descending=False):
    if order is not None:
        raise error("order= (structured arrays) is not supported")
    x, ax = _flat_axis(a, axis)
    if x.xdtype.is_complex:
        raise error("sorting complex values is not supported")
    return _sort([x], ax, True if stable is None else bool(stable), descending)[0]


@api
def argsort(a, axis=-1, kind=None, order=None, *, stable=True, descending=False):
    if order is not None:
        raise error("order= (structured arrays) is not supported")
    x, ax = _flat_axis(a, axis)
    idx = wrap(emit("iota", [], {"iota_dimension": ax}, type=TensorType(x.shape, DEFAULT_INT)))
    return _sort([x, idx], ax, True, descending)[1]

"""Constants, parameters, linear algebra, FFT, RNG, custom calls, tokens, collectives, checks,
and xltune's own fusion op."""
from __future__ import annotations

import math

import numpy as np

from ...errors import UnsupportedOpError
from .. import dtypes as D
from ..types import TOKEN, TensorType, TokenType, TupleType
from . import COLLECTIVE, CONSTANT, FUSION, OTHER, PARAMETER, SIDE_EFFECT, defop
from . import _checks as C
from . import _process as P
from . import _num as N
from ._common import needs_type, complex_of, count, dims_attr, pack, region_output_types, tensor_arg, tensors
from ._rng import rng_bit_generator


# ---- constant / parameter -------------------------------------------------------------------------
def _infer_constant(ts, attrs, regions):
    count(ts, 0)
    v = attrs.get("value")
    if not isinstance(v, np.ndarray):
        raise TypeError("value must be a numpy array (give the result type otherwise)")
    return TensorType(v.shape, D.from_numpy(v.dtype))


def _ev_constant(inst, args, _ev):
    v = inst.attrs["value"]
    t = inst.type
    a = np.asarray(v)
    if a.dtype != t.dtype.np_dtype:
        a = a.astype(t.dtype.np_dtype)
    if a.shape != t.shape:
        a = np.broadcast_to(a, t.shape)
    return a


def _ev_parameter(inst, args, _ev):
    raise ValueError(f"parameter {inst.ref} has no value (the evaluator binds parameters)")


# ---- fft -----------------------------------------------------------------------------------------------
def _infer_fft(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0])
    kind = attrs["fft_type"]
    length = dims_attr(attrs, "fft_length")
    L = len(length)
    if not 1 <= L <= 3 or L > t.rank:
        raise ValueError(f"fft_length must have 1 to 3 entries (at most the rank), got {list(length)}")
    if kind in ("FFT", "IFFT"):
        if not t.dtype.is_complex:
            raise TypeError(f"{kind} expects a complex operand, got {t}")
        if t.shape[-L:] != length:
            raise ValueError(f"trailing dimensions {t.shape[-L:]} differ from fft_length {list(length)}")
        return t
    if kind == "RFFT":
        if not t.dtype.is_float:
            raise TypeError(f"RFFT expects a float operand, got {t}")
        if t.shape[-L:] != length:
            raise ValueError(f"trailing dimensions {t.shape[-L:]} differ from fft_length {list(length)}")
        return TensorType(t.shape[:-1] + (length[-1] // 2 + 1,), complex_of(t.dtype))
    if kind == "IRFFT":
        if not t.dtype.is_complex:
            raise TypeError(f"IRFFT expects a complex operand, got {t}")
        expect = length[:-1] + (length[-1] // 2 + 1,)
        if t.shape[-L:] != expect:
            raise ValueError(f"trailing dimensions {t.shape[-L:]} differ from {list(expect)}")
        return TensorType(t.shape[:-1] + (length[-1],), t.dtype.component)
    raise ValueError(f"bad fft_type {kind!r}")


def _ev_fft(inst, args, _ev):
    import scipy.fft as sf  # pocketfft in the operand's own precision: XLA's (ducc) rounding

    x = args[0]
    kind = inst.attrs["fft_type"]
    length = dims_attr(inst.attrs, "fft_length")
    axes = tuple(range(x.ndim - len(length), x.ndim))
    if x.size == 0 or math.prod(length) == 0:
        return np.zeros(inst.type.shape, inst.type.dtype.np_dtype)
    fn = {"FFT": sf.fftn, "IFFT": sf.ifftn, "RFFT": sf.rfftn, "IRFFT": sf.irfftn}[kind]
    y = fn(x, s=length, axes=axes)
    return np.ascontiguousarray(y).astype(inst.type.dtype.np_dtype, copy=False)


# ---- linear algebra -----------------------------------------------------------------------------------
def _infer_cholesky(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0])
    if t.rank < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"expects square matrices, got {t}")
    return t


def _ev_cholesky(inst, args, _ev):
    dt = inst.type.dtype
    a = N.to_compute(args[0], dt)
    lower = bool(inst.attrs.get("lower", False))
    n = a.shape[-1]
    flat = a.reshape(-1, n, n)
    out = np.empty_like(flat)
    for i, m in enumerate(flat):
        # only the named triangle is read
        h = np.tril(m) + np.conj(np.tril(m, -1)).swapaxes(-1, -2) if lower else \
            np.triu(m) + np.conj(np.triu(m, 1)).swapaxes(-1, -2)
        try:
            l = np.linalg.cholesky(h)
        except np.linalg.LinAlgError:
            l = np.full_like(h, np.nan)
        out[i] = l if lower else np.conj(l).swapaxes(-1, -2)
    return N.from_compute(out.reshape(a.shape), dt)


def _infer_triangular_solve(ts, attrs, regions):
    count(ts, 2)
    a, b = tensors(ts)
    if a.rank < 2 or a.shape[-1] != a.shape[-2] or a.rank != b.rank or a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"expects square a and batch-matching b, got {a} and {b}")
    k = b.shape[-2] if attrs.get("left_side") else b.shape[-1]
    if a.shape[-1] != k:
        raise ValueError(f"a ({a}) does not match b ({b}) on the solved side")
    return b


def _ev_triangular_solve(inst, args, _ev):
    import scipy.linalg as sl

    dt = inst.type.dtype
    a = N.to_compute(args[0], dt)
    b = N.to_compute(args[1], dt)
    left = bool(inst.attrs["left_side"])
    lower = bool(inst.attrs["lower"])
    unit = bool(inst.attrs["unit_diagonal"])
    tr = inst.attrs["transpose_a"]
    n = a.shape[-1]
    af = a.reshape(-1, n, n)
    bf = b.reshape((-1,) + b.shape[-2:])
    out = np.empty(bf.shape, np.result_type(af, bf))
    for i in range(af.shape[0]):
        m, rhs = af[i], bf[i]
        if left:
            trans = {"NO_TRANSPOSE": 0, "TRANSPOSE": 1, "ADJOINT": 2}[tr]
            out[i] = sl.solve_triangular(m, rhs, trans=trans, lower=lower, unit_diagonal=unit, check_finite=False)
        else:
            # x op(a) = b  <=>  op(a)^T x^T = b^T
            if tr == "NO_TRANSPOSE":
                xt = sl.solve_triangular(m, rhs.T, trans=1, lower=lower, unit_diagonal=unit, check_finite=False)
            elif tr == "TRANSPOSE":
                xt = sl.solve_triangular(m, rhs.T, trans=0, lower=lower, unit_diagonal=unit, check_finite=False)
            else:
                xt = sl.solve_triangular(np.conj(m), rhs.T, trans=0, lower=lower, unit_diagonal=unit,
                                         check_finite=False)
            out[i] = xt.T
    return N.from_compute(out.reshape(b.shape), dt)


# ---- random numbers --------------------------------------------------------------------------------------
def _ev_rng(inst, args, _ev):
    a, b = args[0], args[1]
    t = inst.type
    dist = inst.attrs["rng_distribution"]
    gen = np.random.default_rng(0)  # implementation-defined: deterministic
    dt = t.dtype
    if dist == "UNIFORM":
        if dt.is_int:
            lo, hi = int(a), int(b)
            vals = gen.integers(lo, max(hi, lo + 1), size=t.shape, dtype=np.int64)
            return N.wrap_int(vals, dt)
        if dt.is_pred:
            return gen.integers(0, 2, size=t.shape).astype(bool)
        return N.from_compute(gen.uniform(float(a), float(b), size=t.shape), dt)
    return N.from_compute(gen.normal(float(a), float(b), size=t.shape), dt)


def _ev_rng_bit_generator(inst, args, _ev):
    state_t, out_t = inst.result_types
    dt = out_t.dtype
    bits = dt.bits
    new_state, raw = rng_bit_generator(inst.attrs["rng_algorithm"], args[0], out_t.shape, bits)
    raw = np.asarray(raw)
    if bits <= 8 and dt.bits in (2, 4):
        vals = N.wrap_int(raw.astype(np.int64), dt)
    else:
        ut = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[bits]
        vals = raw.astype(ut).view(dt.np_dtype) if not dt.is_pred else (raw & 1).astype(bool)
    return (new_state.astype(state_t.dtype.np_dtype), vals.reshape(out_t.shape))


# ---- batch norm ---------------------------------------------------------------------------------------------
def _bn_axes(x, feature_index):
    return tuple(d for d in range(x.ndim) if d != feature_index)


def _bn_view(v, x, fi):
    shape = [1] * x.ndim
    shape[fi] = -1
    return v.reshape(shape)


def _infer_bn_inference(ts, attrs, regions):
    count(ts, 5)
    return tensor_arg(ts[0])


def _ev_bn_inference(inst, args, _ev):
    dt = inst.type.dtype
    x, scale, offset, mean, var = (N.to_compute(a, dt) for a in args)
    fi = int(inst.attrs["feature_index"])
    eps = float(inst.attrs["epsilon"])
    y = _bn_view(scale, x, fi) * (x - _bn_view(mean, x, fi)) / np.sqrt(_bn_view(var, x, fi) + eps) + _bn_view(offset, x, fi)
    return N.from_compute(y, dt)


def _infer_bn_training(ts, attrs, regions):
    count(ts, 3)
    x, scale, offset = tensors(ts)
    return TupleType((x, scale, scale))


def _ev_bn_training(inst, args, _ev):
    dt = inst.operands[0].type.dtype
    x, scale, offset = (N.to_compute(a, dt) for a in args)
    fi = int(inst.attrs["feature_index"])
    eps = float(inst.attrs["epsilon"])
    axes = _bn_axes(x, fi)
    mean = x.mean(axis=axes)
    var = ((x - _bn_view(mean, x, fi)) ** 2).mean(axis=axes)
    y = _bn_view(scale, x, fi) * (x - _bn_view(mean, x, fi)) / np.sqrt(_bn_view(var, x, fi) + eps) + _bn_view(offset, x, fi)
    return (N.from_compute(y, dt), N.from_compute(mean, dt), N.from_compute(var, dt))


def _infer_bn_grad(ts, attrs, regions):
    count(ts, 5)
    x, scale = tensors(ts)[:2]
    return TupleType((x, scale, scale))


def _ev_bn_grad(inst, args, _ev):
    dt = inst.operands[0].type.dtype
    x, scale, mean, var, gy = (N.to_compute(a, dt) for a in args)
    fi = int(inst.attrs["feature_index"])
    eps = float(inst.attrs["epsilon"])
    axes = _bn_axes(x, fi)
    n = x.size / x.shape[fi]
    inv = 1.0 / np.sqrt(var + eps)
    xc = x - _bn_view(mean, x, fi)
    gs = (gy * xc).sum(axis=axes) * inv
    go = gy.sum(axis=axes)
    gx = _bn_view(scale * inv, x, fi) * (gy - _bn_view(go / n, x, fi) - xc * _bn_view(gs * inv / n, x, fi))
    return (N.from_compute(gx, dt), N.from_compute(gs, dt), N.from_compute(go, dt))


# ---- custom calls and checks -----------------------------------------------------------------------------
def _check_kind(target: str) -> str | None:
    if target.startswith("check."):
        k = target[len("check."):]
        if k in ("expect_eq", "expect_close", "expect_almost_eq"):
            return k
    return None


def _raise_check(inst, msg):
    raise C.CheckFailure(f"{inst.ref} ({inst.opdef.mlir_name}"
                         f"{' @' + inst.attrs['call_target_name'] if inst.opcode == 'custom_call' else ''}) "
                         f"failed: {msg}", inst.loc)


def _ev_custom_call(inst, args, _ev):
    target = inst.attrs.get("call_target_name", "")
    kind = _check_kind(target)
    if kind is not None and len(args) == 2:
        dt = inst.operands[0].type.dtype
        msg = C.run_check(kind, args[0], args[1], dt, inst.attrs, custom_call=True)
        if msg:
            _raise_check(inst, msg)
        return ()
    raise UnsupportedOpError("custom_call", inst.loc, f"call target @{target} cannot be evaluated")


def _check_op(kind: str, const: bool):
    def ev(inst, args, _ev):
        dt = inst.operands[0].type.dtype
        expected = np.asarray(inst.attrs["value"]) if const else args[1]
        if const:
            expected = N.convert(expected, D.from_numpy(expected.dtype), dt) if expected.dtype != dt.np_dtype \
                else expected
            expected = np.broadcast_to(expected, np.shape(args[0]))
        msg = C.run_check(kind, args[0], expected, dt, inst.attrs)
        if msg:
            _raise_check(inst, msg)
        return ()
    return ev


def _ev_serialized(inst, args, ev):
    # interpreter.probe records values in this evaluation; compare with the recorded one
    probes = getattr(ev, "probes", None) or {}
    pid = inst.attrs.get("probe_id")
    it = int(inst.attrs.get("iteration", 0) or 0)
    seen = probes.get(pid)
    if not seen or it >= len(seen):
        raise UnsupportedOpError("check.expect_serialized_eq", inst.loc,
                                 f"no value was probed as {pid!r} (iteration {it}) in this run")
    dt = inst.operands[0].type.dtype
    msg = C.run_check("expect_eq", args[0], seen[it], dt)
    if msg:
        _raise_check(inst, msg)
    return ()


def _ev_probe(inst, args, ev):
    if ev is not None:
        if getattr(ev, "probes", None) is None:
            ev.probes = {}
        ev.probes.setdefault(inst.attrs.get("probe_id"), []).append(np.array(args[0], copy=True))
    return args[0]


def _ev_print(inst, args, ev):
    print(f"{inst.operands[0].type} {np.array2string(np.asarray(args[0]), separator=', ')}")
    return ()


def _no_results(ts, attrs, regions):
    return TupleType(())


# ---- tokens, io ----------------------------------------------------------------------------------------------
def _token(ts, attrs, regions):
    return TOKEN


def _ev_token(inst, args, _ev):
    return TOKEN


def _ev_unsupported(what: str):
    def ev(inst, args, _ev):
        raise UnsupportedOpError(inst.opcode, inst.loc, what)
    return ev


def _ev_composite(inst, args, ev):
    name = inst.attrs.get("decomposition")
    name = getattr(name, "text", name)
    if isinstance(name, str):
        name = name.lstrip("@")
    fn = ev.function(name) if name else None
    if fn is None:
        raise UnsupportedOpError("composite", inst.loc, f"decomposition @{name} is not in the module")
    outs = ev.run(fn, list(args))
    return tuple(outs) if inst.multi else outs[0]


# ---- collectives (a 1x1 process grid, or the grid of interpreter.run_parallel) -------------------
def _process(ev):
    p = getattr(ev, "process", None)
    if p is None:
        p = P.Process(P.ProcessGrid(1, 1))
        if ev is not None:
            ev.process = p
    return p


def _group(inst, ev, kind: str):
    proc = _process(ev)
    g = proc.my_group(proc.grid.groups_for(inst.attrs, kind), inst.opcode)
    return proc, g


def _need_group(inst, proc, g):
    if g is None:
        raise UnsupportedOpError(inst.opcode, inst.loc, f"process {proc.id} is in none of its process groups "
                                 f"(the grid is {proc.grid.num_replicas} replica(s) x "
                                 f"{proc.grid.num_partitions} partition(s))")
    return g


def _group_size(attrs) -> int:
    g = attrs.get("replica_groups")
    if isinstance(g, np.ndarray) and g.ndim == 2 and g.size:
        return int(g.shape[1])
    return 1


def _same_types(ts, attrs, regions):
    return pack(ts) if ts else TupleType(())


def _results(inst, values):
    return tuple(values) if inst.multi else values[0]


def _zeros_like_type(t):
    return np.zeros(t.shape, t.dtype.np_dtype)


def _reduce_values(region, ev, values):
    acc = values[0]
    for v in values[1:]:
        acc = ev.map_region(region, [acc, v])[0]
    return acc


def _all_reduce_values(inst, ev, args, proc, g):
    met = proc.meet(inst.opcode, inst.attrs, g, list(args))
    order = sorted(g)
    return [np.asarray(_reduce_values(inst.regions[0], ev, [met[m][i] for m in order])).astype(a.dtype)
            for i, a in enumerate(args)]


def _ev_all_reduce(inst, args, ev):
    proc, g = _group(inst, ev, "reduce")
    g = _need_group(inst, proc, g)
    return _results(inst, _all_reduce_values(inst, ev, args, proc, g))


def _infer_all_gather(ts, attrs, regions):
    if attrs.get("channel_handle") is not None or attrs.get("use_global_device_ids"):
        needs_type(ts, attrs, regions)  # the group spans partitions: its size is not in the IR
    d = int(attrs["all_gather_dim"])
    g = _group_size(attrs)
    out = []
    for t in tensors(ts):
        s = list(t.shape)
        s[d] *= g
        out.append(TensorType(tuple(s), t.dtype))
    return pack(out)


def _ev_all_gather(inst, args, ev):
    proc, g = _group(inst, ev, "reduce")
    g = _need_group(inst, proc, g)
    met = proc.meet(inst.opcode, inst.attrs, g, list(args))
    d = int(inst.attrs["all_gather_dim"])
    return _results(inst, [np.concatenate([met[m][i] for m in g], axis=d) for i in range(len(args))])


def _infer_all_to_all(ts, attrs, regions):
    if "split_dimension" not in attrs:
        return pack(ts)
    sd, cd = int(attrs["split_dimension"]), int(attrs["concat_dimension"])
    n = int(attrs.get("split_count", 1))
    out = []
    for t in tensors(ts):
        s = list(t.shape)
        if s[sd] % n:
            raise ValueError(f"dimension {sd} ({s[sd]}) is not divisible by split_count {n}")
        s[sd] //= n
        s[cd] *= n
        out.append(TensorType(tuple(s), t.dtype))
    return pack(out)


def _ev_all_to_all(inst, args, ev):
    proc, g = _group(inst, ev, "permute")
    g = _need_group(inst, proc, g)
    sd, cd = int(inst.attrs.get("split_dimension", 0)), int(inst.attrs.get("concat_dimension", 0))
    n = int(inst.attrs.get("split_count", 1))
    met = proc.meet(inst.opcode, inst.attrs, g, list(args))
    me = g.index(proc.id)
    outs = []
    for i in range(len(args)):
        parts = [np.split(met[s][i], n, axis=sd)[me] for s in g]
        outs.append(np.concatenate(parts, axis=cd))
    return _results(inst, outs)


def _infer_reduce_scatter(ts, attrs, regions):
    if attrs.get("channel_handle") is not None or attrs.get("use_global_device_ids"):
        needs_type(ts, attrs, regions)  # the group spans partitions: its size is not in the IR
    count(ts, 1)
    t = tensor_arg(ts[0])
    d = int(attrs["scatter_dimension"])
    g = _group_size(attrs)
    s = list(t.shape)
    if s[d] % g:
        raise ValueError(f"dimension {d} ({s[d]}) is not divisible by the group size {g}")
    s[d] //= g
    return TensorType(tuple(s), t.dtype)


def _ev_reduce_scatter(inst, args, ev):
    proc, g = _group(inst, ev, "reduce")
    g = _need_group(inst, proc, g)
    reduced = _all_reduce_values(inst, ev, args, proc, g)[0]
    d = int(inst.attrs["scatter_dimension"])
    return np.split(reduced, len(g), axis=d)[g.index(proc.id)]


def _ev_collective_permute(inst, args, ev):
    proc = _process(ev)
    pairs = P.groups_attr(inst.attrs, "source_target_pairs")
    groups = proc.grid.cross_replica(pairs) if P.channel_id(inst.attrs) <= 0 else proc.grid.cross_partition(pairs)
    result = None
    for pair in groups:
        if len(pair) != 2 or proc.id not in pair:
            continue
        src, dst = pair
        if not (proc.exists(src) and proc.exists(dst)):
            continue  # a pair naming a process outside the grid moves nothing
        if src == dst:
            result = args[0]
            continue
        met = proc.meet(inst.opcode, inst.attrs, pair, args[0])
        if dst == proc.id:
            result = met[src]
    return result if result is not None else np.zeros_like(args[0])


def _ev_collective_broadcast(inst, args, ev):
    proc, g = _group(inst, ev, "permute")
    if g is None:
        return np.zeros_like(args[0])
    met = proc.meet(inst.opcode, inst.attrs, g, args[0])
    return met[g[0]]


def _ev_collective_reduce(inst, args, ev):
    proc, g = _group(inst, ev, "reduce")
    if g is None:
        return _results(inst, [np.zeros_like(a) for a in args])
    values = _all_reduce_values(inst, ev, args, proc, g)
    if proc.id != g[0]:
        values = [np.zeros_like(a) for a in args]
    return _results(inst, values)


def _replica_id(ts, attrs, regions):
    return TensorType((), D.UI32)


def _ev_replica_id(inst, args, ev):
    return np.array(_process(ev).replica_id, np.uint32)


def _ev_partition_id(inst, args, ev):
    return np.array(_process(ev).partition_id, np.uint32)


def _ev_send(inst, args, ev):
    _process(ev).grid.send(P.channel_id(inst.attrs), [a for a in args[:-1]])
    return TOKEN


def _ev_recv(inst, args, ev):
    values = _process(ev).grid.recv(P.channel_id(inst.attrs))
    return tuple(list(values) + [TOKEN])


def _ev_outfeed(inst, args, ev):
    _process(ev).grid.outfeed.append([a for a in args if not isinstance(a, TokenType)])
    return TOKEN


def _ev_run_parallel(inst, args, ev):
    import threading

    from ...interpreter import Evaluator
    programs = P.parse_programs(inst.attrs["programs"])
    if not programs or not programs[0]:
        raise ValueError("programs is empty")
    nr, npart = len(programs), len(programs[0])
    grid = P.ProcessGrid(nr, npart)
    jobs, pos = [], 0
    for r in range(nr):
        for p in range(npart):
            fn = ev.function(programs[r][p])
            if fn is None:
                raise UnsupportedOpError("run_parallel", inst.loc, f"no function @{programs[r][p]} in the module")
            n = len(fn.params)
            jobs.append((r, p, fn, list(args[pos:pos + n])))
            pos += n
    if pos != len(args):
        raise ValueError(f"the programs take {pos} input(s), {len(args)} given")
    results: dict = {}
    errors: list = []

    def work(r, p, fn, a):
        try:
            results[(r, p)] = Evaluator(ev.module, process=P.Process(grid, r, p)).run(fn, a)
        except BaseException as e:  # reported below, in this thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=j, daemon=True) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    outs = []
    for r, p, _, _ in jobs:
        outs.extend(results[(r, p)])
    return _results(inst, outs) if inst.multi else (outs[0] if outs else ())


# ---- fusion ---------------------------------------------------------------------------------------------------
def _infer_fusion(ts, attrs, regions):
    if len(regions) != 1:
        raise ValueError("fusion has exactly one region")
    r = regions[0]
    if [p.type for p in r.params] != list(ts):
        raise TypeError(f"fusion region parameters {[str(p.type) for p in r.params]} differ from the "
                        f"operand types {[str(t) for t in ts]}")
    outs = region_output_types(r)
    return pack(outs) if outs else TupleType(())


def _ev_fusion(inst, args, ev):
    outs = ev.run(inst.regions[0], list(args))
    return tuple(outs) if inst.multi else outs[0]


# ---- the table --------------------------------------------------------------------------------------------------
defop("constant", CONSTANT, 0, attrs=("value",), infer=_infer_constant, evaluate=_ev_constant)
defop("parameter", PARAMETER, 0, attrs=("index",), dialect="xltune", evaluate=_ev_parameter, infer=needs_type)

defop("fft", OTHER, 1, attrs=("fft_type", "fft_length"), infer=_infer_fft, evaluate=_ev_fft)
defop("cholesky", OTHER, 1, optional_attrs=("lower",), infer=_infer_cholesky, evaluate=_ev_cholesky)
defop("triangular_solve", OTHER, 2, attrs=("left_side", "lower", "unit_diagonal", "transpose_a"),
      infer=_infer_triangular_solve, evaluate=_ev_triangular_solve)
defop("rng", OTHER, 3, attrs=("rng_distribution",), evaluate=_ev_rng, infer=needs_type)
defop("rng_bit_generator", OTHER, 1, attrs=("rng_algorithm",), variadic_results=True,
      evaluate=_ev_rng_bit_generator, infer=needs_type)
defop("batch_norm_inference", OTHER, 5, attrs=("epsilon", "feature_index"), infer=_infer_bn_inference,
      evaluate=_ev_bn_inference)
defop("batch_norm_training", OTHER, 3, attrs=("epsilon", "feature_index"), variadic_results=True,
      infer=_infer_bn_training, evaluate=_ev_bn_training)
defop("batch_norm_grad", OTHER, 5, attrs=("epsilon", "feature_index"), variadic_results=True,
      infer=_infer_bn_grad, evaluate=_ev_bn_grad)

defop("custom_call", SIDE_EFFECT, None, attrs=("call_target_name",),
      optional_attrs=("has_side_effect", "backend_config", "api_version", "called_computations",
                      "operand_layouts", "result_layouts", "output_operand_aliases"),
      variadic_results=True, side_effect=True, evaluate=_ev_custom_call, infer=needs_type)
defop("after_all", SIDE_EFFECT, None, infer=_token, evaluate=_ev_token)
defop("create_token", SIDE_EFFECT, 0, infer=_token, evaluate=_ev_token)
defop("outfeed", SIDE_EFFECT, None, optional_attrs=("outfeed_config",), side_effect=True, infer=_token,
      evaluate=_ev_outfeed)
defop("infeed", SIDE_EFFECT, 1, optional_attrs=("infeed_config", "layout"), variadic_results=True,
      side_effect=True, evaluate=_ev_unsupported("the interpreter has no infeed"), infer=needs_type)
defop("send", SIDE_EFFECT, None, optional_attrs=("channel_handle", "is_host_transfer"), side_effect=True,
      infer=_token, evaluate=_ev_send)
defop("recv", SIDE_EFFECT, 1, optional_attrs=("channel_handle", "is_host_transfer"),
      variadic_results=True, side_effect=True, evaluate=_ev_recv, infer=needs_type)
defop("composite", OTHER, None, attrs=("name", "decomposition"),
      optional_attrs=("composite_attributes", "version"), variadic_results=True, evaluate=_ev_composite, infer=needs_type)

# Collectives: with one replica and one partition they are identities (or simple reshapes).
defop("replica_id", COLLECTIVE, 0, infer=_replica_id, evaluate=_ev_replica_id)
defop("partition_id", COLLECTIVE, 0, infer=_replica_id, evaluate=_ev_partition_id)
defop("all_reduce", COLLECTIVE, None, optional_attrs=("replica_groups", "channel_handle",
      "use_global_device_ids"), num_regions=1, variadic_results=True, infer=_same_types, evaluate=_ev_all_reduce)
defop("all_gather", COLLECTIVE, None, attrs=("all_gather_dim",), optional_attrs=("replica_groups",
      "channel_handle", "use_global_device_ids"), variadic_results=True, infer=_infer_all_gather,
      evaluate=_ev_all_gather)
defop("all_to_all", COLLECTIVE, None, optional_attrs=("split_dimension", "concat_dimension",
      "split_count", "replica_groups", "channel_handle"), variadic_results=True, infer=_infer_all_to_all,
      evaluate=_ev_all_to_all)
defop("reduce_scatter", COLLECTIVE, 1, attrs=("scatter_dimension",), optional_attrs=("replica_groups",
      "channel_handle", "use_global_device_ids"), num_regions=1, infer=_infer_reduce_scatter,
      evaluate=_ev_reduce_scatter)
defop("collective_permute", COLLECTIVE, 1, optional_attrs=("source_target_pairs", "channel_handle"),
      infer=_same_types, evaluate=_ev_collective_permute)
defop("collective_broadcast", COLLECTIVE, 1, optional_attrs=("replica_groups", "channel_handle"),
      infer=_same_types, evaluate=_ev_collective_broadcast)

# The conformance files' assertions (understood by the conformance runner; the interpreter
# evaluates them as checks that raise CheckFailure on mismatch). No results: multi, TupleType(()).
defop("expect_eq", SIDE_EFFECT, 2, dialect="check", side_effect=True, variadic_results=True,
      infer=_no_results, evaluate=_check_op("expect_eq", False))
defop("expect_almost_eq", SIDE_EFFECT, 2, dialect="check", optional_attrs=("tolerance",), side_effect=True,
      variadic_results=True, infer=_no_results, evaluate=_check_op("expect_almost_eq", False))
defop("expect_close", SIDE_EFFECT, 2, dialect="check",
      optional_attrs=("min_ulp_difference", "max_ulp_difference"), side_effect=True, variadic_results=True,
      infer=_no_results, evaluate=_check_op("expect_close", False))
defop("expect_eq_const", SIDE_EFFECT, 1, attrs=("value",), dialect="check", side_effect=True,
      variadic_results=True, infer=_no_results, evaluate=_check_op("expect_eq", True))
defop("expect_almost_eq_const", SIDE_EFFECT, 1, attrs=("value",), optional_attrs=("tolerance",),
      dialect="check", side_effect=True, variadic_results=True, infer=_no_results,
      evaluate=_check_op("expect_almost_eq", True))
defop("expect_serialized_eq", SIDE_EFFECT, None, optional_attrs=("probe_id", "iter"), dialect="check",
      side_effect=True, variadic_results=True, infer=_no_results, evaluate=_ev_serialized)

# xltune's own ops.
defop("fusion", FUSION, None, attrs=("kind",), num_regions=1, variadic_results=True, dialect="xltune",
      infer=_infer_fusion, evaluate=_ev_fusion,
      doc="A fused kernel: the region computes the outputs from the operands (its parameters).")

# Ops the conformance files use that the parser must recognise (catalog lines added by the
# parser work; shape rules and evaluation belong with the interpreter).
defop("collective_reduce", COLLECTIVE, 1, optional_attrs=("replica_groups", "channel_handle"),
      num_regions=1, infer=_same_types, evaluate=_ev_collective_reduce)
defop("probe", SIDE_EFFECT, 1, attrs=("probe_id",), optional_attrs=("iteration",), dialect="interpreter",
      side_effect=True, infer=lambda ts, attrs, regions: ts[0], evaluate=_ev_probe)
defop("print", SIDE_EFFECT, 1, dialect="interpreter", side_effect=True, variadic_results=True,
      infer=_no_results, evaluate=_ev_print)
defop("run_parallel", OTHER, None, attrs=("programs",), optional_attrs=("infeed",), dialect="interpreter",
      variadic_results=True, side_effect=True, infer=needs_type, evaluate=_ev_run_parallel,
      doc="Runs the functions named in `programs` (a RawAttr of symbol lists) as parallel processes.")

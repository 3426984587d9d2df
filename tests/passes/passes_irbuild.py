"""Building small modules by hand for pass tests (types inferred by the op table's shape rules)."""
from __future__ import annotations

import numpy as np

from xltune.interpreter import evaluate
from xltune.ir import Computation, Module, tensor
from xltune.passes import BufferPlan, run_pipeline


class B:
    """A tiny builder: B().param((4, 8)) ... .ret(x) -> Module."""

    def __init__(self, dtype="f32"):
        self.m = Module("test")
        self.c = Computation("main")
        self.m.add_function(self.c)
        self.dtype = dtype

    def param(self, shape, dtype=None, name=None):
        return self.c.add_parameter(tensor(shape, dtype or self.dtype), name=name)

    def const(self, value, shape=(), dtype=None):
        dt = tensor((), dtype or self.dtype).dtype
        v = np.broadcast_to(np.asarray(value).astype(dt.np_dtype), shape)
        return self.c.add("constant", (), tensor(shape, dt), {"value": np.array(v)})

    def op(self, opcode, *operands, type=None, **attrs):
        return self.c.add(opcode, operands, type, attrs)

    def bcast(self, x, shape, dims=()):
        return self.c.add("broadcast_in_dim", (x,), tensor(shape, x.type.dtype), {"broadcast_dimensions": tuple(dims)})

    def splat(self, value, shape):
        return self.bcast(self.const(value), shape)

    def reduce(self, x, dims, kind="add", init=None):
        dt = x.type.dtype
        if init is None:
            init = {"add": 0, "maximum": -np.inf if dt.is_float else np.iinfo(dt.np_dtype).min,
                    "minimum": np.inf, "multiply": 1}[kind]
        body = Computation("body")
        a = body.add_parameter(tensor((), dt))
        b = body.add_parameter(tensor((), dt))
        body.set_outputs([body.add(kind, (a, b))])
        return self.c.add("reduce", (x, self.const(init, dtype=dt)), None, {"dimensions": tuple(dims)}, [body])

    def dot(self, a, b, contract=((1,), (0,)), batch=((), ())):
        from xltune.ir import DotDimensionNumbers
        dn = DotDimensionNumbers(batch[0], batch[1], contract[0], contract[1])
        return self.c.add("dot_general", (a, b), None, {"dot_dimension_numbers": dn})

    def ret(self, *outs) -> Module:
        self.c.set_outputs(outs)
        return self.m


def softmax(n=8, m=16) -> Module:
    b = B()
    x = b.param((n, m))
    mx = b.reduce(x, (1,), "maximum")
    e = b.op("exponential", b.op("subtract", x, b.bcast(b.bcast(mx, (n, 1), (0,)), (n, m), (0, 1))))
    s = b.reduce(e, (1,), "add")
    return b.ret(b.op("divide", e, b.bcast(s, (n, m), (0,))))


def layernorm(n=8, m=16) -> Module:
    b = B()
    x, g, beta = b.param((n, m)), b.param((m,)), b.param((m,))
    mean = b.op("divide", b.bcast(b.reduce(x, (1,)), (n, 1), (0,)), b.splat(float(m), (n, 1)))
    d = b.op("subtract", x, b.bcast(mean, (n, m), (0, 1)))
    var = b.op("divide", b.bcast(b.reduce(b.op("multiply", d, d), (1,)), (n, 1), (0,)), b.splat(float(m), (n, 1)))
    rstd = b.op("sqrt", b.op("add", var, b.splat(1e-5, (n, 1))))
    y = b.op("divide", d, b.bcast(rstd, (n, m), (0, 1)))
    y = b.op("multiply", y, b.bcast(g, (n, m), (1,)))
    return b.ret(b.op("add", y, b.bcast(beta, (n, m), (1,))))


def gelu(n=64) -> Module:
    b = B()
    x = b.param((n,))
    x3 = b.op("multiply", b.op("multiply", x, x), x)
    inner = b.op("multiply", b.splat(0.7978846, (n,)), b.op("add", x, b.op("multiply", b.splat(0.044715, (n,)), x3)))
    t = b.op("add", b.splat(1.0, (n,)), b.op("tanh", inner))
    return b.ret(b.op("multiply", b.op("multiply", b.splat(0.5, (n,)), x), t))


def mlp(n=8, k=16, m=32) -> Module:
    b = B()
    x, w, bias = b.param((n, k)), b.param((k, m)), b.param((m,))
    h = b.op("add", b.dot(x, w), b.bcast(b.bcast(bias, (1, m), (1,)), (n, m), (0, 1)))
    return b.ret(b.op("maximum", h, b.splat(0.0, (n, m))))


def random_args(module: Module, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for p in module.entry.params:
        t = p.type
        if t.dtype.is_float:
            out.append(rng.standard_normal(t.shape).astype(t.dtype.np_dtype))
        elif t.dtype.is_pred:
            out.append(rng.integers(0, 2, t.shape).astype(bool))
        else:
            out.append(rng.integers(-5, 6, t.shape).astype(t.dtype.np_dtype))
    return out


def optimized(module: Module, spec="simplify,fusion,buffers", config=None, verify=True):
    """(optimized copy, stages, stats)."""
    m = module.clone()
    stages, stats = {}, {}
    run_pipeline(m, spec, config or {}, stages, stats, verify=verify)
    return m, stages, stats


def assert_same(a_list, b_list, rtol=1e-5, atol=1e-6):
    assert len(a_list) == len(b_list)
    for a, b in zip(a_list, b_list):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(a, b)


def check_semantics(module: Module, config=None, spec="simplify,fusion,buffers", seed=0):
    """The pipeline's module gives the interpreter's answer on random inputs; returns (m, stages, stats)."""
    args = random_args(module, seed)
    want = evaluate(module, *args)
    m, stages, stats = optimized(module, spec, config)
    assert_same(want, evaluate(m, *args))
    return m, stages, stats


def fusions(module: Module) -> list:
    return [i for i in module.entry.instructions if i.opcode == "fusion"]


def kinds(module: Module) -> list[str]:
    return sorted(f.attrs["kind"] for f in fusions(module))


def check_plan(plan: BufferPlan):
    """No two temporaries that are alive at once share bytes; aliases end at a real slot."""
    temps = [(k, s) for k, s in plan.slots.items() if s.kind == "temp"]
    ends = {}
    for k, s in plan.slots.items():
        r = plan.root(k)
        ends[r] = max(ends.get(r, 0), s.end)
        assert plan.slots[r].kind in ("param", "constant", "output", "temp", "opaque")
        if s.kind == "alias" and s.reason == "in-place":
            assert plan.slots[r].kind == "temp"
    for i, (ka, a) in enumerate(temps):
        for kb, b in temps[i + 1:]:
            live_together = not (ends[ka] < b.start or ends[kb] < a.start)
            overlap = a.offset < b.offset + b.size and b.offset < a.offset + a.size
            assert not (live_together and overlap), (ka, kb)
        assert a.offset % 64 == 0 and a.offset + a.size <= plan.arena_bytes
    assert plan.peak_bytes <= plan.naive_bytes + plan.arena_bytes
    assert len(plan.output_sources) == len(plan.comp.outputs)

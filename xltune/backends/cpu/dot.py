"""CPU dot kernels: a `library` fusion (one dot_general, possibly with an elementwise epilogue)
or a lone dot_general becomes one native kernel, in one of two ways (knob `cpu.<kernel>.dot`):

- `gemm`: the tiled GEMM of `xltune/codegen/gemm.py` (packing, a register-blocked micro-kernel
  with the target's vector width, MC/KC/NC cache blocks, threads over batch/M/N blocks). The
  epilogue (bias add, activation...) is applied to each finished accumulator tile before it is
  stored, so the product never goes through memory.
- `runtime`: the same GEMM compiled once per host with its sizes and strides as arguments
  (`gemmrt.py`): a call per batch element of each chunk, no GEMM code in the kernel (LLVM
  spent 50-60 ms of each cold compile on an emitted one). Products without a fused epilogue
  whose operands are f32/f64 of the result's type, each axis one stride: the default there.
- `blas`: the OpenBLAS call (`blas.py`), one per batch element, from native code; the epilogue
  then runs as a loop kernel over the product (in place in the output when it can).

Kernel layout (the argument convention of loop kernels): `void @k<N>.<name>(ptr noalias ...)`,
region parameter k at args[param_arg[k]], output k at args[output_arg[k]]. With threads the work
is cut into chunks (`_Split`: whole products of the batch, rows or columns; knob `split`) that
the threads claim dynamically; each chunk runs the same GEMM over its box with its own packing
buffers (heap, per chunk).

Complex dots run one product at a time in the element type (the interpreter's rounding). Every
value of every knob computes the interpreter's answer (tests/backends/test_cpu_dot*.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen.context import CodegenContext, EmitOptions
from ...codegen.conv import ConvForm, conv_form
from ...codegen.elemental import unsupported_in_region, uses_approx_math
from ...codegen.gemm import (Contraction, GemmEmitter, Tiles, accumulator, contraction, emit_naive,
                             from_acc)
from ...codegen.indexing import Index, c64, delinearize, linearize
from ...codegen.kernel import OutputGroup, emit_element
from ...codegen.loops import for_range
from ...config import Config, Knob
from ...ir.module import Computation, Instruction
from . import blas, gemmrt
from .kernels import THREADS, KernelFamily, LoopKernelKnobs, chunk_range, emit_loop_kernel, host_threads
from .threads import CHUNKS_PER_THREAD, emit_threaded

CONTRACTIONS = ("dot_general", "dot")
LIBRARY_OPS = CONTRACTIONS + ("convolution",)

# micro-tiles "<rows>x<vectors>": rows of A broadcast per k, vectors of B (lanes wide) per k.
# The accumulators (rows x vectors) plus the B vectors and a broadcast must fit the registers.
MICRO = ("6x4", "8x3", "12x2", "14x1", "4x4", "6x2", "4x2", "8x1", "4x1")
MC = (24, 48, 96, 192, 384)
KC = (64, 128, 256, 512, 1024)
NC = (256, 1024, 4096, 16384)
DOT = ("gemm", "runtime", "blas")
SPLITS = ("batch", "m", "n")
MATH = ("approx", "libm")
THREADS_KNOB_MIN_FLOPS = 1 << 18       # below this a dot is not worth a thread
EPILOGUE_GEMM_MAX_K = 128              # a fused epilogue makes shorter sums an emitted GEMM
# from here the default uses every core: with the pool awake a parallel region costs ~1 us;
# quiet machine, 1 vs 2 threads: 64^3 8.3 / 9.4 us, 128^3 24.0 / 17.1, 160^3 46.3 / 30.3
THREADS_DEFAULT_MIN_FLOPS = 1 << 22
# row chunks share one packing of B (made by a parallel region of its own) when packing B is
# worth more than starting that region, and it fits
SHARED_B_MIN_BYTES = 1 << 20
SHARED_B_MAX_BYTES = 1 << 28


# ---- what a dot kernel computes ------------------------------------------------------------------------
@dataclass
class DotInfo:
    comp: Computation          # the kernel's region
    dot: Instruction           # the contraction in it
    lhs: int                   # region parameter numbers of its operands
    rhs: int
    con: Contraction
    epilogue: Computation      # the region with the dot replaced by a parameter (`dot_param`)
    dot_param: Instruction
    has_epilogue: bool         # anything besides storing the product
    conv: ConvForm | None = None   # a convolution: A is its (implicit) patches matrix

    @property
    def out_dt(self):
        return self.dot.dtype

    @property
    def lhs_dt(self):
        return self.dot.operands[0].dtype

    @property
    def rhs_dt(self):
        return self.dot.operands[1].dtype


def dot_numbers(dot: Instruction):
    """(lb, rb, lc, rc) of a dot_general or legacy dot."""
    if dot.opcode == "dot":
        return (), (), (len(dot.operands[0].shape) - 1,), (0,)
    dn = dot.attrs["dot_dimension_numbers"]
    return (dn.lhs_batching_dimensions, dn.rhs_batching_dimensions, dn.lhs_contracting_dimensions,
            dn.rhs_contracting_dimensions)


def analyze(comp: Computation) -> DotInfo | str:
    """The dot kernel for a region, or why there is none."""
    libs = [i for i in comp.instructions if i.opcode in LIBRARY_OPS]
    if len(libs) != 1:
        return f"a library kernel needs exactly one contraction, found {len(libs)}"
    dot = libs[0]
    for o in dot.operands:
        if o.opcode != "parameter" or o.parent is not comp:
            return f"operand {o.ref} of {dot.ref} is not a kernel parameter"
    for o in list(dot.operands) + [dot]:
        if not T.supported_dtype(o.dtype):
            return f"element type {o.dtype} has no native lowering"
    epi, p = _epilogue(comp, dot)
    reason = unsupported_in_region(epi)
    if reason:
        return reason
    lhs, rhs = dot.operands
    form = None
    if dot.opcode == "convolution":
        form = conv_form(lhs.shape, rhs.shape, dot.shape, dot.attrs)
        if isinstance(form, str):
            return form
        con = form.con
    else:
        con = contraction(lhs.shape, rhs.shape, *dot_numbers(dot))
    has_epi = not (len(epi.outputs) == 1 and epi.outputs[0] is p)
    return DotInfo(comp, dot, lhs.attrs["index"], rhs.attrs["index"], con, epi, p, has_epi, form)


def _epilogue(comp: Computation, dot: Instruction) -> tuple[Computation, Instruction]:
    mapping: dict = {}
    epi = comp.clone(name=f"{comp.name}.epilogue", mapping=mapping)
    d = mapping[dot]
    p = epi.add_parameter(dot.type, name="product")
    epi.replace(d, p)
    return epi, p


def _wrap(inst: Instruction) -> Computation:
    comp = Computation(f"{inst.name}.kernel")
    ps = [comp.add_parameter(o.type, name=f"p{k}") for k, o in enumerate(inst.operands)]
    comp.set_outputs([comp.add(inst.opcode, ps, inst.type, dict(inst.attrs), name=inst.name, loc=inst.loc)])
    return comp


def claim(inst: Instruction):
    """KernelFamily.claim: library fusions and lone contractions."""
    if inst.opcode == "fusion":
        if inst.attrs.get("kind") != "library" or not inst.regions:
            return None
        comp = inst.regions[0]
    elif inst.opcode in LIBRARY_OPS:
        if inst.multi or not hasattr(inst.type, "shape"):
            return None, f"'{inst.opcode}' with several results"
        comp = _wrap(inst)
    else:
        return None
    info = analyze(comp)
    if isinstance(info, str):
        return None, info
    return comp, ""


# ---- knobs ----------------------------------------------------------------------------------------------
@dataclass
class DotKnobs:
    dot: str = "gemm"
    threads: int = 1
    split: str = "m"
    micro: str = "6x4"
    mc: int = 96
    kc: int = 1024
    nc: int = 4096
    pack_a: bool = False       # (packing is forced where A cannot be read in place)
    math: str = "approx"


def vector_lanes(info: DotInfo) -> int:
    from .llvm_target import host
    acc = accumulator(info.out_dt)
    return max(1, host().vector_bits // (8 * acc.nbytes)) if acc is not None else 1


def _registers() -> int:
    from .llvm_target import host
    return host().vector_registers


def micro_choices() -> tuple[str, ...]:
    regs = _registers()
    ok = []
    for m in MICRO:
        rows, vecs = map(int, m.split("x"))
        if rows * vecs + vecs + 1 <= regs:
            ok.append(m)
    return tuple(ok)


def default_micro(info: DotInfo, choices) -> str:
    """The widest tile the columns fill: four vectors of B when N allows, fewer for narrow N."""
    lanes = vector_lanes(info)
    want = max(1, min(4, -(-info.con.N // lanes)))
    for m in choices:        # MICRO is ordered by preference
        if int(m.split("x")[1]) <= want:
            return m
    return choices[-1]


def default_dot(info: DotInfo) -> str:
    """The GEMM runtime where it can compute the product (`runtime_layout`): the emitted GEMM's
    loops, micro-kernel and sums at the same speed (one thread, side by side: 1024^3 8.76 / 8.83
    ms, 512^3 1.10 / 1.08, 512x512x64 0.148 / 0.143) without compiling a GEMM per program.
    With an epilogue the runtime writes the product and a loop kernel makes a second pass over
    it, while the emitted GEMM applies it to each tile in L1: that pays where the epilogue is a
    large share of the work, short sums (K < 128: 4096x16x1024 + bias + tanh 0.96 against 1.31
    ms, 512x64x512 100 against 130 us); from K = 128 on the two are within noise (128^3, 1024^3,
    mlp 512x1024x4096) and the runtime saves the GEMM's compile (mlp 115 -> 31 ms cold).
    Else the emitted GEMM, for every size and dtype: it fuses the epilogue and needs no library.
    Measured here (docs/cpu-backend.md): on a quiet machine it matches the OpenBLAS instance from
    384^3 up and beats it in f64, while OpenBLAS is ~30 us faster around 192^3..256^3 (its
    threads are already running; ours start per call); on a busy machine OpenBLAS's workers wait
    for each other (512^3: 14.5 ms against 1.2 ms) while chunks claimed dynamically degrade to
    one core's speed. The tuner can still pick `blas` per kernel."""
    if runtime_layout(info) is not None:
        return "gemm"
    if info.has_epilogue and info.con.K < EPILOGUE_GEMM_MAX_K:
        return "gemm"
    return "runtime"


def runtime_layout(info: DotInfo) -> str | None:
    """None when the GEMM runtime can compute this dot; else why not."""
    dt = info.out_dt
    if info.conv is not None:
        return "convolutions read A through the window (implicit im2col)"
    if info.has_epilogue:
        o0 = info.epilogue.outputs[0]
        if o0.dtype != dt or tuple(o0.shape) != tuple(info.dot.shape):
            return (f"the epilogue's first output ({o0.dtype}{list(o0.shape)}) cannot hold the product "
                    f"for the epilogue's pass over it")
    if dt.name not in ("f32", "f64") or info.lhs_dt != dt or info.rhs_dt != dt:
        return f"the runtime takes f32/f64 operands of the result's type, not {info.lhs_dt} x {info.rhs_dt} -> {dt}"
    con = info.con
    if min(con.B, con.M, con.N, con.K) == 0:
        return "an empty product"
    if None in (con.a_m.stride, con.a_k.stride, con.b_k.stride, con.b_n.stride):
        return "an operand axis is not one stride"
    return None


def blas_layout(info: DotInfo) -> str | None:
    """None when the BLAS can compute this dot in place; else why not."""
    dt = info.out_dt
    if info.conv is not None:
        return "convolutions run as the emitted GEMM (implicit im2col)"
    if dt.name not in ("f32", "f64") or info.lhs_dt != dt or info.rhs_dt != dt:
        return f"BLAS takes f32/f64 operands of the result's type, not {info.lhs_dt} x {info.rhs_dt} -> {dt}"
    con = info.con
    if min(con.B, con.M, con.N, con.K) == 0:
        return "an empty product"
    if _blas_operand(con.a_m, con.a_k) is None or _blas_operand(con.b_k, con.b_n) is None:
        return "an operand is not a strided matrix (rows or columns are not one stride each)"
    if not blas.available():
        return blas.unavailable()
    return None


def _blas_operand(rows, cols) -> tuple[bool, int] | None:
    """(transposed, leading dimension) of a row-major-addressed BLAS operand of logical shape
    rows x cols, given each axis' stride; None when no (trans, ld) pair describes it."""
    r, c = rows.stride, cols.stride
    if r is None or c is None:
        return None
    R, C = rows.extent, cols.extent
    if (c == 1 or C == 1) and (R == 1 or r >= max(1, C)):
        return False, max(r if R > 1 else C, 1)
    if (r == 1 or R == 1) and (C == 1 or c >= max(1, R)):
        return True, max(c if C > 1 else R, 1)
    return None


def dot_knobs(name: str, comp: Computation) -> list[Knob]:
    info = analyze(comp)
    if isinstance(info, str):
        return []
    owner = "cpu.dot"
    ks = []
    flops = info.con.flops
    gemm = accumulator(info.out_dt) is not None
    dots = tuple(d for d in DOT if d == "gemm" or (d == "runtime" and runtime_layout(info) is None)
                 or (d == "blas" and blas_layout(info) is None))
    if gemm and len(dots) > 1:
        ks.append(Knob(f"cpu.{name}.dot", dots, default_dot(info),
                       "the product through xltune's tiled GEMM emitted for this shape (epilogue fused), "
                       "the same GEMM precompiled (runtime) or an OpenBLAS call", owner))
    if flops >= THREADS_KNOB_MIN_FLOPS:
        threads = host_threads() if flops >= THREADS_DEFAULT_MIN_FLOPS else 1
        ks.append(Knob(f"cpu.{name}.threads", THREADS, threads,
                       "threads sharing the product", owner))
        nr = 4 * vector_lanes(info)
        ks.append(Knob(f"cpu.{name}.split", SPLITS, default_split(info.con, nr, max(threads, 2)),
                       "what threads share: whole products of the batch, rows, or columns", owner))
    if gemm and info.con.K > 0 and info.con.M * info.con.N * info.con.B > 0:
        choices = micro_choices()
        ks += [
            Knob(f"cpu.{name}.micro", choices, default_micro(info, choices),
                 "GEMM micro-tile: rows x vectors of accumulators held in registers", owner),
            Knob(f"cpu.{name}.mc", MC, 96, "GEMM: rows of A packed per block (L2)", owner),
            Knob(f"cpu.{name}.kc", KC, 1024, "GEMM: depth of a packed block (B's micro-panels stay in L2)", owner),
            Knob(f"cpu.{name}.nc", NC, 4096, "GEMM: columns of B packed per block (L3)", owner),
        ]
        if info.conv is None and GemmEmitter.can_read_a_in_place(info.con, info.lhs_dt, info.out_dt):
            ks.append(Knob(f"cpu.{name}.pack_a", (True, False), False,
                           "GEMM: pack A's blocks (False: the micro-kernel reads A where it is)", owner))
    if uses_approx_math(info.epilogue):
        ks.append(Knob(f"cpu.{name}.math", MATH, "approx",
                       "epilogue transcendentals: xltune's vectorizable polynomials or the C library", owner))
    return ks


def read_knobs(name: str, comp: Computation, config: Config) -> DotKnobs:
    vals = {k.name.rsplit(".", 1)[1]: config.value(k) for k in dot_knobs(name, comp)}
    return DotKnobs(**vals)


# ---- emission -------------------------------------------------------------------------------------------
def emit(cx: CodegenContext, fname: str, name: str, comp: Computation, config: Config, nargs: int,
         param_arg: list[int], output_arg: list[int]) -> ir.Function:
    info = analyze(comp)
    if isinstance(info, str):
        raise T.NotLowerable(info)
    knobs = read_knobs(name, comp, config)
    if knobs.dot == "blas" and blas_layout(info) is None:
        return _emit_blas(cx, fname, info, knobs, nargs, param_arg, output_arg)
    if knobs.dot == "runtime" and runtime_layout(info) is None and output_arg[0] not in param_arg:
        return _emit_runtime(cx, fname, info, knobs, nargs, param_arg, output_arg)
    return _emit_gemm(cx, fname, info, knobs, nargs, param_arg, output_arg)


def _alloc(cx, b, nbytes: int):
    """64-byte aligned heap memory (NULL when there is none)."""
    f = cx.declare("aligned_alloc", T.PTR, [T.I64, T.I64])
    return b.call(f, [c64(64), c64(max(64, -(-nbytes // 64) * 64))])


def _free(cx, b, p):
    b.call(cx.declare("free", T.VOID, [T.PTR]), [p])


def _is_null(b, p):
    return b.icmp_unsigned("==", b.ptrtoint(p, T.I64), c64(0))


def _new_function(cx, name, nptrs, extra=()):
    fn = ir.Function(cx.module, ir.FunctionType(T.VOID, [T.PTR] * nptrs + list(extra)), name=name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    for a in list(fn.args)[:nptrs]:
        a.add_attribute("noalias")
    return fn


class _Writer:
    """Stores finished products: converts the accumulator to the result type and computes the
    epilogue's outputs at that element (the product is read from the value in hand)."""

    def __init__(self, cx, info: DotInfo, knobs: DotKnobs, ptrs: list, outs: list):
        self.cx, self.info = cx, info
        self.opts = EmitOptions(math=knobs.math)
        self.acc = accumulator(info.out_dt)
        self.args = list(ptrs) + [None] + list(outs)    # the epilogue's parameters, then outputs
        epi = info.epilogue
        self.group = OutputGroup(tuple(info.dot.shape), list(range(len(epi.outputs))), False)

    def __call__(self, b, bi, m, n, v):
        info, con = self.info, self.info.con
        value = from_acc(b, self.acc, v, info.out_dt) if self.acc is not None else v
        if info.conv is not None:
            coords = info.conv.out_coords(b, bi, m, n)
            ix = Index(self.group.shape, coords=coords, linear=linearize(b, coords, self.group.shape))
        else:
            # the product is row-major [batch..., M..., N...]
            lin = b.add(b.mul(bi, c64(con.M * con.N)), b.add(b.mul(m, c64(con.N)), n))

            def coords():
                return (delinearize(b, bi, con.batch_shape) + delinearize(b, m, con.m_shape)
                        + delinearize(b, n, con.n_shape))

            ix = Index(self.group.shape, linear=lin, coords_fn=coords)
        emit_element(self.cx, b, self.opts, info.epilogue, self.group, ix, self.args,
                     readers={info.dot_param: lambda em, _ix: value})


@dataclass(frozen=True)
class _Split:
    """How threads share the product: chunks of whole batch elements, of rows or of columns,
    claimed dynamically by the threads (threads.emit_threaded). More chunks than threads keep a
    busy machine from stalling the kernel on its slowest thread. Row chunks read one packing of B
    made before them (`shared_b`; else each would pack all of B again, and there is one per
    thread); column chunks pack only their columns of B (but all of A, when A is packed: then one
    per thread)."""
    axis: str     # "batch" | "m" | "n"
    unit: int
    chunks: int

    @staticmethod
    def of(axis: str, con: Contraction, tiles: Tiles, threads: int, packs_a: bool, shared_b: bool) -> "_Split":
        extent = {"batch": con.B, "m": con.M, "n": con.N}[axis]
        unit = {"batch": 1, "m": tiles.mr, "n": tiles.nr}[axis]
        units = max(1, -(-extent // unit))
        many = axis == "batch" or (axis == "m" and shared_b) or (axis == "n" and not packs_a)
        per = CHUNKS_PER_THREAD if many else 1
        return _Split(axis, unit, max(1, min(units, threads * per)))

    def box(self, b, con: Contraction, chunk):
        full = {"batch": (c64(0), c64(con.B)), "m": (c64(0), c64(con.M)), "n": (c64(0), c64(con.N))}
        extent = {"batch": con.B, "m": con.M, "n": con.N}[self.axis]
        full[self.axis] = chunk_range(b, chunk, extent, self.unit)
        return (*full["batch"], *full["m"], *full["n"])


def default_split(con: Contraction, nr: int, threads: int) -> str:
    """Whole products when there are enough of them; else columns when there are at least two
    micro-panels per thread (each column chunk packs only its own columns of B; A is read in
    place, from L2/L3, by every chunk); else rows."""
    if con.B >= threads and (con.B % threads == 0 or con.B >= 4 * threads):
        return "batch"
    if con.N >= 2 * nr * threads:
        return "n"
    return "m"


def _tiles(knobs: DotKnobs, lanes: int) -> Tiles:
    rows, vecs = map(int, knobs.micro.split("x"))
    return Tiles(rows, vecs * lanes, knobs.mc, knobs.kc, knobs.nc)


def _emit_gemm(cx, fname, info: DotInfo, knobs: DotKnobs, nargs, param_arg, output_arg):
    """The kernel: [pack all of B (chunks of panels)] then the GEMM (chunks of the product).

    Functions: `.body(args..., partial, b_all, c, C)` computes chunk c of C; with a shared B
    (row chunks: every chunk reads the same B), `.packb(args..., partial, b_all, c, C)` first
    packs chunk c of B's panels into b_all, so no chunk packs B again."""
    con = info.con
    acc = accumulator(info.out_dt)
    gemm = None
    a_loader = None
    if info.conv is not None:
        form = info.conv

        def a_loader(b, bi, m, k):      # (ptrs: the body's arguments, bound below)
            return form.load_a(b, ptrs[info.lhs], info.lhs_dt, bi, m, k)
    if acc is not None:
        lanes = vector_lanes(info)
        gemm = GemmEmitter(cx, con, info.lhs_dt, info.rhs_dt, info.out_dt, _tiles(knobs, lanes), lanes,
                           pack_a=knobs.pack_a, a_loader=a_loader)
    threads = max(1, knobs.threads)
    shared_b = (gemm is not None and threads > 1 and knobs.split == "m" and con.K > 0
                and SHARED_B_MIN_BYTES <= gemm.b_all_elems * acc.nbytes <= SHARED_B_MAX_BYTES)
    split = _Split.of(knobs.split, con, gemm.tiles if gemm else Tiles(1, 1, 1, 1, 1), threads,
                      gemm is None or gemm.pack_a, shared_b)

    # partial sums between k blocks: in the first output when it holds accumulator values and
    # is no operand's storage, else a scratch of the product's size
    partial_in_out = False
    needs_partial = gemm is not None and gemm.needs_partials()
    if needs_partial:
        o0 = info.epilogue.outputs[0]
        partial_in_out = (T.storage_type(o0.dtype) == acc.type and output_arg[0] not in param_arg
                          and tuple(o0.shape) == tuple(info.dot.shape))

    nptrs = nargs + 2
    body = _new_function(cx, fname + ".body", nptrs, [T.I64, T.I64])
    b = ir.IRBuilder(body.append_basic_block("entry"))
    fargs = list(body.args)
    ptrs = [fargs[k] for k in param_arg]
    outs = [fargs[k] for k in output_arg]
    partial, b_all = fargs[nargs], fargs[nargs + 1]
    writer = _Writer(cx, info, knobs, ptrs, outs)
    box = split.box(b, con, (fargs[nptrs], fargs[nptrs + 1]) if threads > 1 else None)
    a_ptr, b_ptr = ptrs[info.lhs], ptrs[info.rhs]
    if gemm is None:
        emit_naive(cx, b, con, info.lhs_dt, info.rhs_dt, info.out_dt, a_ptr, b_ptr, box, writer, a_loader)
        b.ret_void()
    else:
        ap = _alloc(cx, b, gemm.a_pack_elems * acc.nbytes)
        bp = b_all if shared_b else _alloc(cx, b, gemm.b_pack_elems * acc.nbytes)
        no_mem = b.or_(b.or_(_is_null(b, ap), _is_null(b, bp)),
                       _is_null(b, partial) if needs_partial else ir.Constant(T.I1, 0))
        with b.if_else(no_mem) as (then, otherwise):
            with then:
                # no memory for packing: the same sums without packed panels (slow, correct)
                emit_naive(cx, b, con, info.lhs_dt, info.rhs_dt, info.out_dt, a_ptr, b_ptr, box, writer, a_loader)
            with otherwise:
                gemm.emit_box(b, a_ptr, b_ptr, ap, bp, box, writer, partial if needs_partial else None,
                              b_packed=shared_b)
        _free(cx, b, ap)
        if not shared_b:
            _free(cx, b, bp)
        b.ret_void()

    run = emit_threaded(cx, fname + ".threads", body, nptrs, threads, split.chunks) if threads > 1 else body
    pack_run = None
    if shared_b:
        units = con.B * gemm.n_panels
        pack = _new_function(cx, fname + ".packb", nptrs, [T.I64, T.I64])
        b = ir.IRBuilder(pack.append_basic_block("entry"))
        pargs = list(pack.args)
        with b.if_then(b.not_(_is_null(b, pargs[nargs + 1]))):
            lo, hi = chunk_range(b, (pargs[nptrs], pargs[nptrs + 1]), units, 1)
            gemm.emit_pack_b_all(b, pargs[param_arg[info.rhs]], pargs[nargs + 1], lo, hi)
        b.ret_void()
        pack_run = emit_threaded(cx, fname + ".packb.threads", pack, nptrs, threads,
                                 min(units, threads * CHUNKS_PER_THREAD))

    fn = _new_function(cx, fname, nargs)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    args = list(fn.args)
    scratch = None
    if not needs_partial:
        part = ir.Constant(T.PTR, None)
    elif partial_in_out:
        part = args[output_arg[0]]
    else:
        scratch = _alloc(cx, b, con.B * con.M * con.N * acc.nbytes)
        part = scratch
    shared = _alloc(cx, b, gemm.b_all_elems * acc.nbytes) if shared_b else ir.Constant(T.PTR, None)
    if pack_run is not None:
        b.call(pack_run, args + [part, shared])
    extra = [c64(0), c64(1)] if threads <= 1 else []
    b.call(run, args + [part, shared] + extra)
    if scratch is not None:
        _free(cx, b, scratch)
    if shared_b:
        _free(cx, b, shared)
    b.ret_void()
    return fn


def _emit_runtime(cx, fname, info: DotInfo, knobs: DotKnobs, nargs, param_arg, output_arg):
    """The kernel: chunks of the product (as `_emit_gemm`, without a shared packing of B), each
    calling the GEMM runtime once per batch element of its box; the B packing buffer is the
    chunk's (NULL when there is no memory: the runtime then sums without packing)."""
    con = info.con
    acc = accumulator(info.out_dt)
    tiles = _tiles(knobs, vector_lanes(info)).normalized(con)
    threads = max(1, knobs.threads)
    split = _Split.of(knobs.split, con, tiles, threads, False, False)
    routine = gemmrt.declare(cx, info.out_dt.name, knobs.micro)
    st = acc.type

    body = _new_function(cx, fname + ".body", nargs, [T.I64, T.I64])
    cx.mark_glue(body)          # its loop runs the precompiled routine once per batch element
    b = ir.IRBuilder(body.append_basic_block("entry"))
    fargs = list(body.args)
    a_ptr, b_ptr = fargs[param_arg[info.lhs]], fargs[param_arg[info.rhs]]
    c_ptr = fargs[output_arg[0]]
    b0, b1, m0, m1, n0, n1 = split.box(b, con, (fargs[nargs], fargs[nargs + 1]) if threads > 1 else None)
    bp = _alloc(cx, b, tiles.kc * tiles.nc * acc.nbytes)
    with for_range(b, b0, b1, name="bi") as bi:
        a = b.gep(a_ptr, [b.add(con.a_batch.offset(b, bi), b.mul(m0, c64(con.a_m.stride)))], source_etype=st)
        bm = b.gep(b_ptr, [b.add(con.b_batch.offset(b, bi), b.mul(n0, c64(con.b_n.stride)))], source_etype=st)
        c = b.gep(c_ptr, [b.add(b.mul(bi, c64(con.M * con.N)), b.add(b.mul(m0, c64(con.N)), n0))], source_etype=st)
        b.call(routine, [a, c64(con.a_m.stride), c64(con.a_k.stride), bm, c64(con.b_k.stride),
                         c64(con.b_n.stride), c, c64(con.N), b.sub(m1, m0), b.sub(n1, n0), c64(con.K),
                         c64(tiles.mc), c64(tiles.kc), c64(tiles.nc), bp])
    _free(cx, b, bp)
    b.ret_void()

    run = emit_threaded(cx, fname + ".threads", body, nargs, threads, split.chunks) if threads > 1 else body
    fn = _new_function(cx, fname, nargs)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    args = list(fn.args)
    b.call(run, args + ([c64(0), c64(1)] if threads <= 1 else []))
    if info.has_epilogue:
        # a loop kernel over the product, in place in the first output (runtime_layout)
        lthreads = threads if math.prod(info.dot.shape) >= (1 << 15) else 1
        lk = LoopKernelKnobs(math=knobs.math, threads=lthreads)
        efn = emit_loop_kernel(cx, fname + ".epilogue", info.epilogue, lk, nargs,
                               list(param_arg) + [output_arg[0]], list(output_arg))
        b.call(efn, args)
    b.ret_void()
    return fn


def _emit_blas(cx, fname, info: DotInfo, knobs: DotKnobs, nargs, param_arg, output_arg):
    lib = blas.library()       # copied and loaded now, the first time a kernel calls it
    if lib is None:
        raise T.NotLowerable(f"dot=blas: {blas.unavailable()}")
    con = info.con
    dt = info.out_dt
    o0 = info.epilogue.outputs[0]
    in_place = (not info.has_epilogue) or (o0.dtype == dt and output_arg[0] not in param_arg)

    fn = _new_function(cx, fname, nargs)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    args = list(fn.args)
    ptrs = [args[k] for k in param_arg]
    if in_place:
        _blas_calls(cx, b, info, knobs, lib, args, ptrs, args[output_arg[0]], output_arg[0], param_arg, output_arg)
    else:
        c = _alloc(cx, b, con.B * con.M * con.N * dt.itemsize)
        with b.if_else(_is_null(b, c)) as (then, otherwise):
            with then:
                # no memory for the product: the fused GEMM needs none of that size
                g = _emit_gemm(cx, fname + ".gemm", info, DotKnobs(**{**knobs.__dict__, "dot": "gemm"}), nargs,
                               param_arg, output_arg)
                b.call(g, args)
            with otherwise:
                _blas_calls(cx, b, info, knobs, lib, args, ptrs, c, None, param_arg, output_arg)
                _free(cx, b, c)
    b.ret_void()
    return fn


def _blas_calls(cx, b, info: DotInfo, knobs: DotKnobs, lib, args, ptrs, c, c_arg, param_arg, output_arg):
    """?gemm calls into c, then the epilogue (a loop kernel reading c). With threads, the calls
    are single-threaded OpenBLAS on our chunks (knob `split`): OpenBLAS's own workers wait for
    each other, which on a busy machine costs whole scheduler time slices."""
    con = info.con
    threads = max(1, knobs.threads)
    nargs = len(args)
    # (row and column chunks: one per thread, OpenBLAS packs the other operand in each call)
    split = _Split.of(knobs.split, con, Tiles(16, 16, 16, 16, 16), threads, True, False)
    body = _new_function(cx, b.function.name + ".blas", nargs + 1, [T.I64, T.I64])
    cx.mark_glue(body)          # BLAS calls, batch element by batch element
    bb = ir.IRBuilder(body.append_basic_block("entry"))
    bargs = list(body.args)
    box = split.box(bb, con, (bargs[nargs + 1], bargs[nargs + 2]) if threads > 1 else None)
    _emit_blas_box(cx, bb, info, lib, [bargs[k] for k in param_arg], bargs[nargs], box)
    bb.ret_void()
    if threads > 1:
        run = emit_threaded(cx, b.function.name + ".blas.threads", body, nargs + 1, threads, split.chunks)
        b.call(run, args + [c])
    else:
        b.call(body, args + [c, c64(0), c64(1)])
    if not info.has_epilogue:
        return
    # the epilogue as a loop kernel whose extra parameter (the product) is c
    eargs = list(args)
    if c_arg is None:
        c_arg = len(eargs)
        eargs.append(c)
    lthreads = threads if math.prod(info.dot.shape) >= (1 << 15) else 1
    lk = LoopKernelKnobs(math=knobs.math, threads=lthreads)
    fname = b.function.name + (".epilogue" if c_arg < len(args) else ".epilogue.scratch")
    efn = emit_loop_kernel(cx, fname, info.epilogue, lk, len(eargs), list(param_arg) + [c_arg], list(output_arg))
    b.call(efn, eargs)


def _emit_blas_box(cx, b, info: DotInfo, lib, ptrs, c, box):
    """One ?gemm per batch element of the box, on its rows [m0, m1) and columns [n0, n1)."""
    con, dt = info.con, info.out_dt
    ft = T.F32 if dt.name == "f32" else T.F64
    it = lib.int_type
    gemm_fn = blas.declare_gemm(cx.module, lib, dt.name)
    ta, lda = _blas_operand(con.a_m, con.a_k)
    tb, ldb = _blas_operand(con.b_k, con.b_n)
    b0, b1, m0, m1, n0, n1 = box
    a_ptr, b_ptr = ptrs[info.lhs], ptrs[info.rhs]
    i = lambda v: ir.Constant(it, v)
    as_int = lambda v: v if it.width == 64 else b.trunc(v, it)
    rows, cols = b.sub(m1, m0), b.sub(n1, n0)
    empty = b.or_(b.icmp_signed("<=", rows, c64(0)), b.icmp_signed("<=", cols, c64(0)))
    with b.if_then(b.not_(empty)):
        with for_range(b, b0, b1, name="bi") as bi:
            pa = b.gep(a_ptr, [b.add(con.a_batch.offset(b, bi), b.mul(m0, c64(con.a_m.stride)))], source_etype=ft)
            pb = b.gep(b_ptr, [b.add(con.b_batch.offset(b, bi), b.mul(n0, c64(con.b_n.stride)))], source_etype=ft)
            pc = b.gep(c, [b.add(b.mul(bi, c64(con.M * con.N)), b.add(b.mul(m0, c64(con.N)), n0))], source_etype=ft)
            b.call(gemm_fn, [ir.Constant(T.I32, blas.ROW_MAJOR),
                             ir.Constant(T.I32, blas.TRANS if ta else blas.NO_TRANS),
                             ir.Constant(T.I32, blas.TRANS if tb else blas.NO_TRANS),
                             as_int(rows), as_int(cols), i(con.K), ir.Constant(ft, 1.0), pa, i(lda), pb, i(ldb),
                             ir.Constant(ft, 0.0), pc, i(con.N)])


FAMILY = KernelFamily("dot", claim, dot_knobs, emit)

__all__ = ["FAMILY", "DotInfo", "DotKnobs", "analyze", "claim", "dot_knobs", "read_knobs", "emit",
           "blas_layout"]

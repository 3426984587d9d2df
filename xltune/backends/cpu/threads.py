"""Running a kernel's chunks on several threads, in a way that a busy machine cannot stall.

`emit_threaded` wraps `body(ptrs..., c, C)` (which does chunk c of C) into a kernel
`fn(ptrs...)` that calls the process-wide runtime function `xltune_rt_parallel_for(chunk_fn,
ctx, T, C)`, which:
- puts the chunk function, its context, a chunk counter, a done counter and a reference count in
  a small heap block;
- starts T - 1 detached POSIX threads on it, then works itself: every worker (the caller
  included) claims the next chunk with an atomic add until none are left;
- waits only until every chunk is done (yielding the CPU meanwhile), never for a thread to start
  or to exit: on a shared machine a helper that gets no CPU in time finds no chunk left, and the
  caller has done the work itself (a join would wait a whole scheduler time slice);
- the last one out (the caller or a late helper) frees the block.

A helper that starts late runs only runtime code and touches only the heap block, so the
runtime is compiled once per process and never unloaded (the kernels' own code may be freed
with their executable while such a thread is still finishing). Kernel objects name the runtime
function; `imports_for` gives its address when they are linked.

There are more chunks than threads (`CHUNKS_PER_THREAD`), so a thread that starts late or runs
slower takes fewer of them. Each chunk's work is fixed (c of C), so which thread runs it never
changes a result: per-chunk partial results are combined in chunk order.
"""
from __future__ import annotations

import threading

from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen.context import CodegenContext
from ...codegen.indexing import c64

CHUNKS_PER_THREAD = 4
PARALLEL_FOR = "xltune_rt_parallel_for"
_REFS, _NEXT, _DONE, _COUNT, _FN, _CTX = range(6)     # i64/pointer slots of the control block
_CTL_BYTES = 64                                     # one cache line


# ---- kernels --------------------------------------------------------------------------------------------
def emit_threaded(cx: CodegenContext, fname: str, body: ir.Function, nargs: int, nthreads: int,
                  nchunks: int | None = None) -> ir.Function:
    """`fname(ptrs...)` running body's nchunks chunks on up to nthreads threads. body takes nargs
    pointers, then (chunk, nchunks)."""
    m = cx.module
    nchunks = nchunks or nthreads * CHUNKS_PER_THREAD
    # called from the chunk function and nowhere else: keep one copy of its code
    body.attributes.add("noinline")
    chunk = ir.Function(m, ir.FunctionType(T.VOID, [T.PTR, T.I64, T.I64]), name=fname + ".chunk")
    chunk.linkage = "internal"
    chunk.attributes.add("nounwind")
    b = ir.IRBuilder(chunk.append_basic_block("entry"))
    ctx = chunk.args[0]
    args = [b.load(b.gep(ctx, [c64(k)], source_etype=T.PTR), typ=T.PTR) for k in range(nargs)]
    b.call(body, args + [chunk.args[1], chunk.args[2]])
    b.ret_void()

    fn = ir.Function(m, ir.FunctionType(T.VOID, [T.PTR] * nargs), name=fname)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ctx = b.alloca(T.PTR, size=c64(max(nargs, 1)))
    for k, a in enumerate(fn.args):
        b.store(a, b.gep(ctx, [c64(k)], source_etype=T.PTR))
    run = cx.declare(PARALLEL_FOR, T.VOID, [T.PTR, T.PTR, T.I64, T.I64])
    b.call(run, [chunk, ctx, c64(nthreads), c64(nchunks)])
    b.ret_void()
    return fn


# ---- the runtime (one per process) ----------------------------------------------------------------------------
def runtime_ir() -> str:
    """`void xltune_rt_parallel_for(ptr fn, ptr ctx, i64 threads, i64 chunks)`."""
    m = ir.Module(name="xltune.rt")
    cx = CodegenContext(m)
    malloc = cx.declare("malloc", T.PTR, [T.I64])
    free = cx.declare("free", T.VOID, [T.PTR])
    create = cx.declare("pthread_create", T.I32, [T.PTR, T.PTR, T.PTR, T.PTR])
    detach = cx.declare("pthread_detach", T.I32, [T.I64])
    yield_ = cx.declare("sched_yield", T.I32, [])
    chunk_ty = ir.FunctionType(T.VOID, [T.PTR, T.I64, T.I64])

    def slot(b, ctl, k):
        return b.gep(ctl, [c64(k)], source_etype=T.I64)

    # work(ctl): claim chunks until none are left
    work = ir.Function(m, ir.FunctionType(T.VOID, [T.PTR]), name="xltune_rt.work")
    work.linkage = "internal"
    b = ir.IRBuilder(work.append_basic_block("entry"))
    ctl = work.args[0]
    count = b.load(slot(b, ctl, _COUNT), typ=T.I64)
    chunk_fn = b.load(slot(b, ctl, _FN), typ=chunk_ty.as_pointer())   # prints as `ptr`
    ctx = b.load(slot(b, ctl, _CTX), typ=T.PTR)
    claim, run, out = (b.append_basic_block(n) for n in ("claim", "run", "out"))
    b.branch(claim)
    b.position_at_end(claim)
    c = b.atomic_rmw("add", slot(b, ctl, _NEXT), c64(1), "monotonic")
    b.cbranch(b.icmp_unsigned("<", c, count), run, out)
    b.position_at_end(run)
    b.call(chunk_fn, [ctx, c, count])
    b.atomic_rmw("add", slot(b, ctl, _DONE), c64(1), "release")
    b.branch(claim)
    b.position_at_end(out)
    b.ret_void()

    # release(ctl): drop one reference; the last one frees the block
    release = ir.Function(m, ir.FunctionType(T.VOID, [T.PTR]), name="xltune_rt.release")
    release.linkage = "internal"
    b = ir.IRBuilder(release.append_basic_block("entry"))
    ctl = release.args[0]
    left = b.atomic_rmw("sub", slot(b, ctl, _REFS), c64(1), "acq_rel")
    with b.if_then(b.icmp_unsigned("==", left, c64(1))):
        b.call(free, [ctl])
    b.ret_void()

    # a helper thread's entry point
    tramp = ir.Function(m, ir.FunctionType(T.PTR, [T.PTR]), name="xltune_rt.thread")
    tramp.linkage = "internal"
    b = ir.IRBuilder(tramp.append_basic_block("entry"))
    b.call(work, [tramp.args[0]])
    b.call(release, [tramp.args[0]])
    b.ret(ir.Constant(T.PTR, None))

    fn = ir.Function(m, ir.FunctionType(T.VOID, [T.PTR, T.PTR, T.I64, T.I64]), name=PARALLEL_FOR)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    chunk_fn, ctx, nthreads, nchunks = fn.args
    on_stack = b.alloca(T.I8, size=c64(_CTL_BYTES))
    on_stack.align = 64
    heap = b.call(malloc, [c64(_CTL_BYTES)])
    shared = b.icmp_unsigned("!=", heap, ir.Constant(T.PTR, None))
    # without memory for a shared block: no helpers, every chunk here
    ctl = b.select(shared, heap, on_stack)
    nthreads = b.select(shared, nthreads, c64(1))
    b.store(nthreads, slot(b, ctl, _REFS))
    b.store(c64(0), slot(b, ctl, _NEXT))
    b.store(c64(0), slot(b, ctl, _DONE))
    b.store(nchunks, slot(b, ctl, _COUNT))
    b.store(chunk_fn, slot(b, ctl, _FN))
    b.store(ctx, slot(b, ctl, _CTX))
    tid = b.alloca(T.I64)
    with _for(b, b.sub(nthreads, c64(1))):
        rc = b.call(create, [tid, ir.Constant(T.PTR, None), tramp, ctl])
        with b.if_else(b.icmp_signed("==", rc, ir.Constant(T.I32, 0))) as (started, failed):
            with started:
                b.call(detach, [b.load(tid, typ=T.I64)])
            with failed:
                b.atomic_rmw("sub", slot(b, ctl, _REFS), c64(1), "monotonic")
    b.call(work, [ctl])
    wait, idle, done = (b.append_basic_block(n) for n in ("wait", "idle", "done"))
    b.branch(wait)
    b.position_at_end(wait)
    d = b.load_atomic(slot(b, ctl, _DONE), "acquire", 8, typ=T.I64)
    b.cbranch(b.icmp_unsigned(">=", d, nchunks), done, idle)
    b.position_at_end(idle)
    b.call(yield_, [])
    b.branch(wait)
    b.position_at_end(done)
    with b.if_then(shared):
        b.call(release, [ctl])
    b.ret_void()
    return str(m)


class _for:
    """for (k = 0; k < n; k++) over an i64 value n."""

    def __init__(self, b, n):
        self.b, self.n = b, n

    def __enter__(self):
        b = self.b
        self.pre = b.block
        self.head = b.append_basic_block("for.head")
        self.body = b.append_basic_block("for.body")
        self.exit = b.append_basic_block("for.exit")
        b.branch(self.head)
        b.position_at_end(self.head)
        self.k = b.phi(T.I64)
        self.k.add_incoming(c64(0), self.pre)
        b.cbranch(b.icmp_signed("<", self.k, self.n), self.body, self.exit)
        b.position_at_end(self.body)
        return self.k

    def __exit__(self, *exc):
        b = self.b
        nxt = b.add(self.k, c64(1))
        self.k.add_incoming(nxt, b.block)
        b.branch(self.head)
        b.position_at_end(self.exit)
        return False


_runtime = None
_runtime_lock = threading.Lock()


def runtime_address() -> int:
    """Compile (or fetch from the object cache) and load the runtime once; its address."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            from . import objcache
            from .llvm_target import host
            target = host()
            text = runtime_ir()
            key = target.cache_key(text)
            cache = objcache.object_cache()
            compiled = cache.get(key)
            if compiled is None:
                compiled = target.compile_ir(text, want_asm=False)
                cache.put(key, compiled)
            _runtime = target.load(compiled.object_image, [PARALLEL_FOR])   # kept for the process
        return _runtime[PARALLEL_FOR]


def imports_for(ir_text: str) -> dict[str, int]:
    """The runtime's address for a module that calls it (empty otherwise)."""
    if PARALLEL_FOR not in ir_text:
        return {}
    return {PARALLEL_FOR: runtime_address()}


__all__ = ["emit_threaded", "CHUNKS_PER_THREAD", "PARALLEL_FOR", "imports_for", "runtime_address"]

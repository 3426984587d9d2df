"""Running a kernel's chunks on several threads, in a way that a busy machine cannot stall.

`emit_threaded` wraps `body(ptrs..., c, C)` (which does chunk c of C) into a kernel
`fn(ptrs...)` that calls the process-wide runtime function `xltune_rt_parallel_for(chunk_fn,
ctx, T, C)`. The runtime keeps a pool of worker threads, created on first use (up to T - 1 of
them, at most MAX_WORKERS) and kept for the process:

- the caller puts the chunk function, its context, a chunk counter, a done counter, T - 1 seats
  and a reference count in a small heap block, publishes it in the pool's job slot (bumping a
  generation counter, waking sleeping workers), and works itself: every thread claims the next
  chunk with an atomic add until none are left;
- it waits only until every chunk is done, never for a worker to wake or start: on a shared
  machine a worker that gets no CPU in time finds no chunk left, and the caller has done the
  work itself; then it takes the block out of the slot, and the last reference frees it;
- an idle worker polls the generation counter for SPIN_NS, yielding its core between polls
  (back-to-back kernels find it awake, and a caller that shares the worker's core still runs),
  then sleeps on a condition variable.

Workers run only runtime code and touch only the heap block and the pool's own globals between
jobs, so the runtime is compiled once per process and never unloaded (the kernels' own code may
be freed with their executable). `xltune_rt_init` is called once after loading (mutex, condition
variable); fork hooks (`os.register_at_fork`) hold the pool's mutex across a fork and give the
child an empty pool; `xltune_rt_stop`, from an atexit hook, joins the workers before the
interpreter tears down the JIT that holds their code.

There are more chunks than threads (`CHUNKS_PER_THREAD`), so a thread that starts late or runs
slower takes fewer of them. Each chunk's work is fixed (c of C), so which thread runs it never
changes a result: per-chunk partial results are combined in chunk order.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import threading

from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen.context import CodegenContext
from ...codegen.indexing import c64

CHUNKS_PER_THREAD = 4
PARALLEL_FOR = "xltune_rt_parallel_for"
INIT = "xltune_rt_init"
STOP = "xltune_rt_stop"
FORK_PREPARE, FORK_PARENT, FORK_CHILD = "xltune_rt_fork_prepare", "xltune_rt_fork_parent", "xltune_rt_fork_child"
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
MAX_WORKERS = 7
SPIN_NS = 50_000         # an idle worker spins this long before it sleeps
_SYNC_BYTES = 128       # room for a pthread_mutex_t / pthread_cond_t (40 / 48 bytes on glibc and musl)
_CLOCK_MONOTONIC = 1
_SEATS = 6              # control block slot after _CTX: helpers that may still join
STALL_CHUNKS, STALL_NS = 2, 20_000   # a wait beyond 2 of the caller's chunks + 20 us is a stall
BACKOFF_MIN, BACKOFF_MAX = 4, 1024   # jobs run alone after a stall (doubling while they recur)


def runtime_ir() -> str:
    """The pool runtime: `xltune_rt_parallel_for(ptr fn, ptr ctx, i64 threads, i64 chunks)`,
    `xltune_rt_init()`, `xltune_rt_stop()`."""
    m = ir.Module(name="xltune.rt")
    cx = CodegenContext(m)
    malloc = cx.declare("malloc", T.PTR, [T.I64])
    free = cx.declare("free", T.VOID, [T.PTR])
    create = cx.declare("pthread_create", T.I32, [T.PTR, T.PTR, T.PTR, T.PTR])
    join = cx.declare("pthread_join", T.I32, [T.I64, T.PTR])
    mutex_init = cx.declare("pthread_mutex_init", T.I32, [T.PTR, T.PTR])
    lock_fn = cx.declare("pthread_mutex_lock", T.I32, [T.PTR])
    unlock_fn = cx.declare("pthread_mutex_unlock", T.I32, [T.PTR])
    cond_init = cx.declare("pthread_cond_init", T.I32, [T.PTR, T.PTR])
    cond_wait = cx.declare("pthread_cond_wait", T.I32, [T.PTR, T.PTR])
    broadcast = cx.declare("pthread_cond_broadcast", T.I32, [T.PTR])
    clock = cx.declare("clock_gettime", T.I32, [T.I32, T.PTR])
    yield_ = cx.declare("sched_yield", T.I32, [])
    chunk_ty = ir.FunctionType(T.VOID, [T.PTR, T.I64, T.I64])
    null = ir.Constant(T.PTR, None)

    def glob(name, ty, align=8):
        g = ir.GlobalVariable(m, ty, name=f"xltune_rt.{name}")
        g.linkage = "internal"
        g.initializer = ir.Constant(ty, None)
        g.align = align
        return g

    sync_ty = ir.ArrayType(T.I8, _SYNC_BYTES)
    mutex, cond = glob("mutex", sync_ty, 64), glob("cond", sync_ty, 64)
    gen = glob("gen", T.I64, 64)              # bumped per published job; workers watch it
    job = glob("job", T.PTR)                  # the current control block (under the mutex)
    sleepers = glob("sleepers", T.I64)        # workers waiting on cond (under the mutex)
    nworkers = glob("workers", T.I64)         # threads started
    quit_ = glob("quit", T.I64)               # set by stop: workers leave, none start
    handles = glob("handles", ir.ArrayType(T.I64, MAX_WORKERS))
    backoff = glob("backoff", T.I64)          # jobs left to run without helpers
    penalty = glob("penalty", T.I64)          # the next back-off's length

    def slot(b, ctl, k):
        return b.gep(ctl, [c64(k)], source_etype=T.I64)

    def function(name, ret, args, internal=True):
        f = ir.Function(m, ir.FunctionType(ret, args), name=name)
        if internal:
            f.linkage = "internal"
        f.attributes.add("nounwind")
        return f, ir.IRBuilder(f.append_basic_block("entry"))

    def load(b, g, order="monotonic"):
        return b.load_atomic(g, order, 8, typ=T.I64)

    def store(b, v, g, order="monotonic"):
        b.store_atomic(v, g, order, 8)

    def now_ns(b, ts):
        b.call(clock, [ir.Constant(T.I32, _CLOCK_MONOTONIC), ts])
        sec = b.load(b.gep(ts, [c64(0)], source_etype=T.I64), typ=T.I64)
        nsec = b.load(b.gep(ts, [c64(1)], source_etype=T.I64), typ=T.I64)
        return b.add(b.mul(sec, c64(1_000_000_000)), nsec)

    # work(ctl) -> chunks run: claim chunks until none are left
    work, b = function("xltune_rt.work", T.I64, [T.PTR])
    ctl = work.args[0]
    count = b.load(slot(b, ctl, _COUNT), typ=T.I64)
    chunk_fn = b.load(slot(b, ctl, _FN), typ=chunk_ty.as_pointer())   # prints as `ptr`
    ctx = b.load(slot(b, ctl, _CTX), typ=T.PTR)
    entry = b.block
    claim, run, out = (b.append_basic_block(n) for n in ("claim", "run", "out"))
    b.branch(claim)
    b.position_at_end(claim)
    ran = b.phi(T.I64)
    ran.add_incoming(c64(0), entry)
    c = b.atomic_rmw("add", slot(b, ctl, _NEXT), c64(1), "monotonic")
    b.cbranch(b.icmp_unsigned("<", c, count), run, out)
    b.position_at_end(run)
    b.call(chunk_fn, [ctx, c, count])
    b.atomic_rmw("add", slot(b, ctl, _DONE), c64(1), "release")
    ran.add_incoming(b.add(ran, c64(1)), run)
    b.branch(claim)
    b.position_at_end(out)
    b.ret(ran)

    # release(ctl): drop one reference; the last one frees the block
    release, b = function("xltune_rt.release", T.VOID, [T.PTR])
    ctl = release.args[0]
    left = b.atomic_rmw("sub", slot(b, ctl, _REFS), c64(1), "acq_rel")
    with b.if_then(b.icmp_unsigned("==", left, c64(1))):
        b.call(free, [ctl])
    b.ret_void()

    # worker(arg): wait for a new generation (spin, then sleep), join its job if a seat is left
    worker, b = function("xltune_rt.worker", T.PTR, [T.PTR])
    seen = b.alloca(T.I64)
    ts = b.alloca(T.I64, size=c64(2))
    b.store(c64(0), seen)
    top, spin, spin_body, spin_clock, spin_next, locked, wait_, take, joined, helped, back = (
        b.append_basic_block(n) for n in ("top", "spin", "spin.body", "spin.clock", "spin.next",
                                          "locked", "wait", "take", "joined", "helped", "back"))
    b.branch(top)
    b.position_at_end(top)
    t0 = now_ns(b, ts)
    b.branch(spin)
    b.position_at_end(spin)           # spin: a new job or quit ends it, so does SPIN_NS
    k = b.phi(T.I64)
    k.add_incoming(c64(0), top)
    fresh = b.icmp_unsigned("!=", load(b, gen), b.load(seen, typ=T.I64))
    stop_now = b.icmp_unsigned("!=", load(b, quit_), c64(0))
    b.cbranch(b.or_(fresh, stop_now), locked, spin_body)
    b.position_at_end(spin_body)
    b.call(yield_, [])                # a worker sharing its core with the caller lets it run
    k1 = b.add(k, c64(1))
    b.cbranch(b.icmp_unsigned("==", b.and_(k1, c64(15)), c64(0)), spin_clock, spin_next)
    b.position_at_end(spin_clock)     # the clock every 16 rounds
    b.cbranch(b.icmp_signed(">", b.sub(now_ns(b, ts), t0), c64(SPIN_NS)), locked, spin_next)
    b.position_at_end(spin_next)
    k.add_incoming(k1, spin_next)
    b.branch(spin)
    b.position_at_end(locked)
    b.call(lock_fn, [mutex])
    b.branch(wait_)
    b.position_at_end(wait_)          # under the mutex: sleep until a new generation or quit
    idle = b.icmp_unsigned("==", load(b, gen), b.load(seen, typ=T.I64))
    go_on = b.icmp_unsigned("==", load(b, quit_), c64(0))
    sleep_blk = b.append_basic_block("sleep")
    b.cbranch(b.and_(idle, go_on), sleep_blk, take)
    b.position_at_end(sleep_blk)
    b.store(b.add(b.load(sleepers, typ=T.I64), c64(1)), sleepers)
    b.call(cond_wait, [cond, mutex])
    b.store(b.sub(b.load(sleepers, typ=T.I64), c64(1)), sleepers)
    b.branch(wait_)
    b.position_at_end(take)
    with b.if_then(b.icmp_unsigned("!=", load(b, quit_), c64(0))):
        b.call(unlock_fn, [mutex])
        b.ret(null)
    b.store(load(b, gen), seen)
    p = b.load(job, typ=T.PTR)
    has = b.icmp_unsigned("!=", p, null)
    with b.if_then(has):
        b.atomic_rmw("add", slot(b, p, _REFS), c64(1), "monotonic")
    b.call(unlock_fn, [mutex])
    b.cbranch(has, joined, top)
    b.position_at_end(joined)
    seats = b.atomic_rmw("sub", slot(b, p, _SEATS), c64(1), "monotonic")
    b.cbranch(b.icmp_signed(">", seats, c64(0)), helped, back)
    b.position_at_end(helped)
    b.call(work, [p])
    b.branch(back)
    b.position_at_end(back)
    b.call(release, [p])
    b.branch(top)

    # ensure(n): at least n workers (while not stopped); creating them never waits for them
    ensure, b = function("xltune_rt.ensure", T.VOID, [T.I64])
    want = ensure.args[0]
    want = b.select(b.icmp_signed("<", want, c64(MAX_WORKERS)), want, c64(MAX_WORKERS))
    enough = b.icmp_signed(">=", load(b, nworkers), want)
    slow, done_ = b.append_basic_block("slow"), b.append_basic_block("done")
    b.cbranch(b.or_(enough, b.icmp_unsigned("!=", load(b, quit_), c64(0))), done_, slow)
    b.position_at_end(slow)
    b.call(lock_fn, [mutex])
    more, make, made, finish = (b.append_basic_block(n) for n in ("more", "make", "made", "finish"))
    b.branch(more)
    b.position_at_end(more)
    have = load(b, nworkers)
    b.cbranch(b.and_(b.icmp_signed("<", have, want), b.icmp_unsigned("==", load(b, quit_), c64(0))),
              make, finish)
    b.position_at_end(make)
    h = b.gep(handles, [c64(0), have], source_etype=handles.value_type)
    rc = b.call(create, [h, null, worker, null])
    b.cbranch(b.icmp_signed("==", rc, ir.Constant(T.I32, 0)), made, finish)
    b.position_at_end(made)
    store(b, b.add(have, c64(1)), nworkers, "release")
    b.branch(more)
    b.position_at_end(finish)
    b.call(unlock_fn, [mutex])
    b.branch(done_)
    b.position_at_end(done_)
    b.ret_void()

    # fork hooks (os.register_at_fork): hold the mutex across fork; the child has no workers
    # and a fresh mutex
    prepare, b = function(FORK_PREPARE, T.VOID, [], internal=False)
    b.call(lock_fn, [mutex])
    b.ret_void()
    parent, b = function(FORK_PARENT, T.VOID, [], internal=False)
    b.call(unlock_fn, [mutex])
    b.ret_void()
    child, b = function(FORK_CHILD, T.VOID, [], internal=False)
    b.call(mutex_init, [mutex, null])
    b.call(cond_init, [cond, null])
    for g in (sleepers, nworkers):
        b.store(c64(0), g)
    b.store(null, job)
    b.ret_void()

    init, b = function(INIT, T.VOID, [], internal=False)
    b.call(mutex_init, [mutex, null])
    b.call(cond_init, [cond, null])
    b.ret_void()

    stop, b = function(STOP, T.VOID, [], internal=False)
    b.call(lock_fn, [mutex])
    store(b, c64(1), quit_)
    b.call(broadcast, [cond])
    n = load(b, nworkers)
    b.call(unlock_fn, [mutex])
    with _for(b, n) as i:
        h = b.load(b.gep(handles, [c64(0), i], source_etype=handles.value_type), typ=T.I64)
        b.call(join, [h, null])
    store(b, c64(0), nworkers)
    b.ret_void()

    fn, b = function(PARALLEL_FOR, T.VOID, [T.PTR, T.PTR, T.I64, T.I64], internal=False)
    chunk_fn, ctx, nthreads, nchunks = fn.args
    on_stack = b.alloca(T.I8, size=c64(_CTL_BYTES))
    on_stack.align = 64
    ts = b.alloca(T.I64, size=c64(2))
    b.call(ensure, [b.sub(nthreads, c64(1))])
    # backing off after a stall: this job runs here alone
    alone = b.icmp_signed(">", load(b, backoff), c64(0))
    with b.if_then(alone):
        b.atomic_rmw("sub", backoff, c64(1), "monotonic")
    before = b.block
    with b.if_then(b.not_(alone)):
        got = b.call(malloc, [c64(_CTL_BYTES)])
        got_block = b.block
    heap = b.phi(T.PTR)
    heap.add_incoming(null, before)
    heap.add_incoming(got, got_block)
    shared = b.icmp_unsigned("!=", heap, null)
    # without memory for a shared block, or backing off: every chunk here
    ctl = b.select(shared, heap, on_stack)
    b.store(c64(2), slot(b, ctl, _REFS))                  # the caller's and the job slot's
    b.store(c64(0), slot(b, ctl, _NEXT))
    b.store(c64(0), slot(b, ctl, _DONE))
    b.store(nchunks, slot(b, ctl, _COUNT))
    b.store(chunk_fn, slot(b, ctl, _FN))
    b.store(ctx, slot(b, ctl, _CTX))
    b.store(b.sub(nthreads, c64(1)), slot(b, ctl, _SEATS))
    with b.if_then(shared):                               # publish
        b.call(lock_fn, [mutex])
        old = b.load(job, typ=T.PTR)
        b.store(ctl, job)
        store(b, b.add(load(b, gen), c64(1)), gen, "release")
        with b.if_then(b.icmp_unsigned("!=", b.load(sleepers, typ=T.I64), c64(0))):
            b.call(broadcast, [cond])
        b.call(unlock_fn, [mutex])
        with b.if_then(b.icmp_unsigned("!=", old, null)):  # another caller's job, replaced
            b.call(release, [old])
    t0 = now_ns(b, ts)
    mine = b.call(work, [ctl])
    t1 = now_ns(b, ts)
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
        # A stall: the caller waited for the workers' last chunks far longer than its own chunks
        # took (a worker lost its core mid-chunk; when the caller ran none there is no measure).
        # Then the next jobs run here alone, twice as many after every further stall; each clean
        # job shortens the next back-off by one.
        waited = b.sub(now_ns(b, ts), t1)
        per_chunk = b.udiv(b.sub(t1, t0), b.select(b.icmp_unsigned(">", mine, c64(0)), mine, c64(1)))
        limit = b.add(b.mul(per_chunk, c64(STALL_CHUNKS)), c64(STALL_NS))
        pen = load(b, penalty)
        stall = b.and_(b.icmp_signed(">", waited, limit), b.icmp_unsigned(">", mine, c64(0)))
        with b.if_else(stall) as (stalled, clean):
            with stalled:
                nxt = b.shl(pen, c64(1))
                nxt = b.select(b.icmp_signed("<", nxt, c64(BACKOFF_MIN)), c64(BACKOFF_MIN), nxt)
                nxt = b.select(b.icmp_signed(">", nxt, c64(BACKOFF_MAX)), c64(BACKOFF_MAX), nxt)
                store(b, nxt, penalty)
                store(b, nxt, backoff)
            with clean:
                store(b, b.select(b.icmp_signed(">", pen, c64(0)), b.sub(pen, c64(1)), pen), penalty)
        # unpublish, drop both references
        b.call(lock_fn, [mutex])
        here = b.icmp_unsigned("==", b.load(job, typ=T.PTR), ctl)
        with b.if_then(here):
            b.store(null, job)
        b.call(unlock_fn, [mutex])
        with b.if_then(here):
            b.call(release, [ctl])
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
            from .llvm_target import host
            from .objcache import runtime_object
            names = [PARALLEL_FOR, INIT, STOP, FORK_PREPARE, FORK_PARENT, FORK_CHILD]
            lib = host().load(runtime_object(runtime_ir()).object_images, names)  # kept for the process
            hook = {n: ctypes.CFUNCTYPE(None)(lib[n]) for n in names[1:]}
            hook[INIT]()
            # join the workers before the interpreter's teardown can free the JIT holding their code
            atexit.register(hook[STOP])
            os.register_at_fork(before=hook[FORK_PREPARE], after_in_parent=hook[FORK_PARENT],
                                after_in_child=hook[FORK_CHILD])
            _runtime = lib
        return _runtime[PARALLEL_FOR]


def imports_for(ir_text: str) -> dict[str, int]:
    """The runtime's address for a module that calls it (empty otherwise)."""
    if PARALLEL_FOR not in ir_text:
        return {}
    return {PARALLEL_FOR: runtime_address()}


__all__ = ["emit_threaded", "CHUNKS_PER_THREAD", "PARALLEL_FOR", "imports_for", "runtime_address"]

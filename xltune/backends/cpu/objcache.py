"""On-disk cache of compiled objects: a second compile of the same program costs milliseconds.

Key: sha256 of (LLVM IR text, triple, CPU name, features, opt level, LLVM/llvmlite/xltune
versions) — `HostTarget.cache_key`. Each entry is files in `<cache dir>/objects/`: `<key>.o`
(the object image) and `<key>.ll` (optimized IR), so a warm compile still fills
`exe.stages["llvm"]`; `<key>.s` (assembly) is added the first time someone reads
`exe.stages["asm"]` of that object (`put_asm`), since making it costs as much as the object.
Writes go through a temporary file and an atomic rename, so concurrent compiles (tuning
workers) never see a torn entry.

A program compiles to several object images (partition.py); its `.o` file then holds them all,
after a small header (`_pack`).

`XLTUNE_CACHE_DIR` moves the cache; `XLTUNE_OBJECT_CACHE=0` turns it off.
"""
from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

from .llvm_target import Compiled

_SUFFIXES = (".o", ".ll", ".s")
_PACKED = b"XLTUNE-OBJECTS\0\0"       # then: count, sizes (little-endian u64), images


def _pack(images) -> bytes:
    if len(images) == 1:
        return images[0]
    head = _PACKED + struct.pack(f"<{len(images) + 1}Q", len(images), *map(len, images))
    return head + b"".join(images)


def _unpack(data: bytes) -> tuple[bytes, ...] | None:
    """The images of a `.o` file; None when it is torn or not ours."""
    if not data.startswith(_PACKED):
        return (data,)
    at = len(_PACKED)
    try:
        (n,) = struct.unpack_from("<Q", data, at)
        sizes = struct.unpack_from(f"<{n}Q", data, at + 8)
    except struct.error:
        return None
    at += 8 * (n + 1)
    if at + sum(sizes) != len(data):
        return None
    images = []
    for size in sizes:
        images.append(data[at:at + size])
        at += size
    return tuple(images)


def cache_root() -> Path:
    from ...paths import cache_dir   # the one place that knows XLTUNE_CACHE_DIR and the default
    return cache_dir()


def enabled() -> bool:
    return os.environ.get("XLTUNE_OBJECT_CACHE", "1") not in ("0", "", "false", "no")


class ObjectCache:
    """Counters (`hits`, `misses`, `stores`) let tests assert a hit without timing anything."""

    def __init__(self, root: Path | None = None):
        self._root = root
        self.hits = 0
        self.misses = 0
        self.stores = 0

    @property
    def directory(self) -> Path:
        # Read the environment each time: tests and users may point it elsewhere after import.
        return (self._root if self._root is not None else cache_root()) / "objects"

    def get(self, key: str) -> Compiled | None:
        if not enabled():
            return None
        d = self.directory
        try:
            images = _unpack((d / f"{key}.o").read_bytes())
            ll = (d / f"{key}.ll").read_text()
        except (OSError, UnicodeDecodeError):
            images = None
        if images is None:
            self.misses += 1
            return None
        self.hits += 1
        return Compiled(object_images=images, optimized_ir=ll)     # asm: get_asm, when asked

    def get_asm(self, key: str) -> str | None:
        """The stored assembly of an entry, None when nobody asked for it yet."""
        if not enabled():
            return None
        try:
            return (self.directory / f"{key}.s").read_text()
        except (OSError, UnicodeDecodeError):
            return None

    def put_asm(self, key: str, asm: str) -> None:
        if not enabled():
            return
        try:
            self._write(self.directory / f"{key}.s", asm.encode())
        except OSError:
            pass

    def put(self, key: str, compiled: Compiled) -> None:
        if not enabled():
            return
        d = self.directory
        try:
            d.mkdir(parents=True, exist_ok=True)
            # The object goes last: a reader only trusts an entry whose .o exists, and the text
            # files it also needs are then already in place.
            self._write(d / f"{key}.ll", compiled.optimized_ir.encode())
            if compiled.asm is not None:
                self._write(d / f"{key}.s", compiled.asm.encode())
            self._write(d / f"{key}.o", _pack(compiled.object_images))
            self.stores += 1
        except OSError:
            pass  # a read-only or full disk only costs speed

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def clear(self) -> int:
        """Remove every entry; returns how many files went."""
        n = 0
        d = self.directory
        if d.is_dir():
            for p in d.iterdir():
                if p.suffix in _SUFFIXES:
                    try:
                        p.unlink()
                        n += 1
                    except OSError:
                        pass
        return n


_cache = ObjectCache()


def object_cache() -> ObjectCache:
    return _cache


def runtime_object(ir, speed_level: int | None = None, key_text: str | None = None) -> Compiled:
    """A runtime library's object (the threads runtime, a GEMM routine, the row library): from
    the cache, else compiled for the host (`HostTarget.compile_ir`) and stored. `ir`: IR text, or
    a function making it; `key_text`: what the IR is made from, when keying by that spares
    making the IR (default: the IR text)."""
    from .llvm_target import host
    target = host()
    text = ir if isinstance(ir, str) else None
    if key_text is None:
        key_text = text = text if text is not None else ir()
    key = target.cache_key(key_text, speed_level)
    compiled = _cache.get(key)
    if compiled is None:
        compiled = target.compile_ir(text if text is not None else ir(), speed_level=speed_level)
        _cache.put(key, compiled)
    return compiled

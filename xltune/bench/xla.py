"""XLA through jax: the very same StableHLO text compiled by XLA, run from this process."""
from __future__ import annotations

import time

import numpy as np


def available(platform: str = "cpu") -> str | None:
    """None when XLA can be used for `platform`, else the reason it can't."""
    try:
        import jax  # noqa: F401
        from jax._src import xla_bridge
        xla_bridge.get_backend(platform)
    except Exception as e:  # jax missing, or no such platform
        return f"{type(e).__name__}: {e}"
    return None


# XLA:CPU (jax >= 0.8) hands whole fusions (softmax, layernorm, reductions, dots) to YNNPACK, a
# prebuilt kernel library: those compile without LLVM. With this option empty, every fusion goes
# through XLA's own LLVM emitters, as every xltune kernel does: the like-for-like compile time.
CODEGEN_ONLY = {"cpu": [("xla_cpu_experimental_ynn_fusion_type", "")]}


def codegen_compile_seconds(text: str, platform: str = "cpu") -> float | None:
    """XLA's compile time for `text` with its library fusions off (None where there are none,
    or this jaxlib does not know the option)."""
    overrides = CODEGEN_ONLY.get(platform)
    if not overrides:
        return None
    try:
        return XlaProgram(text, platform, overrides).compile_seconds
    except Exception:
        return None


class XlaProgram:
    """Compile StableHLO text with XLA for one device and run it on numpy inputs.
    overrides: (debug option, value) pairs for this compile (XLA_FLAGS names, no dashes)."""

    def __init__(self, text: str, platform: str = "cpu", overrides: list | None = None):
        import jax
        from jax._src import xla_bridge
        from jax._src.lib import xla_client

        self._jax = jax
        be = xla_bridge.get_backend(platform)
        self.device = be.local_devices()[0]
        options = xla_client.CompileOptions()
        if overrides:
            options.env_option_overrides = list(overrides)
        t0 = time.perf_counter()
        self.exe = be.compile_and_load(text, xla_client.DeviceList((self.device,)), options)
        self.compile_seconds = time.perf_counter() - t0

    def put(self, arrays: list[np.ndarray]):
        return [self._jax.device_put(a, self.device) for a in arrays]

    def run_device(self, device_args):
        """One call on device-resident inputs, blocking until the results are ready."""
        outs = self.exe.execute_sharded(device_args).disassemble_into_single_device_arrays()
        for o in outs:
            o[0].block_until_ready()
        return outs

    def __call__(self, *arrays):
        outs = self.run_device(self.put(list(arrays)))
        res = [np.asarray(o[0]) for o in outs]
        return res[0] if len(res) == 1 else tuple(res)

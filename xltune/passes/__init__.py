"""The HLO pass pipeline: simplification (dce, cse, constant-folding, algebraic), fusion, buffers.

    run_pipeline(module, "simplify,fusion,buffers", config, stages, stats, verify=False) -> Module
    pipeline_knobs(module, spec, config) -> list[Knob]

See docs/passes.md for the contract (the fused module, the buffer plan) backends code against.
"""
from .pipeline import (ALIASES, PASSES, FixedPoint, Pass, PassContext, Pipeline, PipelineSpecError,
                       pipeline_knobs, register, run_pipeline, verify_module)
from . import algebraic, buffers, constant_folding, cse, dce, fusion  # noqa: E402,F401  (register passes)
from .buffers import BufferPlan, Slot, plan_buffers

__all__ = ["run_pipeline", "pipeline_knobs", "Pass", "Pipeline", "FixedPoint", "PassContext", "PASSES",
           "ALIASES", "register", "PipelineSpecError", "verify_module", "BufferPlan", "Slot", "plan_buffers"]

"""Constants, parameters, linear algebra, FFT, RNG, custom calls, tokens, collectives, checks,
and xltune's own fusion op."""
from __future__ import annotations

from . import COLLECTIVE, CONSTANT, FUSION, OTHER, PARAMETER, SIDE_EFFECT, defop

defop("constant", CONSTANT, 0, attrs=("value",))  # value: numpy array of the result's shape/dtype
defop("parameter", PARAMETER, 0, attrs=("index",), dialect="xltune")

defop("fft", OTHER, 1, attrs=("fft_type", "fft_length"))
defop("cholesky", OTHER, 1, optional_attrs=("lower",))
defop("triangular_solve", OTHER, 2, attrs=("left_side", "lower", "unit_diagonal", "transpose_a"))
defop("rng", OTHER, 3, attrs=("rng_distribution",))
defop("rng_bit_generator", OTHER, 1, attrs=("rng_algorithm",), variadic_results=True)
defop("batch_norm_inference", OTHER, 5, attrs=("epsilon", "feature_index"))
defop("batch_norm_training", OTHER, 3, attrs=("epsilon", "feature_index"), variadic_results=True)
defop("batch_norm_grad", OTHER, 5, attrs=("epsilon", "feature_index"), variadic_results=True)

defop("custom_call", SIDE_EFFECT, None, attrs=("call_target_name",),
      optional_attrs=("has_side_effect", "backend_config", "api_version", "called_computations",
                      "operand_layouts", "result_layouts", "output_operand_aliases"),
      variadic_results=True, side_effect=True)
defop("after_all", SIDE_EFFECT, None)
defop("create_token", SIDE_EFFECT, 0)
defop("outfeed", SIDE_EFFECT, None, optional_attrs=("outfeed_config",), side_effect=True)
defop("infeed", SIDE_EFFECT, 1, optional_attrs=("infeed_config", "layout"), variadic_results=True,
      side_effect=True)
defop("send", SIDE_EFFECT, None, optional_attrs=("channel_handle", "is_host_transfer"), side_effect=True)
defop("recv", SIDE_EFFECT, 1, optional_attrs=("channel_handle", "is_host_transfer"),
      variadic_results=True, side_effect=True)
defop("composite", OTHER, None, attrs=("name", "decomposition"),
      optional_attrs=("composite_attributes", "version"), variadic_results=True)

# Collectives: with one replica and one partition they are identities (or simple reshapes).
defop("replica_id", COLLECTIVE, 0)
defop("partition_id", COLLECTIVE, 0)
defop("all_reduce", COLLECTIVE, None, optional_attrs=("replica_groups", "channel_handle",
      "use_global_device_ids"), num_regions=1, variadic_results=True)
defop("all_gather", COLLECTIVE, None, attrs=("all_gather_dim",), optional_attrs=("replica_groups",
      "channel_handle", "use_global_device_ids"), variadic_results=True)
defop("all_to_all", COLLECTIVE, None, optional_attrs=("split_dimension", "concat_dimension",
      "split_count", "replica_groups", "channel_handle"), variadic_results=True)
defop("reduce_scatter", COLLECTIVE, 1, attrs=("scatter_dimension",), optional_attrs=("replica_groups",
      "channel_handle", "use_global_device_ids"), num_regions=1)
defop("collective_permute", COLLECTIVE, 1, optional_attrs=("source_target_pairs", "channel_handle"))
defop("collective_broadcast", COLLECTIVE, 1, optional_attrs=("replica_groups", "channel_handle"))

# The conformance files' assertions (understood by the conformance runner; the interpreter
# evaluates them as checks that raise on mismatch).
defop("expect_eq", SIDE_EFFECT, 2, dialect="check", side_effect=True)
defop("expect_almost_eq", SIDE_EFFECT, 2, dialect="check", optional_attrs=("tolerance",), side_effect=True)
defop("expect_close", SIDE_EFFECT, 2, dialect="check",
      optional_attrs=("min_ulp_difference", "max_ulp_difference"), side_effect=True)
defop("expect_eq_const", SIDE_EFFECT, 1, attrs=("value",), dialect="check", side_effect=True)
defop("expect_almost_eq_const", SIDE_EFFECT, 1, attrs=("value",), optional_attrs=("tolerance",),
      dialect="check", side_effect=True)
defop("expect_serialized_eq", SIDE_EFFECT, None, optional_attrs=("probe_id", "iter"), dialect="check",
      side_effect=True)

# xltune's own ops.
defop("fusion", FUSION, None, attrs=("kind",), num_regions=1, variadic_results=True, dialect="xltune",
      doc="A fused kernel: the region computes the outputs from the operands (its parameters).")

"""Data movement: ops that only move (or generate) elements. Each has an index map from result
coordinates to operand coordinates, which codegen uses to fuse it."""
from __future__ import annotations

from . import DATA_MOVEMENT, OTHER, defop

defop("broadcast_in_dim", DATA_MOVEMENT, 1, attrs=("broadcast_dimensions",))
defop("broadcast", DATA_MOVEMENT, 1, attrs=("broadcast_sizes",))  # legacy: prepends dims
defop("reshape", DATA_MOVEMENT, 1)
defop("transpose", DATA_MOVEMENT, 1, attrs=("permutation",))
defop("slice", DATA_MOVEMENT, 1, attrs=("start_indices", "limit_indices", "strides"))
defop("dynamic_slice", DATA_MOVEMENT, None, attrs=("slice_sizes",))  # (operand, *scalar start indices)
defop("dynamic_update_slice", DATA_MOVEMENT, None)  # (operand, update, *scalar start indices)
defop("concatenate", DATA_MOVEMENT, None, attrs=("dimension",))
defop("pad", DATA_MOVEMENT, 2, attrs=("edge_padding_low", "edge_padding_high", "interior_padding"))
defop("reverse", DATA_MOVEMENT, 1, attrs=("dimensions",))
defop("iota", DATA_MOVEMENT, 0, attrs=("iota_dimension",))
defop("bitcast_convert", OTHER, 1)
defop("gather", OTHER, 2, attrs=("dimension_numbers", "slice_sizes"), optional_attrs=("indices_are_sorted",))
defop("scatter", OTHER, None, attrs=("scatter_dimension_numbers",),
      optional_attrs=("indices_are_sorted", "unique_indices"), num_regions=1, variadic_results=True)
defop("get_dimension_size", OTHER, 1, attrs=("dimension",))
# dynamic_* variants with static result types (shape operands are constants)
defop("dynamic_iota", DATA_MOVEMENT, 1, attrs=("iota_dimension",))
defop("dynamic_reshape", DATA_MOVEMENT, 2)
defop("dynamic_broadcast_in_dim", DATA_MOVEMENT, 2, attrs=("broadcast_dimensions",),
      optional_attrs=("known_expanding_dimensions", "known_nonexpanding_dimensions"))
defop("dynamic_pad", DATA_MOVEMENT, 5)
defop("dynamic_gather", OTHER, 3, attrs=("dimension_numbers",), optional_attrs=("indices_are_sorted",))

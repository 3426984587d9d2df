// Sixteen floats: measures per-call overhead, not arithmetic.
module @tiny_add {
  func.func public @main(%a: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<16xf32> {
    %c = stablehlo.add %a, %b : tensor<16xf32>
    return %c : tensor<16xf32>
  }
}

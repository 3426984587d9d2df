// Sum of squares of a vector (a full reduction).
module @sumsq {
  func.func public @main(%x: tensor<4194304xf32>) -> tensor<f32> {
    %zero = stablehlo.constant dense<0.000000e+00> : tensor<f32>
    %sq = stablehlo.multiply %x, %x : tensor<4194304xf32>
    %s = stablehlo.reduce(%sq init: %zero) applies stablehlo.add across dimensions = [0] : (tensor<4194304xf32>, tensor<f32>) -> tensor<f32>
    return %s : tensor<f32>
  }
}

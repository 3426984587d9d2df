// RMS normalization (as in LLaMA): x * rsqrt(mean(x^2) + eps) * g
module @rmsnorm {
  func.func public @main(%x: tensor<2048x512xf32>, %g: tensor<512xf32>) -> tensor<2048x512xf32> {
    %zero = stablehlo.constant dense<0.000000e+00> : tensor<f32>
    %n = stablehlo.constant dense<5.120000e+02> : tensor<2048xf32>
    %eps = stablehlo.constant dense<9.99999997E-7> : tensor<2048xf32>
    %sq = stablehlo.multiply %x, %x : tensor<2048x512xf32>
    %ssq = stablehlo.reduce(%sq init: %zero) applies stablehlo.add across dimensions = [1] : (tensor<2048x512xf32>, tensor<f32>) -> tensor<2048xf32>
    %ms = stablehlo.divide %ssq, %n : tensor<2048xf32>
    %mse = stablehlo.add %ms, %eps : tensor<2048xf32>
    %r = stablehlo.rsqrt %mse : tensor<2048xf32>
    %rb = stablehlo.broadcast_in_dim %r, dims = [0] : (tensor<2048xf32>) -> tensor<2048x512xf32>
    %gb = stablehlo.broadcast_in_dim %g, dims = [1] : (tensor<512xf32>) -> tensor<2048x512xf32>
    %xn = stablehlo.multiply %x, %rb : tensor<2048x512xf32>
    %y = stablehlo.multiply %xn, %gb : tensor<2048x512xf32>
    return %y : tensor<2048x512xf32>
  }
}

// Layer normalization over the last dimension with scale and bias.
module @layernorm {
  func.func public @main(%x: tensor<2048x512xf32>, %g: tensor<512xf32>, %b: tensor<512xf32>) -> tensor<2048x512xf32> {
    %zero = stablehlo.constant dense<0.000000e+00> : tensor<f32>
    %n = stablehlo.constant dense<5.120000e+02> : tensor<2048xf32>
    %eps = stablehlo.constant dense<9.99999974E-6> : tensor<2048xf32>
    %sum = stablehlo.reduce(%x init: %zero) applies stablehlo.add across dimensions = [1] : (tensor<2048x512xf32>, tensor<f32>) -> tensor<2048xf32>
    %mean = stablehlo.divide %sum, %n : tensor<2048xf32>
    %meanb = stablehlo.broadcast_in_dim %mean, dims = [0] : (tensor<2048xf32>) -> tensor<2048x512xf32>
    %xc = stablehlo.subtract %x, %meanb : tensor<2048x512xf32>
    %sq = stablehlo.multiply %xc, %xc : tensor<2048x512xf32>
    %ssq = stablehlo.reduce(%sq init: %zero) applies stablehlo.add across dimensions = [1] : (tensor<2048x512xf32>, tensor<f32>) -> tensor<2048xf32>
    %var = stablehlo.divide %ssq, %n : tensor<2048xf32>
    %vare = stablehlo.add %var, %eps : tensor<2048xf32>
    %rstd = stablehlo.rsqrt %vare : tensor<2048xf32>
    %rstdb = stablehlo.broadcast_in_dim %rstd, dims = [0] : (tensor<2048xf32>) -> tensor<2048x512xf32>
    %xn = stablehlo.multiply %xc, %rstdb : tensor<2048x512xf32>
    %gb = stablehlo.broadcast_in_dim %g, dims = [1] : (tensor<512xf32>) -> tensor<2048x512xf32>
    %bb = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<512xf32>) -> tensor<2048x512xf32>
    %scaled = stablehlo.multiply %xn, %gb : tensor<2048x512xf32>
    %y = stablehlo.add %scaled, %bb : tensor<2048x512xf32>
    return %y : tensor<2048x512xf32>
  }
}

// Scaled dot-product attention for 4 heads: softmax(q k^T / 8) v
module @attention {
  func.func public @main(%q: tensor<4x256x64xf32>, %k: tensor<4x256x64xf32>, %v: tensor<4x256x64xf32>) -> tensor<4x256x64xf32> {
    %s = stablehlo.dot_general %q, %k, batching_dims = [0] x [0], contracting_dims = [2] x [2], precision = [DEFAULT, DEFAULT] : (tensor<4x256x64xf32>, tensor<4x256x64xf32>) -> tensor<4x256x256xf32>
    %scale = stablehlo.constant dense<1.250000e-01> : tensor<4x256x256xf32>
    %ss = stablehlo.multiply %s, %scale : tensor<4x256x256xf32>
    %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
    %zero = stablehlo.constant dense<0.000000e+00> : tensor<f32>
    %m = stablehlo.reduce(%ss init: %ninf) applies stablehlo.maximum across dimensions = [2] : (tensor<4x256x256xf32>, tensor<f32>) -> tensor<4x256xf32>
    %mb = stablehlo.broadcast_in_dim %m, dims = [0, 1] : (tensor<4x256xf32>) -> tensor<4x256x256xf32>
    %d = stablehlo.subtract %ss, %mb : tensor<4x256x256xf32>
    %e = stablehlo.exponential %d : tensor<4x256x256xf32>
    %sum = stablehlo.reduce(%e init: %zero) applies stablehlo.add across dimensions = [2] : (tensor<4x256x256xf32>, tensor<f32>) -> tensor<4x256xf32>
    %sumb = stablehlo.broadcast_in_dim %sum, dims = [0, 1] : (tensor<4x256xf32>) -> tensor<4x256x256xf32>
    %p = stablehlo.divide %e, %sumb : tensor<4x256x256xf32>
    %o = stablehlo.dot_general %p, %v, batching_dims = [0] x [0], contracting_dims = [2] x [1], precision = [DEFAULT, DEFAULT] : (tensor<4x256x256xf32>, tensor<4x256x64xf32>) -> tensor<4x256x64xf32>
    return %o : tensor<4x256x64xf32>
  }
}

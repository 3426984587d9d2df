// One dense layer with bias and ReLU: max(x @ w + b, 0)
module @mlp {
  func.func public @main(%x: tensor<256x512xf32>, %w: tensor<512x1024xf32>, %b: tensor<1024xf32>) -> tensor<256x1024xf32> {
    %h = stablehlo.dot_general %x, %w, contracting_dims = [1] x [0], precision = [DEFAULT, DEFAULT] : (tensor<256x512xf32>, tensor<512x1024xf32>) -> tensor<256x1024xf32>
    %bb = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<1024xf32>) -> tensor<256x1024xf32>
    %hb = stablehlo.add %h, %bb : tensor<256x1024xf32>
    %zero = stablehlo.constant dense<0.000000e+00> : tensor<256x1024xf32>
    %y = stablehlo.maximum %hb, %zero : tensor<256x1024xf32>
    return %y : tensor<256x1024xf32>
  }
}

// x^T + y: a transpose fused into an elementwise add.
module @transpose_add {
  func.func public @main(%x: tensor<1024x1024xf32>, %y: tensor<1024x1024xf32>) -> tensor<1024x1024xf32> {
    %xt = stablehlo.transpose %x, dims = [1, 0] : (tensor<1024x1024xf32>) -> tensor<1024x1024xf32>
    %z = stablehlo.add %xt, %y : tensor<1024x1024xf32>
    return %z : tensor<1024x1024xf32>
  }
}

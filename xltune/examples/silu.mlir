// SiLU (swish): x * logistic(x)
module @silu {
  func.func public @main(%x: tensor<1048576xf32>) -> tensor<1048576xf32> {
    %s = stablehlo.logistic %x : tensor<1048576xf32>
    %y = stablehlo.multiply %x, %s : tensor<1048576xf32>
    return %y : tensor<1048576xf32>
  }
}

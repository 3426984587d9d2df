// GELU, tanh approximation: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
module @gelu {
  func.func public @main(%x: tensor<1048576xf32>) -> tensor<1048576xf32> {
    %half = stablehlo.constant dense<5.000000e-01> : tensor<1048576xf32>
    %one = stablehlo.constant dense<1.000000e+00> : tensor<1048576xf32>
    %c = stablehlo.constant dense<4.471500e-02> : tensor<1048576xf32>
    %k = stablehlo.constant dense<0.797884583> : tensor<1048576xf32>
    %x2 = stablehlo.multiply %x, %x : tensor<1048576xf32>
    %x3 = stablehlo.multiply %x2, %x : tensor<1048576xf32>
    %cx3 = stablehlo.multiply %c, %x3 : tensor<1048576xf32>
    %inner = stablehlo.add %x, %cx3 : tensor<1048576xf32>
    %scaled = stablehlo.multiply %k, %inner : tensor<1048576xf32>
    %t = stablehlo.tanh %scaled : tensor<1048576xf32>
    %onept = stablehlo.add %one, %t : tensor<1048576xf32>
    %hx = stablehlo.multiply %half, %x : tensor<1048576xf32>
    %y = stablehlo.multiply %hx, %onept : tensor<1048576xf32>
    return %y : tensor<1048576xf32>
  }
}

@testable import Engine
import Foundation
import Testing

@Suite struct FastErfTests {
    /// The vectorisable erf behind GELU against libm on a dense grid (and its saturation).
    @Test func fastErfMatchesLibm() {
        var worst: Float = 0
        for i in -60_000...60_000 {
            let x = Float(i) * 1e-4
            worst = max(worst, abs(fastErf(x) - Foundation.erf(x)))
        }
        #expect(worst < 5e-7, "max error \(worst)")   // measured 3.6e-7: 3 ulp near ±1
        #expect(fastErf(10) == 1 && fastErf(-10) == -1 && fastErf(0) == 0)
    }
}

@Suite struct FastExpTests {
    @Test func fastExpMatchesLibm() {
        var worst: Float = 0
        for i in -870_000...880_000 {
            let x = Float(i) * 1e-4
            let e = Foundation.exp(x)
            worst = max(worst, abs(fastExp(x) - e) / e)
        }
        #expect(worst < 3e-7, "max relative error \(worst)")
        #expect(fastExp(-.infinity) == 0 && fastExp(0) == 1)
    }
}

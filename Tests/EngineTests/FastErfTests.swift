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

import Media
import Testing

struct BarChartTests {
    static let (blue, orange): ([UInt8], [UInt8]) = ([31, 119, 180], [255, 127, 14])

    /// x and y of every pixel of `color`.
    static func pixels(of color: [UInt8], in c: Canvas) -> [(x: Int, y: Int)] {
        (0..<(c.width * c.height)).compactMap { i in Array(c.pixels[(i * 3)..<(i * 3 + 3)]) == color ? (i % c.width, i / c.width) : nil }
    }

    @Test func negativeBarsHangBelowAndNaNGetsNoBar() {
        // Group 0: blue +2, orange −1. Group 1: blue NaN, orange +1.
        let chart = BarChart(title: "t", yLabel: "y", groups: ["a long method name that must wrap", "b"],
                             series: [("blue", [2, .nan], Self.blue), ("orange", [-1, 1], Self.orange)])
        let c = chart.render(width: 300, height: 200)
        #expect(c.width == 300 && c.height == 200)
        let blue = Self.pixels(of: Self.blue, in: c).filter { $0.y > 40 }  // skip the legend swatch
        let orange = Self.pixels(of: Self.orange, in: c).filter { $0.y > 40 }
        let middle = 70 + (300 - 90) / 2  // plot spans x = 70 … 280
        #expect(!blue.isEmpty && blue.allSatisfy { $0.x < middle }, "the NaN bar in group b was drawn")
        let orangeLeft = orange.filter { $0.x < middle }, orangeRight = orange.filter { $0.x >= middle }
        #expect(!orangeLeft.isEmpty && !orangeRight.isEmpty)
        // The negative bar lies entirely below the positive bars' bottom edge (the zero line).
        #expect(orangeLeft.map(\.y).min()! > blue.map(\.y).max()!)
        #expect(orangeRight.map(\.y).max()! <= blue.map(\.y).max()!)
    }

    @Test func longLabelsWrapWithinTheirWidth() {
        let lines = Canvas.wrapped("integrated gradients with a black baseline", width: 60, maxLines: 3)
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { Canvas.textWidth($0) <= 60 })
        #expect(lines.last!.hasSuffix(".."))
        #expect(Canvas.wrapped("", width: 60) == [""])
        #expect(Canvas.wrapped("integrated gradients", width: 53) == ["integrat.", "gradients"])  // 9 characters a line
    }

    @Test func emptyAndAllNaNChartsRender() {
        _ = BarChart(title: "t", yLabel: "y", groups: [], series: []).render(width: 200, height: 120)
        _ = BarChart(title: "t", yLabel: "y", groups: ["a"], series: [("s", [.nan], Self.blue)]).render(width: 200, height: 120)
    }
}

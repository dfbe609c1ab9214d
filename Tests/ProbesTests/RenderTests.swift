import Engine
import Media
import Testing
@testable import Probes

/// Colour-map references from matplotlib 3.11.2, obtained with
///   /work/venv/bin/python -c "from matplotlib import colormaps as c; \
///     print([[round(v*255) for v in c[n](t)[:3]] for n in ('inferno','RdBu_r') for t in (0.0,.25,.5,.75,1.0)])"
/// matplotlib looks t up in a 256-entry table (t = 0.5 reads entry 128, i.e. t = 0.502), and our
/// inferno interpolates 18 of its entries, so a channel may differ by a few units (at most 5/255
/// anywhere on [0, 1], checked against the full table when the anchors were chosen).
struct ColorMapTests {
    static let references: [(map: ColorMap, t: Double, rgb: [Int])] = [
        (.inferno, 0, [0, 0, 4]), (.inferno, 0.25, [87, 16, 110]), (.inferno, 0.5, [188, 55, 84]),
        (.inferno, 0.75, [249, 142, 9]), (.inferno, 1, [252, 255, 164]),
        (.rdbu, 0, [5, 48, 97]), (.rdbu, 0.25, [107, 172, 209]), (.rdbu, 0.5, [247, 246, 246]),
        (.rdbu, 0.75, [228, 128, 102]), (.rdbu, 1, [103, 0, 31]),
        (.gray, 0, [0, 0, 0]), (.gray, 1, [255, 255, 255]),
    ]

    @Test(arguments: references.indices)
    func matchesMatplotlib(index: Int) {
        let (map, t, expected) = Self.references[index]
        let got = map.rgb(t).map(Int.init)
        #expect(zip(got, expected).allSatisfy { abs($0 - $1) <= 3 }, "\(map)(\(t)) = \(got), matplotlib \(expected)")
    }

    @Test func clampsOutOfRangeAndNaN() {
        for map in ColorMap.allCases {
            #expect(map.rgb(-2) == map.rgb(0))
            #expect(map.rgb(7) == map.rgb(1))
            #expect(map.rgb(.nan) == map.rgb(0))
        }
    }

    @Test func rdbuIsNeutralAtTheMiddleAndEndsAreExact() {
        #expect(ColorMap.rdbu.rgb(0.5) == [247, 247, 247])  // the ColorBrewer anchor itself
        #expect(ColorMap.inferno.rgb(0) == [0, 0, 4] && ColorMap.inferno.rgb(1) == [252, 255, 164])
    }
}

struct HeatScaleTests {
    /// numpy 2.x: np.percentile(v, 99) = 91.63, np.percentile(abs(v), 90) = 16.3,
    /// np.percentile(v, 37.5) = 0.7625 (linear interpolation, numpy's default).
    static let v: [Float] = [0.1, -3, 2, 5, 0.5, 7, 1.2, -0.4, 100, 4]

    @Test func unsignedClipsAtNumpysPercentile() {
        let s = HeatScale(values: Self.v, signed: false, clipPercentile: 99)
        #expect(s.lower == 0)
        #expect(abs(s.upper - 91.63) < 1e-3)
        #expect(abs(HeatScale.percentile(Self.v, 37.5) - 0.7625) < 1e-5)
        #expect(s.unit(100) == 1 && s.unit(-3) == 0)
        #expect(abs(s.unit(45.815) - 0.5) < 1e-4)
    }

    /// The selection gives the order statistics a full sort gives: every rank of random arrays
    /// with many ties (all equal, two values, a few values, all distinct) and sizes 1…300.
    @Test func selectionEqualsSortedOrderStatistics() {
        var rng = SplitMix64(seed: 21)
        for n in [1, 2, 3, 7, 64, 300] {
            for levels in [1, 2, 5, 1_000_000] {
                let values = (0..<n).map { _ in Float(Int(rng.next() % UInt64(levels))) - Float(levels / 2) }
                let sorted = values.sorted()
                for k in 0..<n {
                    var copy = values
                    #expect(HeatScale.select(&copy, k) == sorted[k], "n \(n), levels \(levels), k \(k)")
                    #expect(copy.sorted() == sorted)
                }
                for q in [0.0, 12.5, 50, 99, 100] {
                    let rank = q / 100 * Double(n - 1), i = Int(rank.rounded(.down))
                    let expected = i + 1 < n ? Double(sorted[i]) + (rank - Double(i)) * Double(sorted[i + 1] - sorted[i]) : Double(sorted[n - 1])
                    #expect(HeatScale.percentile(values, q) == Float(expected))
                }
            }
        }
    }

    @Test func signedIsSymmetricAroundZero() {
        let s = HeatScale(values: Self.v, signed: true, clipPercentile: 90)
        #expect(abs(s.upper - 16.3) < 1e-4 && s.lower == -s.upper)
        #expect(s.unit(0) == 0.5)
        #expect(s.unit(-1000) == 0 && s.unit(1000) == 1)
        #expect(s.colorMap == .rdbu && HeatScale(values: Self.v, signed: false).colorMap == .inferno)
    }

    @Test(arguments: [false, true])
    func constantInputsGetANonZeroWidth(signed: Bool) {
        for values: [Float] in [[0, 0, 0, 0], [], [-2, -2], [.nan, 0]] {
            let s = HeatScale(values: values, signed: signed)
            #expect(s.upper > s.lower, "\(values) signed=\(signed) → \(s.lower)…\(s.upper)")
            #expect(s.unit(0).isFinite)
        }
    }

    @Test func nonPositiveUnsignedFallsBackToMinMax() {
        let s = HeatScale(values: [-3, -1, -2], signed: false)
        #expect(s.lower == -3 && s.upper == -1)
        // A lone positive spike among zeros: the 99th percentile is 0, so the range is [0, max].
        let spike = HeatScale(values: [Float](repeating: 0, count: 200) + [5], signed: false)
        #expect(spike.lower == 0 && spike.upper == 5)
    }
}

struct HeatmapTests {
    /// A 16×16 mid-gray image.
    static let image = Image(width: 16, height: 16, color: [128, 128, 128])

    /// Inner origins of every 1-pixel frame (the colour `Figure.frame`) around a w × h box.
    static func framedBoxes(in canvas: Canvas, width w: Int, height h: Int) -> [(x: Int, y: Int)] {
        func isFrame(_ x: Int, _ y: Int) -> Bool {
            guard x >= 0, y >= 0, x < canvas.width, y < canvas.height else { return false }
            let i = (y * canvas.width + x) * 3
            return Array(canvas.pixels[i..<(i + 3)]) == Figure.frame
        }
        var found: [(x: Int, y: Int)] = []
        for y in 1..<canvas.height { for x in 1..<canvas.width where isFrame(x - 1, y - 1) {
            let box = (-1...w).allSatisfy { isFrame(x + $0, y - 1) && isFrame(x + $0, y + h) }
                && (0..<h).allSatisfy { isFrame(x - 1, y + $0) && isFrame(x + w, y + $0) }
            if box { found.append((x, y)) }
        } }
        return found
    }

    static func pixel(_ c: Canvas, _ x: Int, _ y: Int) -> [UInt8] { let i = (y * c.width + x) * 3; return Array(c.pixels[i..<(i + 3)]) }
    /// Squared Euclidean distance between two RGB colours.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var sum = 0
        for c in 0..<3 { let d = Int(a[c]) - Int(b[c]); sum += d * d }
        return sum
    }

    /// A cell without a value (NaN: pixels a crop cut away) shows the gray input at 45 %, uncoloured,
    /// and does not move the scale; its neighbours keep their colours.
    @Test func cellsWithoutValueAreDarkGrayAndLeaveTheScaleAlone() {
        let heat: [Float] = [.nan, 1, 2, 3]
        let scale = HeatScale(values: heat, signed: false)
        #expect(scale == HeatScale(values: [1, 2, 3], signed: false))
        let panel = Figure.heatPanel(image: Self.image, heat: heat, heatWidth: 2, heatHeight: 2, scale: 1, heatScale: scale, alpha: 0.6)
        #expect(Array(panel.pixels[0..<3]) == [58, 58, 58])   // 0.45 · 128 = 57.6
        let hot = scale.color(3), i = (15 * 16 + 15) * 3
        #expect(Array(panel.pixels[i..<(i + 3)]) == (0..<3).map { UInt8((0.4 * 128 + 0.6 * Double(hot[$0])).rounded()) })
    }

    @Test(arguments: [false, true])
    func hottestPatchIsClosestToTheTopColour(signed: Bool) throws {
        // A 4×4 patch grid, hot at patch (1, 2), mildly warm elsewhere.
        var heat = [Float](repeating: 0.1, count: 16)
        heat[2 * 4 + 1] = 5
        let c = Heatmap.overlay(image: Self.image, heat: heat, heatWidth: 4, heatHeight: 4, signed: signed, title: "t",
                                scale: 2, showInput: false)
        let boxes = Self.framedBoxes(in: c, width: 32, height: 32)
        try #require(boxes.count == 1)
        let (x, y) = boxes[0]
        let top = HeatScale(values: heat, signed: signed).colorMap.rgb(1)
        let hot = Self.pixel(c, x + 1 * 8 + 4, y + 2 * 8 + 4), cold = Self.pixel(c, x + 3 * 8 + 4, y + 0 * 8 + 4)
        #expect(Self.distance(hot, top) < Self.distance(cold, top), "hot \(hot), cold \(cold), top \(top)")
        // Nearest resampling: every pixel of a patch has the same colour.
        #expect(Self.pixel(c, x + 8, y + 16) == Self.pixel(c, x + 15, y + 23))
    }

    @Test func allZeroHeatRendersWithoutDividingByZero() {
        let zeros = [Float](repeating: 0, count: 16)
        for signed in [false, true] {
            let c = Heatmap.overlay(image: Self.image, heat: zeros, heatWidth: 4, heatHeight: 4, signed: signed, title: "zero", scale: 1)
            #expect(c.width > 32 && c.height > 16)
            _ = Heatmap.tokens(words: ["a", "b"], values: [0, 0], signed: signed, title: "zero")
            _ = Heatmap.spectrogram(logMel: [Float](repeating: 0, count: 12), frames: 4, mels: 3, heat: [0, 0, 0, 0], signed: signed,
                                    title: "zero", secondsPerFrame: 0.01)
        }
    }

    @Test func stripGrowsByOnePanelPerWordAndWraps() {
        let heat = [Float](repeating: 1, count: 4)
        func strip(_ n: Int, columns: Int = 8) -> Canvas {
            Heatmap.strip(image: Self.image, heats: Array(repeating: heat, count: n), heatWidth: 2, heatHeight: 2,
                          words: Array(repeating: "w", count: n), signed: false, title: "s", scale: 1, columns: columns)
        }
        let (two, four) = (strip(2), strip(4))
        #expect(four.width - two.width == 2 * (16 + Figure.gap))
        #expect(four.height == two.height)
        let wrapped = strip(4, columns: 3)  // input + 4 words in rows of 3: two rows
        #expect(wrapped.width < four.width && wrapped.height > four.height)
        // The input and the four word panels are framed, all 16×16.
        #expect(Self.framedBoxes(in: four, width: 16, height: 16).count == 5)
    }

    @Test func gridGrowsWithLayersAndHeads() {
        func grid(_ rows: Int, _ columns: Int) -> Canvas {
            let maps = (0..<rows).map { r in (0..<columns).map { c in [Float(r), Float(c), 1, 0] } }
            return Heatmap.grid(image: Self.image, maps: maps, heatWidth: 2, heatHeight: 2,
                                rowLabels: (0..<rows).map { "L\($0)" }, columnLabels: (0..<columns).map { "H\($0)" }, title: "g", scale: 2)
        }
        let base = grid(2, 2)
        #expect(grid(3, 2).height - base.height == 32 + Figure.gap / 2)
        #expect(grid(2, 3).width - base.width == 32 + Figure.gap / 2)
        #expect(grid(3, 2).width == base.width)
    }

    @Test(arguments: [1, 2])
    func spectrogramPutsLowMelsAtTheBottom(scale: Int) throws {
        // Band 0 is loud (white) in every frame, the other bands silent (black).
        let (frames, mels) = (10, 6)
        var logMel = [Float](repeating: -10, count: frames * mels)
        for t in 0..<frames { logMel[t * mels] = 0 }
        let c = Heatmap.spectrogram(logMel: logMel, frames: frames, mels: mels, heat: [Float](repeating: 1, count: frames),
                                    signed: false, title: "s", secondsPerFrame: 0.01, spans: [0.02...0.05], scale: scale)
        let boxes = Self.framedBoxes(in: c, width: frames * scale, height: mels * scale)
        try #require(boxes.count == 1)  // the spectrogram panel (the heat here is a band)
        let (x, y) = boxes[0]
        #expect(Self.pixel(c, x + 3 * scale, y + mels * scale - 1) == [255, 255, 255])  // bottom row: band 0
        #expect(Self.pixel(c, x + 3 * scale, y) == [0, 0, 0])                          // top row: band 5
    }

    @Test func spectrogramHeatPanelFollowsTheSameOrientation() throws {
        // heat is frames × mels: hot only in band 0, so the hot row of the overlay is its bottom row.
        let (frames, mels) = (8, 4)
        var heat = [Float](repeating: 0, count: frames * mels)
        for t in 0..<frames { heat[t * mels] = 1 }
        let c = Heatmap.spectrogram(logMel: [Float](repeating: 0, count: frames * mels), frames: frames, mels: mels, heat: heat,
                                    signed: false, title: "s", secondsPerFrame: 0.01, scale: 2)
        let boxes = Self.framedBoxes(in: c, width: 16, height: 8).sorted { $0.y < $1.y }
        try #require(boxes.count == 2)
        let (x, y) = boxes[1]
        let top = ColorMap.inferno.rgb(1)
        #expect(Self.distance(Self.pixel(c, x + 5, y + 7), top) < Self.distance(Self.pixel(c, x + 5, y), top))
    }

    @Test func tokensHTMLEscapesWordsAndCarriesValues() {
        let html = Heatmap.tokensHTML(words: ["<bos>", "cats", "&", "\"q\""], values: [0, 0.5, -0.25, 1], signed: true, title: "a < b & c")
        #expect(html.contains("&lt;bos&gt;") && html.contains(">&amp;<") && html.contains("&quot;q&quot;"))
        #expect(!html.contains("<bos>") && !html.contains("a < b"))
        #expect(html.contains("a &lt; b &amp; c"))
        #expect(html.contains("title=\"0.5\"") && html.contains("title=\"-0.25\""))
        #expect(!html.contains("<script") && !html.contains("http"))
        // Value 1 is the top of the scale: RdBu_r's dark red, with white text for contrast.
        #expect(html.contains("background:#67001f;color:#ffffff"))
        #expect(Heatmap.tokensHTML(words: [], values: [], signed: false, title: "t", standalone: true).hasPrefix("<!DOCTYPE html>"))
    }

    @Test func tokensShadeBoxesAndChooseContrastingText() {
        let c = Heatmap.tokens(words: ["<bos>", "red", "ball"], values: [0, 1, 0.1], signed: false, title: "t")
        #expect(c.width >= 240 && c.height > 40)
        #expect(Heatmap.contrastingInk([0, 0, 4]) == [255, 255, 255])
        #expect(Heatmap.contrastingInk([252, 255, 164]) == [0, 0, 0])
        #expect(Heatmap.contrastingInk([247, 247, 247]) == [0, 0, 0])
    }

    @Test func compactNumbers() {
        let cases: [(Double, String)] = [(0, "0"), (0.012, "0.012"), (-1.3e-4, "-1.3E-4"), (250, "250"), (1.25, "1.2"),
                                         (12345, "1.2E4"), (0.00099999, "1E-3"), (7, "7"), (-0.5, "-0.5")]
        for (v, s) in cases { #expect(Figure.compact(v) == s, "\(v)") }
    }

    @Test func fontHasTheCharactersFiguresPrint() {
        // Canvas draws unknown characters as '?': render each string and compare with a '?' glyph.
        for s in ["<BOS>", "&", "-1.3E-4", "+0.5", "×", "(INPUT)", "\"Q\"", ";"] {
            var a = Canvas(width: 60, height: 9), q = Canvas(width: 60, height: 9)
            a.text(s, x: 0, y: 0); q.text(String(repeating: "?", count: s.count), x: 0, y: 0)
            #expect(a.pixels != q.pixels || s.allSatisfy { $0 == "?" }, "\(s)")
            for ch in s { #expect(ch == "?" || !Self.drawsAsQuestionMark(ch), "'\(ch)' is missing from the font") }
        }
    }

    static func drawsAsQuestionMark(_ ch: Character) -> Bool {
        var a = Canvas(width: 6, height: 7), q = Canvas(width: 6, height: 7)
        a.text(String(ch), x: 0, y: 0); q.text("?", x: 0, y: 0)
        return a.pixels == q.pixels
    }
}

@Suite struct TickRegressionTests {
    /// A span far below the values' float spacing once made `t += step` stand still (explain hung
    /// drawing a colour bar).
    @Test func ticksTerminateWhenTheStepIsBelowTheValuesPrecision() {
        for (lo, hi) in [(1e8, 1e8 + 1e-3), (-1e-300, 1e-300), (0.0, 1e-320), (3.0, 3.0 + 1e-15)] {
            let ticks = Figure.niceTicks(lo, hi)
            #expect(!ticks.isEmpty && ticks.count <= 20)
        }
        #expect(Figure.niceTicks(0, 1) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
    }
}

@Suite struct CanvasClippingTests {
    /// The demo's one-token text strip (integrated gradients of word 1, a single value 0.0085)
    /// centred the "-0.0085" end label two pixels left of the canvas; `fill` then built a reversed
    /// range, which traps in debug and, under -Ounchecked, looped for ever (`make demo` hung).
    @Test func singleTokenStripKeepsItsBarLabelsInsideTheBar() {
        let c = Heatmap.tokens(words: ["<bos>"], values: [0.0084662], signed: true, title: "word 1")
        let labelRows = (c.height - Figure.margin - 7)..<(c.height - Figure.margin)
        let ink = (0..<c.width).filter { x in labelRows.contains { y in HeatmapTests.pixel(c, x, y) != [255, 255, 255] } }
        // "-0.0085" starts at the bar's left edge (its minus sign inks its first column) and
        // "0.0085" ends within the bar's 240 pixels.
        #expect(ink.first == Figure.margin)
        #expect(ink.last.map { $0 < Figure.margin + 240 } == true)
    }

    @Test func fillDrawsOnlyTheVisiblePartOfARectangle() {
        var c = Canvas(width: 4, height: 3)
        for (x, y, w, h) in [(5, 0, 2, 2), (-3, 0, 2, 2), (0, 7, 1, 1), (0, -5, 1, 2), (2, 1, -4, 1)] {
            c.fill(x: x, y: y, width: w, height: h, [0, 0, 0])  // wholly outside or empty: nothing drawn
        }
        #expect(c.pixels.allSatisfy { $0 == 255 })
        c.fill(x: 3, y: 2, width: 10, height: 10, [0, 0, 0])     // overhangs: only (3, 2) is visible
        c.fill(x: -10, y: -10, width: 11, height: 11, [0, 0, 0]) // overhangs: only (0, 0)
        let dark = (0..<12).filter { c.pixels[$0 * 3] == 0 }
        #expect(dark == [0, 11])
    }

    /// `line`'s twin of the same bug: a line wholly right of or below the canvas built a reversed range.
    @Test func lineOffTheCanvasDrawsNothing() {
        var c = Canvas(width: 4, height: 3)
        c.line(from: (10, 1), to: (20, 2), [0, 0, 0])
        c.line(from: (1, 9), to: (2, 30), [0, 0, 0])
        c.line(from: (-20, -9), to: (-10, -5), [0, 0, 0])
        #expect(c.pixels.allSatisfy { $0 == 255 })
        c.line(from: (-5, 1.5), to: (10, 1.5), [0, 0, 0])   // crosses: its visible part is drawn
        #expect((0..<4).allSatisfy { HeatmapTests.pixel(c, $0, 1) != [255, 255, 255] })
    }
}

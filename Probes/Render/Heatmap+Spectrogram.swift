import Media

extension Heatmap {
    /// A log-mel spectrogram with an attribution aligned to it in time.
    ///
    /// Top panel: the spectrogram in gray (min…max of `logMel`), time on x (`scale` pixels per
    /// frame), mel bands on y with the LOWEST band at the BOTTOM (`scale` pixels per band).
    /// Below it, aligned frame for frame:
    /// - if `heat` has frames × mels values (time-major, like `logMel`): the heat blended over the
    ///   gray spectrogram, the same size as the top panel;
    /// - if `heat` has `frames` values (one per frame): a colour band.
    /// Ground-truth `spans` (seconds) are drawn as brackets above the spectrogram and as dashed
    /// lines through the heat. The time axis is labelled in seconds (`secondsPerFrame` per frame;
    /// frame t covers [t, t + 1)·secondsPerFrame). The colour bar is at the right.
    ///
    /// - Parameter logMel: frames × mels values, row-major [T, M].
    public static func spectrogram(logMel: [Float], frames: Int, mels: Int, heat: [Float], signed: Bool, title: String,
                                   secondsPerFrame: Double, spans: [ClosedRange<Double>] = [], scale: Int = 3,
                                   alpha: Double = 0.6, clipPercentile: Double = 99) -> Canvas {
        precondition(frames > 0 && mels > 0 && logMel.count == frames * mels, "logMel has \(logMel.count) values for \(frames)×\(mels)")
        precondition(heat.count == frames * mels || heat.count == frames,
                     "heat needs \(frames)×\(mels) or \(frames) values, got \(heat.count)")
        precondition(scale >= 1 && secondsPerFrame > 0, "need scale ≥ 1 and secondsPerFrame > 0")
        let isBand = heat.count != frames * mels  // one value per frame (with mels = 1 both readings agree)
        let heatScale = HeatScale(values: heat, signed: signed, clipPercentile: clipPercentile)
        let bar = ColorBar(scale: heatScale, values: heat)
        let (m, w, h) = (Figure.margin, frames * scale, mels * scale)
        let spectrogram = grayImage(logMel: logMel, frames: frames, mels: mels)

        // Horizontal layout: mel tick labels | panels | colour bar.
        let gutter = max(Canvas.textWidth("MEL"), Canvas.textWidth(String(mels - 1)), spans.isEmpty ? 0 : Canvas.textWidth("TRUE")) + 6
        let x0 = m + gutter, barX = x0 + w + 12
        let width = barX + bar.width + m
        // Vertical layout: title, brackets, spectrogram, heat (panel or band), time axis.
        let heading = Figure.Title(title, width: width - 2 * m)
        let bracketRow = spans.isEmpty ? 0 : 12
        let y1 = m + heading.height + 10 + bracketRow
        let y2 = y1 + h + 6
        let heatHeight = isBand ? max(16, 6 * scale) : h
        let axisY = y2 + heatHeight
        var canvas = Canvas(width: width, height: axisY + 4 + 10 + 10 + m)
        heading.draw(on: &canvas, x: m, y: m)

        canvas.draw(spectrogram, x: x0, y: y1, scale: scale)
        Figure.frame(&canvas, x: x0, y: y1, width: w, height: h)
        canvas.text("MEL", x: x0 - 4 - Canvas.textWidth("MEL"), y: y1 + h / 2 - 3, Figure.faint)
        let top = String(mels - 1)
        canvas.text(top, x: x0 - 4 - Canvas.textWidth(top), y: y1, Figure.faint)
        canvas.text("0", x: x0 - 4 - Canvas.textWidth("0"), y: y1 + h - 7, Figure.faint)

        if isBand {
            for t in 0..<frames { canvas.fill(x: x0 + t * scale, y: y2, width: scale, height: heatHeight, heatScale.color(heat[t])) }
        } else {
            // heat[t·M + k] is frame t, band k → displayed column t, row M − 1 − k (low bands at the bottom).
            var grid = [Float](repeating: 0, count: frames * mels)
            for t in 0..<frames { for k in 0..<mels { grid[(mels - 1 - k) * frames + t] = heat[t * mels + k] } }
            let panel = Figure.heatPanel(image: spectrogram, heat: grid, heatWidth: frames, heatHeight: mels,
                                         scale: scale, heatScale: heatScale, alpha: alpha)
            canvas.draw(panel, x: x0, y: y2)
        }
        Figure.frame(&canvas, x: x0, y: y2, width: w, height: heatHeight)

        // Ground truth: a bracket above the spectrogram, dashed edges through the heat.
        let truth: [UInt8] = [0, 150, 70]
        func px(_ seconds: Double) -> Int { x0 + Int((seconds / secondsPerFrame * Double(scale)).rounded()) }
        if !spans.isEmpty { canvas.text("TRUE", x: m, y: y1 - bracketRow + 1, truth) }
        for span in spans {
            let (a, b) = (min(max(px(span.lowerBound), x0), x0 + w - 1), min(max(px(span.upperBound), x0), x0 + w - 1))
            let y = y1 - bracketRow + 3
            canvas.fill(x: a, y: y, width: b - a + 1, height: 2, truth)
            canvas.fill(x: a, y: y, width: 2, height: bracketRow - 5, truth)
            canvas.fill(x: b - 1, y: y, width: 2, height: bracketRow - 5, truth)
            for x in [a, b] { for yy in stride(from: y2, to: y2 + heatHeight, by: 4) { canvas.fill(x: x, y: yy, width: 1, height: 2, truth) } }
        }

        // Time axis in seconds.
        let duration = Double(frames) * secondsPerFrame
        var lastRight = Int.min
        for s in Figure.niceTicks(0, duration) {
            let x = min(px(s), x0 + w - 1), label = Figure.compact(s)
            canvas.fill(x: x, y: axisY + 1, width: 1, height: 3, Figure.ink)
            let lx = x - Canvas.textWidth(label) / 2
            guard lx > lastRight + 4 else { continue }
            canvas.text(label, x: lx, y: axisY + 6, Figure.ink)
            lastRight = lx + Canvas.textWidth(label)
        }
        let axisTitle = "TIME (S)"
        canvas.text(axisTitle, x: x0 + w / 2 - Canvas.textWidth(axisTitle) / 2, y: axisY + 16, Figure.faint)

        // The bar spans the heat panel; a band is too short for three labels, so then it spans both.
        if isBand { bar.drawVertical(on: &canvas, x: barX, y: y1, height: axisY - y1) } else {
            bar.drawVertical(on: &canvas, x: barX, y: y2, height: h)
        }
        return canvas
    }

    /// The spectrogram as a gray image, time on x, low bands at the bottom, min…max → black…white.
    static func grayImage(logMel: [Float], frames: Int, mels: Int) -> Image {
        let finite = logMel.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 0
        let range = HeatScale(lower: lo, upper: hi > lo ? hi : lo + 1, signed: false)
        var pixels = [UInt8](repeating: 0, count: frames * mels)
        for t in 0..<frames { for k in 0..<mels {
            pixels[(mels - 1 - k) * frames + t] = UInt8((range.unit(logMel[t * mels + k]) * 255).rounded())
        } }
        return Image(width: frames, height: mels, channels: 1, pixels: pixels)
    }
}

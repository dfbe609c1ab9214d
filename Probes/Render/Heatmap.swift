import Media

/// Figures of attributions over an input, as RGB ``Canvas``es ready for `PNG.encode(canvas.image)`.
///
/// Every figure follows the same conventions, so figures from different methods read alike:
/// - Magnitudes (attention, |gradient|) use ``ColorMap/inferno`` on [0, p99]; signed values
///   (gradient × input, integrated gradients, occlusion deltas) use ``ColorMap/rdbu`` on ±p99 of
///   |v|, white at 0 (``HeatScale``). Values beyond the clip take the end colour, and the colour
///   bar shows a triangle at that end.
/// - Heat is blended at opacity `alpha` over a desaturated copy of the input, so the map's
///   colours are not confused with the picture's; the input itself is shown in colour beside it
///   (`showInput`), because captions name colours.
/// - Coarse heat grids (e.g. 8×8 patches) are resampled by nearest neighbour, so patch borders
///   stay where the model's patches were (see `Figure.heatPanel`).
/// - A multi-panel figure has ONE scale across its panels, so equal colours mean equal values.
public enum Heatmap {
    /// One attribution map over an image: [input | heat over gray input] with a title above and
    /// a colour bar (lower, 0 if signed, upper) at the right.
    ///
    /// - Parameters:
    ///   - image: any size, gray or RGB (alpha is ignored), shown enlarged `scale` times.
    ///   - heat: heatWidth × heatHeight values, row-major; coarser than the image or the same size.
    ///   - signed: diverging map around 0, or a magnitude map.
    ///   - clipPercentile: the percentile (of |v| when signed) that maps to the end colour.
    ///   - showInput: also show the untouched input to the left.
    public static func overlay(image: Image, heat: [Float], heatWidth: Int, heatHeight: Int, signed: Bool, title: String,
                               scale: Int = 4, alpha: Double = 0.6, clipPercentile: Double = 99, showInput: Bool = true) -> Canvas {
        let heatScale = HeatScale(values: heat, signed: signed, clipPercentile: clipPercentile)
        let panel = Figure.heatPanel(image: image, heat: heat, heatWidth: heatWidth, heatHeight: heatHeight,
                                     scale: scale, heatScale: heatScale, alpha: alpha)
        var panels: [(image: Image, label: String?)] = [(panel, nil)]
        if showInput { panels.insert((enlarged(image, scale), nil), at: 0) }
        return panelFigure(title: title, panels: panels, columns: panels.count, colorBar: ColorBar(scale: heatScale, values: heat))
    }

    /// One panel per word of a caption (the word printed under its panel), with one scale shared
    /// by all panels and one colour bar, so a word's panel can be compared with another's.
    /// `heats[k]` is word k's heatWidth × heatHeight grid. Panels wrap after `columns` per row
    /// (the input, when shown, counts as one).
    public static func strip(image: Image, heats: [[Float]], heatWidth: Int, heatHeight: Int, words: [String], signed: Bool, title: String,
                             scale: Int = 3, alpha: Double = 0.6, clipPercentile: Double = 99, showInput: Bool = true, columns: Int = 8) -> Canvas {
        precondition(heats.count == words.count, "\(heats.count) heat maps for \(words.count) words")
        precondition(columns >= 1, "columns must be at least 1")
        let all = heats.flatMap { $0 }
        let heatScale = HeatScale(values: all, signed: signed, clipPercentile: clipPercentile)
        var panels: [(image: Image, label: String?)] = zip(heats, words).map { heat, word in
            (Figure.heatPanel(image: image, heat: heat, heatWidth: heatWidth, heatHeight: heatHeight,
                              scale: scale, heatScale: heatScale, alpha: alpha), word)
        }
        if showInput { panels.insert((enlarged(image, scale), "(input)"), at: 0) }
        return panelFigure(title: title, panels: panels, columns: columns, colorBar: ColorBar(scale: heatScale, values: all))
    }

    /// A layer × head grid of maps over the image: `maps[row][column]` is a heatWidth × heatHeight
    /// grid (rows = layers, labelled on the left; columns = heads, labelled on top), on one
    /// shared magnitude scale (``ColorMap/inferno``), with one colour bar.
    public static func grid(image: Image, maps: [[[Float]]], heatWidth: Int, heatHeight: Int, rowLabels: [String], columnLabels: [String], title: String,
                            scale: Int = 2, alpha: Double = 0.6, clipPercentile: Double = 99) -> Canvas {
        precondition(maps.count == rowLabels.count, "\(maps.count) rows of maps for \(rowLabels.count) row labels")
        precondition(!maps.isEmpty && maps.allSatisfy { $0.count == columnLabels.count && !$0.isEmpty },
                     "every row needs one map per column label (\(columnLabels.count))")
        let all = maps.flatMap { $0.flatMap { $0 } }
        let heatScale = HeatScale(values: all, signed: false, clipPercentile: clipPercentile)
        let bar = ColorBar(scale: heatScale, values: all)
        let (m, g) = (Figure.margin, Figure.gap / 2)
        let (pw, ph) = (image.width * scale, image.height * scale)
        let (rows, columns) = (maps.count, columnLabels.count)
        // Labels: scale 2 when they fit the panel (and the row labels are short), else 1.
        let labelScale = (rowLabels + columnLabels).allSatisfy { Canvas.textWidth($0, scale: 2) <= min(pw, 64) } ? 2 : 1
        let rowLabelWidth = min(rowLabels.map { Canvas.textWidth($0, scale: labelScale) }.max() ?? 0, 6 * 12 * labelScale)
        let gridX = m + rowLabelWidth + 8
        let gridWidth = columns * pw + (columns - 1) * g, gridHeight = rows * ph + (rows - 1) * g
        let barX = gridX + gridWidth + 12
        let width = barX + bar.width + m
        let heading = Figure.Title(title, width: width - 2 * m)
        let gridY = m + heading.height + 8 + Figure.lineHeight(labelScale)
        var canvas = Canvas(width: width, height: gridY + gridHeight + m)
        heading.draw(on: &canvas, x: m, y: m)
        for (c, label) in columnLabels.enumerated() {
            Figure.centeredLabel(label, on: &canvas, centerX: gridX + c * (pw + g) + pw / 2, y: gridY - Figure.lineHeight(labelScale) + 1,
                                 width: pw, maxScale: labelScale)
        }
        for (r, row) in maps.enumerated() {
            let y = gridY + r * (ph + g)
            let label = Figure.fit(rowLabels[r], width: rowLabelWidth, scale: labelScale)
            canvas.text(label, x: gridX - 8 - Canvas.textWidth(label, scale: labelScale), y: y + ph / 2 - 7 * labelScale / 2, Figure.ink, scale: labelScale)
            for (c, map) in row.enumerated() {
                let panel = Figure.heatPanel(image: image, heat: map, heatWidth: heatWidth, heatHeight: heatHeight,
                                             scale: scale, heatScale: heatScale, alpha: alpha)
                canvas.draw(panel, x: gridX + c * (pw + g), y: y)
            }
        }
        bar.drawVertical(on: &canvas, x: barX, y: gridY, height: gridHeight)
        return canvas
    }

    // MARK: Layout shared by overlay and strip

    /// The image enlarged by nearest neighbour, as RGB.
    static func enlarged(_ image: Image, _ scale: Int) -> Image {
        var canvas = Canvas(width: image.width * scale, height: image.height * scale)
        canvas.draw(image.converted(toChannels: 3), x: 0, y: 0, scale: scale)
        return canvas.image
    }

    /// Equal-sized panels in rows of `columns`, each framed and with an optional label under it,
    /// a title above, and the colour bar at the right of the first row.
    static func panelFigure(title: String, panels: [(image: Image, label: String?)], columns: Int, colorBar: ColorBar) -> Canvas {
        let (m, g) = (Figure.margin, Figure.gap)
        let (pw, ph) = (panels.map(\.image.width).max() ?? 1, panels.map(\.image.height).max() ?? 1)
        let labelHeight = panels.contains { $0.label != nil } ? Figure.lineHeight(2) + 2 : 0
        let columns = max(1, min(columns, panels.count)), rows = (panels.count + columns - 1) / columns
        let barX = m + columns * pw + (columns - 1) * g + 12
        let width = barX + colorBar.width + m
        let heading = Figure.Title(title, width: width - 2 * m)
        let top = m + heading.height + 10
        var canvas = Canvas(width: width, height: top + rows * (ph + labelHeight) + (rows - 1) * g + m)
        heading.draw(on: &canvas, x: m, y: m)
        for (k, panel) in panels.enumerated() {
            let x = m + (k % columns) * (pw + g), y = top + (k / columns) * (ph + labelHeight + g)
            canvas.draw(panel.image, x: x, y: y)
            Figure.frame(&canvas, x: x, y: y, width: panel.image.width, height: panel.image.height)
            if let label = panel.label { Figure.centeredLabel(label, on: &canvas, centerX: x + pw / 2, y: y + ph + 5, width: pw) }
        }
        colorBar.drawVertical(on: &canvas, x: barX, y: top, height: ph)
        return canvas
    }
}

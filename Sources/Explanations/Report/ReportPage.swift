import Foundation
import Media
import Probes

/// A report page: a small typed document (title, sections of paragraphs, figures, galleries and
/// tables) rendered to ONE self-contained HTML file that opens from disk with no network.
///
/// Self-contained means: every image is read at render time and embedded as a
/// `data:image/png;base64,` URI, the CSS is inline, and there are no external fonts or scripts
/// (`Scripts/check_report.py` verifies this in headless Chromium). Text is HTML-escaped
/// everywhere except in ``Block/html(_:)``, which is for trusted fragments the caller built.
///
/// Small images (heatmaps of a few dozen pixels) are shown enlarged by a whole factor with
/// `image-rendering: pixelated`, so every pixel stays a crisp square; large images (charts) are
/// shown at their natural size, shrunk only to fit the column.
public struct ReportPage: Sendable {
    /// One piece of a section's content.
    public enum Block: Sendable {
        /// Plain text, HTML-escaped; a blank line ("\n\n") starts a new paragraph.
        case paragraph(String)
        /// A PNG file, read and embedded, with a caption under it.
        case image(URL, caption: String)
        /// A responsive row (wrapping to a grid) of captioned PNG figures.
        case gallery([(url: URL, caption: String)])
        /// A table; cells are HTML-escaped, numeric columns right-aligned. Every row must have
        /// `header.count` cells. The note, if any, is shown under the table.
        case table(header: [String], rows: [[String]], note: String?)
        /// A trusted, pre-rendered HTML fragment (e.g. token shading), inserted verbatim.
        case html(String)
    }

    /// A titled part of the page, listed in the table of contents.
    public struct Section: Sendable {
        public var title: String
        public var blocks: [Block]
        public init(title: String, blocks: [Block]) { self.title = title; self.blocks = blocks }
    }

    public var title: String
    /// A line under the title (e.g. what produced the page); omitted when empty.
    public var subtitle: String
    public var sections: [Section]

    public init(title: String, subtitle: String = "", sections: [Section] = []) {
        self.title = title; self.subtitle = subtitle; self.sections = sections
    }

    /// The whole page as one HTML document.
    ///
    /// Throws a ``ReportError`` naming the image's path and section if an image cannot be read
    /// or is not a PNG, or if a table row has the wrong number of cells.
    public func render() throws -> String {
        let ids = sectionIDs()
        var body = ""
        for (section, id) in zip(sections, ids) {
            body += "<section id=\"\(id)\">\n<h2>\(escapeHTML(section.title))</h2>\n"
            for block in section.blocks { body += try render(block, in: section) }
            body += "</section>\n"
        }
        var contents = ""
        if sections.count > 1 {
            contents = "<nav class=\"toc\" aria-label=\"Contents\"><h2>Contents</h2><ol>\n"
            for (section, id) in zip(sections, ids) { contents += "<li><a href=\"#\(id)\">\(escapeHTML(section.title))</a></li>\n" }
            contents += "</ol></nav>\n"
        }
        let subtitle = self.subtitle.isEmpty ? "" : "<p class=\"subtitle\">\(escapeHTML(self.subtitle))</p>\n"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escapeHTML(title))</title>
            <style>
            \(Self.styleSheet)</style>
            </head>
            <body>
            <main>
            <header>
            <h1>\(escapeHTML(title))</h1>
            \(subtitle)</header>
            \(contents)\(body)</main>
            </body>
            </html>

            """
    }

    /// Renders the page and writes it to `url` atomically (``writeAtomically(_:to:)``): a reader
    /// sees the old page or the complete new one.
    public func write(to url: URL) throws {
        try writeAtomically(Array(try render().utf8), to: url)
    }

    // MARK: Blocks

    private func render(_ block: Block, in section: Section) throws -> String {
        switch block {
        case .paragraph(let text):
            return text.components(separatedBy: "\n\n")
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { !$0.isEmpty }
                .map { "<p>\(escapeHTML($0))</p>\n" }.joined()
        case .image(let url, let caption):
            let image = try EmbeddedImage(url, section: section.title)
            return "<figure class=\"single\">\(image.tag(alt: caption, target: 320))<figcaption>\(escapeHTML(caption))</figcaption></figure>\n"
        case .gallery(let items):
            var out = "<div class=\"gallery\">\n"
            for item in items {
                let image = try EmbeddedImage(item.url, section: section.title)
                let width = image.displaySize(target: 200, maxWidth: 340).width
                out += "<figure style=\"width:\(width)px\">\(image.tag(alt: item.caption, target: 200, maxWidth: 340))<figcaption>\(escapeHTML(item.caption))</figcaption></figure>\n"
            }
            return out + "</div>\n"
        case .table(let header, let rows, let note):
            for (r, row) in rows.enumerated() where row.count != header.count {
                throw ReportError("section '\(section.title)': table row \(r + 1) has \(row.count) cells, the header has \(header.count)")
            }
            // A column is right-aligned when every non-blank cell is a number (or a dash for "none").
            let numeric = header.indices.map { c in
                let cells = rows.map { $0[c].trimmingCharacters(in: .whitespaces) }.filter { !["", "-", "–", "—", "n/a"].contains($0) }
                return !cells.isEmpty && cells.allSatisfy(looksNumeric)
            }
            func cells(_ texts: [String], _ open: String, _ close: String) -> String {
                texts.enumerated().map { c, text in
                    "<\(open)\(numeric[c] ? " class=\"num\"" : "")>\(escapeHTML(text))</\(close)>"
                }.joined()
            }
            var out = "<div class=\"table-wrap\"><table>\n<thead><tr>" + cells(header, "th scope=\"col\"", "th") + "</tr></thead>\n<tbody>\n"
            for row in rows { out += "<tr>" + cells(row, "td", "td") + "</tr>\n" }
            out += "</tbody>\n</table></div>\n"
            if let note, !note.isEmpty { out += "<p class=\"note\">\(escapeHTML(note))</p>\n" }
            return out
        case .html(let fragment):
            return fragment.hasSuffix("\n") ? fragment : fragment + "\n"
        }
    }

    /// Anchor ids from the section titles ("Loss curve" → "loss-curve"), made unique.
    private func sectionIDs() -> [String] {
        var taken = Set<String>()
        return sections.map { section in
            var slug = String(section.title.lowercased().unicodeScalars.map {
                ($0.properties.isAlphabetic || ("0"..."9").contains($0)) && $0.isASCII ? Character($0) : "-"
            })
            slug = slug.split(separator: "-").joined(separator: "-")
            if slug.isEmpty { slug = "section" }
            var id = slug, n = 1
            while taken.contains(id) { n += 1; id = "\(slug)-\(n)" }  // "a", "a", "a-2" → a, a-2, a-2-2
            taken.insert(id)
            return id
        }
    }
}

/// Why a report page could not be rendered, as one line (e.g.
/// `report image /tmp/run/loss.png (section 'Training'): cannot open: No such file or directory`).
public struct ReportError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}

/// A PNG read from disk, its size from the header, ready to embed.
private struct EmbeddedImage {
    let base64: String
    let width: Int, height: Int

    init(_ url: URL, section: String) throws {
        let place = "report image \(url.path) (section '\(section)')"
        let bytes: [UInt8]
        do { bytes = try readBytes(url) } catch let error as MediaError {
            throw ReportError("\(place): \(error.problem)")
        }
        guard let header = try? PNG.header(bytes, name: url.lastPathComponent), header.width > 0, header.height > 0 else {
            throw ReportError("\(place): not a PNG file")
        }
        base64 = Data(bytes).base64EncodedString()
        width = header.width; height = header.height
    }

    /// Whole-number enlargement so the longer side approaches `target` px (1 for images already
    /// that large): pixel art stays square pixels.
    func scale(target: Int) -> Int { max(1, target / max(width, height)) }

    /// The size to show: enlarged by ``scale(target:)``, or shrunk to `maxWidth` if wider.
    func displaySize(target: Int, maxWidth: Int = .max) -> (width: Int, height: Int) {
        let k = scale(target: target)
        if width * k <= maxWidth { return (width * k, height * k) }
        return (maxWidth, max(1, (height * maxWidth + width / 2) / width))
    }

    func tag(alt: String, target: Int, maxWidth: Int = .max) -> String {
        let size = displaySize(target: target, maxWidth: maxWidth)
        let pixelated = scale(target: target) > 1 ? " class=\"pixelated\"" : ""
        return "<img\(pixelated) src=\"data:image/png;base64,\(base64)\" width=\"\(size.width)\" height=\"\(size.height)\" alt=\"\(escapeHTML(alt))\">"
    }
}

/// HTML escaping, shared with the token views (``Heatmap/escapeHTML(_:)``).
func escapeHTML(_ text: String) -> String { Heatmap.escapeHTML(text) }

/// "0.93", "-1.2e-3", "1,024", "87%", "12 ms", "±0.05": a number, maybe with a short unit.
private func looksNumeric(_ text: String) -> Bool {
    text.range(of: #"^[+\-−±]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+\-]?\d+)?\s?(%|×|x|ms|s|min)?$"#, options: .regularExpression) != nil
}

extension ReportPage {
    /// Inline CSS: a ~1100 px column, system fonts, captioned figures, striped tables.
    static let styleSheet = """
        :root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --rule: #d1d9e0; --tint: #f6f8fa; --accent: #0969da; }
        * { box-sizing: border-box; }
        html { -webkit-text-size-adjust: 100%; }
        body { margin: 0; background: #fff; color: var(--ink);
          font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif; }
        main { max-width: 1100px; margin: 0 auto; padding: 32px 24px 64px; }
        header { border-bottom: 1px solid var(--rule); padding-bottom: 12px; margin-bottom: 20px; }
        h1 { font-size: 2rem; line-height: 1.2; margin: 0 0 6px; }
        h2 { font-size: 1.4rem; line-height: 1.25; margin: 40px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--rule); }
        .subtitle { color: var(--muted); margin: 0; }
        p { max-width: 75ch; margin: 0 0 12px; }
        a { color: var(--accent); text-decoration: none; }
        a:hover { text-decoration: underline; }
        .toc { background: var(--tint); border: 1px solid var(--rule); border-radius: 6px; padding: 12px 20px; display: inline-block; min-width: 280px; }
        .toc h2 { font-size: 1rem; margin: 0 0 4px; padding: 0; border: 0; }
        .toc ol { margin: 0; padding-left: 22px; }
        section { scroll-margin-top: 12px; }
        figure { margin: 0; }
        figure.single { margin: 8px 0 20px; display: table; }
        figure.single figcaption { display: table-caption; caption-side: bottom; }
        img { display: block; max-width: 100%; height: auto; background: #fff; }
        img.pixelated { image-rendering: pixelated; image-rendering: crisp-edges; image-rendering: pixelated; }
        figcaption { color: var(--muted); font-size: 0.875rem; line-height: 1.4; margin-top: 6px; overflow-wrap: anywhere; }
        .gallery { display: flex; flex-wrap: wrap; gap: 20px 16px; align-items: flex-start; margin: 8px 0 20px; }
        .gallery figure { max-width: 100%; }
        .table-wrap { overflow-x: auto; margin: 8px 0 6px; border: 1px solid var(--rule); border-radius: 6px; }
        table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
        th, td { padding: 6px 10px; text-align: left; vertical-align: top; border-bottom: 1px solid var(--rule); white-space: nowrap; }
        thead th { background: var(--tint); font-weight: 600; vertical-align: bottom; white-space: normal; }
        tbody tr:nth-child(even) { background: #fbfcfd; }
        tbody tr:hover { background: #eef4fb; }
        tbody tr:last-child td { border-bottom: 0; }
        .num { text-align: right; font-variant-numeric: tabular-nums; }
        .note { color: var(--muted); font-size: 0.875rem; margin-top: 4px; }
        @media print { main { max-width: none; } .toc { display: none; } }

        """
}

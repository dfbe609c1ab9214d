import Foundation
import Media
@testable import Explanations
import Testing
import TestSupport

/// A fresh temporary folder, removed by the caller.
private func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("report-page-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes `image` as a PNG into `folder` and returns its URL and bytes.
private func writePNG(_ image: Image, _ name: String, in folder: URL) throws -> (url: URL, bytes: [UInt8]) {
    let bytes = try PNG.encode(image)
    let url = folder.appendingPathComponent(name)
    try writeAtomically(bytes, to: url)
    return (url, bytes)
}

/// A `width`×`height` RGB ramp (red across, green down): a stand-in for a heatmap.
private func ramp(_ width: Int, _ height: Int, blue: UInt8 = 90) -> Image {
    var pixels: [UInt8] = []
    for y in 0..<height {
        for x in 0..<width { pixels += [UInt8(255 * x / max(width - 1, 1)), UInt8(255 * y / max(height - 1, 1)), blue] }
    }
    return Image(width: width, height: height, channels: 3, pixels: pixels)
}

/// A `size`×`size` heatmap: a Gaussian blob centred at (cx, cy) in [0, 1]², in a black-red-yellow-white
/// ramp, with a faint checker so that enlarged pixels are visible.
private func blob(_ size: Int, cx: Double, cy: Double) -> Image {
    var pixels: [UInt8] = []
    for y in 0..<size {
        for x in 0..<size {
            let dx = (Double(x) + 0.5) / Double(size) - cx, dy = (Double(y) + 0.5) / Double(size) - cy
            let v = exp(-(dx * dx + dy * dy) / 0.03) * 0.92 + ((x + y) % 2 == 0 ? 0.08 : 0)
            pixels += [UInt8(255 * min(1, 3 * v)), UInt8(255 * min(1, max(0, 3 * v - 1))), UInt8(255 * min(1, max(0, 3 * v - 2)))]
        }
    }
    return Image(width: size, height: size, channels: 3, pixels: pixels)
}

/// The `src` of every `<img` in `html`, in order.
private func imageSources(_ html: String) -> [String] {
    html.components(separatedBy: "<img").dropFirst().map { tag in
        guard let start = tag.range(of: "src=\"") else { return "" }
        return String(tag[start.upperBound...].prefix { $0 != "\"" })
    }
}

/// Scripts/check_report.py (it drives Chromium; see `chromiumInstalled`).
private let checkScript = repositoryDirectory.appendingPathComponent("Scripts/check_report.py")

/// Runs check_report.py on `page`: exit status and everything it printed.
private func runCheck(_ page: URL, screenshot: URL) throws -> (status: Int32, output: String) {
    try runProgram("/usr/bin/env", ["python3", checkScript.path, page.path, "--screenshot", screenshot.path])
}

/// A page like the demo's: a loss curve, a gallery of six heatmaps, a 12×8 table, paragraphs.
private func demoLikePage(in folder: URL) throws -> ReportPage {
    let steps = (0...200).map(Double.init)
    let chart = LineChart(title: "Training loss", xLabel: "step", yLabel: "loss", series: [
        .init(name: "train", points: steps.map { ($0, 2.5 * exp(-$0 / 50) + 0.3) }, color: [31, 119, 180]),
        .init(name: "validation", points: steps.filter { $0.truncatingRemainder(dividingBy: 20) == 0 }.map { ($0, 2.4 * exp(-$0 / 60) + 0.4) }, color: [255, 127, 14]),
    ], logY: true)
    let loss = try writePNG(chart.render().image, "loss.png", in: folder)
    let methods = ["saliency", "input × gradient", "integrated gradients", "occlusion", "KernelSHAP", "attention rollout"]
    let gallery = try methods.enumerated().map { k, method in
        (url: try writePNG(blob(32, cx: 0.2 + 0.12 * Double(k), cy: 0.7 - 0.08 * Double(k)), "heatmap-\(k).png", in: folder).url,
         caption: "\(method): attribution for the word “circle”")
    }
    let header = ["method", "pointing game", "mass inside", "deletion AUC", "insertion AUC", "random del.", "randomisation ρ", "ms / expl."]
    let rows: [[String]] = (0..<12).map { i in
        let x = Double(i)
        let name = methods[i % 6] + (i >= 6 ? " (audio)" : "")
        let pointing = String(format: "%.2f", 0.5 + x / 25), mass = String(format: "%.1f%%", 40 + x * 3.7)
        let deletion = String(format: "%.3f", 0.21 + x / 97), insertion = String(format: "%.3f", 0.64 - x / 83)
        let rho = i == 5 ? "—" : String(format: "%.2f", 0.9 - x / 13)
        return [name, pointing, mass, deletion, insertion, "0.412", rho, "\(12 * (i + 1) * (i + 1))"]
    }
    return ReportPage(title: "Glassbox demo: caption-small on shapes", subtitle: "Trained 200 steps on 2 cores; 64 test examples explained with 6 methods.", sections: [
        .init(title: "Training", blocks: [
            .paragraph("The model was trained for 200 steps. Validation loss follows the training loss, so the model is not over-fitting yet."),
            .image(loss.url, caption: "Training and validation loss (log scale) against step."),
        ]),
        .init(title: "Attributions for one example", blocks: [
            .paragraph("Each method's attribution of the word “circle” to the image patches; brighter is more important."),
            .gallery(gallery),
        ]),
        .init(title: "How far to trust each method", blocks: [
            .table(header: header, rows: rows, note: "Pointing game: share of object words whose attribution peak falls inside the object (higher is better)."),
            .paragraph("Integrated gradients, occlusion and KernelSHAP localise the object words; plain saliency is noisy. Deletion AUC < insertion AUC & both beat random ordering."),
        ]),
    ])
}

@Suite struct ReportPageTests {
    @Test func thePageIsSelfContainedAndEmbedsTheImagesByteForByte() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let small = try writePNG(ramp(8, 6), "small.png", in: folder)
        let large = try writePNG(Image(width: 300, height: 200, color: [200]), "large.png", in: folder)
        let page = ReportPage(title: "T", sections: [
            .init(title: "One", blocks: [.image(small.url, caption: "small")]),
            .init(title: "Two", blocks: [.gallery([(large.url, "large"), (small.url, "small again")])]),
        ])
        let html = try page.render()
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
        #expect(html.contains("<meta charset=\"utf-8\">"))
        #expect(!html.contains("src=\"http") && !html.contains("src=\"file") && !html.contains("href=\"http"))
        #expect(!html.contains("<script") && !html.contains("<link"))

        let sources = imageSources(html)
        #expect(sources.count == 3)
        let prefix = "data:image/png;base64,"
        for (source, expected) in zip(sources, [small.bytes, large.bytes, small.bytes]) {
            #expect(source.hasPrefix(prefix))
            let decoded = Data(base64Encoded: String(source.dropFirst(prefix.count))).map { [UInt8]($0) }
            #expect(decoded == expected)
        }
        // The 8×6 image is enlarged by a whole factor and drawn pixelated; the 300×200 one is not.
        #expect(html.contains("class=\"pixelated\" src=\"\(prefix)\(Data(small.bytes).base64EncodedString())\" width=\"320\" height=\"240\""))
        #expect(html.contains("<img src=\"\(prefix)\(Data(large.bytes).base64EncodedString())\" width=\"300\" height=\"200\""))
        // The table of contents links to each section.
        #expect(html.contains("<a href=\"#one\">One</a>") && html.contains("<section id=\"one\">"))
        #expect(html.contains("<a href=\"#two\">Two</a>") && html.contains("<section id=\"two\">"))

        // write(to:) writes exactly what render() returns.
        let out = folder.appendingPathComponent("index.html")
        try page.write(to: out)
        #expect(try String(contentsOf: out, encoding: .utf8) == html)
    }

    @Test func textAndTableCellsAreEscapedButTrustedHTMLIsNot() throws {
        let page = ReportPage(title: "A & B <i>", subtitle: "x < y", sections: [
            .init(title: "S <1>", blocks: [
                .paragraph("if a < b && c > d then \"e\"\n\nsecond paragraph"),
                .table(header: ["word", "score"], rows: [["<script>alert(1)</script>", "0.5"], ["R&D", "-1.2e-3"]], note: "n < 3"),
                .html("<span class=\"tok\">kept</span>"),
            ]),
        ])
        let html = try page.render()
        #expect(html.contains("<title>A &amp; B &lt;i&gt;</title>"))
        #expect(html.contains("<h1>A &amp; B &lt;i&gt;</h1>"))
        #expect(html.contains("<p class=\"subtitle\">x &lt; y</p>"))
        #expect(html.contains("<h2>S &lt;1&gt;</h2>"))
        #expect(html.contains("<p>if a &lt; b &amp;&amp; c &gt; d then &quot;e&quot;</p>\n<p>second paragraph</p>"))
        #expect(html.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"))
        #expect(html.contains("<td>R&amp;D</td>"))
        #expect(!html.contains("<script"))
        #expect(html.contains("<p class=\"note\">n &lt; 3</p>"))
        #expect(html.contains("<span class=\"tok\">kept</span>"))
        // The numeric column (header included) is right-aligned, the text column is not.
        #expect(html.contains("<th scope=\"col\">word</th><th scope=\"col\" class=\"num\">score</th>"))
        #expect(html.contains("<td class=\"num\">0.5</td>") && html.contains("<td class=\"num\">-1.2e-3</td>"))
    }

    @Test func aMissingImageIsAnErrorNamingTheFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = folder.appendingPathComponent("no-such-heatmap.png")
        let page = ReportPage(title: "T", sections: [.init(title: "Heatmaps", blocks: [.gallery([(missing, "gone")])])])
        let error = try #require(throws: ReportError.self) { try page.render() }
        #expect(error.message == "report image \(missing.path) (section 'Heatmaps'): cannot open: No such file or directory")
        // Nothing is written when rendering fails.
        #expect(throws: ReportError.self) { try page.write(to: folder.appendingPathComponent("index.html")) }
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("index.html").path))
    }

    @Test func aFileThatIsNotAPNGIsAnErrorNamingTheFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = folder.appendingPathComponent("notes.png")
        try writeAtomically(Array("not a picture".utf8), to: text)
        let page = ReportPage(title: "T", sections: [.init(title: "S", blocks: [.image(text, caption: "c")])])
        let error = try #require(throws: ReportError.self) { try page.render() }
        #expect(error.message == "report image \(text.path) (section 'S'): not a PNG file")
    }

    @Test func aTableRowWithTheWrongNumberOfCellsIsAnError() throws {
        let page = ReportPage(title: "T", sections: [.init(title: "Scores", blocks: [.table(header: ["a", "b"], rows: [["1", "2"], ["3"]], note: nil)])])
        let error = try #require(throws: ReportError.self) { try page.render() }
        #expect(error.message == "section 'Scores': table row 2 has 1 cells, the header has 2")
    }

    @Test func sectionAnchorsAreUniqueSlugs() throws {
        let page = ReportPage(title: "T", sections: ["Loss curve", "Loss curve", "Ünïcode only?", "!!!", "loss-curve-2"].map { .init(title: $0, blocks: []) })
        let html = try page.render()
        for id in ["loss-curve", "loss-curve-2", "n-code-only", "section", "loss-curve-2-2"] { #expect(html.contains("<section id=\"\(id)\">"), "\(id)") }
    }

    @Test(.enabled(if: chromiumInstalled, "chromium is not installed (apt-get install -y chromium); the browser check is skipped"))
    func everyImageLoadsInHeadlessChromium() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let page = try demoLikePage(in: folder)
        let out = folder.appendingPathComponent("report/index.html")
        try FileManager.default.createDirectory(at: out.deletingLastPathComponent(), withIntermediateDirectories: true)
        try page.write(to: out)
        let screenshot = folder.appendingPathComponent("screenshot.png")
        let (status, output) = try runCheck(out, screenshot: screenshot)
        #expect(status == 0, "check_report.py: \(output)")
        #expect(output.hasPrefix("7/7 images loaded; screenshot: "), "\(output)")
        let shot = try PNG.read(contentsOf: screenshot)
        #expect(shot.width == 1200 && shot.height > 1000, "screenshot \(shot.width)×\(shot.height)")
    }

    @Test(.enabled(if: chromiumInstalled, "chromium is not installed (apt-get install -y chromium); the browser check is skipped"))
    func theBrowserCheckFailsOnABrokenImage() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = try writePNG(ramp(4, 4), "good.png", in: folder)
        let page = ReportPage(title: "T", sections: [.init(title: "S", blocks: [
            .image(good.url, caption: "good"),
            .html("<img src=\"data:image/png;base64,iVBORw0KGgoAAAAA\" alt=\"truncated\">"),  // a PNG signature and nothing else
        ])])
        let out = folder.appendingPathComponent("index.html")
        try page.write(to: out)
        let (status, output) = try runCheck(out, screenshot: folder.appendingPathComponent("screenshot.png"))
        #expect(status == 1, "\(output)")
        #expect(output.contains("1/2 images loaded") && output.contains("failed: truncated"), "\(output)")
    }
}

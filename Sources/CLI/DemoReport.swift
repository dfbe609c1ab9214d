import Datasets
import Engine
import Explanations
import Foundation
import Media
import Models
import Probes

/// The demo's `index.html`: everything a user wants to look at, with the numbers that say how far
/// to trust each picture.
struct DemoReport {
    let root: URL
    let captions: [(image: URL, generated: String, reference: String)]
    let scores: CaptionScores
    let explained: (example: CaptionDataset.Example, caption: String, word: GroundingFile.Word)
    let shapesReport: EvaluationReport
    let scenes: Demo.ScenesPart?
    let pretraining: Demo.PretrainingPart?
    let compression: Demo.CompressionPart?
    let seconds: Double

    func url(_ p: String) -> URL { root.appendingPathComponent(p) }
    func f(_ x: Double?, _ digits: Int = 2) -> String { x.map { String(format: "%.\(digits)f", $0) } ?? "–" }
    func picture(_ folder: String, _ kind: String, _ word: String) -> URL { url("\(folder)/\(kind)-\(word).png") }

    func page() throws -> ReportPage {
        var sections: [ReportPage.Section] = []
        let metrics = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url("shapes/metrics.json")))) as? [String: Any] ?? [:]
        sections.append(.init(title: "What happened", blocks: [.paragraph("""
            Glassbox made the built-in shapes dataset (coloured shapes with captions and per-object masks), trained the \
            caption-small model on it on this machine's CPU (\(metrics["steps"].map { "\($0)" } ?? "?") steps in \
            \(f(metrics["seconds"] as? Double, 0)) s), captioned held-out images, explained one word with every method, and \
            measured how well each explanation finds the object the word names. Test-split caption scores: BLEU-4 \
            \(f(scores.bleu4)), CIDEr-D \(f(scores.ciderD)), exact match \(f(scores.exactMatch)) over \(scores.count) images. \
            The whole run took \(Int(seconds.rounded())) s.
            """)]))
        sections.append(.init(title: "Training", blocks: [.image(url("shapes/loss.png"), caption: "Training and validation loss (caption-small on shapes)")]))
        sections.append(.init(title: "Captions of held-out images", blocks: [.gallery(captions.map { ($0.image, "model: \($0.generated)\nreference: \($0.reference)") })]))

        let word = explained.word.word, k = explained.word.index
        let methods = ExplainMethod.allCases.map(\.rawValue)
        var blocks: [ReportPage.Block] = [.paragraph("""
            Why did the model say '\(word)' (word \(k) of "\(explained.caption)")? Each panel is one method's answer over the \
            image: red = evidence for the word, blue = against (signed methods); brighter = more (attention and magnitude \
            methods). The named object's mask is the ground truth.
            """)]
        blocks.append(.gallery([(explained.example.image, "input")] + methods.map { (picture("explain/\($0)", "image", fileSafe(word)), $0) }))
        blocks.append(.image(url("explain/attention/heads.png"), caption: "Attention of '\(word)' to the image patches, per layer and head"))
        blocks.append(.image(url("explain/integrated-gradients/text.png"), caption: "Which earlier words the prediction drew on (integrated gradients)"))
        if let html = try? String(contentsOf: url("explain/kernel-shap/text.html"), encoding: .utf8), let body = html.range(of: "<body>"), let end = html.range(of: "</body>") {
            blocks.append(.html(String(html[body.upperBound..<end.lowerBound])))
        }
        sections.append(.init(title: "One word, every method", blocks: blocks))
        let strips = (0..<2).map { url("explain/strip-\($0)/strip.png") }.filter { FileManager.default.fileExists(atPath: $0.path) }
        if !strips.isEmpty {
            sections.append(.init(title: "Whole captions, word by word", blocks: strips.map { .image($0, caption: "Integrated gradients for every word of the model's caption") }))
        }
        if let scenes {
            let w = fileSafe(scenes.word.word)
            var b: [ReportPage.Block] = [.paragraph("""
                The scenes model hears a one-second clip in which a voice says a colour or shape, and sees 2–3 objects; the caption \
                describes the object that was named, so it needs both. Here: "\(scenes.caption)", spoken word '\(scenes.word.word)' \
                at \(f(scenes.word.span?[0])) – \(f(scenes.word.span?[1])) s. Below, the log-mel spectrogram with each method's \
                attribution for '\(scenes.word.word)', and the same methods over the image.
                """)]
            b.append(.gallery(scenes.methods.map { (picture("explain-scenes/\($0)", "audio", w), $0) }))
            b.append(.gallery(scenes.methods.map { (picture("explain-scenes/\($0)", "image", w), $0) }))
            let (header, rows) = ExplanationTable.rows(scenes.report)
            b.append(.table(header: header, rows: rows, note: "\(scenes.report.words) grounded words of \(scenes.report.examples) test scenes. Audio pointing: the top audio token overlaps the spoken word; modality: the word's own modality gets the larger share."))
            sections.append(.init(title: "Image + audio: the audio view", blocks: b))
        }
        sections.append(insideSection())
        if let pretraining { sections.append(try pretrainingSection(pretraining, word: word)) }
        if let compression { sections.append(compressionSection(compression)) }
        sections.append(performanceSection(metrics: metrics))
        let (header, rows) = ExplanationTable.rows(shapesReport)
        sections.append(.init(title: "How far to trust each method", blocks: [
            .table(header: header, rows: rows, note: "\(shapesReport.words) object words from \(shapesReport.examples) test images; sanity on \(shapesReport.sanityWords) words. \(shapesReport.fill)."),
            .image(url("evaluation-shapes.png"), caption: "Pointing game, deletion/insertion AUC and rank correlation after randomising the model"),
            .paragraph(summary(shapesReport)),
        ]))
        let commands = """
            glassbox data --dataset shapes --out data/shapes
            glassbox train --data data/shapes --out runs/shapes
            glassbox explain --model runs/shapes/model.safetensors --image data/shapes/images/\(explained.example.image.lastPathComponent) \\
                --caption "\(explained.caption)" --word \(k) --method kernel-shap --out runs/explain
            glassbox evaluate-explanations --model runs/shapes/model.safetensors --data data/shapes
            glassbox lens --model runs/shapes/model.safetensors --image data/shapes/images/\(explained.example.image.lastPathComponent) --out runs/lens
            glassbox patch --model runs/shapes/model.safetensors --image data/shapes/images/\(explained.example.image.lastPathComponent) \\
                --caption "\(explained.caption)" --word \(k) --corrupt noise --out runs/patch
            glassbox explain-dataset --model runs/shapes/model.safetensors --data data/shapes --method integrated-gradients --count 12 --out runs/global
            glassbox compress --model runs/shapes/model.safetensors --out runs/q8.safetensors --method quantize
            glassbox compare --model runs/shapes/model.safetensors --model runs/q8.safetensors --data data/shapes
            """
        sections.append(.init(title: "Reproduce", blocks: [.html("<pre>\(escaped(commands))</pre>")]))
        return ReportPage(title: "Glassbox demo", subtitle: "Train a caption model on a CPU, look at what each word used, and measure the explanations.", sections: sections)
    }

    /// "Inside the model": causal tracing of the explained word with its object removed, the causal
    /// pointing game's score beside the attribution methods', the logit lens, activation norms, and
    /// the global atlas over the test images.
    func insideSection() -> ReportPage.Section {
        let word = explained.word.word
        var blocks: [ReportPage.Block] = []
        let causal = shapesReport.methods.first { $0.method == "causal-patching" }
        let ig = shapesReport.methods.first { $0.method == "integrated-gradients" }
        if FileManager.default.fileExists(atPath: url("inside/patch/patching.png").path) {
            let json = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url("inside/patch/patching.json")))) as? [String: Any] ?? [:]
            blocks.append(.paragraph("""
                Causal tracing (glassbox patch): the same image with the \(word) removed (its pixels filled with the background's \
                mean colour) lowers log p('\(word)') from \(f(json["logprob_clean"] as? Double)) to \(f(json["logprob_corrupted"] as? Double)). \
                Each cell restores one activation of the clean image into that corrupted run: bright cells bring the word back. \
                Over \(causal?.pointing.count ?? 0) object words, the image token that restores the most at the encoder output lies on \
                the named object for \(f(causal?.pointingGame)) of them (the causal pointing game; integrated gradients' pointing \
                game: \(f(ig?.pointingGame))), so the evidence the words need sits at the object's own positions when the image \
                leaves the encoder.
                """))
            blocks.append(.image(url("inside/patch/patching.png"), caption: "Causal tracing of '\(word)': layers × positions, then the encoder output over the image"))
        }
        if FileManager.default.fileExists(atPath: url("lens/lens.png").path) {
            blocks.append(.paragraph("""
                The logit lens (glassbox lens): each shared layer's state at each position of "\(explained.caption)", read out \
                through the model's final norm and head as if it were the last layer, shows where along the depth the next word \
                becomes predictable. Brighter cells give the caption's next word a higher probability; each cell names that layer's top word.
                """))
            blocks.append(.image(url("lens/lens.png"), caption: "Logit lens: rows are layers, the embedding at the bottom"))
        }
        if FileManager.default.fileExists(atPath: url("inside/activations/image-norms.png").path) {
            blocks.append(.image(url("inside/activations/image-norms.png"), caption: "Activation norm of each image token, layer by layer (glassbox activations)"))
        }
        if FileManager.default.fileExists(atPath: url("inside/global/atlas.png").path) {
            blocks.append(.paragraph("""
                Across the test images (glassbox explain-dataset, integrated gradients): each word's mean attribution map, where \
                image evidence sits over all words, and each attention head's importance, the mean change in the caption's \
                log-probabilities when that head alone is zeroed. Shards of this run computed on other machines merge into the same result.
                """))
            blocks.append(.image(url("inside/global/atlas.png"), caption: "Global atlas: mean maps per word and head importance"))
        }
        if let mm = scenes?.report.mmShap {
            let shares = mm.shares.keys.sorted().map { "\($0) \(f(mm.shares[$0]))" }.joined(separator: ", ")
            blocks.append(.paragraph("""
                Which modality does the scenes model use? MM-SHAP, with the image and the audio cut into the same number of features \
                (\(mm.features.keys.sorted().map { "\(mm.features[$0]!) \($0)" }.joined(separator: ", "))), gives each modality's share \
                of the Shapley values over \(mm.words) grounded words: \(shares).
                """))
        }
        return .init(title: "Inside the model", blocks: blocks)
    }

    /// Pretraining → fine-tuning against from scratch at the same label budget: the pretraining
    /// loss, both runs' validation BLEU-4 as they trained, their test scores, and the demo's word
    /// explained by integrated gradients in each.
    func pretrainingSection(_ p: Demo.PretrainingPart, word: String) throws -> ReportPage.Section {
        func log(_ run: String) -> [(step: Double, bleu: Double?)] {
            let text = (try? String(contentsOf: url("\(run)/log.jsonl"), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let e = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let step = e["step"] as? Double else { return nil }
                return (step, e["val_bleu4"] as? Double)
            }
        }
        func curve(_ run: String) -> [(x: Double, y: Double)] { log(run).compactMap { e in e.bleu.map { (e.step, $0) } } }
        let chart = LineChart(title: "Validation BLEU-4 with \(p.plan.fineTuneImages) captioned images", xLabel: "step", yLabel: "BLEU-4", series: [
            .init(name: "fine-tuned", points: curve("fine-tuned"), color: [44, 160, 44]),
            .init(name: "from scratch", points: curve("from-scratch"), color: [214, 39, 40]),
        ])
        try writeAtomically(PNG.encode(chart.render().image), to: url("fine-tuning.png"))
        let w = fileSafe(word)
        return .init(title: "Pretraining, then fine-tuning on few labels", blocks: [
            .paragraph("""
                The same caption-small model, pretrained for \(p.plan.pretrainSteps) steps on every shapes training image without \
                captions (masked patches: 60 % of each image's patches hidden, their pixels predicted from the rest), then trained on \
                the captions of only \(p.plan.fineTuneImages) images for \(p.plan.fineTuneSteps) steps; and the same \
                \(p.plan.fineTuneSteps) steps from scratch. Test BLEU-4: fine-tuned \(f(p.fineTuned.bleu4)), from scratch \
                \(f(p.scratch.bleu4)) (CIDEr-D \(f(p.fineTuned.ciderD)) against \(f(p.scratch.ciderD))).
                """),
            .image(url("pretrain/loss.png"), caption: "Pretraining loss (masked-patch reconstruction, normalised pixels)"),
            .image(url("fine-tuning.png"), caption: "Validation BLEU-4 while training on \(p.plan.fineTuneImages) captioned images"),
            .gallery([(picture("explain-fine-tuned", "image", w), "fine-tuned: integrated gradients for '\(word)'"),
                      (picture("explain-from-scratch", "image", w), "from scratch: integrated gradients for '\(word)'")]),
        ])
    }

    /// Compression: size, speed, BLEU-4 and explanation agreement with the original, per variant.
    func compressionSection(_ c: Demo.CompressionPart) -> ReportPage.Section {
        let methods = c.variants.first?.report.methodOrder ?? []
        let header = ["model", "file", "test BLEU-4", "ms per example"] + methods.flatMap { ["\($0) ρ", "\($0) top-10 %", "\($0) pointing"] }
        var rows: [[String]] = []
        if let first = c.variants.first?.report {
            rows.append(["original (float32)", String(format: "%.2f MB", Double(c.originalBytes) / 1e6), f(first.bleu4[0], 3), f(first.forwardMilliseconds[0], 3)]
                        + methods.flatMap { ["1", "1", f(first.methods[$0]?.pointing[0] ?? nil)] })
        }
        for v in c.variants {
            let r = v.report
            rows.append([v.name, String(format: "%.2f MB (%.0f %%)", Double(v.bytes) / 1e6, 100 * Double(v.bytes) / Double(max(c.originalBytes, 1))),
                         f(r.bleu4[1], 3), f(r.forwardMilliseconds[1], 3)]
                        + methods.flatMap { m in [f(r.methods[m]?.spearman), f(r.methods[m]?.topkOverlap), f(r.methods[m]?.pointing[1] ?? nil)] })
        }
        let words = c.variants.first.map { $0.report.methods.values.first?.words ?? 0 } ?? 0
        return .init(title: "Compression: do the explanations survive?", blocks: [
            .paragraph("""
                The shapes model made smaller three ways (glassbox compress), and each copy compared with the original by \
                glassbox compare: ρ is the rank correlation of the two models' per-patch attributions for the same words, top-10 % \
                the share of the 10 % most important patches they agree on, pointing each model's pointing game. The int8 copy \
                is dequantised on load, so its speed is the original's; removing heads makes a smaller dense model.
                """),
            .table(header: header, rows: rows, note: "\(words) grounded words per comparison; BLEU-4 on the first \(c.bleuImages) test images; ms per example: one teacher-forced forward pass, 64 test examples, A and B alternating (median of 10). README \"Compression\" has the full measurements."),
        ] + c.variants.map { v in .image(url(String(v.file.dropLast(".safetensors".count)) + ".compare.png"), caption: "Agreement with the original: \(v.name)") })
    }

    /// "Speed and memory": this run's own figures (training rate and peak tensor memory from
    /// metrics.json, each method's time for the explained word from its explanation.json), and the
    /// side-by-side with PyTorch + Captum when `Scripts/compare_pytorch.py` has left a result in
    /// `runs/compare/result.json` beside the demo's folder (its own run, on its own work).
    func performanceSection(metrics: [String: Any]) -> ReportPage.Section {
        let number = { (key: String) in metrics[key] as? Double }
        let text = { (key: String) in metrics[key].map { "\($0)" } ?? "?" }
        var blocks: [ReportPage.Block] = [.paragraph("""
            Training caption-small here ran at \(f(number("steps_per_second"), 1)) steps/s (batches of \(text("batch_size")) images × \
            \(text("captions_per_image")) captions, \(text("parameters")) parameters); its tensors peaked at \
            \(number("peak_tensor_bytes").map { MemoryBudget.format(Int($0)) } ?? "?"). Each method's time to explain \
            '\(explained.word.word)' (one word, both cores, the explanation alone):
            """)]
        let times = ExplainMethod.allCases.compactMap { m -> [String]? in
            guard let data = try? Data(contentsOf: url("explain/\(m.rawValue)/explanation.json")),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let ms = json["timing_ms"] as? Double else { return nil }
            let parameters = json["parameters"] as? [String: Any] ?? [:]
            let work = ["steps", "samples", "features"].compactMap { key in parameters[key].map { "\($0) \(key)" } }.joined(separator: ", ")
            return [m.rawValue, String(format: "%.0f ms", ms), work]
        }
        blocks.append(.table(header: ["method", "time", "work"], rows: times, note: "Perturbed inputs in batches of 64, split across the cores."))
        let compare = root.deletingLastPathComponent().appendingPathComponent("compare/result.json")
        if let data = try? Data(contentsOf: compare), let result = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let rows = result["rows"] as? [[String: Any]], !rows.isEmpty {
            let table = rows.map { r -> [String] in
                let unit = r["unit"] as? String ?? ""
                let value = { (x: Any?) in (x as? Double).map { unit == "ms" ? String(format: "%.0f ms", $0) : String(format: "%.3g ", $0) + unit } ?? "–" }
                let memory = [r["glassbox_peak_rss_mb"], r["pytorch_peak_rss_mb"]].map { ($0 as? Double).map { String(format: "%.2f", $0 / 1024) } ?? "–" }
                let passed = ((r["check"] as? [String: Any])?["passed"] as? Bool) == true
                return [r["case"] as? String ?? "?", value(r["glassbox"]), value(r["pytorch"]), f(r["ratio"] as? Double) + "×",
                        memory.joined(separator: " / ") + " GB", passed ? "ok" : "FAILED"]
            }
            let threads = result["torch_threads"].map { "\($0)" } ?? "?", runs = result["runs"].map { "\($0)" } ?? "?"
            blocks.append(.table(header: ["case", "Glassbox", "PyTorch / Captum", "speed-up", "peak RSS Glassbox / PyTorch", "same result"], rows: table,
                                 note: "From \(compare.path), started \(result["started"] as? String ?? "?"); PyTorch on \(threads) threads, medians of \(runs) interleaved runs."))
        } else {
            blocks.append(.paragraph("""
                For the same work side by side with PyTorch + Captum (same checkpoint, inputs and hyper-parameters, each case \
                checked to compute the same thing first), run python3 Scripts/compare_pytorch.py in the repository: it leaves \
                runs/compare/result.json, which this page then shows. README "Performance against PyTorch" has the latest table.
                """))
        }
        return .init(title: "Speed and memory", blocks: blocks)
    }

    /// A sentence on what the table means, from its numbers.
    func summary(_ report: EvaluationReport) -> String {
        let localising = report.methods.filter { ($0.pointingGame ?? 0) >= 0.9 }.map(\.method)
        let faithful = report.methods.filter { m in
            guard let d = MethodReport.mean(m.deletion), let r = MethodReport.mean(m.randomDeletion) else { return false }
            return d < r
        }.map(\.method)
        let failing = report.methods.filter { $0.passesRandomization == false && ($0.selfAgreementMean ?? 0) >= 0.5 }.map(\.method)
        let unsure = report.methods.filter { ($0.selfAgreementMean ?? 1) < 0.5 }.map(\.method)
        // Pointing by kind of word, for the methods the issue singles out.
        let shapes: Set = ["circle", "square", "triangle", "diamond"], sizes: Set = ["small", "large"]
        func kind(_ w: String) -> String { shapes.contains(w) ? "shape" : (sizes.contains(w) ? "size" : "colour") }
        let byKind = report.methods.filter { ["integrated-gradients", "occlusion", "kernel-shap"].contains($0.method) }.map { m -> String in
            var hits: [String: [Double]] = [:]
            for (w, h) in m.pointingByWord { hits[kind(w), default: []] += h }
            let parts = ["colour", "size", "shape"].compactMap { k in hits[k].map { "\(k) words \(f(MethodReport.mean($0))) (\($0.count))" } }
            return "\(m.method): " + parts.joined(separator: ", ")
        }
        return """
            Pointing game: the share of object words whose top-scoring patch lies on the named object (chance is the object's share \
            of patches, about 0.05–0.1 here). \(localising.isEmpty ? "No method reaches 0.9 on this model." : "At or above 0.9: \(localising.joined(separator: ", ")).") \
            Deletion AUC below the random order's means removing the method's top features first hurts the prediction more than \
            removing features at random — the explanation is faithful to the model: \(faithful.isEmpty ? "none" : faithful.joined(separator: ", ")). \
            Sanity: an explanation that barely changes when the model's weights are replaced by random ones is describing the input, \
            not the model; \(failing.isEmpty ? "every method with a stable answer changes clearly." : "these did not change clearly: \(failing.joined(separator: ", ")).") \
            \(unsure.isEmpty ? "" : "These disagree with themselves across seeds at this sample count (self-agreement below 0.5), so the check cannot certify them; give them more samples: \(unsure.joined(separator: ", ")).")

            Pointing by kind of word — \(byKind.joined(separator: "; ")). Where colour words are found and shape words are not, the \
            model is at fault rather than the method: this model names colours reliably but shapes barely above chance (see the \
            captions above), and the faithfulness curves show the methods do follow what the model uses.
            """
    }

    func fileSafe(_ word: String) -> String { ExplanationFiles.fileSafe(word) }

    func escaped(_ s: String) -> String { Heatmap.escapeHTML(s) }
}

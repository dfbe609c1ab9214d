import Datasets
import Engine
import Foundation
import Media
import Models
import Probes

/// `glassbox compare`: does an explanation survive compression? Two models with one vocabulary
/// (an original and its quantised, pruned or distilled version) explain the same grounded words
/// (the `evaluate-explanations` cases of model A), and for each method:
/// - `spearman`: Spearman rank correlation of A's and B's attributions over the word's modality
///   features (image patches: the per-patch sum of the signed per-pixel attribution; audio tokens
///   likewise), mean over words;
/// - `topk_overlap`: |top-k(A) ∩ top-k(B)| / k with k = max(1, round(10 % of the features)), the
///   features ranked by that signed score (the order the deletion curve removes them in), mean over words;
/// - `pointing`, `deletion_auc`, `ms`: each model's pointing game, deletion AUC and median
///   milliseconds per explanation, exactly as `evaluate-explanations` computes them.
/// Plus each model's test BLEU-4 and milliseconds per caption (greedy, batched).
public struct ExplanationComparison {
    public struct Options: Sendable {
        public var methods: [ExplainMethod] = [.integratedGradients, .occlusion, .kernelShap]
        /// Test examples (as `evaluate-explanations --count`).
        public var count = 10
        public var settings = ExplainSettings()
        public var split = "test"
        /// Test examples captioned for BLEU-4 (nil: the whole split).
        public var bleuLimit: Int? = nil
        public init() {}
    }

    public struct MethodResult: Encodable, Sendable {
        public var spearman: Double, topkOverlap: Double
        public var pointing: [Double?], deletionAUC: [Double?], ms: [Double]
        public var words: Int
        enum CodingKeys: String, CodingKey { case spearman, topkOverlap = "topk_overlap", pointing, deletionAUC = "deletion_auc", ms, words }
    }

    public struct Report: Encodable, Sendable {
        public var models: [String]
        public var methods: [String: MethodResult]
        public var methodOrder: [String]
        public var bleu4: [Double]
        public var captionMilliseconds: [Double]
        /// Milliseconds per example of a teacher-forced forward pass (64 test examples, their first
        /// reference caption; A and B alternating, median of 10 after a warm-up): speed independent
        /// of how long the generated captions are.
        public var forwardMilliseconds: [Double]
        public var topkFraction = 0.1
        enum CodingKeys: String, CodingKey {
            case models, methods, bleu4, captionMilliseconds = "caption_ms", forwardMilliseconds = "forward_ms", topkFraction = "topk_fraction"
        }
    }

    public let a: ExplanationEvaluator, b: ExplanationEvaluator
    public let names: [String]
    public let options: Options

    /// `grounding`: the dataset's grounding.json when already read (nil: read here, once for both models).
    public init(a: CaptionModel, b: CaptionModel, names: [String], dataset: CaptionDataset, grounding: GroundingFile? = nil,
                options: Options) throws {
        guard a.vocabulary == b.vocabulary else { throw DatasetError("the two models have different vocabularies; compare needs one vocabulary (the same words to explain)") }
        guard a.config.image.map({ [$0.size, $0.patch, $0.channels] }) == b.config.image.map({ [$0.size, $0.patch, $0.channels] }),
              a.config.audio == b.config.audio else {
            throw DatasetError("the two models read different inputs (image size, patch or audio front end); their maps cannot be compared feature by feature")
        }
        var evaluation = ExplanationEvaluator.Options()
        evaluation.count = options.count; evaluation.split = options.split; evaluation.settings = options.settings
        evaluation.fit = a.inputFit   // A's inputs (and the masks) are fitted as A was trained; B reads the same inputs
        guard let grounding = try grounding ?? dataset.grounding() else {
            throw DatasetError("\(dataset.directory.path): no grounding.json (compare needs a built-in dataset's ground truth)")
        }
        self.a = ExplanationEvaluator(model: a, dataset: dataset, grounding: grounding, options: evaluation)
        self.b = ExplanationEvaluator(model: b, dataset: dataset, grounding: grounding, options: evaluation)
        self.names = names; self.options = options
    }

    /// Signed score per feature of the word's modality (patches or audio tokens).
    static func featureScores(_ e: WordExplanation, _ c: ExplanationEvaluator.Case, _ evaluator: ExplanationEvaluator) -> [Double] {
        if c.word.modality == "audio" {
            return sumPerAudioToken(e.positionValues(.audio), evaluator.model.config.audio!)
        }
        return evaluator.patchSums(e.positionValues(.image))
    }

    public func run(progress: ((Int, Int, String) -> Void)? = nil) throws -> Report {
        let cases = try a.cases()
        let explainers = [Explainer(model: a.model), Explainer(model: b.model)]
        let evaluators = [a, b]
        var results: [String: MethodResult] = [:]
        var done = 0
        let total = options.methods.count * cases.count * 2
        for method in options.methods {
            var spearmans: [Double] = [], overlaps: [Double] = []
            var pointing: [[Double]] = [[], []], deletion: [[Double]] = [[], []], ms: [[Double]] = [[], []]
            for c in cases {
                var scores: [[Double]] = []
                for m in 0..<2 {
                    let e = explainers[m].explain(image: c.image, audio: c.audio, caption: c.caption, wordIndex: c.word.index,
                                                  method: method, settings: options.settings)
                    ms[m].append(e.milliseconds)
                    let evaluator = evaluators[m]
                    let signed = Self.featureScores(e, c, evaluator)
                    scores.append(signed)
                    // Pointing and deletion exactly as evaluate-explanations: positive evidence.
                    let (_, _, order, hit) = evaluator.pointing(e, c)
                    if let hit { pointing[m].append(hit) }
                    deletion[m].append(evaluator.curves(c, order: order).deletion)
                    done += 1; progress?(done, total, method.rawValue)
                }
                spearmans.append(spearman(scores[0], scores[1]))
                let k = max(1, Int((Double(scores[0].count) * 0.1).rounded()))
                let topA = Set(ExplanationEvaluator.order(scores[0]).prefix(k)), topB = Set(ExplanationEvaluator.order(scores[1]).prefix(k))
                overlaps.append(Double(topA.intersection(topB).count) / Double(k))
            }
            results[method.rawValue] = MethodResult(spearman: MethodReport.mean(spearmans) ?? .nan, topkOverlap: MethodReport.mean(overlaps) ?? .nan,
                                                    pointing: pointing.map { MethodReport.mean($0) }, deletionAUC: deletion.map { MethodReport.mean($0) },
                                                    ms: ms.map(median), words: cases.count)
        }
        // Captions: BLEU-4 and milliseconds per caption (greedy, batches of 64).
        let dataset = a.dataset
        func examples(_ config: ModelConfig, limit: Int?) throws -> TrainingSet {
            try TrainingSet(dataset: dataset, split: options.split, config: config, limit: limit,
                            audioFeatures: config.audio.map { ac in { try Preprocessing.audio(contentsOf: $0, config: ac) } }, fit: a.options.fit)
        }
        var bleu: [Double] = [], captionMs: [Double] = []
        for m in [a.model, b.model] {
            let set = try examples(m.config, limit: options.bleuLimit)
            guard set.count > 0 else { throw DatasetError("\(dataset.directory.path): the \(options.split) split is empty") }
            let start = DispatchTime.now().uptimeNanoseconds
            let captions = m.captions(for: set, strategy: .greedy, batchSize: 64, workers: options.settings.workers)
            captionMs.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(set.count))
            bleu.append(scoreCaptions(captions, set: set).bleu4)
        }
        // Speed: A and B alternate on the same batch (the machine's load hits both alike); median of 10 after a warm-up each.
        let set = try examples(a.model.config, limit: 64)
        let batch = set.batch(Array(0..<set.count), vocabulary: a.model.vocabulary, augment: nil)
        var times: [[Double]] = [[], []]
        for rep in 0..<11 {
            for (i, m) in [a.model, b.model].enumerated() {
                var rng = SplitMix64(seed: 0)
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = m.logits(image: batch.image, audio: batch.audio, tokens: batch.inputs, mode: .inference, rng: &rng)
                if rep > 0 { times[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 / Double(batch.inputs.shape[0])) }
            }
        }
        let forwardMs = times.map(median)
        return Report(models: names, methods: results, methodOrder: options.methods.map(\.rawValue), bleu4: bleu, captionMilliseconds: captionMs, forwardMilliseconds: forwardMs)
    }
}

extension ExplanationComparison.Report {
    /// The table on stderr: one row per method.
    public var table: String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "–" }
        var lines = ["compare: A = \(models[0]), B = \(models[1])",
                     "method                 spearman  top-k  pointing A/B   deletion AUC A/B   ms A/B"]
        for name in methodOrder {
            guard let r = methods[name] else { continue }
            lines.append(name.padding(toLength: 22, withPad: " ", startingAt: 0) + " " + f(r.spearman).padding(toLength: 9, withPad: " ", startingAt: 0)
                         + " " + f(r.topkOverlap).padding(toLength: 6, withPad: " ", startingAt: 0)
                         + " " + "\(f(r.pointing[0]))/\(f(r.pointing[1]))".padding(toLength: 14, withPad: " ", startingAt: 0)
                         + " " + "\(f(r.deletionAUC[0]))/\(f(r.deletionAUC[1]))".padding(toLength: 18, withPad: " ", startingAt: 0)
                         + " " + String(format: "%.0f/%.0f", r.ms[0], r.ms[1]))
        }
        lines.append(String(format: "BLEU-4 A %.4f, B %.4f; ms per caption A %.2f, B %.2f; ms per teacher-forced example A %.3f, B %.3f",
                            bleu4[0], bleu4[1], captionMilliseconds[0], captionMilliseconds[1], forwardMilliseconds[0], forwardMilliseconds[1]))
        return lines.joined(separator: "\n") + "\n"
    }

    /// A bar chart: per method, the agreement (Spearman, top-k overlap) and each model's pointing game
    /// and deletion AUC.
    public var chart: BarChart {
        let rows = methodOrder.compactMap { methods[$0] }
        return BarChart(title: "Explanation agreement, A vs B", yLabel: "value", groups: methodOrder, series: [
            ("spearman A~B", rows.map(\.spearman), [31, 119, 180]),
            ("top-10% overlap", rows.map(\.topkOverlap), [174, 199, 232]),
            ("pointing A", rows.map { $0.pointing[0] ?? .nan }, [44, 160, 44]),
            ("pointing B", rows.map { $0.pointing[1] ?? .nan }, [152, 223, 138]),
            ("deletion AUC A", rows.map { $0.deletionAUC[0] ?? .nan }, [214, 39, 40]),
            ("deletion AUC B", rows.map { $0.deletionAUC[1] ?? .nan }, [255, 152, 150]),
        ])
    }
}

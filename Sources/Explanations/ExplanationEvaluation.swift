import Datasets
import Engine
import Foundation
import Media
import Models
import Probes

/// `glassbox evaluate-explanations`: how far to trust each method, measured against the dataset's
/// ground truth (grounding.json) and by the standard faithfulness and sanity tests.
///
/// - Localisation (pointing game): the image is summarised per model patch by the method's positive
///   evidence (the positive part of the per-pixel attribution, summed over channels; magnitude
///   methods as they are); a hit is when the top patch overlaps the named object's mask. Audio words:
///   the top audio token (frame_stack frames) must overlap the word's time span. Mass inside: the
///   share of the positive evidence on the mask's pixels. Scenes: whether the word's own modality
///   gets the larger attribution share (image vs audio, from the explanation's totals).
/// - Faithfulness (Petsiuk et al. 2018): features of the word's modality (patches or audio tokens)
///   are removed (deletion) or revealed (insertion) in the method's order, `steps` at a time;
///   "removed" means set to the baseline — mid-grey pixels, log-mel 0, the zero-attribution fill
///   CLI.md uses everywhere. The curve is the target word's probability; the AUC is its mean over the
///   fractions 0…1 (trapezoid). A random order gives the reference (mean of 3 seeded orders).
/// - Sanity (Adebayo et al. 2018): cascading model-parameter randomisation from the top (head, then
///   each shared block from the last, then encoder blocks, then the embeddings); Spearman rank
///   correlation of the per-patch attribution magnitude between the trained and the randomised
///   model. A method passes when, with everything randomised, the correlation is clearly below its
///   self-agreement — the correlation between two explanations of the trained model that should
///   agree (two seeds for sampling methods; inputs with 1% noise otherwise) — which we take to mean
///   at least 0.3 lower. Both numbers are reported, so a reader can apply another margin.
public struct ExplanationEvaluator {
    public struct Options: Sendable {
        public var methods: [ExplainMethod] = ExplainMethod.allCases
        /// Test examples (first annotation of each test image with grounded words).
        public var count = 20
        /// Words (of the first examples) that get the sanity checks.
        public var sanityWords = 4
        /// Points on each deletion/insertion curve, after the start.
        public var steps = 16
        public var settings = ExplainSettings()
        public var split = "test"
        /// Also play the causal pointing game (``causalReport(_:step:)``), reported as the
        /// method "causal-patching".
        public var causal = true
        public var causalCorruption = CausalCorruption.removal
        /// Also measure MM-SHAP (``mmShap(_:step:)``) with KernelSHAP and this many samples (0: not).
        public var mmShapSamples = 500
        /// How images become S×S (``ImageFit``); object masks go through the same fit.
        public var fit = ImageFit.squash
        public init() {}
    }

    public let model: CaptionModel
    public let dataset: CaptionDataset
    public let grounding: GroundingFile
    public var options: Options

    public init(model: CaptionModel, dataset: CaptionDataset, options: Options) throws {
        guard let grounding = try dataset.grounding() else {
            throw DatasetError("\(dataset.directory.path): no grounding.json (evaluate-explanations needs a built-in dataset's ground truth)")
        }
        self.init(model: model, dataset: dataset, grounding: grounding, options: options)
    }

    /// With the dataset's grounding already read (it is large: 100 MB for 20000 shapes images).
    public init(model: CaptionModel, dataset: CaptionDataset, grounding: GroundingFile, options: Options) {
        self.model = model; self.dataset = dataset; self.grounding = grounding; self.options = options
        model.setRequiresGrad(false)
    }

    /// One grounded word to explain.
    public struct Case {
        public var example: CaptionDataset.Example
        public var caption: [Int32]
        public var words: [String]
        public var word: GroundingFile.Word
        public var image: Tensor?, audio: Tensor?
        /// Object mask at model resolution (S·S, true on the object), for image words.
        public var mask: [Bool]?
        /// Objects the caption mentions (distinct masks in its grounding).
        public var objects: Int
    }

    /// The words to evaluate: object words (one mask) and audio words (a span) of the first
    /// annotation of each of the first `count` examples of the split.
    public func cases() throws -> [Case] {
        let entries = Dictionary(grounding.annotations.map { ($0.annotationId, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [Case] = []
        var used = 0
        for example in dataset.split(options.split) where used < options.count {
            guard let annotation = example.annotationIds.first, let entry = entries[annotation] else { continue }
            let words = Tokenizer.words(example.captions[0])
            guard words.allSatisfy(model.vocabulary.contains), words.count <= model.config.text.maxLen else { continue }
            let grounded = entry.words.filter { ($0.modality == "image" && $0.mask != nil) || ($0.modality == "audio" && $0.span != nil) }
            guard !grounded.isEmpty else { continue }
            let (image, audio) = try inputs(example)
            let objects = Set(entry.words.flatMap { ($0.mask.map { [$0] } ?? []) + ($0.masks ?? []) }).count
            for w in grounded {
                guard w.index >= 1 && w.index <= words.count && words[w.index - 1] == w.word else {
                    throw DatasetError("grounding.json: annotation \(annotation) word \(w.index) '\(w.word)' does not match its caption")
                }
                var mask: [Bool]? = nil
                if let m = w.mask, let c = model.config.image { mask = try objectMask(dataset.directory.appendingPathComponent(m), size: c.size, fit: options.fit) }
                out.append(Case(example: example, caption: words.map(model.vocabulary.id), words: words, word: w,
                                image: image, audio: audio, mask: mask, objects: objects))
            }
            used += 1
        }
        guard !out.isEmpty else { throw DatasetError("\(dataset.directory.path): no grounded words in the \(options.split) split") }
        return out
    }

    func inputs(_ example: CaptionDataset.Example) throws -> (Tensor?, Tensor?) {
        var image: Tensor? = nil, audio: Tensor? = nil
        if let c = model.config.image { image = try Preprocessing.image(contentsOf: example.image, config: c, fit: options.fit) }
        if let a = model.config.audio {
            guard let url = example.audio else { throw DatasetError("\(example.image.lastPathComponent): this model needs audio and the example has none") }
            audio = try Preprocessing.audio(contentsOf: url, config: a)
        }
        return (image, audio)
    }

    /// A mask image (the size of the stored image) brought to the model's S×S through `fit`, by
    /// nearest sampling (``ImagePlacement/sourcePixel(u:v:)``; for squash ⌊u·W/S⌋, ⌊v·H/S⌋);
    /// padding is off the object.
    func objectMask(_ url: URL, size: Int, fit: ImageFit) throws -> [Bool] {
        let m = try ImageFile.read(contentsOf: url).converted(toChannels: 1)
        let placement = fit.placement(width: m.width, height: m.height, size: size)
        return (0..<(size * size)).map { i in
            guard let p = placement.sourcePixel(u: i % size, v: i / size) else { return false }
            return m.pixels[p.y * m.width + p.x] != 0
        }
    }

    // MARK: Scores of one explanation

    /// Positive evidence per image pixel (S·S).
    static func pixelEvidence(_ e: WordExplanation) -> [Double] { e.positionValues(.image).map { max(0, $0) } }

    /// Per-patch sums of a pixel map (S·S) on the model's patch grid.
    func patchSums(_ pixels: [Double]) -> [Double] { sumPerPatch(pixels, model.config.image!) }

    /// Per-audio-token sums of positive evidence.
    func audioTokenEvidence(_ e: WordExplanation) -> [Double] {
        sumPerAudioToken(e.positionValues(.audio).map { max(0, $0) }, model.config.audio!)
    }

    /// The pointing game for one explained word, as every evaluation scores it: the positive
    /// evidence per feature of the word's modality (per patch from the pixel map, or per audio
    /// token), the features in order of it, and the hit: the top feature has positive evidence and
    /// overlaps the object's mask (image words) or the spoken span (audio words); nil for neither.
    func pointing(_ e: WordExplanation, _ c: Case) -> (pixels: [Double]?, scores: [Double], order: [Int], hit: Double?) {
        let pixels = c.word.modality == "audio" ? nil : Self.pixelEvidence(e)
        let scores = pixels.map(patchSums) ?? audioTokenEvidence(e)
        let order = Self.order(scores), top = order[0]
        var hit: Double?
        if let mask = c.mask, pixels != nil { hit = scores[top] > 0 && patchOverlapsMask(top, mask) ? 1 : 0 }
        else if let span = c.word.span { hit = scores[top] > 0 && tokenOverlapsSpan(top, span) ? 1 : 0 }
        return (pixels, scores, order, hit)
    }

    func patchOverlapsMask(_ patch: Int, _ mask: [Bool]) -> Bool {
        let c = model.config.image!, g = c.size / c.patch
        let (r, col) = (patch / g, patch % g)
        for y in (r * c.patch)..<((r + 1) * c.patch) { for x in (col * c.patch)..<((col + 1) * c.patch) where mask[y * c.size + x] { return true } }
        return false
    }

    func tokenOverlapsSpan(_ token: Int, _ span: [Double]) -> Bool {
        let a = model.config.audio!, seconds = Double(a.hop) / Double(a.sampleRate)
        let (t0, t1) = (Double(token * a.frameStack) * seconds, Double((token + 1) * a.frameStack) * seconds)
        return t0 < span[1] && span[0] < t1
    }

    /// Deletion and insertion AUCs for an order of the word's modality features.
    func curves(_ c: Case, order: [Int]) -> (deletion: Double, insertion: Double) {
        let modality: Modality = c.word.modality == "audio" ? .audio : .image
        let target = CaptionTarget(model: model, image: c.image, audio: c.audio, caption: c.caption, wordIndex: c.word.index)
        let problem = target.problem(features: FeatureGrid(modalities: [modality]), batchSize: options.settings.batchSize,
                                     workers: options.settings.workers)
        let n = problem.features.count, steps = min(options.steps, n)
        let counts = (0...steps).map { $0 * n / steps }
        var masks: [[Float]] = []
        for k in counts {   // deletion: the first k features in order are at the baseline
            var z = [Float](repeating: 1, count: n); for f in order.prefix(k) { z[f] = 0 }; masks.append(z)
        }
        for k in counts {   // insertion: only the first k are revealed
            var z = [Float](repeating: 0, count: n); for f in order.prefix(k) { z[f] = 1 }; masks.append(z)
        }
        let p = problem.scores(count: masks.count) { problem.features.perturbed(inputs: problem.inputs, baselines: problem.baselines, masks: masks[$0]) }.map(exp)
        func auc(_ ys: ArraySlice<Double>) -> Double {
            let y = Array(ys)
            return zip(y, y.dropFirst()).reduce(0) { $0 + ($1.0 + $1.1) / 2 } / Double(y.count - 1)
        }
        return (auc(p[0...steps]), auc(p[(steps + 1)...]))
    }

    /// Features sorted by decreasing score (ties keep index order).
    static func order(_ scores: [Double]) -> [Int] { scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) } }

    // MARK: Sanity

    /// Cascade stages, top first: the names of the parameters each stage re-initialises.
    func randomizationStages() -> [(name: String, parameters: [String])] {
        let names = model.parameters.map(\.name)
        func with(_ prefix: String) -> [String] { names.filter { $0.hasPrefix(prefix) } }
        var stages: [(String, [String])] = [("head", with("head.") + with("shared.norm."))]
        for i in (0..<model.config.sharedLayers).reversed() { stages.append(("shared.\(i)", with("shared.\(i).")) ) }
        if let c = model.config.image { for i in (0..<c.encoderLayers).reversed() { stages.append(("image.enc.\(i)", with("image.enc.\(i).")) ) } }
        if let a = model.config.audio { for i in (0..<a.encoderLayers).reversed() { stages.append(("audio.enc.\(i)", with("audio.enc.\(i).")) ) } }
        let covered = Set(stages.flatMap { $0.1 })
        stages.append(("embeddings", names.filter { !covered.contains($0) }))
        return stages
    }

    /// Models with the cascade applied up to each stage (fresh initialisation from `seed`).
    func cascade(seed: UInt64) -> [(name: String, model: CaptionModel)] {
        let random = CaptionModel(config: model.config, vocabulary: model.vocabulary, parameters: .random(seed: seed), heads: model.headLayout)
        let fresh = Dictionary(uniqueKeysWithValues: random.parameters.map { ($0.name, $0.tensor) })
        var tensors = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.tensor.copy()) })
        return randomizationStages().map { stage in
            for name in stage.parameters { tensors[name] = fresh[name]!.copy() }
            let m = CaptionModel(config: model.config, vocabulary: model.vocabulary, parameters: .sharing(tensors), heads: model.headLayout)
            m.setRequiresGrad(false)
            return (stage.name, m)
        }
    }

    /// Per-patch (or per-audio-token) attribution magnitude, for rank comparisons.
    func magnitudes(_ e: WordExplanation, _ c: Case) -> [Double] {
        if c.word.modality == "audio" {
            let a = model.config.audio!, v = e.audio!.scalars
            var out = [Double](repeating: 0, count: a.tokenCount)
            for t in 0..<a.frameCount { for m in 0..<a.nMels { out[t / a.frameStack] += abs(Double(v[t * a.nMels + m])) } }
            return out
        }
        return patchSums(e.positionValues(.image).map(abs))
    }

    // MARK: Run

    public func run(progress: ((Int, Int, String) -> Void)? = nil) throws -> EvaluationReport {
        let cases = try cases()
        let explainer = Explainer(model: model)
        var rng = SplitMix64(seed: options.settings.seed &+ 1000)
        // Random-order reference curves, once per word.
        let randomCurves = cases.map { c -> (Double, Double) in
            let n = c.word.modality == "audio" ? model.config.audio!.tokenCount : model.config.image!.patchCount
            let runs = (0..<3).map { _ -> (Double, Double) in
                var order = Array(0..<n); order.shuffle(using: &rng)
                return curves(c, order: order)
            }
            return (runs.map(\.0).reduce(0, +) / 3, runs.map(\.1).reduce(0, +) / 3)
        }
        let stages = cascade(seed: options.settings.seed &+ 7)
        let sanityCases = Array(cases.prefix(options.sanityWords))
        let total = options.methods.count * (cases.count + sanityCases.count * (stages.count + 1)) + (options.causal ? cases.count : 0)
            + (options.mmShapSamples > 0 ? cases.count : 0)
        var done = 0
        var reports: [MethodReport] = []
        for method in options.methods {
            var r = MethodReport(method: method.rawValue)
            var milliseconds: [Double] = []
            var gaps: [Double] = []
            var sanityBase: [WordExplanation] = []
            for (i, c) in cases.enumerated() {
                let e = explainer.explain(image: c.image, audio: c.audio, caption: c.caption, wordIndex: c.word.index,
                                          method: method, settings: options.settings)
                milliseconds.append(e.milliseconds)
                if let gap = e.diagnostics["completeness_gap"], let fx = e.diagnostics["f_x"], let fb = e.diagnostics["f_baseline"], fx != fb {
                    gaps.append(abs(gap) / abs(fx - fb))
                }
                // Evidence per feature of the word's modality: patches (from pixels) or audio tokens.
                let (evidence, _, order, hit) = pointing(e, c)
                if let mask = c.mask, let evidence, let hit {
                    r.pointing.append(hit)
                    r.pointingByWord[c.word.word, default: []].append(hit)
                    r.pointingByObjects[c.objects > 1 ? "several objects" : "one object", default: []].append(hit)
                    let all = evidence.reduce(0, +)
                    r.massInside.append(all > 0 ? zip(evidence, mask).reduce(0) { $0 + ($1.1 ? $1.0 : 0) } / all : 0)
                } else if let hit {
                    r.audioPointing.append(hit)
                }
                if model.config.image != nil && model.config.audio != nil {
                    let m = e.magnitudes(modalities: modalityOrder)
                    let right = c.word.modality == "audio" ? Modality.audio : .image, other: Modality = right == .audio ? .image : .audio
                    r.modality.append((m[right] ?? 0) > (m[other] ?? 0) ? 1 : 0)
                }
                let (deletion, insertion) = curves(c, order: order)
                if i < sanityCases.count { sanityBase.append(e) }   // reused as the sanity reference
                r.deletion.append(deletion); r.insertion.append(insertion)
                r.randomDeletion.append(randomCurves[i].0); r.randomInsertion.append(randomCurves[i].1)
                done += 1; progress?(done, total, method.rawValue)
            }
            // Sanity: self-agreement and the randomisation cascade.
            var reseeded = options.settings
            reseeded.seed = options.settings.seed &+ 1
            for (c, base) in zip(sanityCases, sanityBase) {
                let reference = magnitudes(base, c)
                let again: WordExplanation
                if method.isStochastic {
                    again = explainer.explain(image: c.image, audio: c.audio, caption: c.caption, wordIndex: c.word.index, method: method, settings: reseeded)
                } else {
                    var noise = SplitMix64(seed: 99)
                    let noisyImage = c.image.map { $0 + Tensor.normal($0.shape, std: 0.02, using: &noise) }
                    let noisyAudio = c.audio.map { $0 + Tensor.normal($0.shape, std: 0.02, using: &noise) }
                    again = explainer.explain(image: noisyImage, audio: noisyAudio, caption: c.caption, wordIndex: c.word.index, method: method, settings: options.settings)
                }
                r.selfAgreement.append(spearman(reference, magnitudes(again, c)))
                done += 1; progress?(done, total, method.rawValue)
                for (s, stage) in stages.enumerated() {
                    let randomized = Explainer(model: stage.model).explain(image: c.image, audio: c.audio, caption: c.caption,
                                                                            wordIndex: c.word.index, method: method, settings: options.settings)
                    if r.cascade.count <= s { r.cascade.append(CascadeStage(stage: stage.name, correlations: [])) }
                    r.cascade[s].correlations.append(spearman(reference, magnitudes(randomized, c)))
                    done += 1; progress?(done, total, method.rawValue)
                }
            }
            r.medianMilliseconds = median(milliseconds)
            r.completenessGap = gaps.isEmpty ? nil : gaps.reduce(0, +) / Double(gaps.count)
            reports.append(r)
        }
        if options.causal {
            var r = causalReport(cases) { done += 1; progress?(done, total, "causal-patching") }
            r.randomDeletion = cases.indices.map { randomCurves[$0].0 }; r.randomInsertion = cases.indices.map { randomCurves[$0].1 }
            reports.append(r)
        }
        let mm = options.mmShapSamples > 0 ? mmShap(cases) { done += 1; progress?(done, total, "mm-shap") } : nil
        return EvaluationReport(dataset: dataset.directory.path, split: options.split, examples: Set(cases.map(\.example.imageId)).count,
                                words: cases.count, sanityWords: sanityCases.count, steps: options.steps,
                                fill: "baseline: mid-grey image (0 after normalisation), log-mel 0, zero token embedding",
                                methods: reports, mmShap: mm)
    }

    /// The causal pointing game: for each word, its own modality's input is corrupted
    /// (``CausalCorruption``) and each image token (or audio token) is restored alone at the encoder
    /// output (``CausalPatching``, layer "out"); a hit is when the token that restores the most of
    /// log p(word) overlaps the object's mask (the audio word's span). The restored shares also
    /// order the features for the deletion/insertion curves. No sanity checks (it is not an
    /// attribution method).
    func causalReport(_ cases: [Case], step: () -> Void) -> MethodReport {
        var r = MethodReport(method: "causal-patching")
        var milliseconds: [Double] = []
        for (i, c) in cases.enumerated() {
            let began = Date()
            let modality: Modality = c.word.modality == "audio" ? .audio : .image
            var tracer = CausalPatching(model: model, image: c.image, audio: c.audio, caption: c.caption, wordIndex: c.word.index)
            tracer.batchSize = options.settings.batchSize
            let result = tracer.run(corruption(c, modality, seed: options.settings.seed &+ UInt64(i)), layers: ["out"])
            milliseconds.append(Date().timeIntervalSince(began) * 1000)
            let scores = (result.row("out", modality) ?? []).map { $0 ?? 0 }
            let order = Self.order(scores), top = order[0]
            if modality == .image, let mask = c.mask {
                let hit: Double = patchOverlapsMask(top, mask) ? 1 : 0
                r.pointing.append(hit)
                r.pointingByWord[c.word.word, default: []].append(hit)
                r.pointingByObjects[c.objects > 1 ? "several objects" : "one object", default: []].append(hit)
            } else if let span = c.word.span {
                r.audioPointing.append(tokenOverlapsSpan(top, span) ? 1 : 0)
            }
            let (deletion, insertion) = curves(c, order: order)
            r.deletion.append(deletion); r.insertion.append(insertion)
            step()
        }
        r.medianMilliseconds = median(milliseconds)
        return r
    }

    /// MM-SHAP (Parcalabescu & Frank 2023): each modality's share of the total |Shapley value|,
    /// Σ|φ_m| / Σ|φ|, from KernelSHAP with the image and the audio cut into the same number of
    /// features (``balancedCells(imageSize:frames:)``), so neither modality's share grows
    /// just because it has more features; text keeps one feature per decoder token (`<bos>` and the
    /// words before the target). Also reported: how often the word's own modality (image or audio)
    /// gets the larger share, beside each method's `modality_accuracy`.
    func mmShap(_ cases: [Case], step: () -> Void) -> MMShapReport {
        let explainer = Explainer(model: model)
        var settings = options.settings
        settings.perturbationSamples = options.mmShapSamples
        let (imageCell, audioCell) = Self.balancedCells(imageSize: model.config.image?.size, frames: model.config.audio?.frameCount)
        settings.features.imageCell = imageCell; settings.features.audioCell = audioCell
        settings.features.modalities = Set(Modality.allCases)
        var shares: [Modality: [Double]] = [:], own: [Double] = []
        for c in cases {
            let e = explainer.explain(image: c.image, audio: c.audio, caption: c.caption, wordIndex: c.word.index, method: .kernelShap, settings: settings)
            let m = e.magnitudes(modalities: modalityOrder), total = m.values.reduce(0, +)
            for (modality, v) in m { shares[modality, default: []].append(total > 0 ? v / total : 0) }
            if model.config.image != nil && model.config.audio != nil {
                let right: Modality = c.word.modality == "audio" ? .audio : .image, other: Modality = right == .audio ? .image : .audio
                own.append((m[right] ?? 0) > (m[other] ?? 0) ? 1 : 0)
            }
            step()
        }
        var features: [String: Int] = [:]
        if let c = model.config.image { let side = (c.size + settings.features.imageCell! - 1) / settings.features.imageCell!; features["image"] = side * side }
        if let a = model.config.audio { features["audio"] = (a.frameCount + settings.features.audioCell! - 1) / settings.features.audioCell! }
        return MMShapReport(shares: Dictionary(uniqueKeysWithValues: shares.map { ($0.key.rawValue, $0.value.reduce(0, +) / Double(max(1, $0.value.count))) }),
                            modalityAccuracy: MethodReport.mean(own), features: features, samples: options.mmShapSamples, words: cases.count)
    }

    /// Feature sizes giving the image (a grid of ⌈S/c⌉² cells) and the audio (⌈T/a⌉ segments) the
    /// same number of features: the largest count up to 25 that both can have exactly, else about
    /// 16 each (a 4×4 grid).
    static func balancedCells(imageSize: Int?, frames: Int?) -> (image: Int?, audio: Int?) {
        func ceil(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
        guard let s = imageSize else { return (nil, frames.map { max(1, ceil($0, 16)) }) }
        guard let t = frames else { return (max(1, ceil(s, 4)), nil) }
        for n in stride(from: 25, through: 4, by: -1) {
            guard let c = (1...s).first(where: { ceil(s, $0) * ceil(s, $0) == n }), let a = (1...t).first(where: { ceil(t, $0) == n }) else { continue }
            return (c, a)
        }
        return (max(1, ceil(s, 4)), max(1, ceil(t, 16)))
    }

    /// The corrupted input for a word of `modality`.
    func corruption(_ c: Case, _ modality: Modality, seed: UInt64) -> Corruption {
        switch options.causalCorruption {
        case .noise: return .noise(modalities: [modality], scale: 3, seed: seed)
        case .removal:
            if modality == .image, let image = c.image, let mask = c.mask {
                // The object's pixels take the mean colour of the rest of the image.
                return .image(Tensor(CausalCorruption.fillingMasked(image.scalars, width: image.shape[2], masked: mask), shape: image.shape))
            }
            if modality == .audio, let audio = c.audio, let span = c.word.span, let a = model.config.audio {
                // The word's frames take the clip's mean log-mel frame outside the span.
                let seconds = Double(a.hop) / Double(a.sampleRate)
                let inside = (0..<audio.shape[0]).map { t in Double(t) * seconds < span[1] && span[0] < Double(t + 1) * seconds }
                return .audio(Tensor(CausalCorruption.fillingMasked(audio.scalars, width: audio.shape[1], masked: inside), shape: audio.shape))
            }
            return .noise(modalities: [modality], scale: 3, seed: seed)
        }
    }

    var modalityOrder: [Modality] { (model.config.image != nil ? [.image] : []) + (model.config.audio != nil ? [.audio] : []) + [.text] }
}

/// How the causal pointing game corrupts a word's input.
public enum CausalCorruption: String, CaseIterable, Sendable {
    /// The named object's pixels (the spoken word's frames) replaced by the mean of the rest of the
    /// image (clip): the same scene without the evidence.
    case removal
    /// Gaussian noise over the whole input of the word's modality, 3× its std.
    case noise

    /// ``removal`` on `values`, rows of `width` (pixels of C channels, frames of n_mels bands):
    /// every row where `masked` is true takes the per-column mean of the other rows (0 when every
    /// row is masked). Also what `patch --corrupt-image` gets in the demo.
    public static func fillingMasked(_ values: [Float], width: Int, masked: [Bool]) -> [Float] {
        precondition(values.count == masked.count * width, "\(values.count) values are not \(masked.count) rows of \(width)")
        var fill = [Double](repeating: 0, count: width), n = 0.0
        for (r, inside) in masked.enumerated() where !inside { n += 1; for c in 0..<width { fill[c] += Double(values[r * width + c]) } }
        var out = values
        for (r, inside) in masked.enumerated() where inside { for c in 0..<width { out[r * width + c] = Float(fill[c] / max(n, 1)) } }
        return out
    }
}

/// A per-pixel map (S·S, row-major) summed over each model patch → [g·g], patch r·g + c.
func sumPerPatch(_ pixels: [Double], _ c: ModelConfig.Image) -> [Double] {
    let g = c.size / c.patch
    var out = [Double](repeating: 0, count: g * g)
    for (i, v) in pixels.enumerated() { out[(i / c.size / c.patch) * g + (i % c.size) / c.patch] += v }
    return out
}

/// A per-frame series (T) summed over each audio token's frame_stack frames → [T / frame_stack].
func sumPerAudioToken(_ frames: [Double], _ a: ModelConfig.Audio) -> [Double] {
    var out = [Double](repeating: 0, count: a.tokenCount)
    for (t, v) in frames.enumerated() { out[t / a.frameStack] += v }
    return out
}

/// Spearman rank correlation (ties get their average rank); 0 when either side is constant.
public func spearman(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "rank correlation needs equal lengths")
    func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        return r
    }
    let (ra, rb) = (ranks(a), ranks(b))
    let n = Double(a.count), ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
    var cov = 0.0, va = 0.0, vb = 0.0
    for i in ra.indices { cov += (ra[i] - ma) * (rb[i] - mb); va += (ra[i] - ma) * (ra[i] - ma); vb += (rb[i] - mb) * (rb[i] - mb) }
    return va > 0 && vb > 0 ? cov / (va * vb).squareRoot() : 0
}

func median(_ x: [Double]) -> Double {
    guard !x.isEmpty else { return .nan }
    let s = x.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

public struct CascadeStage: Codable, Sendable {
    public var stage: String
    public var correlations: [Double]
    public var mean: Double { correlations.isEmpty ? .nan : correlations.reduce(0, +) / Double(correlations.count) }
}

/// Per-method results: raw per-word values plus the summaries written to JSON.
public struct MethodReport: Sendable {
    public var method: String
    public var pointing: [Double] = [], massInside: [Double] = [], audioPointing: [Double] = [], modality: [Double] = []
    /// Pointing-game hits per grounded word (which kinds of words a method localises).
    public var pointingByWord: [String: [Double]] = [:]
    /// Pointing-game hits split by whether the caption mentions one object or several.
    public var pointingByObjects: [String: [Double]] = [:]
    public var deletion: [Double] = [], insertion: [Double] = [], randomDeletion: [Double] = [], randomInsertion: [Double] = []
    public var selfAgreement: [Double] = []
    public var cascade: [CascadeStage] = []
    public var medianMilliseconds = 0.0
    public var completenessGap: Double?
    init(method: String) { self.method = method }

    public static func mean(_ x: [Double]) -> Double? { x.isEmpty ? nil : x.reduce(0, +) / Double(x.count) }
    public var pointingGame: Double? { Self.mean(pointing) }
    public var randomizedCorrelation: Double? { cascade.last.map(\.mean) }
    public var selfAgreementMean: Double? { Self.mean(selfAgreement) }
    /// Passes the randomisation check: the fully randomised correlation is at least 0.3 below the
    /// self-agreement.
    public var passesRandomization: Bool? {
        guard let r = randomizedCorrelation, let s = selfAgreementMean else { return nil }
        return r <= s - 0.3
    }
}

extension MethodReport: Encodable {
    enum Keys: String, CodingKey {
        case method, pointingGame = "pointing_game", imageWords = "image_words", massInside = "mass_inside"
        case audioPointingGame = "audio_pointing_game", audioWords = "audio_words", modalityAccuracy = "modality_accuracy"
        case deletionAUC = "deletion_auc", insertionAUC = "insertion_auc", randomDeletionAUC = "random_deletion_auc", randomInsertionAUC = "random_insertion_auc"
        case selfAgreement = "self_agreement", randomization = "randomization", randomizedCorrelation = "randomized_correlation"
        case passesRandomization = "passes_randomization", completenessGap = "completeness_gap_relative", medianMilliseconds = "median_ms"
        case pointingByWord = "pointing_by_word", pointingByObjects = "pointing_by_objects"
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(method, forKey: .method)
        try c.encodeIfPresent(pointingGame, forKey: .pointingGame); try c.encode(pointing.count, forKey: .imageWords)
        try c.encodeIfPresent(Self.mean(massInside), forKey: .massInside)
        try c.encodeIfPresent(Self.mean(audioPointing), forKey: .audioPointingGame); try c.encode(audioPointing.count, forKey: .audioWords)
        try c.encodeIfPresent(Self.mean(modality), forKey: .modalityAccuracy)
        try c.encodeIfPresent(Self.mean(deletion), forKey: .deletionAUC); try c.encodeIfPresent(Self.mean(insertion), forKey: .insertionAUC)
        try c.encodeIfPresent(Self.mean(randomDeletion), forKey: .randomDeletionAUC); try c.encodeIfPresent(Self.mean(randomInsertion), forKey: .randomInsertionAUC)
        try c.encodeIfPresent(selfAgreementMean, forKey: .selfAgreement)
        try c.encode(Dictionary(uniqueKeysWithValues: cascade.map { ($0.stage, $0.mean) }), forKey: .randomization)
        try c.encodeIfPresent(randomizedCorrelation, forKey: .randomizedCorrelation)
        try c.encodeIfPresent(passesRandomization, forKey: .passesRandomization)
        try c.encodeIfPresent(completenessGap, forKey: .completenessGap)
        try c.encode(medianMilliseconds, forKey: .medianMilliseconds)
        try c.encode(pointingByWord.mapValues { ["accuracy": Self.mean($0) ?? 0, "words": Double($0.count)] }, forKey: .pointingByWord)
        try c.encode(pointingByObjects.mapValues { ["accuracy": Self.mean($0) ?? 0, "words": Double($0.count)] }, forKey: .pointingByObjects)
    }
}

public struct EvaluationReport: Encodable, Sendable {
    public var dataset: String, split: String
    public var examples: Int, words: Int, sanityWords: Int, steps: Int
    public var fill: String
    public var methods: [MethodReport]
    public var mmShap: MMShapReport?
    enum CodingKeys: String, CodingKey { case dataset, split, examples, words, sanityWords = "sanity_words", steps = "curve_steps", fill, methods, mmShap = "mm_shap" }
}

/// MM-SHAP shares per modality (mean over words), with the balanced feature counts used.
public struct MMShapReport: Encodable, Sendable {
    public var shares: [String: Double]
    /// How often the word's own modality (image or audio) has the larger share; nil without both.
    public var modalityAccuracy: Double?
    public var features: [String: Int]
    public var samples: Int, words: Int
    enum CodingKeys: String, CodingKey { case shares, modalityAccuracy = "modality_accuracy", features, samples, words }
}

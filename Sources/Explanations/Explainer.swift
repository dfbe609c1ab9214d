import Datasets
import Engine
import Foundation
import Models
import Probes

/// The `explain` methods of CLI.md.
public enum ExplainMethod: String, CaseIterable, Sendable {
    case attention, rollout, relevancy
    case gradient, inputXGradient = "input-x-gradient", smoothgrad, integratedGradients = "integrated-gradients"
    case occlusion, ablation, lime, kernelShap = "kernel-shap", rise

    public var usesAttention: Bool { [.attention, .rollout, .relevancy].contains(self) }
    public var usesFeatures: Bool { [.ablation, .lime, .kernelShap].contains(self) }
    public var isStochastic: Bool { [.smoothgrad, .lime, .kernelShap, .rise].contains(self) }
    public var isGradient: Bool { [.gradient, .inputXGradient, .smoothgrad, .integratedGradients].contains(self) }
}

/// Method settings (CLI flags); `nil` means the method's default.
public struct ExplainSettings: Sendable {
    /// Integrated-gradients steps (default 50).
    public var steps: Int?
    /// Samples: SmoothGrad 50, LIME 1000, KernelSHAP 1000, RISE 2000.
    public var samples: Int?
    /// Samples for the perturbation samplers only (LIME, KernelSHAP, RISE); overrides `samples`
    /// for them and leaves SmoothGrad's default alone.
    public var perturbationSamples: Int?
    public var seed: UInt64 = 0
    public var integration: QuadratureRule = .gaussLegendre
    /// SmoothGrad noise as a fraction of each input's range.
    public var sigma: Float = 0.15
    public var features = FeatureGrid()
    /// Occlusion window and stride for the image in pixels (default: patch, half a patch) and audio in
    /// frames (default: frame_stack, half of it); text is occluded one token at a time.
    public var imageWindow: Int?, imageStride: Int?, audioWindow: Int?, audioStride: Int?
    /// Points per batched forward pass (the most; see `memoryBudget`).
    public var batchSize = 64
    /// Batches shrink below `batchSize` when `workers` of them would not fit (nil: no limit).
    public var memoryBudget: MemoryBudget? = nil
    /// Threads evaluating parts of each batch (the model is read-only in inference, so safe).
    public var workers = defaultWorkers
    public init() {}
}

/// One explained word: attributions in the model's input space plus everything explanation.json
/// records.
public struct WordExplanation {
    public var wordIndex: Int
    public var word: String
    /// log p(word | inputs, words before it).
    public var logprob: Double
    /// The contrasted word and its log-probability, when the target was log p(word) − log p(foil).
    public var foil: String? = nil, foilLogprob: Double? = nil
    /// Entropy (nats) of the next-word distribution at the word's position.
    public var entropy: Double = .nan
    /// p(word).
    public var probability: Double { exp(logprob) }
    public var method: ExplainMethod
    /// [S, S, C], [T, n_mels], and [K] (decoder positions: `<bos>` and the words before the target).
    /// Gradient methods give every element its own value and a text position the sum over its
    /// embedding dimensions; the other methods give a value per position (patch, frame, token)
    /// that every element of it carries (``perPosition``), and a text position that value.
    public var image: Tensor?, audio: Tensor?
    public var text: [Float]
    /// Whether values are per position, repeated over channels / mel bands / embedding dimensions.
    public var perPosition: Bool
    /// Per-modality totals: the sum over elements (gradient methods) or over positions/features.
    public var totals: [Modality: Double]
    /// Per-token values for attention methods and feature values for feature methods (diagnostics).
    public var featureValues: [Double]?
    public var features: FeatureSpace?
    /// Attention methods: the fusion maps [layers, heads, queries, keys].
    public var attention: Tensor?
    public var signed: Bool
    public var parameters: [String: ParameterValue]
    public var diagnostics: [String: Double]
    public var milliseconds: Double
}

/// Explains caption words of one model with any method.
public struct Explainer {
    public let model: CaptionModel

    /// Parameters stop recording gradients (explanations differentiate with respect to inputs only).
    public init(model: CaptionModel) {
        model.setRequiresGrad(false)
        self.model = model
    }

    /// Explains word `wordIndex` (1-based) of `caption` given the inputs ([S, S, C], [T, n_mels]):
    /// its log-probability, or with `foil` (a token id) log p(word) − log p(foil). Attention and
    /// rollout read attention maps that do not depend on the word, so they take no foil.
    public func explain(image: Tensor?, audio: Tensor?, caption: [Int32], wordIndex: Int, method: ExplainMethod,
                        settings: ExplainSettings = ExplainSettings(), foil: Int32? = nil,
                        progress: ((Int, Int) -> Void)? = nil) -> WordExplanation {
        precondition(foil == nil || (method != .attention && method != .rollout), "\(method.rawValue) does not depend on the word, so it has no contrastive form")
        let start = DispatchTime.now().uptimeNanoseconds
        let target = CaptionTarget(model: model, image: image, audio: audio, caption: caption, wordIndex: wordIndex, foil: foil)
        var result: WordExplanation
        if method.usesAttention {
            result = attentionExplanation(target, method)
        } else {
            var problem = target.problem(features: settings.features, batchSize: settings.batchSize, workers: settings.workers, progress: progress)
            let batched = method == .integratedGradients || method == .smoothgrad || method.usesFeatures || method == .rise
            if batched, let budget = settings.memoryBudget { problem.fitBatchSize(to: budget) }
            let attribution = attributionMethod(method, settings, target).attribute(problem)
            let textIndex = target.input(.text)!, d = model.config.dModel
            let textElements = attribution.values[textIndex].scalars
            let perPosition = !method.isGradient
            // Per position: the value its elements carry (all equal); gradients: the sum over dimensions.
            let text = (0..<wordIndex).map { k in perPosition ? textElements[k * d] : textElements[(k * d)..<((k + 1) * d)].reduce(0, +) }
            // Per-position methods are summarised per feature (a feature's value, or the mean over a
            // feature's positions for occlusion and RISE); gradient methods per element.
            let space = problem.features
            let featureValues = perPosition ? (attribution.featureValues ?? space.cellMeans(attribution.values)) : nil
            var totals: [Modality: Double] = [:]
            for (i, m) in target.modalities.enumerated() {
                totals[m] = featureValues.map { phi in space.features(ofInput: i).reduce(0) { $0 + phi[$1] } }
                    ?? attribution.values[i].scalars.reduce(0.0) { $0 + Double($1) }
            }
            result = WordExplanation(wordIndex: wordIndex, word: target.word, logprob: 0, method: method,
                                     image: target.input(.image).map { attribution.values[$0] },
                                     audio: target.input(.audio).map { attribution.values[$0] }, text: text,
                                     perPosition: perPosition, totals: totals,
                                     featureValues: featureValues, features: perPosition ? space : nil,
                                     attention: nil, signed: attribution.signed, parameters: attribution.parameters,
                                     diagnostics: attribution.diagnostics, milliseconds: 0)
            result.parameters["baseline"] = .text("zeros")
            if batched { result.parameters["batch_size"] = .number(Double(problem.batchSize)) }
        }
        let next = target.nextWord()
        result.logprob = next.logprob
        result.entropy = next.entropy
        if let foil {
            result.foil = model.vocabulary.tokens[Int(foil)]
            result.foilLogprob = next.foilLogprob
        }
        result.milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        return result
    }

    func attributionMethod(_ method: ExplainMethod, _ s: ExplainSettings, _ target: CaptionTarget) -> any AttributionMethod {
        switch method {
        case .gradient: return Saliency()
        case .inputXGradient: return InputXGradient()
        case .smoothgrad: return SmoothGrad(samples: s.samples ?? 50, sigma: s.sigma, seed: s.seed)
        case .integratedGradients: return IntegratedGradients(steps: s.steps ?? 50, rule: s.integration)
        case .ablation: return FeatureAblation()
        case .lime: return LIME(samples: s.perturbationSamples ?? s.samples ?? 1000, seed: s.seed)
        case .kernelShap: return KernelSHAP(samples: s.perturbationSamples ?? s.samples ?? 1000, seed: s.seed)
        case .rise: return RISE(samples: s.perturbationSamples ?? s.samples ?? 2000, seed: s.seed)
        case .occlusion:
            let config = model.config
            return Occlusion(windows: target.modalities.map { m -> [Int]? in
                switch m {
                case .image: let w = s.imageWindow ?? config.image!.patch; return [w, w]
                case .audio: return [s.audioWindow ?? config.audio!.frameStack]
                case .text: return [1]
                }
            }, strides: target.modalities.map { m -> [Int]? in
                switch m {
                case .image: let w = s.imageStride ?? max(1, (s.imageWindow ?? config.image!.patch) / 2); return [w, w]
                case .audio: return [s.audioStride ?? max(1, (s.audioWindow ?? config.audio!.frameStack) / 2)]
                case .text: return [1]
                }
            })
        case .attention, .rollout, .relevancy: preconditionFailure("attention methods do not use the attribution protocol")
        }
    }

    func attentionExplanation(_ target: CaptionTarget, _ method: ExplainMethod) -> WordExplanation {
        let graph = AttentionGraph(target, gradients: method == .relevancy)
        let relevance: AttentionGraph.TokenRelevance
        switch method {
        case .attention: relevance = graph.rawAttention()
        case .rollout: relevance = graph.rollout()
        default: relevance = graph.relevancy()
        }
        // Token values onto input elements: a patch's value on its pixels, an audio token's on its frames.
        let features = target.featureSpace(FeatureGrid())   // patches, audio tokens, text tokens
        let tokenValues = relevance.image + relevance.audio + relevance.text
        let spread = features.spread(tokenValues)
        let fusion = graph.fusionMaps
        let q = fusion.first.map { $0.queries.count } ?? 0, k = fusion.first.map { $0.keys.count } ?? 0
        // [layers, n_heads, q, k] by original head index; a head-pruned model's removed heads are all 0.
        let h = model.config.nHeads
        var values = [Float](repeating: 0, count: fusion.count * h * q * k)
        for (l, map) in fusion.enumerated() {
            for (local, head) in map.headIndices.enumerated() {
                for i in 0..<(q * k) { values[((l * h + head) * q * k) + i] = map.probabilities[local * q * k + i] }
            }
        }
        let attention = Tensor(values, shape: [fusion.count, h, q, k])
        return WordExplanation(wordIndex: target.wordIndex, word: target.word, logprob: graph.score, method: method,
                               image: target.input(.image).map { spread[$0] }, audio: target.input(.audio).map { spread[$0] },
                               text: relevance.text.map(Float.init), perPosition: true,
                               totals: [.image: relevance.image.reduce(0, +), .audio: relevance.audio.reduce(0, +), .text: relevance.text.reduce(0, +)]
                                   .filter { target.input($0.key) != nil },
                               featureValues: tokenValues, features: features, attention: attention, signed: false,
                               parameters: ["heads": .text(method == .relevancy ? "gradient-weighted mean" : "mean"),
                                            "layers": .text(method == .attention ? "last fusion layer" : "all")],
                               diagnostics: [:], milliseconds: 0)
    }
}

extension WordExplanation {
    /// One value per spatial position of a modality's input — image pixels [S·S] (over channels),
    /// audio frames [T] (over mel bands): the sum over the trailing axis for gradient methods, the
    /// value all its elements carry for per-position methods. What the pictures show and what the
    /// evaluation ranks.
    public func positionValues(_ modality: Modality) -> [Double] {
        guard let t = modality == .image ? image : (modality == .audio ? audio : nil) else { return text.map(Double.init) }
        let v = t.scalars, trailing = t.shape.last!
        return (0..<(v.count / trailing)).map { p in
            (0..<trailing).reduce(0.0) { $0 + Double(v[p * trailing + $1]) } / (perPosition ? Double(trailing) : 1)
        }
    }

    /// Sum of attribution magnitudes per modality, in the units of ``totals``: over features
    /// (patches, audio tokens, text tokens) for per-position methods, over elements for gradients.
    /// `modalities` is the model's input order (image, audio, text; absent ones skipped).
    public func magnitudes(modalities: [Modality]) -> [Modality: Double] {
        var out: [Modality: Double] = [:]
        if let phi = featureValues, let space = features {
            for (i, m) in modalities.enumerated() { out[m] = space.features(ofInput: i).reduce(0) { $0 + abs(phi[$1]) } }
        } else {
            if let t = image { out[.image] = t.scalars.reduce(0) { $0 + abs(Double($1)) } }
            if let t = audio { out[.audio] = t.scalars.reduce(0) { $0 + abs(Double($1)) } }
            out[.text] = text.reduce(0) { $0 + abs(Double($1)) }
        }
        return out
    }
}

import ArgumentParser
import Datasets
import Engine
import Explanations
import Foundation
import Models
import Probes

extension ExplainMethod: ExpressibleByArgument {}
extension QuadratureRule: ExpressibleByArgument {}

/// `glassbox explain` (CLI.md): why the model said caption word K.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain caption words: attention maps, gradients or perturbations, as .npy, PNG and HTML.",
        discussion: """
            Explains the log-probability of caption word K (1-based) given the inputs and the words before it.
            METHODS: \(ExplainMethod.allCases.map(\.rawValue).joined(separator: ", ")).
            Example: glassbox explain --model runs/shapes/model.safetensors --image data/shapes/images/000010.png --word 3 --method integrated-gradients --out runs/explain
            """)

    @Option(help: "Model checkpoint (.safetensors).") var model: String
    @Option(help: "Input image (PNG or JPEG).") var image: String?
    @Option(help: "Input audio (WAV, FLAC, Ogg/Vorbis, Opus, MP3, …).") var audio: String?
    @Option(help: "Caption to explain (default: the model's greedy caption).") var caption: String?
    @Option(help: "Word K to explain, 1-based (default: every word).") var word: Int?
    @Option(help: "Contrastive: explain log p(word) - log p(FOIL), why the word rather than FOIL (not for attention, rollout).") var foil: String?
    @Option(help: "Attribution method.") var method: ExplainMethod
    @Option(help: "Output folder.") var out: String
    @Option(help: "Integrated-gradients steps (default 50).") var steps: Int?
    @Option(help: "Samples for smoothgrad (50), lime (1000), kernel-shap (1000), rise (2000).") var samples: Int?
    @Option(help: "Random seed for stochastic methods.") var seed: UInt64 = 0
    @Option(help: "Integration rule: gauss-legendre, riemann-left, riemann-right, riemann-middle, riemann-trapezoid.") var igMethod: QuadratureRule = .gaussLegendre
    @Option(help: "SmoothGrad noise level, a fraction of each input's range.") var sigma: Float = 0.15
    @Option(help: "Image features: N×N grid cells (default: one per patch).") var grid: Int?
    @Option(help: "Audio features: segments of this many log-mel frames (default: one per audio token).") var audioSegment: Int?
    @Option(help: "Occlusion window on the image, pixels (default: the patch size).") var window: Int?
    @Option(help: "Occlusion stride on the image, pixels (default: half the window).") var stride: Int?
    @Option(help: "Occlusion window on the audio, frames (default: frame_stack).") var audioWindow: Int?
    @Option(help: "Occlusion stride on the audio, frames (default: half the window).") var audioStride: Int?
    @Option(help: "Perturbed inputs evaluated per forward pass (at most; see --memory-limit).") var batchSize = 64
    @OptionGroup var memory: MemoryLimitOption
    @Option(help: "Modalities that get features for perturbation methods (comma-separated: image, audio, text; default all).") var modalities: String?
    @OptionGroup var imageFit: ImageFitOption
    @Option(help: "Longest side of image-WORD.png's panels in pixels, 64…4096 (default 512); the map is drawn over the original picture at its own aspect.")
    var pictureSize = ExplanationFiles.defaultPictureSize

    func run() throws {
        let net = try loadModel(model)
        let settings = try self.settings(net.config)
        try checkOutputFolder(out, flag: "--out")
        try ExplanationFiles.checkDestination(URL(fileURLWithPath: out))
        guard pictureSize >= 64 && pictureSize <= 4096 else { throw UserError("--picture-size must be in 64…4096 pixels, got \(pictureSize)") }
        let (imageBatch, audioBatch, original) = try modelInputs(net.config, image: image, audio: audio, fit: imageFit.resolved(net))   // [1, …]
        let ids = try captionWordIds(net, caption: caption, image: imageBatch, audio: audioBatch)
        let imageInput = imageBatch.map { $0.reshaped(Array($0.shape.dropFirst())) }, audioInput = audioBatch.map { $0.reshaped(Array($0.shape.dropFirst())) }
        let words = net.vocabulary.decode(ids)
        var foilId: Int32? = nil
        if let foil {
            guard method != .attention && method != .rollout else {
                throw UserError("--foil: \(method.rawValue) reads attention maps that do not depend on the word; use relevancy or a gradient or perturbation method")
            }
            guard net.vocabulary.contains(foil), !Vocabulary.specials.contains(foil) || foil == "<eos>" else {
                throw UserError("--foil: unknown word '\(foil)' (not in the model's vocabulary)")
            }
            foilId = net.vocabulary.id(foil)
        }
        let targets: [Int]
        if let word {
            guard word >= 1 && word <= ids.count else { throw UserError("--word must be in 1…\(ids.count) (the caption has \(ids.count) words), got \(word)") }
            targets = [word]
        } else {
            targets = Array(1...ids.count)
        }
        if let foilId, let same = targets.first(where: { ids[$0 - 1] == foilId }) {
            throw UserError("--foil '\(foil!)' is word \(same) itself; a word contrasted with itself explains nothing (choose --word or another foil)")
        }
        let explainer = Explainer(model: net)
        let bar = Progress("explain \(method.rawValue)", total: targets.count)
        var results: [WordExplanation] = []
        for (n, k) in targets.enumerated() {
            var inner: Progress? = nil   // batched evaluations within one word (perturbation methods, IG, SmoothGrad)
            let began = Date()
            results.append(explainer.explain(image: imageInput, audio: audioInput,
                                             caption: ids, wordIndex: k, method: method, settings: settings, foil: foilId) { done, total in
                if inner == nil && total >= 256 { inner = Progress("  word \(k) \(method.rawValue)", total: total, start: began) }
                inner?.update(done)
            })
            bar.update(n + 1, extra: "word \(k) '\(results.last!.word)' \(String(format: "%.0f ms", results.last!.milliseconds))")
        }
        let files = ExplanationFiles(modelPath: model, imagePath: image, audioPath: audio, captionWords: words, explanations: results,
                                     image: imageInput, audio: audioInput, config: net.config,
                                     original: original, fit: imageFit.resolved(net), pictureSize: pictureSize)
        try files.write(to: URL(fileURLWithPath: out))
        let summary = results.map { e in
            "\(e.wordIndex):\(e.word) \(String(format: "%.3f", e.logprob))" + (e.foil.map { " vs \($0) \(String(format: "%.3f", e.foilLogprob ?? .nan))" } ?? "")
        }.joined(separator: ", ")
        print("\(Vocabulary.join(words)) — \(method.rawValue) of \(summary) → \(out)")
    }

    func settings(_ config: ModelConfig) throws -> ExplainSettings {
        var s = ExplainSettings()
        if let steps { guard steps >= (igMethod == .riemannTrapezoid ? 2 : 1) && steps <= 100_000 else { throw UserError("--steps must be in \(igMethod == .riemannTrapezoid ? 2 : 1)…100000, got \(steps)") } }
        if let samples { guard samples >= 2 && samples <= 1_000_000 else { throw UserError("--samples must be in 2…1000000, got \(samples)") } }
        guard sigma >= 0 && sigma.isFinite else { throw UserError("--sigma must be ≥ 0, got \(sigma)") }
        guard batchSize >= 1 && batchSize <= 4096 else { throw UserError("--batch-size must be in 1…4096, got \(batchSize)") }
        s.steps = steps; s.samples = samples; s.seed = seed; s.integration = igMethod; s.sigma = sigma; s.batchSize = batchSize
        s.memoryBudget = try memory.budget()
        if let modalities {
            let present = Set(Modality.allCases.filter { m in m == .text || (m == .image ? config.image != nil : config.audio != nil) })
            let chosen = try modalities.split(separator: ",").map { name -> Modality in
                guard let m = Modality(rawValue: name.trimmingCharacters(in: .whitespaces)), present.contains(m) else {
                    throw UserError("--modalities: '\(name)' is not an input of this model (\(present.map(\.rawValue).sorted().joined(separator: ", ")))")
                }
                return m
            }
            s.features.modalities = Set(chosen)
        }
        if let c = config.image {
            if let grid {
                guard grid >= 1 && grid <= c.size else { throw UserError("--grid must be in 1…\(c.size), got \(grid)") }
                s.features.imageCell = (c.size + grid - 1) / grid
            }
            for (flag, value) in [("--window", window), ("--stride", stride)] {
                if let value { guard value >= 1 && value <= c.size else { throw UserError("\(flag) must be in 1…\(c.size) pixels, got \(value)") } }
            }
            s.imageWindow = window; s.imageStride = stride
        } else if grid != nil || window != nil || stride != nil {
            throw UserError("this model takes no image; drop --grid/--window/--stride")
        }
        if let a = config.audio {
            for (flag, value) in [("--audio-segment", audioSegment), ("--audio-window", audioWindow), ("--audio-stride", audioStride)] {
                if let value { guard value >= 1 && value <= a.frameCount else { throw UserError("\(flag) must be in 1…\(a.frameCount) frames, got \(value)") } }
            }
            s.features.audioCell = audioSegment; s.audioWindow = audioWindow; s.audioStride = audioStride
        } else if audioSegment != nil || audioWindow != nil || audioStride != nil {
            throw UserError("this model takes no audio; drop --audio-segment/--audio-window/--audio-stride")
        }
        return s
    }
}

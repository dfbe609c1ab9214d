import Datasets
import Engine
import Foundation
import Media

/// Reading and writing models as safetensors checkpoints (MODEL.md "File"): every parameter as an
/// F32 tensor under its MODEL.md name, and `__metadata__` with `format` = "glassbox",
/// `glassbox.config` (the config JSON) and `glassbox.vocab` (the vocabulary as a JSON array).
/// Names of pretraining-objective tensors in a checkpoint (MODEL.md "Additions"): a caption model
/// loads a checkpoint holding them and ignores them.
public let pretrainingPrefix = "pretrain."

/// Metadata key of the image fit a model was trained with (``CaptionModel/imageFit``).
public let imageFitKey = "glassbox.image_fit"

extension CaptionModel {
    public func checkpoint() -> SafeTensorsFile {
        let vocab = String(decoding: try! JSONSerialization.data(withJSONObject: vocabulary.tokens, options: [.withoutEscapingSlashes]), as: UTF8.self)
        var metadata = ["format": "glassbox", "glassbox.config": config.json(), "glassbox.vocab": vocab]
        if !headLayout.isEmpty {
            metadata[headLayoutKey] = String(decoding: try! JSONSerialization.data(withJSONObject: headLayout, options: [.sortedKeys]), as: UTF8.self)
        }
        if let imageFit { metadata[imageFitKey] = imageFit.rawValue }
        return SafeTensorsFile(tensors: Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.tensor) }), metadata: metadata)
    }

    /// Writes the checkpoint atomically (temporary file, then rename).
    public func save(to url: URL) throws { try checkpoint().write(to: url) }

    /// Loads a checkpoint, checking its metadata, its config, and that its tensors are exactly the
    /// ones the config implies, with the right shapes. Errors name the file and the problem.
    public static func load(contentsOf url: URL) throws -> CaptionModel {
        try load(SafeTensorsFile.read(contentsOf: url), source: url.lastPathComponent)
    }

    /// A quantised checkpoint (`glassbox.quantization`) is dequantised first (ŵ = q · scale), and a
    /// head-pruned one (`glassbox.heads`) builds its attention modules with the kept heads.
    public static func load(_ quantized: SafeTensorsFile, source: String) throws -> CaptionModel {
        func fail(_ problem: String) -> MediaError { MediaError(source: source, problem: problem) }
        let file = try dequantized(quantized, source: source)
        guard file.metadata["format"] == "glassbox" else { throw fail("not a Glassbox checkpoint (metadata 'format' is not 'glassbox')") }
        guard let configJSON = file.metadata["glassbox.config"] else { throw fail("metadata has no 'glassbox.config'") }
        let config: ModelConfig
        do { config = try JSONDecoder().decode(ModelConfig.self, from: Data(configJSON.utf8)) } catch {
            throw fail("bad 'glassbox.config' (\(describeDecodingError(error)))")
        }
        do { try config.validate() } catch { throw fail("bad 'glassbox.config': \(error)") }
        guard let vocabJSON = file.metadata["glassbox.vocab"],
              let tokens = try? JSONSerialization.jsonObject(with: Data(vocabJSON.utf8)) as? [String] else {
            throw fail("metadata 'glassbox.vocab' is missing or not a JSON array of strings")
        }
        let vocabulary: Vocabulary
        do { vocabulary = try Vocabulary(tokens: tokens) } catch { throw fail("bad 'glassbox.vocab': \(error)") }
        // Every block has tensors of its own: a config with more blocks than the file has tensors
        // lies, and is refused before the layers are built.
        for (key, count) in [("shared_layers", config.sharedLayers), ("image.encoder_layers", config.image?.encoderLayers ?? 0),
                             ("audio.encoder_layers", config.audio?.encoderLayers ?? 0)] where count > file.tensors.count {
            throw fail("'glassbox.config' has \(key) \(count), more blocks than the file's \(file.tensors.count) tensors")
        }
        let layout = try headLayout(file.metadata[headLayoutKey], config: config, fail)
        let fit = try file.metadata[imageFitKey].map { text in
            guard let fit = ImageFit(rawValue: text) else {
                throw fail("metadata '\(imageFitKey)' is '\(text)', not one of \(ImageFit.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return fit
        }
        let source = ParameterSource.checkpoint(file.tensors)
        let model = CaptionModel(config: config, vocabulary: vocabulary, parameters: source, heads: layout)
        model.imageFit = fit
        let names = Set(model.parameters.map(\.name))
        // Pretraining heads (MODEL.md "Additions") belong to a pretraining objective, not to the caption model.
        if let extra = file.tensors.keys.sorted().first(where: { !names.contains($0) && !$0.hasPrefix(pretrainingPrefix) }) {
            throw fail("unexpected tensor '\(extra)' for this config")
        }
        if let problem = source.problems.first { throw fail(problem) }
        for p in model.parameters where !p.tensor.scalars.allSatisfy(\.isFinite) {
            throw fail("tensor '\(p.name)' holds NaN or infinite values")
        }
        return model
    }

    /// Parses `glassbox.heads`: an object of attention module names (of this config) to non-empty,
    /// increasing lists of head indices in 0 ..< n_heads.
    static func headLayout(_ json: String?, config: ModelConfig, _ fail: (String) -> MediaError) throws -> HeadLayout {
        guard let json else { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw fail("metadata '\(headLayoutKey)' is not a JSON object of head lists")
        }
        var modules: [String] = []
        for i in 0..<(config.image?.encoderLayers ?? 0) { modules.append("image.enc.\(i).attn") }
        for i in 0..<(config.audio?.encoderLayers ?? 0) { modules.append("audio.enc.\(i).attn") }
        for i in 0..<config.sharedLayers { modules += config.fusion == .cross ? ["shared.\(i).self", "shared.\(i).cross"] : ["shared.\(i).attn"] }
        var layout: HeadLayout = [:]
        for (name, value) in object {
            guard modules.contains(name) else { throw fail("metadata '\(headLayoutKey)' names '\(name)', not an attention module of this config") }
            guard let heads = value as? [Int], !heads.isEmpty, heads == heads.sorted(), Set(heads).count == heads.count,
                  heads.allSatisfy({ $0 >= 0 && $0 < config.nHeads }) else {
                throw fail("metadata '\(headLayoutKey)': '\(name)' must list increasing head indices in 0..<\(config.nHeads), at least one")
            }
            layout[name] = heads
        }
        return layout
    }

    /// A fresh model of `config` and `vocabulary` (seeded like ``init(config:vocabulary:seed:)``)
    /// that takes every tensor of `file` with its name and shape (`train --init`); `pretrain.*`
    /// tensors are never asked for. Returns the names taken and the names drawn fresh. Throws,
    /// naming the tensor, when one of the checkpoint's tensors has another shape than this
    /// model's tensor of that name.
    public static func initialized(config: ModelConfig, vocabulary: Vocabulary, seed: UInt64, from file: SafeTensorsFile,
                                   source: String) throws -> (model: CaptionModel, taken: [String], fresh: [String]) {
        let parameters = ParameterSource.initializing(from: try dequantized(file, source: source).tensors, seed: seed)
        let model = CaptionModel(config: config, vocabulary: vocabulary, parameters: parameters)
        if let problem = parameters.problems.first { throw MediaError(source: source, problem: problem) }
        return (model, parameters.taken, parameters.fresh)
    }
}

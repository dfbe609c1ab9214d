import Datasets
import Engine
import Foundation
import Media
@testable import Models
import Testing
import TestSupport

/// The Swift model against the PyTorch rebuild from MODEL.md (Scripts/glassbox_torch.py), on
/// checkpoints written by Python (Tests/Fixtures/make_model_fixtures.py): logits, every attention
/// map, and gradients with respect to inputs, token embeddings and parameters.
@Suite struct PyTorchParityTests {
    struct Inputs: Decodable { let image: FixtureArray?; let audio: FixtureArray?; let tokens: FixtureArray }
    struct Fixture: Decodable {
        let inputs: Inputs
        let logits: FixtureArray
        let attention: [String: FixtureArray]
        let cotangent: FixtureArray
        let grad_image: FixtureArray?
        let grad_audio: FixtureArray?
        let grad_token_embeddings: FixtureArray
        let grad_params: [String: FixtureArray]
    }

    static let names = ["cross_image_audio", "concat_image_audio", "cross_image", "concat_audio"]

    @Test(arguments: names)
    func matchesPyTorch(name: String) throws {
        let fixture = try loadFixture(Fixture.self, "model/\(name).json")
        let model = try CaptionModel.load(contentsOf: fixturesDirectory.appendingPathComponent("model/\(name).safetensors"))
        let image = fixture.inputs.image?.tensor, audio = fixture.inputs.audio?.tensor
        let tokens = IndexArray(fixture.inputs.tokens.data.map { Int32($0) }, shape: fixture.inputs.tokens.shape)
        image?.requiresGrad = true; audio?.requiresGrad = true
        let embeddings = model.embedTokens(tokens).detached().copy()
        embeddings.requiresGrad = true
        model.setRequiresGrad(true)

        var maps: [String: Tensor] = [:]
        var rng = SplitMix64(seed: 0)
        let logits = model.logits(image: image, audio: audio, tokenEmbeddings: embeddings, mode: .inference, rng: &rng) { block, kind, p in
            let suffix = block.hasPrefix("shared") && model.config.fusion == .cross ? kind.rawValue : "attn"
            maps["\(block).\(suffix)"] = p
            return p
        }
        let tight = Tolerance(absolute: 1e-5, relative: 1e-4)
        #expect(mismatches(logits, fixture.logits.tensor, tight).isEmpty, "logits: \(mismatches(logits, fixture.logits.tensor, tight))")
        #expect(Set(maps.keys) == Set(fixture.attention.keys), "attention layers \(maps.keys.sorted()) vs \(fixture.attention.keys.sorted())")
        for (k, expected) in fixture.attention {
            guard let actual = maps[k] else { continue }
            #expect(mismatches(actual, expected.tensor, tight).isEmpty, "attention \(k)")
        }

        (logits * fixture.cotangent.tensor).sum().backward()
        let gradients = Tolerance(absolute: 1e-4, relative: 1e-3)
        if let g = fixture.grad_image { #expect(mismatches(image!.grad!, g.tensor, gradients).isEmpty, "d image") }
        if let g = fixture.grad_audio { #expect(mismatches(audio!.grad!, g.tensor, gradients).isEmpty, "d audio") }
        #expect(mismatches(embeddings.grad!, fixture.grad_token_embeddings.tensor, gradients).isEmpty, "d token embeddings")
        let params = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.tensor) })
        for (k, g) in fixture.grad_params {
            let p = try #require(params[k], "no parameter \(k)")
            #expect(mismatches(p.grad!, g.tensor, gradients).isEmpty, "d \(k): \(mismatches(p.grad!, g.tensor, gradients))")
        }
    }
}

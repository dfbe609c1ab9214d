import Engine
import Foundation
import Models
import Probes
@testable import Explanations
import Testing
import TestSupport

/// Glassbox's probes against independent references on the tiny fixture models: Captum 0.9 on the
/// PyTorch rebuild (saliency, input × gradient, integrated gradients with three rules, occlusion,
/// feature ablation), exact Shapley values by enumeration, and rollout / Chefer relevancy written
/// in Python from the rules' text (Tests/Fixtures/make_probe_fixtures.py).
@Suite struct ReferenceParityTests {
    struct Reference: Decodable {
        let K: Int
        let target_id: Int
        let inputs: [String]
        let f_x: Double, f_baseline: Double
        let saliency, input_x_gradient, ig_gauss_legendre_16, ig_riemann_trapezoid_16, ig_riemann_middle_16: [String: FixtureArray]
        let occlusion, ablation, shapley_exact: [String: FixtureArray]
        let shapley_features: FixtureArray
        let rollout, relevancy: [String: FixtureArray]
    }

    static let attributions = Tolerance(absolute: 2e-5, relative: 1e-3)

    func setUp(_ name: String) throws -> (CaptionTarget, Reference) {
        let reference = try loadFixture(Reference.self, "probes/\(name).json")
        let (model, image, audio, caption) = try fixtureModel(name)
        let target = CaptionTarget(model: model, image: image, audio: audio, caption: caption, wordIndex: reference.K)
        #expect(Int(target.targetId) == reference.target_id)
        #expect(target.modalities.map(\.rawValue) == reference.inputs)
        return (target, reference)
    }

    func expectClose(_ attribution: Attribution, _ expected: [String: FixtureArray], _ target: CaptionTarget, _ label: String) {
        for (i, m) in target.modalities.enumerated() {
            guard let e = expected[m.rawValue] else { Issue.record("\(label): no reference for \(m)"); continue }
            let problems = mismatches(attribution.values[i], e.tensor, Self.attributions)
            #expect(problems.isEmpty, "\(label) \(m): \(problems)")
        }
    }

    @Test(arguments: fixtureModels)
    func gradientMethodsMatchCaptum(name: String) throws {
        let (target, reference) = try setUp(name)
        let problem = target.problem(batchSize: 5)
        let (fx, fb) = problem.endpoints
        #expect(abs(fx - reference.f_x) < 1e-5 && abs(fb - reference.f_baseline) < 1e-5)
        expectClose(Saliency().attribute(problem), reference.saliency, target, "saliency")
        expectClose(InputXGradient().attribute(problem), reference.input_x_gradient, target, "input × gradient")
        expectClose(IntegratedGradients(steps: 16, rule: .gaussLegendre).attribute(problem), reference.ig_gauss_legendre_16, target, "IG Gauss–Legendre")
        // Captum's trapezoid weights are 1/n (halved at both ends), summing to (n−1)/n; ours are the
        // textbook 1/(n−1), so ours equal Captum's × n/(n−1).
        var trapezoid = IntegratedGradients(steps: 16, rule: .riemannTrapezoid).attribute(problem)
        trapezoid.values = trapezoid.values.map { $0 * (15.0 / 16.0) }
        expectClose(trapezoid, reference.ig_riemann_trapezoid_16, target, "IG trapezoid (Captum's scaling)")
        expectClose(IntegratedGradients(steps: 16, rule: .riemannMiddle).attribute(problem), reference.ig_riemann_middle_16, target, "IG midpoint")
    }

    @Test(arguments: fixtureModels)
    func perturbationMethodsMatchCaptumAndExactShapley(name: String) throws {
        let (target, reference) = try setUp(name)
        let problem = target.problem(batchSize: 100)
        let config = target.model.config
        let occlusion = Occlusion(windows: target.modalities.map { m -> [Int]? in
            m == .image ? [4, 4] : (m == .audio ? [config.audio!.frameStack] : [1])
        }, strides: target.modalities.map { m -> [Int]? in
            m == .image ? [2, 2] : (m == .audio ? [config.audio!.frameStack] : [1])
        })
        expectClose(occlusion.attribute(problem), reference.occlusion, target, "occlusion")
        expectClose(FeatureAblation().attribute(problem), reference.ablation, target, "ablation")
        let shap = KernelSHAP(samples: 1 << problem.features.count).attribute(problem)
        #expect(shap.parameters["mode"] == .text("exact"))
        expectClose(shap, reference.shapley_exact, target, "exact Shapley")
        let expected = reference.shapley_features.data
        for (f, value) in shap.featureValues!.enumerated() { #expect(abs(value - Double(expected[f])) < 2e-5, "Shapley feature \(f)") }
    }

    @Test(arguments: fixtureModels)
    func rolloutAndRelevancyMatchThePythonRules(name: String) throws {
        let (target, reference) = try setUp(name)
        let graph = AttentionGraph(target, gradients: true)
        for (label, actual, expected) in [("rollout", graph.rollout(), reference.rollout), ("relevancy", graph.relevancy(), reference.relevancy)] {
            let parts: [(String, [Double])] = [("image", actual.image), ("audio", actual.audio), ("text", actual.text)]
            for (m, values) in parts where !values.isEmpty || expected[m] != nil {
                let e = try #require(expected[m], "\(label): no reference for \(m)")
                let problems = mismatches(Tensor(values.map(Float.init), shape: [values.count]), e.tensor, Tolerance(absolute: 1e-5, relative: 1e-4))
                #expect(problems.isEmpty, "\(label) \(m): \(problems)")
            }
        }
    }

    @Test func gaussLegendreNodesMatchNumpy() throws {
        struct Nodes: Decodable { let alphas: [Double]; let weights: [Double] }
        let reference = try loadFixture(Nodes.self, "probes/gauss_legendre_16.json")
        let (alphas, weights) = QuadratureRule.gaussLegendre.nodes(16)
        for k in 0..<16 {
            #expect(abs(alphas[k] - reference.alphas[k]) < 1e-14)
            #expect(abs(weights[k] - reference.weights[k]) < 1e-14)
        }
    }
}

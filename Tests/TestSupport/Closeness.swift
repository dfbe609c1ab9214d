import Engine
import Foundation

/// What "close" means, pinned down once (STYLE.md §8): element by element,
/// |a − b| ≤ atol + rtol · max(|a|, |b|); never by mean or sum. NaNs must match NaNs.
public struct Tolerance: Sendable {
    public var absolute: Double, relative: Double
    public init(absolute: Double, relative: Double) { self.absolute = absolute; self.relative = relative }
    /// For float32 forward values against a float32 reference computed in another order.
    public static let float32 = Tolerance(absolute: 1e-5, relative: 1e-5)
    /// For analytic gradients against central finite differences in float32 (h = 1e-2).
    public static let finiteDifference = Tolerance(absolute: 2e-3, relative: 2e-2)

    public func accepts(_ a: Double, _ b: Double) -> Bool {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
        if a.isInfinite || b.isInfinite { return a == b }
        return abs(a - b) <= absolute + relative * max(abs(a), abs(b))
    }
}

/// Describes every mismatch (up to `limit`) between `actual` and `expected`; empty when close.
public func mismatches(_ actual: Tensor, _ expected: Tensor, _ tolerance: Tolerance = .float32, limit: Int = 5) -> [String] {
    guard actual.shape == expected.shape else { return ["shape \(actual.shape) != expected \(expected.shape)"] }
    let a = actual.scalars, e = expected.scalars
    var out: [String] = []
    for i in a.indices where !tolerance.accepts(Double(a[i]), Double(e[i])) {
        out.append("element \(i): \(a[i]) vs expected \(e[i])")
        if out.count >= limit { break }
    }
    return out
}

/// Directory of the committed reference fixtures (`Tests/Fixtures`).
public let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// A fixture array as written by `make_fixtures.py`: `{"shape": [...], "data": [...]}`.
public struct FixtureArray: Decodable {
    public let shape: [Int]
    public let data: [Float]
    public var tensor: Tensor { Tensor(data, shape: shape) }
}

/// Decodes a JSON fixture file under `Tests/Fixtures`.
public func loadFixture<T: Decodable>(_ type: T.Type, _ relativePath: String) throws -> T {
    let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent(relativePath))
    return try JSONDecoder().decode(T.self, from: data)
}

import Engine
import Foundation
import Media
import Testing
import TestSupport

/// Files written by the Swift writers, read back by the reference Python readers
/// (`safetensors.safe_open`, `numpy.load`) in Tests/Fixtures/check_written.py.
/// Runs only when GLASSBOX_PYTHON names a Python with numpy and safetensors.
@Suite struct PythonCrossCheckTests {
    static let python = ProcessInfo.processInfo.environment["GLASSBOX_PYTHON"]

    /// `{"dtype", "shape", "values"}` as check_written.py expects; float32 values as bit patterns.
    static func spec(_ tensor: Tensor) -> [String: Any] {
        ["dtype": "float32", "shape": tensor.shape, "values": bits(tensor)]
    }
    static func spec(_ array: IndexArray) -> [String: Any] {
        ["dtype": "int32", "shape": array.shape, "values": array.values.map(Int.init)]
    }
    static func spec(_ file: SafeTensorsFile, sameBytes: Bool) -> [String: Any] {
        ["metadata": file.metadata, "tensors": file.tensors.mapValues(spec), "same_bytes_as_python": sameBytes]
    }

    @Test(.enabled(if: python != nil, "set GLASSBOX_PYTHON to a Python with numpy and safetensors"))
    func pythonReadsWhatSwiftWrites() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var rng = SplitMix64(seed: 17)

        let model = SafeTensorsTests.sampleFile()
        try model.write(to: directory.appendingPathComponent("model.safetensors"))
        // One metadata key, so Python's output (a HashMap there) has a single possible order.
        let plain = SafeTensorsFile(
            tensors: ["b": Tensor.normal([2, 3], using: &rng), "a": Tensor.normal([5], using: &rng), "s": Tensor(scalar: 1), "z": Tensor.zeros([0])],
            metadata: ["format": "glassbox"])
        try plain.write(to: directory.appendingPathComponent("plain.safetensors"))

        var npy: [String: [String: Any]] = [:]
        let floats: [(String, Tensor)] = [
            ("f32.npy", Tensor.normal([2, 3, 4], using: &rng)), ("f32_scalar.npy", Tensor(scalar: -1.25)),
            ("f32_vector.npy", Tensor([.nan, -0.0, .infinity], shape: [3])), ("f32_empty.npy", Tensor.zeros([2, 0])),
            ("f32_view.npy", Tensor.normal([3, 4], using: &rng).transposed()),
        ]
        for (name, tensor) in floats {
            try NPY.write(tensor, to: directory.appendingPathComponent(name))
            npy[name] = Self.spec(tensor).merging(["same_bytes_as_python": true]) { $1 }
        }
        // Header lengths all around the 64-byte alignment, including shapes where the unpadded
        // header ends exactly on a boundary and numpy pads a full 64 bytes.
        let shapes = (1...12).map { Array(repeating: 1, count: $0) }
            + [[0, 100_000_000_000] + Array(repeating: 1, count: 9), [0, 100_000_000_000_000] + Array(repeating: 1, count: 8)]
        for (i, shape) in shapes.enumerated() {
            let name = "shape\(i).npy", tensor = Tensor.ones(shape)
            try NPY.write(tensor, to: directory.appendingPathComponent(name))
            npy[name] = Self.spec(tensor).merging(["same_bytes_as_python": true]) { $1 }
        }
        let ints = IndexArray([0, -7, .max, 3, 4, .min], shape: [2, 3])
        try NPY.write(ints, to: directory.appendingPathComponent("i32.npy"))
        npy["i32.npy"] = Self.spec(ints).merging(["same_bytes_as_python": true]) { $1 }

        let expected: [String: Any] = [
            "safetensors": ["model.safetensors": Self.spec(model, sameBytes: false), "plain.safetensors": Self.spec(plain, sameBytes: true)],
            "npy": npy,
        ]
        try JSONSerialization.data(withJSONObject: expected, options: [.sortedKeys])
            .write(to: directory.appendingPathComponent("expected.json"))

        let (status, text) = try runProgram(try #require(Self.python), [fixturesDirectory.appendingPathComponent("check_written.py").path, directory.path])
        #expect(status == 0, "check_written.py: \(text)")
    }
}

import Engine
import Foundation
import Media
import Testing
import TestSupport

/// Reading, writing and round trips of safetensors files (Tests/Fixtures/make_fixtures.py, `media()`).
@Suite struct SafeTensorsTests {
    struct PythonFixture: Decodable {
        let metadata: [String: String]
        let tensors: [String: FixtureArray]
    }

    /// Several tensors covering the awkward cases: scalar, zero-size, a strided view, and float
    /// values whose bits must survive exactly (−0, ±∞, NaN, subnormal, extremes).
    static func sampleFile() -> SafeTensorsFile {
        var rng = SplitMix64(seed: 11)
        let specials: [Float] = [-0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -1.5]
        return SafeTensorsFile(
            tensors: [
                "image.patch.weight": Tensor.normal([4, 3], using: &rng),
                "image.patch.bias": Tensor.normal([4], using: &rng),
                "scalar": Tensor(scalar: 2.5),
                "empty": Tensor.zeros([2, 0]),
                "specials": Tensor(specials, shape: [7]),
                "transposed": Tensor.normal([2, 3], using: &rng).transposed(),  // a [3, 2] non-contiguous view
            ],
            metadata: [
                "format": "glassbox",
                "glassbox.config": #"{"fusion":"cross","d_model":4}"#,
                "glassbox.vocab": #"["<pad>","naïve","日本","tab\there"]"#,
                "odd key\n\u{1}\"\\": "value with \"quotes\", a \\ and a newline\n",
            ])
    }

    static func expectSame(_ a: SafeTensorsFile, _ b: SafeTensorsFile, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.metadata == b.metadata, sourceLocation: sourceLocation)
        #expect(Set(a.tensors.keys) == Set(b.tensors.keys), sourceLocation: sourceLocation)
        for (name, x) in a.tensors {
            guard let y = b.tensors[name] else { continue }
            #expect(x.shape == y.shape, "\(name)", sourceLocation: sourceLocation)
            #expect(bits(x) == bits(y), "\(name)", sourceLocation: sourceLocation)
        }
    }

    @Test func readsTheFileWrittenByThePythonPackage() throws {
        let file = try SafeTensorsFile.read(contentsOf: mediaFixture("python_written.safetensors"))
        let expected = try loadFixture(PythonFixture.self, "media/python_written.json")
        #expect(file.metadata == expected.metadata)
        #expect(Set(file.tensors.keys) == Set(expected.tensors.keys))
        for (name, want) in expected.tensors {
            let got = try #require(file.tensors[name], "missing tensor \(name)")
            #expect(got.shape == want.shape, "\(name)")
            #expect(got.scalars == want.data, "\(name)")  // exact: both are float32
        }
    }

    /// Same tensors and header length as the Python package's file, and the same data buffer byte
    /// for byte (only the order of the metadata keys, a Rust HashMap there, may differ).
    @Test func writesTheSameLayoutAsThePythonPackage() throws {
        let original = try Array(Data(contentsOf: mediaFixture("python_written.safetensors")))
        let rewritten = try SafeTensorsFile(bytes: original).serialized()
        #expect(rewritten.count == original.count)
        #expect(rewritten.prefix(8) == original.prefix(8))
        let headerLength = Int(original[0]) | Int(original[1]) << 8
        #expect(rewritten[(8 + headerLength)...] == original[(8 + headerLength)...])
        #expect(headerLength % 8 == 0)
    }

    @Test func roundTripThroughAFile() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("model.safetensors")
        let file = Self.sampleFile()
        try file.write(to: url)
        Self.expectSame(try SafeTensorsFile.read(contentsOf: url), file)
        #expect(try Array(Data(contentsOf: url)) == file.serialized())
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.safetensors"])  // no temp files
    }

    @Test func roundTripInMemoryOfAnEmptyFile() throws {
        let empty = SafeTensorsFile()
        let bytes = try empty.serialized()
        #expect(bytes == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        let back = try SafeTensorsFile(bytes: bytes)
        #expect(back.tensors.isEmpty && back.metadata.isEmpty)
    }

    /// Writing twice gives identical bytes, whatever order the dictionaries were filled in.
    @Test func writingIsDeterministic() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = Self.sampleFile()
        var reordered = SafeTensorsFile()
        for name in file.tensors.keys.sorted().reversed() { reordered.tensors[name] = file.tensors[name]!.copy() }
        for key in file.metadata.keys.sorted().reversed() { reordered.metadata[key] = file.metadata[key] }
        let first = directory.appendingPathComponent("first.safetensors"), second = directory.appendingPathComponent("second.safetensors")
        try file.write(to: first)
        try reordered.write(to: second)
        #expect(try Data(contentsOf: first) == Data(contentsOf: second))

        // Header: padded with spaces to a multiple of 8, tensors in name order with contiguous offsets.
        let bytes = try file.serialized()
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        #expect(headerLength % 8 == 0 && bytes[8 + headerLength - 1] != 0)
        let header = try #require(String(bytes: bytes[8..<(8 + headerLength)], encoding: .utf8))
        let order = ["empty", "image.patch.bias", "image.patch.weight", "scalar", "specials", "transposed"]
        let positions = order.map { header.range(of: "\"\($0)\":{")!.lowerBound }
        #expect(positions == positions.sorted())
        #expect(header.contains(#""empty":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]}"#))
        #expect(header.contains(#""image.patch.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}"#))
        #expect(header.contains(#""transposed":{"dtype":"F32","shape":[3,2],"data_offsets":[96,120]}"#))
    }

    @Test func refusesOtherDTypesNamingTheTensor() throws {
        let bytes = safetensorsBytes(header: #"{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"#, dataCount: 16)
        #expect(errorLine { _ = try SafeTensorsFile(bytes: bytes, source: "model.safetensors") }
            == "model.safetensors: tensor 'x' has dtype F64; Glassbox reads F32 and I8 only")
        for dtype in ["F16", "BF16", "I32", "I64", "U8", "BOOL"] {
            let other = safetensorsBytes(header: #"{"x":{"dtype":"\#(dtype)","shape":[2],"data_offsets":[0,16]}}"#, dataCount: 16)
            expectMediaError("tensor 'x' has dtype \(dtype); Glassbox reads F32 and I8 only") { _ = try SafeTensorsFile(bytes: other) }
        }
    }

    /// I8 arrays (quantised checkpoints) round-trip beside F32 tensors; F32 data comes first, so it
    /// stays 4-byte aligned, and an I8 array takes one byte per element.
    @Test func int8ArraysRoundTripAfterTheFloatTensors() throws {
        let q = Int8Array(shape: [2, 3], values: [-127, -1, 0, 1, 5, 127])
        let file = SafeTensorsFile(tensors: ["w.scale": Tensor([0.5, 2], shape: [2])], int8: ["a.q": q, "w.q": q], metadata: ["k": "v"])
        let bytes = try file.serialized()
        let back = try SafeTensorsFile(bytes: bytes)
        #expect(back.int8 == file.int8)
        #expect(back.tensors["w.scale"]?.scalars == [0.5, 2])
        let header = String(decoding: bytes[8..<(8 + Int(bytes[0]) + Int(bytes[1]) * 256)], as: UTF8.self)
        #expect(header.contains(#""w.scale":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#))
        #expect(header.contains(#""a.q":{"dtype":"I8","shape":[2,3],"data_offsets":[8,14]}"#))
        let wrongSize = safetensorsBytes(header: #"{"x":{"dtype":"I8","shape":[3],"data_offsets":[0,4]}}"#, dataCount: 4)
        expectMediaError("span 4 bytes but I8 shape [3] needs 3") { _ = try SafeTensorsFile(bytes: wrongSize) }
    }

    @Test func refusesToWriteATensorNamedLikeTheMetadata() throws {
        let file = SafeTensorsFile(tensors: ["__metadata__": Tensor.zeros([1])])
        expectMediaError("reserved for metadata") { _ = try file.serialized() }
    }

    @Test func readErrorsNameTheFile() throws {
        let missing = URL(fileURLWithPath: "/nonexistent-glassbox-dir/model.safetensors")
        #expect(errorLine { _ = try SafeTensorsFile.read(contentsOf: missing) } == "model.safetensors: cannot open: No such file or directory")
        #expect(errorLine { _ = try SafeTensorsFile.read(contentsOf: fixturesDirectory) } == "Fixtures: is a directory, not a file")
    }
}

/// A safetensors file with the given header text (declared length = its UTF-8 size unless
/// `declaredLength` is given) followed by `dataCount` bytes of data (0, 1, 2, …).
func safetensorsBytes(header: String, dataCount: Int, declaredLength: UInt64? = nil) -> [UInt8] {
    safetensorsBytes(header: Array(header.utf8), dataCount: dataCount, declaredLength: declaredLength)
}

func safetensorsBytes(header: [UInt8], dataCount: Int, declaredLength: UInt64? = nil) -> [UInt8] {
    var bytes: [UInt8] = []
    withUnsafeBytes(of: (declaredLength ?? UInt64(header.count)).littleEndian) { bytes += $0 }
    return bytes + header + (0..<dataCount).map { UInt8(truncatingIfNeeded: $0) }
}

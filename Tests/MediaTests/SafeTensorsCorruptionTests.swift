import Engine
import Foundation
import Media
import Testing

/// A damaged file and what its error must say.
struct Corruption: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    /// A fragment of the expected one-line message.
    let expected: String
    var testDescription: String { name }
}

/// Every way a safetensors file can lie must throw a one-line ``MediaError`` (never crash, never
/// trap, never allocate what the file merely claims).
@Suite struct SafeTensorsCorruptionTests {
    /// Valid: a [2, 2] at [0, 16) and b [3] at [16, 28) of a 28-byte data buffer.
    static let a = #""a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}"#
    static let b = #""b":{"dtype":"F32","shape":[3],"data_offsets":[16,28]}"#
    static let validHeader = #"{"__metadata__":{"format":"glassbox"},\#(a),\#(b)}"#

    static func header(_ text: String, data: Int = 28, _ expected: String, _ name: String? = nil) -> Corruption {
        Corruption(name: name ?? text, bytes: safetensorsBytes(header: text, dataCount: data), expected: expected)
    }
    static func entry(_ a: String, _ expected: String) -> Corruption {
        header("{\(a),\(b)}", expected)
    }

    static let cases: [Corruption] = [
        // Header length.
        Corruption(name: "length UInt64.max", bytes: safetensorsBytes(header: validHeader, dataCount: 28, declaredLength: .max),
                   expected: "header length 18446744073709551615 is over the 100 MB limit"),
        Corruption(name: "length 100 MB + 1", bytes: safetensorsBytes(header: validHeader, dataCount: 28, declaredLength: 100_000_001),
                   expected: "header length 100000001 is over the 100 MB limit"),
        Corruption(name: "length past the end", bytes: safetensorsBytes(header: validHeader, dataCount: 28, declaredLength: 1000),
                   expected: "header length 1000 runs past the end of the"),
        Corruption(name: "length too short", bytes: safetensorsBytes(header: validHeader, dataCount: 28, declaredLength: 20),
                   expected: "header is not valid JSON"),
        Corruption(name: "length zero", bytes: safetensorsBytes(header: validHeader, dataCount: 28, declaredLength: 0),
                   expected: "header is not valid JSON"),
        // Header JSON.
        header(#"{"a":"#, "header is not valid JSON"),
        header(#"[1, 2]"#, "header is an array, not a JSON object"),
        header(#""text""#, "header is a string, not a JSON object"),
        header("null", "header is null, not a JSON object"),
        Corruption(name: "not UTF-8", bytes: safetensorsBytes(header: [0x7B, 0xFF, 0xFE, 0x7D], dataCount: 0), expected: "header is not valid UTF-8"),
        header(String(repeating: "[", count: 100_000), "header JSON nests more than 16 levels deep", "100000 nested arrays"),
        header(#"{"__metadata__":{"x":\#(String(repeating: "[", count: 20))1\#(String(repeating: "]", count: 20))}}"#, data: 0,
               "header JSON nests more than 16 levels deep", "deep metadata value"),
        header(#"{\#(a),\#(b),}"#, "trailing comma"),
        header(#"{"a":{"dtype":"F32","shape":[2,2,],"data_offsets":[0,16]},\#(b)}"#, "trailing comma"),
        header(#"{\#(a),\#(b),\#(a)}"#, "header lists tensor 'a' twice"),
        header(#"{"\u0061":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},\#(a),\#(b)}"#, "header lists tensor 'a' twice", "escaped duplicate"),
        header(#"{"__metadata__":{},"__metadata__":{},\#(a),\#(b)}"#, "header lists '__metadata__' twice"),
        header(#"{"__metadata__":{"k":"1","k":"2"},\#(a),\#(b)}"#, "__metadata__ has key 'k' twice"),
        entry(#""a":{"dtype":"F32","shape":[2,2],"shape":[4],"data_offsets":[0,16]}"#, "header entry 'a' has key 'shape' twice"),
        // Metadata.
        header(#"{"__metadata__":{"format":3},\#(a),\#(b)}"#, "__metadata__ value for key 'format' is a number, not a string"),
        header(#"{"__metadata__":{"format":["x"]},\#(a),\#(b)}"#, "__metadata__ value for key 'format' is an array, not a string"),
        header(#"{"__metadata__":{"format":null},\#(a),\#(b)}"#, "__metadata__ value for key 'format' is null, not a string"),
        header(#"{"__metadata__":"glassbox",\#(a),\#(b)}"#, "__metadata__ is a string, not an object of strings"),
        // Entry fields.
        entry(#""a":[0,16]"#, "tensor 'a' entry is an array, not an object"),
        entry(#""a":{"shape":[2,2],"data_offsets":[0,16]}"#, "tensor 'a' has no 'dtype'"),
        entry(#""a":{"dtype":"F32","data_offsets":[0,16]}"#, "tensor 'a' has no 'shape'"),
        entry(#""a":{"dtype":"F32","shape":[2,2]}"#, "tensor 'a' has no 'data_offsets'"),
        entry(#""a":{"dtype":32,"shape":[2,2],"data_offsets":[0,16]}"#, "tensor 'a' dtype is a number, not a string"),
        entry(#""a":{"dtype":"Q7","shape":[2,2],"data_offsets":[0,16]}"#, "tensor 'a' has unknown dtype 'Q7'"),
        entry(#""a":{"dtype":"f32","shape":[2,2],"data_offsets":[0,16]}"#, "tensor 'a' has unknown dtype 'f32'"),
        // Shape.
        entry(#""a":{"dtype":"F32","shape":"2x2","data_offsets":[0,16]}"#, "tensor 'a' shape is a string, not an array"),
        entry(#""a":{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]}"#, "tensor 'a' shape entry -2 is not a non-negative integer"),
        entry(#""a":{"dtype":"F32","shape":[2.5,2],"data_offsets":[0,16]}"#, "tensor 'a' shape entry 2.5 is not a non-negative integer"),
        entry(#""a":{"dtype":"F32","shape":[2.0,2],"data_offsets":[0,16]}"#, "tensor 'a' shape entry 2.0 is not a non-negative integer"),
        entry(#""a":{"dtype":"F32","shape":[4e0],"data_offsets":[0,16]}"#, "tensor 'a' shape entry 4.0 is not a non-negative integer"),
        entry(#""a":{"dtype":"F32","shape":[true,4],"data_offsets":[0,16]}"#, "tensor 'a' shape entry true is not a non-negative integer"),
        entry(#""a":{"dtype":"F32","shape":["4"],"data_offsets":[0,16]}"#, "tensor 'a' shape entry '4' is not a non-negative integer"),
        entry(#""a":{"dtype":"F32","shape":[null],"data_offsets":[0,16]}"#, "tensor 'a' shape entry null is not a non-negative integer"),
        entry(#""a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,16]}"#, "tensor 'a' shape entry 18446744073709551616 is not a non-negative integer"),
        entry(#""a":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,16]}"#, "tensor 'a' shape entry 9223372036854775808 is not a non-negative integer"),
        entry(#""a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}"#, "tensor 'a' shape [4611686018427387904, 4] has more elements than Int can count"),
        entry(#""a":{"dtype":"F32","shape":[3037000500,3037000500],"data_offsets":[0,16]}"#, "has more elements than Int can count"),
        header(#"{\#(a),\#(b),"z":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[28,28]}}"#,
               "tensor 'z' shape [0, 4611686018427387904, 4611686018427387904] has more elements than Int can count", "empty but unaddressable"),
        header(#"{\#(a),\#(b),"z":{"dtype":"F32","shape":[4611686018427387904,0],"data_offsets":[28,28]}}"#,
               "tensor 'z' shape [4611686018427387904, 0] needs more bytes than Int can count", "empty but bytes overflow"),
        entry(#""a":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,16]}"#, "tensor 'a' shape [2305843009213693952] needs more bytes than Int can count"),
        entry(#""a":{"dtype":"F32","shape":[1073741824,1073741824],"data_offsets":[0,16]}"#, "span 16 bytes but F32 shape [1073741824, 1073741824] needs 4611686018427387904"),
        entry(#""a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}"#, "tensor 'a' data_offsets [0, 16] span 16 bytes but F32 shape [2, 3] needs 24"),
        entry(#""a":{"dtype":"F32","shape":[2,0],"data_offsets":[0,16]}"#, "span 16 bytes but F32 shape [2, 0] needs 0"),
        entry(#""a":{"dtype":"F32","shape":[],"data_offsets":[0,16]}"#, "span 16 bytes but F32 shape [] needs 4"),
        // Offsets.
        entry(#""a":{"dtype":"F32","shape":[2,2],"data_offsets":"0-16"}"#, "tensor 'a' data_offsets is a string, not an array [begin, end]"),
        entry(#""a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16,32]}"#, "tensor 'a' data_offsets has 3 entries, not 2"),
        entry(#""a":{"dtype":"F32","shape":[2,2],"data_offsets":[16]}"#, "tensor 'a' data_offsets has 1 entry, not 2"),
        entry(#""a":{"dtype":"F32","shape":[2,2],"data_offsets":[-16,0]}"#, "tensor 'a' data_offsets [-16, 0] are not non-negative integers"),
        entry(#""a":{"dtype":"F32","shape":[2,2],"data_offsets":[0.0,16]}"#, "tensor 'a' data_offsets [0.0, 16] are not non-negative integers"),
        entry(#""a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,18446744073709551615]}"#, "are not non-negative integers"),
        entry(#""a":{"dtype":"F32","shape":[2,2],"data_offsets":[16,0]}"#, "tensor 'a' data_offsets [16, 0] begin after end"),
        entry(#""a":{"dtype":"F32","shape":[16],"data_offsets":[0,64]}"#, "tensor 'a' data_offsets [0, 64] end beyond the 28-byte data buffer"),
        entry(#""a":{"dtype":"F32","shape":[2,2],"data_offsets":[9223372036854775800,9223372036854775807]}"#, "span 7 bytes but F32 shape [2, 2] needs 16"),
        entry(#""a":{"dtype":"F32","shape":[2],"data_offsets":[9223372036854775799,9223372036854775807]}"#, "end beyond the 28-byte data buffer"),
        // Layout: overlap, holes, trailing or missing bytes.
        header(#"{\#(a),\#(b),"c":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#, "tensor 'c' data_offsets [12, 20] overlap tensor 'a' [0, 16]", "partial overlap"),
        header(#"{\#(a),\#(b),"c":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, "tensor 'c' data_offsets [0, 16] overlap tensor 'a' [0, 16]", "same range twice"),
        entry(#""a":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}"#, "data buffer bytes [0, 8) belong to no tensor (hole before tensor 'a')"),
        entry(#""a":{"dtype":"F32","shape":[0],"data_offsets":[20,20]}"#, "data buffer bytes [0, 16) belong to no tensor (hole before tensor 'b')"),
        entry(#""a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}"#, "data buffer bytes [0, 4) belong to no tensor (hole before tensor 'a')"),
        entry(#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, "data buffer bytes [8, 16) belong to no tensor (hole before tensor 'b')"),
        header(#"{\#(a),\#(b),"c":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}"#, "tensor 'c' data_offsets [8, 8] overlap tensor 'a' [0, 16]", "empty tensor inside another"),
        header(validHeader, data: 32, "tensors cover 28 bytes but the data buffer has 32 (trailing bytes)"),
        header("{}", data: 4, "tensors cover 0 bytes but the data buffer has 4 (trailing bytes)"),
        header(validHeader, data: 27, "tensor 'b' data_offsets [16, 28] end beyond the 27-byte data buffer"),
    ]

    @Test func theBaseFileIsValid() throws {
        let file = try SafeTensorsFile(bytes: safetensorsBytes(header: Self.validHeader, dataCount: 28))
        #expect(file.tensors["a"]?.shape == [2, 2] && file.tensors["b"]?.shape == [3])
        #expect(file.metadata == ["format": "glassbox"])
        // JSON whitespace, key order and unknown entry fields are fine (the Python package ignores them).
        let spaced = #" { "b" : {"data_offsets":[16,28],"shape":[3],"dtype":"F32","extra":{"x":[1]}} , \#(Self.a) }   "#
        #expect(try SafeTensorsFile(bytes: safetensorsBytes(header: spaced, dataCount: 28)).tensors.count == 2)
        #expect(try SafeTensorsFile(bytes: safetensorsBytes(header: #"{"__metadata__":null}"#, dataCount: 0)).metadata.isEmpty)
    }

    @Test(arguments: cases)
    func corruptFileThrows(_ corruption: Corruption) {
        expectMediaError(corruption.expected) { _ = try SafeTensorsFile(bytes: corruption.bytes) }
    }

    /// Every truncation of a real file, from 0 bytes to one byte short, throws.
    @Test func everyTruncationThrows() throws {
        let valid = try Array(Data(contentsOf: mediaFixture("python_written.safetensors")))
        _ = try SafeTensorsFile(bytes: valid)
        for length in 0..<valid.count {
            #expect(throws: MediaError.self, "truncated to \(length) bytes") { _ = try SafeTensorsFile(bytes: Array(valid.prefix(length))) }
        }
        let headerEnd = 8 + (Int(valid[0]) | Int(valid[1]) << 8)
        #expect(errorLine { _ = try SafeTensorsFile(bytes: Array(valid.prefix(5)), source: "model.safetensors") }
            == "model.safetensors: file is 5 bytes, too short for the 8-byte header length (truncated?)")
        #expect(errorLine { _ = try SafeTensorsFile(bytes: Array(valid.prefix(100)), source: "model.safetensors") }
            == "model.safetensors: header length 504 runs past the end of the 100-byte file (truncated?)")
        #expect(errorLine { _ = try SafeTensorsFile(bytes: Array(valid.prefix(headerEnd + 32)), source: "model.safetensors") }
            == "model.safetensors: tensor 'image.patch.weight' data_offsets [16, 64] end beyond the 32-byte data buffer")
    }

    /// Exact messages for a few representative lies.
    @Test func messagesAreOneClearLine() {
        let lie = safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[16],"data_offsets":[0,64]}}"#, dataCount: 32)
        #expect(errorLine { _ = try SafeTensorsFile(bytes: lie, source: "model.safetensors") }
            == "model.safetensors: tensor 'a' data_offsets [0, 64] end beyond the 32-byte data buffer")
        let overflow = safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#, dataCount: 16)
        #expect(errorLine { _ = try SafeTensorsFile(bytes: overflow, source: "model.safetensors") }
            == "model.safetensors: tensor 'a' shape [4611686018427387904, 4] has more elements than Int can count")
        let evilName = safetensorsBytes(header: #"{"line\nbreak\u0000":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}"#, dataCount: 8)
        #expect(errorLine { _ = try SafeTensorsFile(bytes: evilName, source: "model.safetensors") }
            == #"model.safetensors: tensor 'line\nbreak\0' has dtype F64; Glassbox reads F32 and I8 only"#)
        let longName = String(repeating: "x", count: 100_000)
        let long = safetensorsBytes(header: #"{"\#(longName)":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}"#, dataCount: 2)
        #expect((errorLine { _ = try SafeTensorsFile(bytes: long) }?.count ?? 0) < 200)
    }

    /// Random damage to a valid file (byte flips, splices, truncations): each variant either
    /// reads or throws a MediaError; none may crash the process.
    @Test func randomDamageNeverCrashes() throws {
        let valid = try SafeTensorsFile.sampleBytes()
        var thrown = 0
        for bytes in damagedVariants(of: valid, count: 3000, seed: 2024, alphabet: "{}[],:\"0123456789-. e") {
            do { _ = try SafeTensorsFile(bytes: bytes) } catch is MediaError { thrown += 1 }
        }
        #expect(thrown > 1000)
    }
}

extension SafeTensorsFile {
    /// A small valid file with two tensors and metadata.
    static func sampleBytes() throws -> [UInt8] {
        try SafeTensorsFile(tensors: ["a": Tensor([1, 2, 3, 4], shape: [2, 2]), "b": Tensor([5, 6, 7], shape: [3])],
                            metadata: ["format": "glassbox"]).serialized()
    }
}

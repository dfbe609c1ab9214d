import Engine
import Foundation

/// A safetensors file: named float32 tensors, named int8 arrays (quantised checkpoints,
/// Docs/checkpoint.md "Quantised checkpoints") and string metadata (MODEL.md, "File").
///
/// Format (https://github.com/huggingface/safetensors, "Format"):
/// ```
/// [8 bytes]  N, little-endian UInt64
/// [N bytes]  JSON header: {"__metadata__": {String: String},            (optional)
///                          "<name>": {"dtype": "F32", "shape": [Int], "data_offsets": [begin, end]}, …}
/// [rest]     data buffer; tensor `name` is bytes [begin, end) of it, little-endian, row-major
/// ```
/// Reading validates everything the Python package validates, and more (see
/// `SafeTensors+Reading.swift`): every inconsistency throws a one-line ``MediaError``.
/// Writing is deterministic: tensors sorted by name (the Python package sorts by dtype alignment,
/// then name; with one dtype that is the same order), contiguous offsets, metadata keys sorted,
/// header padded with spaces to a multiple of 8 bytes.
public struct SafeTensorsFile {
    /// Tensors by name (checkpoint names such as `"image.patch.weight"`, MODEL.md).
    public var tensors: [String: Tensor]
    /// Tensors of dtype `I8` by name (`"shared.0.self.q.weight.q"`): quantised weights.
    public var int8: [String: Int8Array]
    /// The `__metadata__` entries; empty when the file has none.
    public var metadata: [String: String]

    /// Headers above this many bytes are refused, as by the Python package (100 MB); this bounds
    /// what a hostile file can make the JSON parser do.
    public static let maximumHeaderLength = 100_000_000

    public init(tensors: [String: Tensor] = [:], int8: [String: Int8Array] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.int8 = int8
        self.metadata = metadata
    }

    /// Parses a whole safetensors file held in memory. `source` names the bytes in errors.
    /// Dtypes `F32` and `I8` are read; any other dtype throws, naming the tensor and the dtype.
    public init(bytes: [UInt8], source: String = "safetensors") throws {
        self = try parseSafeTensors(bytes, source: source)
    }

    /// Reads and validates the file at `url`; errors name the file ("model.safetensors: …").
    public static func read(contentsOf url: URL) throws -> SafeTensorsFile {
        try SafeTensorsFile(bytes: readBytes(url), source: url.lastPathComponent)
    }

    /// The file's bytes; the same tensors and metadata always give the same bytes.
    /// Throws if a tensor is named `__metadata__` or the header would exceed
    /// ``maximumHeaderLength`` (such files could not be read back).
    public func serialized() throws -> [UInt8] {
        try serializeSafeTensors(self, source: "safetensors")
    }

    /// Writes ``serialized()`` to `url` atomically (``writeAtomically(_:to:)``): a reader never
    /// sees a half-written checkpoint, and a failed write leaves any old file untouched.
    public func write(to url: URL) throws {
        try writeAtomically(serializeSafeTensors(self, source: url.lastPathComponent), to: url)
    }
}

/// A row-major int8 array (safetensors dtype `I8`): quantised weights, [out, in] like the F32
/// weight they replace.
public struct Int8Array: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Int8]
    public init(shape: [Int], values: [Int8]) {
        precondition(shape.reduce(1, *) == values.count, "\(values.count) int8 values for shape \(shape)")
        self.shape = shape; self.values = values
    }
}

/// Element type names of the safetensors format; all but F32 and I8 are refused by name.
let safeTensorsDTypes: Set<String> = [
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16", "F16", "BF16",
    "I32", "U32", "F32", "F64", "I64", "U64", "C64", "F4", "F6_E2M3", "F6_E3M2",
]

/// Builds the bytes of `file` (see ``SafeTensorsFile``).
private func serializeSafeTensors(_ file: SafeTensorsFile, source: String) throws -> [UInt8] {
    // Byte order, as in Rust and Python, so the order does not depend on Unicode normalisation.
    let names = file.tensors.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    if file.tensors["__metadata__"] != nil {
        throw MediaError(source: source, problem: "a tensor cannot be named '__metadata__' (the key is reserved for metadata)")
    }
    var entries: [String] = []
    if !file.metadata.isEmpty {
        let pairs = file.metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        entries.append("\"__metadata__\":{" + pairs.map { jsonQuoted($0.key) + ":" + jsonQuoted($0.value) }.joined(separator: ",") + "}")
    }
    // F32 tensors first, then I8 (as the Python package orders by alignment, then name), so every
    // F32 tensor starts at a multiple of 4 bytes.
    let int8Names = file.int8.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    if let both = int8Names.first(where: { file.tensors[$0] != nil || $0 == "__metadata__" }) {
        throw MediaError(source: source, problem: "tensor \(jsonQuoted(both)) is named twice (F32 and I8) or reserved")
    }
    var offset = 0
    for name in names {
        let tensor = file.tensors[name]!
        let end = offset + tensor.count * MemoryLayout<Float>.size
        let shape = tensor.shape.map(String.init).joined(separator: ",")
        entries.append("\(jsonQuoted(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
        offset = end
    }
    for name in int8Names {
        let array = file.int8[name]!
        let end = offset + array.values.count
        let shape = array.shape.map(String.init).joined(separator: ",")
        entries.append("\(jsonQuoted(name)):{\"dtype\":\"I8\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
        offset = end
    }
    var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
    header += Array(repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)  // align data to 8 bytes
    guard header.count <= SafeTensorsFile.maximumHeaderLength else {
        throw MediaError(source: source, problem: "header would be \(header.count) bytes, over the 100 MB limit readers enforce")
    }

    var bytes: [UInt8] = []
    bytes.reserveCapacity(8 + header.count + offset)
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes += $0 }
    bytes += header
    for name in names {
        file.tensors[name]!.withUnsafeBufferPointer { values in
            #if _endian(little)
            bytes += UnsafeRawBufferPointer(values)
            #else
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
            #endif
        }
    }
    for name in int8Names { file.int8[name]!.values.withUnsafeBytes { bytes += $0 } }
    return bytes
}

/// `text` as a JSON string literal. Escapes what RFC 8259 requires (quote, backslash, control
/// characters) and nothing else, like serde_json: non-ASCII stays UTF-8.
func jsonQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{8}": out += "\\b"
        case "\u{C}": out += "\\f"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

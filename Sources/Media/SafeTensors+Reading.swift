import Engine
import Foundation

/// Parses and validates a safetensors file (format: ``SafeTensorsFile``).
///
/// Checks, in order, each failure a one-line ``MediaError``:
/// 1. the 8-byte header length is present, at most 100 MB, and within the file;
/// 2. the header is UTF-8, nests at most 16 deep, is valid JSON, is an object, and has no
///    duplicate keys or trailing commas (which Foundation's parser would silently accept);
/// 3. `__metadata__`, if present, is an object of strings (or null, as the Python package allows);
/// 4. every tensor entry is an object with a string `dtype` (F32 or I8), a `shape` of
///    non-negative integers whose element and byte counts fit in `Int` (``CheckedSize``), and `data_offsets`
///    `[begin, end]` with begin ≤ end ≤ data buffer size and end − begin = element size × elements;
/// 5. sorted by offset, the tensors tile the data buffer exactly: no overlap, no hole, no
///    trailing bytes (as the Python package requires).
/// Nothing is allocated from a declared size before it has been checked against the real bytes.
func parseSafeTensors(_ bytes: [UInt8], source: String) throws -> SafeTensorsFile {
    func failure(_ problem: String) -> MediaError { MediaError(source: source, problem: problem) }

    // 1. Header length.
    guard bytes.count >= 8 else {
        throw failure("file is \(bytes.count) bytes, too short for the 8-byte header length (truncated?)")
    }
    let declared = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }  // little-endian
    guard declared <= UInt64(SafeTensorsFile.maximumHeaderLength) else {
        throw failure("header length \(declared) is over the 100 MB limit (not a safetensors file, or corrupt)")
    }
    let headerLength = Int(declared)
    guard headerLength <= bytes.count - 8 else {
        throw failure("header length \(headerLength) runs past the end of the \(bytes.count)-byte file (truncated?)")
    }
    let headerBytes = bytes[8..<(8 + headerLength)]
    let dataStart = 8 + headerLength
    let dataLength = bytes.count - dataStart

    // 2. Header JSON.
    let header = try parseHeaderObject(headerBytes, failure)

    // 3. Metadata.
    var metadata: [String: String] = [:]
    if let value = header["__metadata__"], !(value is NSNull) {
        guard let object = value as? [String: Any] else {
            throw failure("__metadata__ is \(jsonKind(value)), not an object of strings")
        }
        for key in object.keys.sorted() {
            guard let text = object[key] as? String else {
                throw failure("__metadata__ value for key \(quoted(key)) is \(jsonKind(object[key]!)), not a string")
            }
            metadata[key] = text
        }
    }

    // 4. Entries, in name order so the first error reported does not depend on hashing.
    var entries: [TensorEntry] = []
    for name in header.keys.sorted() where name != "__metadata__" {
        let entry = try TensorEntry(name: name, json: header[name]!, failure)
        guard entry.end <= dataLength else {
            throw failure("tensor \(quoted(name)) data_offsets [\(entry.begin), \(entry.end)] end beyond the \(dataLength)-byte data buffer")
        }
        entries.append(entry)
    }

    // 5. Layout: the byte ranges tile [0, dataLength).
    entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
    var covered = 0
    var previous: TensorEntry?
    for entry in entries {
        if entry.begin < covered, let previous {
            throw failure("tensor \(quoted(entry.name)) data_offsets [\(entry.begin), \(entry.end)] overlap tensor \(quoted(previous.name)) [\(previous.begin), \(previous.end)]")
        }
        if entry.begin > covered {
            throw failure("data buffer bytes [\(covered), \(entry.begin)) belong to no tensor (hole before tensor \(quoted(entry.name)))")
        }
        covered = entry.end
        previous = entry
    }
    guard covered == dataLength else {
        throw failure("tensors cover \(covered) bytes but the data buffer has \(dataLength) (trailing bytes)")
    }

    // Everything checked: copy the data.
    var tensors: [String: Tensor] = [:]
    var int8: [String: Int8Array] = [:]
    bytes.withUnsafeBytes { raw in
        for entry in entries where entry.isInt8 {
            let slice = UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)])
            int8[entry.name] = Int8Array(shape: entry.shape, values: slice.map { Int8(bitPattern: $0) })
        }
        for entry in entries where !entry.isInt8 {
            let storage = Storage(uninitializedCount: entry.elementCount)
            let values = UnsafeMutableRawBufferPointer(start: storage.pointer, count: entry.end - entry.begin)
            values.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)]))
            #if _endian(big)
            for i in 0..<entry.elementCount { storage.pointer[i] = Float(bitPattern: UInt32(littleEndian: storage.pointer[i].bitPattern)) }
            #endif
            tensors[entry.name] = Tensor(storage: storage, shape: entry.shape)
        }
    }
    return SafeTensorsFile(tensors: tensors, int8: int8, metadata: metadata)
}

/// The header as a JSON object (step 2 of ``parseSafeTensors(_:source:)``).
private func parseHeaderObject(_ text: ArraySlice<UInt8>, _ failure: (String) -> MediaError) throws -> [String: Any] {
    guard String(validating: text, as: UTF8.self) != nil else { throw failure("header is not valid UTF-8") }
    // Depth first: JSONSerialization must never see a pathologically deep text.
    let problem = scanJSONStructure(text, depthLimit: 16)
    if case .tooDeep(let limit)? = problem { throw failure("header JSON nests more than \(limit) levels deep") }
    let json: Any
    do {
        json = try JSONSerialization.jsonObject(with: Data(text), options: .fragmentsAllowed)
    } catch {
        let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
        throw failure("header is not valid JSON (\(reason))")
    }
    guard let object = json as? [String: Any] else { throw failure("header is \(jsonKind(json)), not a JSON object") }
    switch problem {
    case .duplicateKey(let key, let owners)?:
        switch owners.first {
        case nil: throw failure("header lists \(key == "__metadata__" ? "'__metadata__'" : "tensor \(quoted(key))") twice")
        case "__metadata__"?: throw failure("__metadata__ has key \(quoted(key)) twice")
        case let owner?: throw failure("header entry \(quoted(owner)) has key \(quoted(key)) twice")
        }
    case .trailingComma(let offset)?:
        throw failure("header is not valid JSON (trailing comma at byte \(offset) of the header)")
    case .tooDeep?, nil:
        return object
    }
}

/// One validated header entry (step 4 of ``parseSafeTensors(_:source:)``).
private struct TensorEntry {
    let name: String
    let shape: [Int]
    let elementCount: Int
    let begin: Int, end: Int
    /// dtype I8 (else F32).
    let isInt8: Bool

    init(name: String, json: Any, _ failure: (String) -> MediaError) throws {
        let tensor = "tensor \(quoted(name))"
        guard let fields = json as? [String: Any] else {
            throw failure("\(tensor) entry is \(jsonKind(json)), not an object")
        }
        func field(_ key: String) throws -> Any {
            guard let value = fields[key] else { throw failure("\(tensor) has no '\(key)'") }
            return value
        }

        let dtypeValue = try field("dtype")
        guard let dtype = dtypeValue as? String else {
            throw failure("\(tensor) dtype is \(jsonKind(dtypeValue)), not a string")
        }
        guard dtype == "F32" || dtype == "I8" else {
            throw failure(safeTensorsDTypes.contains(dtype)
                ? "\(tensor) has dtype \(dtype); Glassbox reads F32 and I8 only"
                : "\(tensor) has unknown dtype \(quoted(dtype, limit: 20)); Glassbox reads F32 and I8 only")
        }
        let elementSize = dtype == "I8" ? 1 : MemoryLayout<Float>.size

        let shapeValue = try field("shape")
        guard let shapeArray = shapeValue as? [Any] else {
            throw failure("\(tensor) shape is \(jsonKind(shapeValue)), not an array")
        }
        var shape: [Int] = []
        for value in shapeArray {
            guard let size = jsonInteger(value), size >= 0 else {
                throw failure("\(tensor) shape entry \(jsonDescription(value)) is not a non-negative integer")
            }
            shape.append(size)
        }
        let count: Int, byteCount: Int
        switch CheckedSize(shape: shape, elementSize: elementSize) {
        case .size(let elements, let bytes): (count, byteCount) = (elements, bytes)
        case .tooManyElements: throw failure("\(tensor) shape \(shape) has more elements than Int can count")
        case .tooManyBytes: throw failure("\(tensor) shape \(shape) needs more bytes than Int can count")
        }

        let offsetsValue = try field("data_offsets")
        guard let offsets = offsetsValue as? [Any] else {
            throw failure("\(tensor) data_offsets is \(jsonKind(offsetsValue)), not an array [begin, end]")
        }
        guard offsets.count == 2 else {
            throw failure("\(tensor) data_offsets has \(offsets.count) entr\(offsets.count == 1 ? "y" : "ies"), not 2 ([begin, end])")
        }
        guard let begin = jsonInteger(offsets[0]), let end = jsonInteger(offsets[1]), begin >= 0, end >= 0 else {
            throw failure("\(tensor) data_offsets [\(jsonDescription(offsets[0])), \(jsonDescription(offsets[1]))] are not non-negative integers")
        }
        guard begin <= end else { throw failure("\(tensor) data_offsets [\(begin), \(end)] begin after end") }
        guard end - begin == byteCount else {
            throw failure("\(tensor) data_offsets [\(begin), \(end)] span \(end - begin) bytes but \(dtype) shape \(shape) needs \(byteCount)")
        }
        self.name = name
        self.shape = shape
        self.elementCount = count
        self.begin = begin
        self.end = end
        self.isInt8 = dtype == "I8"
    }
}

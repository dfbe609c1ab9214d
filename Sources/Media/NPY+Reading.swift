import Engine

/// Parses and validates a `.npy` file (format: ``NPYArray``).
///
/// Checks, in order, each failure a one-line ``MediaError``: the magic string; version 1.0, 2.0
/// or 3.0; the header length field and header within the file and under numpy's 10000-byte
/// safety limit; the header is a dict literal with exactly the keys `descr`, `fortran_order`
/// and `shape`; a supported descr; a shape of non-negative integers whose element and byte
/// counts fit in `Int`; and a data section of exactly that many bytes. Nothing is allocated
/// from the declared shape before its byte count has been compared with the bytes present.
func parseNPY(_ bytes: [UInt8], source: String) throws -> NPYArray {
    func failure(_ problem: String) -> MediaError { MediaError(source: source, problem: problem) }

    // Preamble.
    guard bytes.starts(with: npyMagic.prefix(bytes.count)), !bytes.isEmpty else {
        throw failure(bytes.isEmpty ? "file is empty, not an NPY file" : "not an NPY file (bad magic string)")
    }
    guard bytes.count >= npyMagic.count + 2 else {
        throw failure("file is \(bytes.count) bytes, too short for the NPY preamble (truncated?)")
    }
    let (major, minor) = (bytes[6], bytes[7])
    guard minor == 0, (1...3).contains(major) else {
        throw failure("NPY format version \(major).\(minor) is not supported (1.0, 2.0 or 3.0)")
    }
    let lengthFieldSize = major == 1 ? 2 : 4
    let headerStart = 8 + lengthFieldSize
    guard bytes.count >= headerStart else {
        throw failure("file is \(bytes.count) bytes, too short for the NPY header length (truncated?)")
    }
    let headerLength = bytes[8..<headerStart].reversed().reduce(0) { $0 << 8 | Int($1) }  // little-endian, < 2^32
    guard headerLength <= bytes.count - headerStart else {
        throw failure("header length \(headerLength) runs past the end of the \(bytes.count)-byte file (truncated?)")
    }
    guard headerLength <= 10_000 else {
        throw failure("header is \(headerLength) bytes, over numpy's 10000-byte safety limit")
    }

    // Header.
    let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
    let header = try NPYHeader(headerBytes, utf8: major == 3, failure)

    // Data: its size must match the header exactly before anything is allocated.
    let dataStart = headerStart + headerLength
    let available = bytes.count - dataStart
    let count: Int, needed: Int
    switch CheckedSize(shape: header.shape, elementSize: 4) {
    case .size(let elements, let bytes): (count, needed) = (elements, bytes)
    case .tooManyElements: throw failure("shape \(pythonTuple(header.shape)) has more elements than Int can count")
    case .tooManyBytes: throw failure("shape \(pythonTuple(header.shape)) needs more bytes than Int can count")
    }
    let kind = header.isFloat ? "float32" : "int32"
    guard available >= needed else {
        throw failure("data is \(available) bytes but shape \(pythonTuple(header.shape)) of \(kind) needs \(needed) (truncated?)")
    }
    guard available == needed else {
        let extra = available - needed
        throw failure("\(extra) trailing byte\(extra == 1 ? "" : "s") after the \(needed) data bytes that shape \(pythonTuple(header.shape)) of \(kind) needs")
    }

    // Decode 4-byte words in file order, then put Fortran-ordered data into row-major order.
    var words = bytes.withUnsafeBytes { raw in
        [UInt32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                let word = raw.loadUnaligned(fromByteOffset: dataStart + 4 * i, as: UInt32.self)
                buffer[i] = header.bigEndian ? UInt32(bigEndian: word) : UInt32(littleEndian: word)
            }
            initialized = count
        }
    }
    if header.fortranOrder { words = rowMajor(fromColumnMajor: words, shape: header.shape) }
    if header.isFloat {
        return .float32(Tensor(words.map { Float(bitPattern: $0) }, shape: header.shape))
    }
    return .int32(IndexArray(words.map { Int32(bitPattern: $0) }, shape: header.shape))
}

/// The three header fields, validated.
private struct NPYHeader {
    let isFloat: Bool
    let bigEndian: Bool
    let fortranOrder: Bool
    let shape: [Int]

    init(_ bytes: ArraySlice<UInt8>, utf8: Bool, _ failure: (String) -> MediaError) throws {
        let scalars: [Unicode.Scalar]
        if utf8 {
            guard let text = String(validating: bytes, as: UTF8.self) else { throw failure("header is not valid UTF-8") }
            scalars = Array(text.unicodeScalars)
        } else {
            scalars = bytes.map { Unicode.Scalar($0) }  // latin-1
        }
        let literal: PythonLiteral
        do {
            literal = try PythonLiteral.parse(scalars)
        } catch {
            throw failure("header is not a Python dict literal (\(error.message))")
        }
        guard case .dict(let pairs) = literal else { throw failure("header is \(literal.summary), not a dict") }

        var fields: [String: PythonLiteral] = [:]
        for (key, value) in pairs {
            guard ["descr", "fortran_order", "shape"].contains(key) else {
                throw failure("header has unexpected key \(quoted(key, limit: 20)) (only 'descr', 'fortran_order' and 'shape' are allowed)")
            }
            guard fields.updateValue(value, forKey: key) == nil else { throw failure("header has key '\(key)' twice") }
        }
        func field(_ key: String) throws -> PythonLiteral {
            guard let value = fields[key] else { throw failure("header has no '\(key)'") }
            return value
        }

        guard case .string(let descr) = try field("descr") else {
            throw failure("descr is \(try field("descr").summary), not a dtype string (structured dtypes are not supported; float32 or int32 only)")
        }
        // Byte order prefix: '<' little, '>' big, '|' not applicable, '=' or none native.
        var order: Character = "=", type = Substring(descr)
        if let first = descr.first, "<>|=".contains(first) { order = first; type = descr.dropFirst() }
        guard type == "f4" || type == "i4" else {
            throw failure("dtype \(quoted(descr, limit: 20)) is not supported (float32 or int32 only)")
        }
        isFloat = type == "f4"
        #if _endian(big)
        bigEndian = order != "<"
        #else
        bigEndian = order == ">"
        #endif

        guard case .bool(let fortran) = try field("fortran_order") else {
            throw failure("fortran_order is \(try field("fortran_order").summary), not True or False")
        }
        fortranOrder = fortran

        guard case .tuple(let sizes) = try field("shape") else {
            throw failure("shape is \(try field("shape").summary), not a tuple")
        }
        shape = try sizes.map { size in
            guard let value = size.integer, value >= 0 else {
                throw failure("shape entry \(size.summary) is not a non-negative integer that fits in Int")
            }
            return value
        }
    }
}

/// `values` stored in column-major (Fortran) order for `shape`, rearranged into row-major order.
/// Walks the output in row-major order with an odometer over the multi-index, moving the source
/// offset by the column-major stride of each axis that ticks.
func rowMajor<T>(fromColumnMajor values: [T], shape: [Int]) -> [T] {
    guard shape.count > 1, !values.isEmpty else { return values }
    var strides = [Int](repeating: 1, count: shape.count)  // column-major: axis 0 is densest
    for axis in 1..<shape.count { strides[axis] = strides[axis - 1] * shape[axis - 1] }
    var index = [Int](repeating: 0, count: shape.count)
    var source = 0
    var out: [T] = []
    out.reserveCapacity(values.count)
    for _ in 0..<values.count {
        out.append(values[source])
        var axis = shape.count - 1
        while axis >= 0 {
            index[axis] += 1
            source += strides[axis]
            if index[axis] < shape[axis] { break }
            source -= strides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
    return out
}

import Engine
import Foundation

/// An array stored in a NumPy `.npy` file: float32 values as a ``Tensor``, int32 values as an
/// ``IndexArray``.
///
/// Format (NumPy, `numpy.lib.format`, "Format Version 1.0"–"3.0"):
/// ```
/// "\x93NUMPY"  major  minor  header length (UInt16 LE for 1.0, UInt32 LE for 2.0 and 3.0)
/// header: a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
///         padded with spaces and a final "\n" so the data starts at a multiple of 64
///         (latin-1 for 1.0 and 2.0, UTF-8 for 3.0)
/// data:   the elements, C (row-major) or Fortran (column-major) order, byte order from descr
/// ```
/// Reading accepts descr `<f4`, `>f4`, `<i4`, `>i4` (and `|`, `=` or no prefix, meaning native),
/// either order, any shape including scalars `()`; Fortran-ordered data is returned in row-major
/// order. Anything inconsistent throws a one-line ``MediaError``. In particular the data must be
/// exactly as long as the header says: numpy ignores trailing bytes, but a size mismatch means
/// the header lies, so it is an error here. Writing produces what `numpy.save` produces for the
/// same array (version 1.0, little-endian, C order), byte for byte.
public enum NPYArray {
    case float32(Tensor)
    case int32(IndexArray)

    /// The array's shape; `[]` for a scalar.
    public var shape: [Int] {
        switch self {
        case .float32(let tensor): return tensor.shape
        case .int32(let array): return array.shape
        }
    }

    /// Parses a whole `.npy` file held in memory. `source` names the bytes in errors.
    public init(bytes: [UInt8], source: String = "npy") throws {
        self = try parseNPY(bytes, source: source)
    }

    /// Reads the file at `url`; errors name the file ("x.npy: …").
    public static func read(contentsOf url: URL) throws -> NPYArray {
        try NPYArray(bytes: readBytes(url), source: url.lastPathComponent)
    }

    /// The `.npy` bytes: version 1.0 (2.0 only if the header would not fit in 65535 bytes),
    /// descr `<f4` or `<i4`, C order, header padded as numpy pads it.
    public func serialized() -> [UInt8] {
        switch self {
        case .float32(let tensor):
            return tensor.withUnsafeBufferPointer { encodeNPY(descr: "<f4", shape: tensor.shape, elements: $0) }
        case .int32(let array):
            return array.values.withUnsafeBufferPointer { encodeNPY(descr: "<i4", shape: array.shape, elements: $0) }
        }
    }

    /// Writes ``serialized()`` to `url` atomically (``writeAtomically(_:to:)``).
    public func write(to url: URL) throws {
        try writeAtomically(serialized(), to: url)
    }
}

/// Typed shortcuts over ``NPYArray``.
public enum NPY {
    /// The float32 array in the `.npy` file at `url`; throws if the file holds int32.
    public static func readFloat32(_ url: URL) throws -> Tensor {
        switch try NPYArray.read(contentsOf: url) {
        case .float32(let tensor): return tensor
        case .int32: throw MediaError(source: url.lastPathComponent, problem: "holds int32 values, expected float32")
        }
    }

    /// The int32 array in the `.npy` file at `url`; throws if the file holds float32.
    public static func readInt32(_ url: URL) throws -> IndexArray {
        switch try NPYArray.read(contentsOf: url) {
        case .int32(let array): return array
        case .float32: throw MediaError(source: url.lastPathComponent, problem: "holds float32 values, expected int32")
        }
    }

    /// Writes `tensor` as a float32 `.npy` file, atomically.
    public static func write(_ tensor: Tensor, to url: URL) throws {
        try NPYArray.float32(tensor).write(to: url)
    }

    /// Writes `array` as an int32 `.npy` file, atomically.
    public static func write(_ array: IndexArray, to url: URL) throws {
        try NPYArray.int32(array).write(to: url)
    }
}

/// The NPY magic string, `"\x93NUMPY"`.
let npyMagic: [UInt8] = [0x93] + Array("NUMPY".utf8)

/// `shape` as Python prints a tuple: `()`, `(5,)`, `(2, 3)`.
func pythonTuple(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}

/// File bytes for `elements` (row-major) of `shape`, as `numpy.lib.format` writes them: header
/// keys sorted, 21 − digits spaces of growth room after the dict (numpy's GROWTH_AXIS_MAX_DIGITS),
/// then spaces and "\n" up to a multiple of 64 bytes (ARRAY_ALIGN).
private func encodeNPY<Element: FixedWidthInteger & Sendable>(descr: String, shape: [Int], bits: UnsafeBufferPointer<Element>) -> [UInt8] {
    var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(pythonTuple(shape)), }"
    if let first = shape.first { dict += String(repeating: " ", count: max(0, 21 - String(first).count)) }
    let text = Array(dict.utf8)

    var lengthFieldSize = 2
    var padding = 64 - (npyMagic.count + 2 + lengthFieldSize + text.count + 1) % 64
    if text.count + 1 + padding > Int(UInt16.max) {  // version 2.0: 4-byte header length
        lengthFieldSize = 4
        padding = 64 - (npyMagic.count + 2 + lengthFieldSize + text.count + 1) % 64
    }
    let headerLength = text.count + padding + 1

    var bytes = npyMagic + [lengthFieldSize == 2 ? 1 : 2, 0]
    bytes.reserveCapacity(npyMagic.count + 2 + lengthFieldSize + headerLength + bits.count * MemoryLayout<Element>.size)
    for i in 0..<lengthFieldSize { bytes.append(UInt8(truncatingIfNeeded: headerLength >> (8 * i))) }
    bytes += text
    bytes += Array(repeating: UInt8(ascii: " "), count: padding)
    bytes.append(UInt8(ascii: "\n"))
    #if _endian(little)
    bytes += UnsafeRawBufferPointer(bits)
    #else
    for v in bits { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    #endif
    return bytes
}

private func encodeNPY(descr: String, shape: [Int], elements: UnsafeBufferPointer<Float>) -> [UInt8] {
    elements.withMemoryRebound(to: UInt32.self) { encodeNPY(descr: descr, shape: shape, bits: $0) }
}

private func encodeNPY(descr: String, shape: [Int], elements: UnsafeBufferPointer<Int32>) -> [UInt8] {
    encodeNPY(descr: descr, shape: shape, bits: elements)
}

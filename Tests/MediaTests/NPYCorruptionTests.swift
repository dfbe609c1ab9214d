import Engine
import Foundation
import Media
import Testing

/// Every way an `.npy` file can lie must throw a one-line ``MediaError`` (never crash, never
/// trap, never allocate what the header merely claims).
@Suite struct NPYCorruptionTests {
    /// 24 bytes: six float32 values, for the valid shape (2, 3).
    static let data = [UInt8](repeating: 0, count: 24)

    static func header(_ text: String, data: [UInt8] = data, _ expected: String, _ name: String? = nil) -> Corruption {
        Corruption(name: name ?? text, bytes: npyBytes(header: text, data: data), expected: expected)
    }
    static func shape(_ shape: String, _ expected: String) -> Corruption {
        header("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }", expected)
    }
    static func descr(_ descr: String, _ expected: String) -> Corruption {
        header("{'descr': \(descr), 'fortran_order': False, 'shape': (2, 3), }", expected)
    }
    static let valid = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

    static let cases: [Corruption] = [
        // Preamble.
        Corruption(name: "bad magic", bytes: [0x93] + Array("NUMPZ".utf8) + [1, 0, 0, 0], expected: "not an NPY file (bad magic string)"),
        Corruption(name: "zip (npz) file", bytes: [0x50, 0x4B, 3, 4] + data, expected: "not an NPY file (bad magic string)"),
        Corruption(name: "version 4.0", bytes: npyBytes(header: valid, version: 4, data: data), expected: "NPY format version 4.0 is not supported (1.0, 2.0 or 3.0)"),
        Corruption(name: "version 1.1", bytes: Array(npyBytes(header: valid, data: data)[0..<7]) + [1] + Array(npyBytes(header: valid, data: data)[8...]),
                   expected: "NPY format version 1.1 is not supported"),
        Corruption(name: "v1 length 65535", bytes: npyBytes(header: valid, data: data, declaredLength: 0xFFFF),
                   expected: "header length 65535 runs past the end of the"),
        Corruption(name: "v2 length 2^32-1", bytes: npyBytes(header: valid, version: 2, data: data, declaredLength: 0xFFFF_FFFF),
                   expected: "header length 4294967295 runs past the end of the"),
        Corruption(name: "v2 20000-byte header", bytes: npyBytes(header: valid + String(repeating: " ", count: 20_000 - valid.utf8.count), version: 2, data: data),
                   expected: "header is 20000 bytes, over numpy's 10000-byte safety limit"),
        Corruption(name: "v3 invalid UTF-8", bytes: npyBytes(header: [0x7B, 0xC3, 0x28, 0x7D], version: 3, data: data), expected: "header is not valid UTF-8"),
        Corruption(name: "length too short", bytes: npyBytes(header: valid, data: data, declaredLength: 30),
                   expected: "header is not a Python dict literal"),
        // Header literal.
        header("", "header is not a Python dict literal (unexpected end where a value should start)", "empty header"),
        header("[1, 2]", "header is a list, not a dict"),
        header("'descr'", "header is 'descr', not a dict"),
        header("{'descr': <f4}", "header is not a Python dict literal (unexpected '<' at character 10 where a value should start)"),
        header("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}", "header is not a Python dict literal"),
        header("{'descr': '<f4", "header is not a Python dict literal (unterminated string)"),
        header(valid + " extra", "header is not a Python dict literal (unexpected 'e' at character"),
        header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3),, }", "header is not a Python dict literal"),
        header(String(repeating: "(", count: 9_000), "header is not a Python dict literal (nested more than 8 levels deep)", "9000 nested tuples"),
        header("{1: 2}", "header is not a Python dict literal (a dict key is not a string)"),
        header("{'descr': '<f4', 'fortran_order': False}", "header has no 'shape'"),
        header("{'fortran_order': False, 'shape': (2, 3)}", "header has no 'descr'"),
        header("{'descr': '<f4', 'shape': (2, 3)}", "header has no 'fortran_order'"),
        header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", "header has unexpected key 'extra'"),
        header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'shape': (2, 3)}", "header has key 'shape' twice"),
        // descr.
        descr("'<f8'", "dtype '<f8' is not supported (float32 or int32 only)"),
        descr("'<i8'", "dtype '<i8' is not supported"),
        descr("'<u4'", "dtype '<u4' is not supported"),
        descr("'<f2'", "dtype '<f2' is not supported"),
        descr("'|b1'", "dtype '|b1' is not supported"),
        descr("'<c8'", "dtype '<c8' is not supported"),
        descr("'float32'", "dtype 'float32' is not supported"),
        descr("'<<f4'", "dtype '<<f4' is not supported"),
        descr("''", "dtype '' is not supported"),
        descr("[('x', '<f4')]", "descr is a list, not a dtype string (structured dtypes are not supported"),
        descr("4", "descr is 4, not a dtype string"),
        // fortran_order.
        header("{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 3)}", "fortran_order is 1, not True or False"),
        header("{'descr': '<f4', 'fortran_order': 'False', 'shape': (2, 3)}", "fortran_order is 'False', not True or False"),
        header("{'descr': '<f4', 'fortran_order': None, 'shape': (2, 3)}", "fortran_order is None, not True or False"),
        // shape.
        shape("[2, 3]", "shape is a list, not a tuple"),
        shape("6", "shape is 6, not a tuple"),
        shape("(6)", "shape is 6, not a tuple"),
        shape("(-2, -3)", "shape entry -2 is not a non-negative integer that fits in Int"),
        shape("(1.5, 4)", "shape entry 1.5 is not a non-negative integer"),
        shape("('2', 3)", "shape entry '2' is not a non-negative integer"),
        shape("(True, 6)", "shape entry True is not a non-negative integer"),
        shape("((2, 3),)", "shape entry a tuple is not a non-negative integer"),
        shape("(0x6,)", "shape entry 0x6 is not a non-negative integer"),
        shape("(99999999999999999999,)", "shape entry 99999999999999999999 is not a non-negative integer that fits in Int"),
        shape("(9223372036854775808,)", "shape entry 9223372036854775808 is not a non-negative integer that fits in Int"),
        shape("(4611686018427387904, 4)", "shape (4611686018427387904, 4) has more elements than Int can count"),
        shape("(3037000500, 3037000500)", "has more elements than Int can count"),
        header("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4611686018427387904), }", data: [],
               "shape (0, 4611686018427387904, 4611686018427387904) has more elements than Int can count", "empty but unaddressable"),
        header("{'descr': '<f4', 'fortran_order': True, 'shape': (4611686018427387904, 0), }", data: [],
               "shape (4611686018427387904, 0) needs more bytes than Int can count", "empty but bytes overflow"),
        shape("(2305843009213693952,)", "shape (2305843009213693952,) needs more bytes than Int can count"),
        shape("(1000000000, 1000000000)", "data is 24 bytes but shape (1000000000, 1000000000) of float32 needs 4000000000000000000 (truncated?)"),
        shape("(2, 4)", "data is 24 bytes but shape (2, 4) of float32 needs 32 (truncated?)"),
        shape("(2, 2)", "8 trailing bytes after the 16 data bytes that shape (2, 2) of float32 needs"),
        shape("()", "20 trailing bytes after the 4 data bytes that shape () of float32 needs"),
        shape("(0,)", "24 trailing bytes after the 0 data bytes"),
        header(valid, data: data + [0], "1 trailing byte after the 24 data bytes", "one trailing byte"),
        header(valid, data: Array(data.dropLast()), "data is 23 bytes but shape (2, 3) of float32 needs 24 (truncated?)", "one byte short"),
    ]

    @Test func theBaseFileIsValid() throws {
        #expect(try NPYArray(bytes: npyBytes(header: Self.valid, data: Self.data)).shape == [2, 3])
    }

    @Test(arguments: cases)
    func corruptFileThrows(_ corruption: Corruption) {
        expectMediaError(corruption.expected) { _ = try NPYArray(bytes: corruption.bytes) }
    }

    /// Every truncation of a file written by numpy, from 0 bytes to one byte short, throws.
    @Test func everyTruncationThrows() throws {
        let valid = try Array(Data(contentsOf: mediaFixture("f32_c.npy")))
        _ = try NPYArray(bytes: valid)
        for length in 0..<valid.count {
            #expect(throws: MediaError.self, "truncated to \(length) bytes") { _ = try NPYArray(bytes: Array(valid.prefix(length))) }
        }
        #expect(errorLine { _ = try NPYArray(bytes: [], source: "x.npy") } == "x.npy: file is empty, not an NPY file")
        #expect(errorLine { _ = try NPYArray(bytes: Array(valid.prefix(7)), source: "x.npy") }
            == "x.npy: file is 7 bytes, too short for the NPY preamble (truncated?)")
        #expect(errorLine { _ = try NPYArray(bytes: Array(valid.prefix(9)), source: "x.npy") }
            == "x.npy: file is 9 bytes, too short for the NPY header length (truncated?)")
        #expect(errorLine { _ = try NPYArray(bytes: Array(valid.prefix(100)), source: "x.npy") }
            == "x.npy: header length 118 runs past the end of the 100-byte file (truncated?)")
        #expect(errorLine { _ = try NPYArray(bytes: Array(valid.prefix(200)), source: "x.npy") }
            == "x.npy: data is 72 bytes but shape (2, 3, 4) of float32 needs 96 (truncated?)")
    }

    @Test func messagesAreOneClearLine() {
        let overflow = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", data: Self.data)
        #expect(errorLine { _ = try NPYArray(bytes: overflow, source: "x.npy") }
            == "x.npy: shape (4611686018427387904, 4) has more elements than Int can count")
        let evil = npyBytes(header: "{'descr': '<f8\\n\u{7}', 'fortran_order': False, 'shape': (3,), }", data: Self.data)
        #expect(errorLine { _ = try NPYArray(bytes: evil, source: "x.npy") } == #"x.npy: dtype '<f8\n\u{07}' is not supported (float32 or int32 only)"#)
        #expect(errorLine { _ = try NPYArray(bytes: npyBytes(header: "{\n\n@", data: []), source: "x.npy") }
            == #"x.npy: header is not a Python dict literal (unexpected '@' at character 3 where a value should start)"#)
    }

    /// Random damage to a valid file: each variant either reads or throws a MediaError.
    @Test func randomDamageNeverCrashes() throws {
        let valid = NPYArray.float32(Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])).serialized()
        var thrown = 0
        for bytes in damagedVariants(of: valid, count: 3000, seed: 99, alphabet: "{}()[],:'\"0123456789-. TrueFalse") {
            do { _ = try NPYArray(bytes: bytes) } catch is MediaError { thrown += 1 }
        }
        #expect(thrown > 1000)
    }
}

import Engine
import Foundation
import Media
import Testing
import TestSupport

/// Reading and writing NumPy `.npy` files against files written by `numpy.save`
/// (Tests/Fixtures/make_fixtures.py, `media()`).
@Suite struct NPYTests {
    struct Expected: Decodable {
        let f32_c, f32_fortran, f32_big_endian, f32_scalar: FixtureArray
    }

    @Test(arguments: ["f32_c", "f32_fortran", "f32_big_endian", "f32_scalar"])
    func readsFloat32FixturesExactly(name: String) throws {
        let expected = try loadFixture([String: FixtureArray].self, "media/npy_expected.json")
        let want = try #require(expected[name])
        let tensor = try NPY.readFloat32(mediaFixture("\(name).npy"))
        #expect(tensor.shape == want.shape)
        #expect(tensor.scalars == want.data)  // exact: both float32; Fortran order comes back row-major
    }

    @Test func readsInt32FixtureExactly() throws {
        let array = try NPY.readInt32(mediaFixture("i32.npy"))
        #expect(array == IndexArray([0, -7, 2_147_483_647, 3, 4, -2_147_483_648], shape: [2, 3]))
    }

    @Test func otherDTypesGiveAClearError() {
        #expect(errorLine { _ = try NPYArray.read(contentsOf: mediaFixture("f64.npy")) }
            == "f64.npy: dtype '<f8' is not supported (float32 or int32 only)")
        #expect(errorLine { _ = try NPY.readFloat32(mediaFixture("i32.npy")) } == "i32.npy: holds int32 values, expected float32")
        #expect(errorLine { _ = try NPY.readInt32(mediaFixture("f32_c.npy")) } == "f32_c.npy: holds float32 values, expected int32")
    }

    /// The writer reproduces `numpy.save` byte for byte (version 1.0, numpy's header padding).
    @Test(arguments: ["f32_c", "f32_scalar", "i32"])
    func writesWhatNumpyWrites(name: String) throws {
        let url = mediaFixture("\(name).npy")
        #expect(try NPYArray.read(contentsOf: url).serialized() == Array(Data(contentsOf: url)))
    }

    /// Here the unpadded header ends exactly on a 64-byte boundary, so numpy adds a full 64 bytes
    /// of padding: `numpy.save` (numpy 2.4) writes 192 bytes with header length 182 (0xB6).
    @Test func paddingMatchesNumpyOnTheAlignmentBoundary() throws {
        let bytes = NPYArray.float32(Tensor.zeros([0, 100_000_000_000, 1, 1, 1, 1, 1, 1, 1, 1, 1])).serialized()
        #expect(bytes.count == 192)
        #expect(Array(bytes[6..<10]) == [1, 0, 0xB6, 0])
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 100000000000, 1, 1, 1, 1, 1, 1, 1, 1, 1), }"
        #expect(bytes[10...].starts(with: Array(dict.utf8)))
        #expect(bytes[(10 + dict.utf8.count)..<191].allSatisfy { $0 == UInt8(ascii: " ") } && bytes[191] == UInt8(ascii: "\n"))
    }

    @Test func float32RoundTrip() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var rng = SplitMix64(seed: 5)
        let specials: [Float] = [-0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let cases: [Tensor] = [
            Tensor.normal([2, 3, 4], using: &rng), Tensor(scalar: -1.25), Tensor([1, 2, 3, 4, 5], shape: [5]),
            Tensor.zeros([2, 0]), Tensor(specials, shape: [6]), Tensor.normal([3, 5], using: &rng).transposed(),
        ]
        for (i, tensor) in cases.enumerated() {
            let url = directory.appendingPathComponent("t\(i).npy")
            try NPY.write(tensor, to: url)
            let back = try NPY.readFloat32(url)
            #expect(back.shape == tensor.shape)
            #expect(bits(back) == bits(tensor))
            let size = try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
            #expect((size - tensor.count * 4) % 64 == 0, "data must start at a multiple of 64")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).count == cases.count)  // no temp files
    }

    @Test func int32RoundTrip() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases = [
            IndexArray([0, -1, .max, .min, 42, 7], shape: [2, 3]), IndexArray([9], shape: []),
            IndexArray([1, 2, 3]), IndexArray([], shape: [0, 4]),
        ]
        for (i, array) in cases.enumerated() {
            let url = directory.appendingPathComponent("i\(i).npy")
            try NPY.write(array, to: url)
            #expect(try NPY.readInt32(url) == array)
        }
    }

    /// What numpy can write besides the common case: other byte-order marks, big-endian int32,
    /// Fortran order in 3-D, format versions 2.0 and 3.0, and free spacing in the header.
    @Test func readsEveryAcceptedVariant() throws {
        let floats: [Float] = [1.5, -2, 0.25]
        let little = floats.flatMap { f in withUnsafeBytes(of: f.bitPattern.littleEndian, Array.init) }
        let big = floats.flatMap { f in withUnsafeBytes(of: f.bitPattern.bigEndian, Array.init) }
        for (descr, data) in [("<f4", little), ("|f4", little), ("=f4", little), ("f4", little), (">f4", big)] {
            let bytes = npyBytes(header: "{'descr': '\(descr)', 'fortran_order': False, 'shape': (3,), }", data: data)
            guard case .float32(let t) = try NPYArray(bytes: bytes) else { Issue.record("\(descr): not float32"); continue }
            #expect(t.scalars == floats, "\(descr)")
        }
        let ints: [Int32] = [1, -2, .min]
        let bigInts = ints.flatMap { v in withUnsafeBytes(of: v.bigEndian, Array.init) }
        #expect(try NPYArray(bytes: npyBytes(header: "{'descr': '>i4', 'fortran_order': False, 'shape': (3,)}", data: bigInts))
            .int32Values == ints)

        // Fortran order, shape (2, 3, 4): element (i, j, k) = 12i + 4j + k sits at i + 2j + 6k.
        var column = [Float](repeating: 0, count: 24)
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { column[i + 2 * j + 6 * k] = Float(12 * i + 4 * j + k) } } }
        let fortran = npyBytes(header: "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4), }",
                               data: column.flatMap { f in withUnsafeBytes(of: f.bitPattern.littleEndian, Array.init) })
        guard case .float32(let f) = try NPYArray(bytes: fortran) else { Issue.record("fortran: not float32"); return }
        #expect(f.shape == [2, 3, 4] && f.scalars == (0..<24).map(Float.init))

        for version: UInt8 in [2, 3] {
            let bytes = npyBytes(header: "{\"shape\": ( 3 , ), \"fortran_order\": False, \"descr\": \"<f4\"}\n", version: version, data: little)
            guard case .float32(let t) = try NPYArray(bytes: bytes) else { Issue.record("v\(version): not float32"); continue }
            #expect(t.scalars == floats, "version \(version)")
        }
    }
}

extension NPYArray {
    var int32Values: [Int32]? { if case .int32(let a) = self { a.values } else { nil } }
}

/// An NPY file with the given header text (UTF-8, unpadded), format `version`.0, and `data`;
/// `declaredLength` overrides the header length field.
func npyBytes(header: String, version: UInt8 = 1, data: [UInt8] = [], declaredLength: Int? = nil) -> [UInt8] {
    npyBytes(header: Array(header.utf8), version: version, data: data, declaredLength: declaredLength)
}

func npyBytes(header: [UInt8], version: UInt8 = 1, data: [UInt8] = [], declaredLength: Int? = nil) -> [UInt8] {
    let length = declaredLength ?? header.count
    let field = (0..<(version == 1 ? 2 : 4)).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
    return [0x93] + Array("NUMPY".utf8) + [version, 0] + field + header + data
}

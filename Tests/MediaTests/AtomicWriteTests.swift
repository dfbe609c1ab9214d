import Engine
import Foundation
import Media
import Testing

/// `writeAtomically`: the destination is either the old file or the whole new one, and no
/// temporary file is ever left behind.
@Suite struct AtomicWriteTests {
    @Test func replacesAnExistingFileWhole() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("out.bin")
        try writeAtomically(Array(repeating: 7, count: 10_000), to: url)
        try writeAtomically([1, 2, 3], to: url)
        #expect(try Array(Data(contentsOf: url)) == [1, 2, 3])
        try writeAtomically([], to: url)
        #expect(try Data(contentsOf: url).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.bin"])
    }

    @Test func failureInAMissingDirectoryCreatesNothing() {
        let url = URL(fileURLWithPath: "/nonexistent-glassbox-dir/model.safetensors")
        #expect(errorLine { try writeAtomically([1], to: url) }
            == "model.safetensors: cannot create a temporary file in /nonexistent-glassbox-dir: No such file or directory")
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent-glassbox-dir"))
    }

    /// The rename fails (the destination is a non-empty directory): the temporary file is removed
    /// and the destination is untouched.
    @Test func failedRenameRemovesTheTemporaryFile() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let destination = directory.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: false)
        try Data([9]).write(to: destination.appendingPathComponent("inside"))
        expectMediaError("taken: cannot move the temporary file into place") { try writeAtomically([1, 2, 3], to: destination) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["taken"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: destination.path) == ["inside"])
    }

    @Test func writersUseIt() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("no/such/dir")
        expectMediaError("cannot create a temporary file") { try SafeTensorsFile().write(to: missing.appendingPathComponent("m.safetensors")) }
        expectMediaError("cannot create a temporary file") { try NPY.write(IndexArray([1]), to: missing.appendingPathComponent("i.npy")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An output folder built aside and renamed into place, so a folder under the final name is always
/// complete (CLI.md: interrupted runs never leave partial outputs).
///
/// Files are written into ``staging`` (a hidden folder beside the destination, on the same file
/// system) and ``publish()`` renames it to the destination. An existing destination is replaced only
/// if it is empty or holds an earlier output of the same kind (it contains `marker`); anything else
/// is refused, never deleted.
public struct StagedFolder: Sendable {
    public let destination: URL
    public let staging: URL
    /// A file name that identifies an earlier output of this kind (e.g. `captions.json`).
    public let marker: String
    /// What such a folder holds, for messages ("a dataset", "an explanation").
    public let kind: String

    public init(for destination: URL, marker: String, kind: String) throws {
        self.destination = destination; self.marker = marker; self.kind = kind
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        do { try fm.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw MediaError(source: parent.path, problem: "cannot create folder")
        }
        try Self.checkReplaceable(destination, marker: marker, kind: kind)
        staging = parent.appendingPathComponent(".\(destination.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: staging)
        do { try fm.createDirectory(at: staging, withIntermediateDirectories: false) } catch {
            throw MediaError(source: parent.path, problem: "cannot write here")
        }
    }

    /// The staged location of a file named `name` (relative path).
    public func url(_ name: String) -> URL { staging.appendingPathComponent(name) }

    /// Renames the staged folder to the destination, replacing an earlier output of the same kind.
    public func publish() throws {
        let fm = FileManager.default
        try Self.checkReplaceable(destination, marker: marker, kind: kind)
        if fm.fileExists(atPath: destination.path) {
            let old = destination.deletingLastPathComponent()
                .appendingPathComponent(".\(destination.lastPathComponent).old-\(ProcessInfo.processInfo.processIdentifier)")
            try fm.moveItem(at: destination, to: old)
            try fm.moveItem(at: staging, to: destination)
            try? fm.removeItem(at: old)
        } else {
            try fm.moveItem(at: staging, to: destination)
        }
    }

    /// Removes the staged folder (after a failure).
    public func discard() { try? FileManager.default.removeItem(at: staging) }

    /// Throws unless `destination` is absent, empty, or holds an earlier output of this kind: lets a
    /// command refuse a destination before doing any work.
    public static func checkReplaceable(_ destination: URL, marker: String, kind: String) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: destination.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else { throw MediaError(source: destination.path, problem: "exists and is not a folder") }
        let contents = (try? fm.contentsOfDirectory(atPath: destination.path)) ?? []
        guard contents.isEmpty || contents.contains(marker) else {
            throw MediaError(source: destination.path, problem: "exists and does not hold \(kind); refusing to overwrite it")
        }
    }
}

/// Writes a file with plain POSIX calls (no temp-and-rename: files inside a ``StagedFolder`` are
/// published atomically with the folder).
public func writePlainFile(_ bytes: [UInt8], to url: URL) throws {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw MediaError(source: url.lastPathComponent, problem: "cannot write (\(String(cString: strerror(errno))))") }
    defer { close(fd) }
    var written = 0
    try bytes.withUnsafeBytes { buffer in
        while written < buffer.count {
            let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
            guard n > 0 else { throw MediaError(source: url.lastPathComponent, problem: "write failed (\(String(cString: strerror(errno))))") }
            written += n
        }
    }
}

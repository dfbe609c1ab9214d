import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The whole contents of the file at `url`, or a ``MediaError`` ("x.npy: cannot open: No such
/// file or directory"). The buffer is sized from `fstat`, i.e. from the real file, never from
/// anything the file claims about itself.
public func readBytes(_ url: URL) throws -> [UInt8] {
    let name = url.lastPathComponent
    let fd = open(url.path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw systemError(name, "cannot open") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw systemError(name, "cannot stat") }
    guard (info.st_mode & S_IFMT) != S_IFDIR else { throw MediaError(source: name, problem: "is a directory, not a file") }

    func readSome(into pointer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        while true {
            let n = read(fd, pointer, count)
            if n >= 0 { return n }
            if errno != EINTR { throw systemError(name, "cannot read") }
        }
    }
    let expected = max(0, Int(info.st_size))
    var bytes = try [UInt8](unsafeUninitializedCapacity: expected) { buffer, count in
        count = 0
        while count < expected {
            let n = try readSome(into: buffer.baseAddress! + count, count: expected - count)
            if n == 0 { break }  // the file shrank since fstat
            count += n
        }
    }
    // The file grew since fstat, or is a pipe or special file reporting size 0: read the rest.
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = try chunk.withUnsafeMutableBytes { try readSome(into: $0.baseAddress!, count: $0.count) }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return bytes
}

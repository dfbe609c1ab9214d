import CSndfile
import Foundation

/// An in-memory file for libsndfile's virtual I/O (`sf_open_virtual`), so decoding works on
/// bytes (no temporary files) and encoding produces bytes that are then written atomically.
///
/// libsndfile calls back through C function pointers with `user_data` = an unretained pointer to
/// this object; ``withHandle(mode:info:_:)`` keeps the object alive for the handle's lifetime.
final class SndfileMemory {
    /// The file's bytes; grows when written past the end.
    private(set) var bytes: [UInt8]
    /// Byte offset of the next read or write.
    private var position = 0

    init(bytes: [UInt8] = []) { self.bytes = bytes }

    /// Opens a libsndfile handle on this memory, runs `body` with it and the `SF_INFO` libsndfile
    /// filled in (for reading; for writing `info` says what to write), and closes the handle
    /// (the close is where libsndfile finalises a written header). Failures of `sf_open_virtual`
    /// and `sf_close` are thrown as ``OpenError`` with libsndfile's reason.
    func withHandle<R>(mode: Int32, info: SF_INFO = SF_INFO(), _ body: (OpaquePointer, SF_INFO) throws -> R) throws -> R {
        var info = info
        var io = SF_VIRTUAL_IO(get_filelen: Self.length, seek: Self.seek, read: Self.read, write: Self.write, tell: Self.tell)
        return try withExtendedLifetime(self) {
            let me = Unmanaged.passUnretained(self).toOpaque()
            guard let handle = sf_open_virtual(&io, mode, &info, me) else {
                // sf_open failures are reported through libsndfile's process-wide error slot.
                throw OpenError(code: sf_error(nil), reason: sndfileMessage(nil))
            }
            var closed = false
            defer { if !closed { sf_close(handle) } }
            let result = try body(handle, info)
            closed = true
            let status = sf_close(handle)
            guard status == 0 else { throw OpenError(code: status, reason: String(cString: sf_error_number(status))) }
            return result
        }
    }

    /// Why `sf_open_virtual` (or the final `sf_close`) failed.
    struct OpenError: Error {
        let code: Int32
        let reason: String
    }

    // MARK: Callbacks (C function pointers: no captures, state through `user_data`)

    private static func this(_ p: UnsafeMutableRawPointer?) -> SndfileMemory {
        Unmanaged<SndfileMemory>.fromOpaque(p!).takeUnretainedValue()
    }

    private static let length: sf_vio_get_filelen = { user in sf_count_t(this(user).bytes.count) }

    private static let tell: sf_vio_tell = { user in sf_count_t(this(user).position) }

    private static let seek: sf_vio_seek = { offset, whence, user in
        let me = this(user)
        let base: Int
        switch whence {
        case SEEK_SET: base = 0
        case SEEK_CUR: base = me.position
        case SEEK_END: base = me.bytes.count
        default: return -1
        }
        let (target, overflow) = base.addingReportingOverflow(Int(offset))
        guard !overflow, target >= 0 else { return -1 }
        me.position = target
        return sf_count_t(target)
    }

    private static let read: sf_vio_read = { destination, count, user in
        let me = this(user)
        guard let destination, count > 0, me.position < me.bytes.count else { return 0 }
        let n = min(Int(count), me.bytes.count - me.position)
        me.bytes.withUnsafeBytes { source in
            destination.copyMemory(from: source.baseAddress! + me.position, byteCount: n)
        }
        me.position += n
        return sf_count_t(n)
    }

    private static let write: sf_vio_write = { source, count, user in
        let me = this(user)
        guard let source, count > 0 else { return 0 }
        let n = Int(count), end = me.position + n
        if end > me.bytes.count { me.bytes.append(contentsOf: repeatElement(0, count: end - me.bytes.count)) }
        me.bytes.withUnsafeMutableBytes { target in
            (target.baseAddress! + me.position).copyMemory(from: source, byteCount: n)
        }
        me.position = end
        return sf_count_t(n)
    }
}

/// libsndfile's message for a handle (or for the last failed open, when `handle` is nil),
/// trimmed to one line.
func sndfileMessage(_ handle: OpaquePointer?) -> String {
    String(cString: sf_strerror(handle)).split(whereSeparator: \.isNewline).joined(separator: " ")
        .trimmingCharacters(in: .whitespaces)
}

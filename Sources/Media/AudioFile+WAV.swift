import CSndfile
import Foundation

extension AudioFile {
    /// How samples are stored in a written WAV.
    public enum WAVEncoding: String, Sendable, CaseIterable {
        /// 16-bit signed PCM: `k = round(x · 32768)` (half away from zero), clamped to
        /// −32768…32767, NaN as 0. Read back as k / 32768, so |x − x'| ≤ 0.5 / 32768 for
        /// −1 ≤ x < 32767.5 / 32768, and ≤ 1 / 32768 from there up to 1 (clamped to 32767).
        case pcm16
        /// IEEE 32-bit float (`WAVE_FORMAT_IEEE_FLOAT`): samples stored exactly, not clipped.
        case float32
    }

    /// The bytes of a WAV file holding `audio` (libsndfile's RIFF writer; no PEAK chunk).
    public static func encodeWAV(_ audio: Audio, encoding: WAVEncoding = .pcm16) throws -> [UInt8] {
        let memory = SndfileMemory()
        var info = SF_INFO()
        info.samplerate = Int32(audio.sampleRate)
        info.channels = Int32(audio.channelCount)
        info.format = Int32(SF_FORMAT_WAV | (encoding == .pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT))
        let frames = sf_count_t(audio.frameCount)
        do {
            try memory.withHandle(mode: Int32(SFM_WRITE), info: info) { handle, _ in
                sf_command(handle, Int32(SFC_SET_ADD_PEAK_CHUNK), nil, Int32(SF_FALSE))
                let written: sf_count_t
                switch encoding {
                case .pcm16:
                    let codes = audio.samples.map(pcm16Code)
                    written = codes.withUnsafeBufferPointer { sf_writef_short(handle, $0.baseAddress, frames) }
                case .float32:
                    written = audio.samples.withUnsafeBufferPointer { sf_writef_float(handle, $0.baseAddress, frames) }
                }
                guard written == frames else { throw SndfileMemory.OpenError(code: sf_error(handle), reason: sndfileMessage(handle)) }
            }
        } catch let error as SndfileMemory.OpenError {
            throw MediaError(source: "WAV encoder", problem: "cannot encode WAV (\(error.reason))")
        }
        return memory.bytes
    }

    /// Writes `audio` as a WAV file atomically: the bytes go to a temporary file in the same
    /// directory, which is then renamed over `url`; readers never see a half-written file, and
    /// on failure the temporary file is removed and `url` is left as it was.
    public static func writeWAV(_ audio: Audio, to url: URL, encoding: WAVEncoding = .pcm16) throws {
        try replaceFileContents(at: url, with: encodeWAV(audio, encoding: encoding))
    }

    /// 16-bit code of a sample (see ``WAVEncoding/pcm16``).
    static func pcm16Code(_ x: Float) -> Int16 {
        if x.isNaN { return 0 }
        return Int16(min(max((x * 32768).rounded(), -32768), 32767))
    }
}

/// Temp file in the destination's directory, then `rename(2)` over the destination (atomic on
/// one file system); the temp file is removed on any failure. Errors name the destination and
/// give the system's reason (`strerror`).
private func replaceFileContents(at url: URL, with bytes: [UInt8]) throws {
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp").path
    func failure() -> MediaError { MediaError(source: url.lastPathComponent, problem: "cannot write (\(String(cString: strerror(errno))))") }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw failure() }
    var done = 0
    let wrote = bytes.withUnsafeBytes { buffer -> Bool in
        while done < buffer.count {
            let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }
    guard wrote, fsync(fd) == 0 else { let error = failure(); close(fd); unlink(temporary); throw error }
    guard close(fd) == 0 else { let error = failure(); unlink(temporary); throw error }
    guard rename(temporary, url.path) == 0 else { let error = failure(); unlink(temporary); throw error }
}

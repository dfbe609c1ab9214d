import CSndfile
import Foundation

/// Audio decoding through libsndfile (`sf_open_virtual` over the file's bytes, so the format comes
/// from the content, never the name): WAV (unsigned 8-bit, 16/24/32-bit PCM, 32/64-bit float, and
/// libsndfile's other WAV codecs), FLAC, Ogg/Vorbis, Ogg/Opus, MP3 (libsndfile ≥ 1.1 with mpg123,
/// as on Debian 12), AIFF and the rest of what the installed libsndfile reads.
///
/// Sample scale, libsndfile's `sf_readf_float` with its default `SFC_SET_NORM_FLOAT` on:
/// b-bit signed PCM code `k` becomes `Float(k) / 2^(b−1)` (16-bit: k / 32768, so −1 ≤ x < 1;
/// 24-bit: k / 8388608; 32-bit: `Float(k)` rounded to 24 significant bits, then / 2^31),
/// unsigned 8-bit `u` becomes `(u − 128) / 128`, and float files are passed through unchanged
/// (no clipping). Every failure is a ``MediaError`` whose description is one line starting with
/// the file's name.
public enum AudioFile {
    /// Sample rates accepted, in Hz (384 kHz is the highest rate common hardware records).
    public static let sampleRates = 1...384_000

    /// Bounds checked against the header before any sample memory is allocated; a header that
    /// lies past them (a 40-byte WAV claiming 2^31 frames) costs nothing.
    public struct Limits: Equatable, Sendable {
        /// Longest audio accepted, in seconds. Default 600 (ten minutes).
        public var maxSeconds: Double
        /// Most samples (frames × channels) accepted. Default 57 600 000: ten minutes of
        /// 48 kHz stereo, 230 MB as `Float`.
        public var maxSamples: Int

        public init(maxSeconds: Double = 600, maxSamples: Int = 57_600_000) {
            self.maxSeconds = maxSeconds; self.maxSamples = maxSamples
        }
    }

    /// Decodes an audio file's bytes. `name` starts every error message (usually the path).
    ///
    /// Refused, each with a one-line ``MediaError``: bytes libsndfile does not recognise or
    /// cannot parse; zero channels; a sample rate outside ``sampleRates``; more audio than
    /// `limits` allows (judged from the header, before allocating); a WAV whose `data` chunk
    /// promises more bytes than the file holds; a decoder error part way (e.g. FLAC "lost sync");
    /// fewer frames than the header promises; a file with no samples at all; and a NaN or ±Inf
    /// sample (float formats can hold them), named by its frame, channel and time.
    public static func decode(_ bytes: [UInt8], name: String = "audio", limits: Limits = Limits()) throws -> Audio {
        guard !bytes.isEmpty else { throw MediaError(source: name, problem: "empty file, not audio") }
        let memory = SndfileMemory(bytes: bytes)
        do {
            let decode = {
                try memory.withHandle(mode: Int32(SFM_READ)) { handle, info in
                    try readSamples(handle, info: info, wav: WAVDataChunk(bytes), name: name, limits: limits)
                }
            }
            // libmpg123 prints its own warnings on stderr; the error line is ours to write.
            return try QuietStandardError.mayBeMPEG(bytes) ? QuietStandardError.run(decode) : decode()
        } catch let error as SndfileMemory.OpenError {
            let what = Int(error.code) == SF_ERR_UNRECOGNISED_FORMAT ? "not a supported audio file" : "cannot decode audio"
            throw MediaError(source: name, problem: "\(what) (\(error.reason))")
        }
    }

    /// Reads and decodes an audio file; errors start with the file's path. A file too large to
    /// hold `limits.maxSamples` samples even as 64-bit floats (plus 16 MiB of other chunks) is
    /// refused before it is read.
    public static func read(contentsOf url: URL, limits: Limits = Limits()) throws -> Audio {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        let (sampleBytes, overflow) = limits.maxSamples.multipliedReportingOverflow(by: 8)
        if !overflow, size > sampleBytes + (16 << 20) {
            throw MediaError(source: url.lastPathComponent, problem: "\(size) bytes is too large for the limit of \(limits.maxSamples) samples")
        }
        return try decode(readBytes(url), name: url.path, limits: limits)
    }

    /// Frames decoded per `sf_readf_float` call: memory grows with what is decoded, never with
    /// what a header claims.
    private static let chunkFrames = 1 << 16

    private static func readSamples(_ handle: OpaquePointer, info: SF_INFO, wav: WAVDataChunk?,
                                    name: String, limits: Limits) throws -> Audio {
        let channels = Int(info.channels), rate = Int(info.samplerate)
        guard channels > 0 else { throw MediaError(source: name, problem: "has no audio channels") }
        guard sampleRates.contains(rate) else {
            throw MediaError(source: name, problem: "sample rate \(rate) Hz is outside \(sampleRates.lowerBound)…\(sampleRates.upperBound) Hz")
        }
        // libsndfile reports SF_COUNT_MAX frames when it cannot tell the length (e.g. a cut Ogg stream).
        let knownFrames: Int? = info.frames >= 0 && info.frames < Int64.max ? Int(info.frames) : nil
        // For a WAV, judge what the header claims, not libsndfile's count of the bytes present.
        let claimed = [knownFrames, wav?.declaredFrames].compactMap { $0 }.max()
        if let claimed { try checkLimits(frames: claimed, channels: channels, rate: rate, name: name, limits: limits) }
        if let wav, wav.isTruncated {
            throw MediaError(source: name, problem: "truncated: the data chunk promises \(wav.declaredBytes) bytes, the file holds \(wav.availableBytes)")
        }

        var samples: [Float] = []
        samples.reserveCapacity(min(knownFrames ?? 0, chunkFrames * 16) * channels)
        var chunk = [Float](repeating: 0, count: chunkFrames * channels)
        while true {
            let n = chunk.withUnsafeMutableBufferPointer { Int(sf_readf_float(handle, $0.baseAddress, sf_count_t(chunkFrames))) }
            guard n > 0 else { break }
            samples.append(contentsOf: chunk[0..<(n * channels)])
            try checkLimits(frames: samples.count / channels, channels: channels, rate: rate, name: name, limits: limits)
        }
        guard sf_error(handle) == 0 else { throw MediaError(source: name, problem: "cannot decode audio (\(sndfileMessage(handle)))") }
        let frames = samples.count / channels
        guard frames > 0 else { throw MediaError(source: name, problem: "holds no audio samples") }
        if let knownFrames, frames < knownFrames {
            throw MediaError(source: name, problem: "truncated: decoded \(frames) of the \(knownFrames) frames the header promises")
        }
        // Float WAV/AIFF/… can store NaN and ±Inf; nothing downstream (resampling, log-mel, a
        // model) has a meaning for them, so they stop here.
        if let i = samples.firstIndex(where: { !$0.isFinite }) {
            let frame = i / channels
            throw MediaError(source: name, problem: "sample \(frame)\(channels > 1 ? " of channel \(i % channels)" : "") "
                             + "(at \(String(format: "%.3f", Double(frame) / Double(rate))) s) is \(samples[i]): audio samples must be finite")
        }
        return Audio(sampleRate: rate, channelCount: channels, samples: samples)
    }

    private static func checkLimits(frames: Int, channels: Int, rate: Int, name: String, limits: Limits) throws {
        let seconds = Double(frames) / Double(rate)
        if seconds > limits.maxSeconds {
            throw MediaError(source: name, problem: "\(String(format: "%.1f", seconds)) s of audio is over the \(decimal(limits.maxSeconds)) s limit")
        }
        let (count, overflow) = frames.multipliedReportingOverflow(by: channels)
        if overflow || count > limits.maxSamples {
            throw MediaError(source: name, problem: "\(frames) frames × \(channels) channels is over the limit of \(limits.maxSamples) samples")
        }
    }

    /// "600" for a whole number, "0.5" otherwise.
    private static func decimal(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }
}

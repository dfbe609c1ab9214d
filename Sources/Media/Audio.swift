/// Decoded audio: float samples, channels interleaved, at one sample rate.
///
/// Samples are in libsndfile's normalised float scale (see ``AudioFile``): integer PCM of b bits
/// becomes `code / 2^(b−1)` (unsigned 8-bit: `(code − 128) / 128`), so full scale is −1 ≤ x < 1;
/// float files keep their values, including any beyond ±1.
public struct Audio: Equatable, Sendable {
    /// Frames per second (Hz).
    public var sampleRate: Int
    /// Samples per frame (1 mono, 2 stereo, …).
    public var channelCount: Int
    /// `frameCount · channelCount` samples; channel c of frame f is at `f · channelCount + c`.
    public var samples: [Float]

    public init(sampleRate: Int, channelCount: Int, samples: [Float]) {
        precondition(sampleRate > 0 && channelCount > 0, "bad audio geometry: \(channelCount) channels at \(sampleRate) Hz")
        precondition(samples.count % channelCount == 0, "\(samples.count) samples do not fill whole \(channelCount)-channel frames")
        self.sampleRate = sampleRate; self.channelCount = channelCount; self.samples = samples
    }

    /// Mono audio holding `samples`.
    public init(sampleRate: Int, mono samples: [Float]) { self.init(sampleRate: sampleRate, channelCount: 1, samples: samples) }

    /// Number of frames (samples per channel).
    public var frameCount: Int { samples.count / channelCount }
    /// Length in seconds: frames / sample rate.
    public var duration: Double { Double(frameCount) / Double(sampleRate) }

    /// The samples of one channel, in time order.
    public func channel(_ c: Int) -> [Float] {
        precondition(c >= 0 && c < channelCount, "channel \(c) of \(channelCount)")
        return (0..<frameCount).map { samples[$0 * channelCount + c] }
    }

    /// Mix to mono by the mean of the channels (MODEL.md "Audio" step 1):
    /// `m[f] = (1/C) · Σ_c x[f, c]`; mono input is returned unchanged.
    public func mixedToMono() -> [Float] {
        if channelCount == 1 { return samples }
        let c = channelCount, count = Float(c)
        var out = [Float](repeating: 0, count: frameCount)
        samples.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { m in
                for f in 0..<m.count {
                    var sum: Float = 0
                    for ch in 0..<c { sum += x[f &* c &+ ch] }
                    m[f] = sum / count
                }
            }
        }
        return out
    }
}

/// What a RIFF/WAVE file's `data` chunk header promises, read straight from the bytes.
///
/// libsndfile silently shortens a WAV whose `data` chunk claims more bytes than the file holds
/// (it logs "data : 3200 (should be 1557)" and decodes what is there), so a truncated download
/// or a lying header would otherwise decode "successfully". ``AudioFile`` uses this to refuse
/// such files, and to apply the duration limit to what the header claims.
struct WAVDataChunk: Equatable {
    /// Bytes the `data` chunk header declares.
    var declaredBytes: Int
    /// Bytes actually present after the chunk header.
    var availableBytes: Int
    /// `nBlockAlign` of the `fmt ` chunk (bytes per frame for PCM and float), 0 when unknown.
    var blockAlign: Int
    /// `wFormatTag`: 1 PCM, 3 IEEE float, 0xFFFE extensible; 0 when no `fmt ` chunk came first.
    var formatTag: Int

    /// Frames the header promises, when the encoding has fixed-size frames (PCM or float);
    /// nil for compressed encodings and for the streaming placeholders 0 and 0xFFFFFFFF.
    var declaredFrames: Int? {
        guard [1, 3, 0xFFFE].contains(formatTag), blockAlign > 0, isSizeKnown else { return nil }
        return declaredBytes / blockAlign
    }

    /// False for the sizes streaming writers leave when they cannot seek back (0, 0xFFFFFFFF).
    var isSizeKnown: Bool { declaredBytes != 0 && declaredBytes != 0xFFFF_FFFF }

    /// Whether the file ends before the declared data does.
    var isTruncated: Bool { isSizeKnown && declaredBytes > availableBytes }

    /// Walks the chunks of a little-endian RIFF/WAVE file up to `data`; nil for anything else
    /// (RF64, Wave64, AIFF, FLAC, … are left to libsndfile).
    init?(_ bytes: [UInt8]) {
        func tag(_ at: Int) -> String { String(decoding: bytes[at..<(at + 4)], as: UTF8.self) }
        func le(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        guard bytes.count >= 12, tag(0) == "RIFF", tag(8) == "WAVE" else { return nil }
        var blockAlign = 0, formatTag = 0
        var offset = 12
        while offset + 8 <= bytes.count {
            let size = le(offset + 4, 4)
            let body = offset + 8
            switch tag(offset) {
            case "fmt " where size >= 14 && body + 14 <= bytes.count:
                formatTag = le(body, 2)
                blockAlign = le(body + 12, 2)
            case "data":
                self.init(declaredBytes: size, availableBytes: bytes.count - body, blockAlign: blockAlign, formatTag: formatTag)
                return
            default: break
            }
            offset = body + size + (size & 1)  // chunks are padded to even length
        }
        return nil
    }

    init(declaredBytes: Int, availableBytes: Int, blockAlign: Int, formatTag: Int) {
        self.declaredBytes = declaredBytes; self.availableBytes = availableBytes
        self.blockAlign = blockAlign; self.formatTag = formatTag
    }
}

import Foundation

/// Data shipped with Glassbox (this folder), installed beside the binary as a resource bundle.
public enum ShippedAssets {
    /// Spoken words rendered once with espeak-ng (Scripts/make_speech_assets.py): 16 kHz mono
    /// WAV clips and `index.json` (word, voice, speed, onset/offset of speech in seconds).
    public static var speechDirectory: URL? { Bundle.module.url(forResource: "speech", withExtension: nil) }
}

import Assets
import Engine
import Foundation
import Media

extension SpeechBank {
    /// The clips shipped in Assets/speech.
    public static func shipped() throws -> SpeechBank {
        guard let dir = ShippedAssets.speechDirectory else { throw DatasetError("the speech clips (Assets/speech) are not installed beside glassbox") }
        return try load(dir)
    }

    /// Clips listed in `directory/index.json`.
    public static func load(_ directory: URL) throws -> SpeechBank {
        struct Index: Decodable {
            struct Clip: Decodable { let file: String; let word: String; let onset: Double; let offset: Double }
            let clips: [Clip]
        }
        let indexURL = directory.appendingPathComponent("index.json")
        guard let data = FileManager.default.contents(atPath: indexURL.path) else { throw DatasetError("\(indexURL.path): missing") }
        let index: Index
        do { index = try JSONDecoder().decode(Index.self, from: data) } catch {
            throw DatasetError("\(indexURL.path): not a speech index (\(describeDecodingError(error)))")
        }
        let clips = try index.clips.map { c -> Clip in
            let audio = try AudioFile.read(contentsOf: directory.appendingPathComponent(c.file))
            return Clip(word: c.word, samples: audio.mixedToMono(), sampleRate: audio.sampleRate, onset: c.onset, offset: c.offset)
        }
        return SpeechBank(clips: clips)
    }

    public func clips(for word: String) -> [Clip] { clips.filter { $0.word == word } }
}

/// The `scenes` dataset (multimodal): an image of two or three shapes and a one-second clip in
/// which a voice says the colour or the shape of one of them. The caption describes *that*
/// object, so neither modality alone determines it: the image does not say which object is
/// meant, and the word alone does not give the other attributes.
///
/// Grounding: the spoken word, when it appears in the caption, is an audio word with the time
/// span of the speech in the clip; the other attribute words are image words with the object's
/// mask and box.
extension DatasetGenerator {
    public static let sceneClipSeconds = 1.0
    public static let sceneSampleRate = 16000
    /// Shapes the speech clips can name (there is no clip for "diamond").
    static let spokenKinds: Set<SceneObject.Kind> = [.circle, .square, .triangle]

    func scenesExample(_ i: Int, speech: SpeechBank, using rng: inout SplitMix64) -> GeneratedExample {
        let count = rng.nextUniform() < 0.5 ? 2 : 3
        let scene = self.scene(count: count, using: &rng)
        let target = Int.random(in: 0..<count, using: &rng)
        let object = scene.objects[target]
        // Name the shape when it is unique and has a clip; otherwise (and 60 % of the time) the colour.
        let kindIsUnique = scene.objects.filter { $0.kind == object.kind }.count == 1 && Self.spokenKinds.contains(object.kind)
        let cue = kindIsUnique && rng.nextUniform() < 0.4 ? object.kind.rawValue : object.colour.rawValue
        let options = speech.clips(for: cue)
        precondition(!options.isEmpty, "no speech clip for '\(cue)'")
        let clip = options.randomElement(using: &rng)!

        // Place the word in a second of low noise.
        let rate = Self.sceneSampleRate, total = Int(Self.sceneClipSeconds * Double(rate))
        let words = clip.sampleRate == rate ? clip.samples : Resampler.resample(clip.samples, from: clip.sampleRate, to: rate)
        let latest = max(0, total - words.count - rate / 20)
        let start = Int.random(in: min(rate / 10, latest)...latest, using: &rng)
        var samples = [Float](repeating: 0, count: total)
        for (k, v) in words.prefix(total - start).enumerated() { samples[start + k] = v }
        let speechPower = words.reduce(0) { $0 + $1 * $1 } / Float(max(words.count, 1))
        let snr = Float.random(in: 15...30, using: &rng)
        let noiseStd = (speechPower / Foundation.pow(10, snr / 10)).squareRoot()
        for k in samples.indices { samples[k] += noiseStd * rng.nextNormal() }
        let t0 = Double(start) / Double(rate)
        let span = [t0 + clip.onset, min(t0 + clip.offset, Self.sceneClipSeconds)].map { ($0 * 1000).rounded() / 1000 }
        let wav = try! AudioFile.encodeWAV(Audio(sampleRate: rate, mono: samples))

        // Captions about the target object; the cue word refers to the clip.
        let describe: [(String, GroundedCaption.Reference)] = [
            (object.size.rawValue, .objects([target])), (object.colour.rawValue, .objects([target])), (object.kind.rawValue, .objects([target])),
        ].map { $0.0 == cue ? ($0.0, .audio) : $0 }
        let captions = [
            GroundedCaption(SceneCaptions.words("a") + describe),
            GroundedCaption(SceneCaptions.words("the") + describe),
            GroundedCaption(SceneCaptions.words("it is the") + describe),
        ]
        return assemble(i, scene: scene, captions: captions, audio: ("audio/\(Self.stem(i)).wav", wav, span))
    }
}

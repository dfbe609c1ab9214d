@testable import Datasets
import Engine
import Foundation
import Media
import Testing

@Suite struct ImageAugmentationTests {
    /// A rendered two-object scene as a float image, its masks (0/255) and a caption.
    static func scene(seed: UInt64) -> (ImageAugmentation.Sample, RenderedScene, GroundedCaption) {
        var rng = SplitMix64(seed: seed)
        let renderer = SceneRenderer(size: 64)
        var objects: [SceneObject]? = nil
        while objects == nil { objects = renderer.sampleObjects(count: 2, using: &rng) }
        let scene = renderer.render(objects!, using: &rng)
        let caption = SceneCaptions.captions(for: scene.objects)[0]
        let masks = scene.masks.map { m in Tensor(m.map { $0 ? 255 : 0 }, shape: [64, 64, 1]) }
        return (ImageAugmentation.Sample(image: scene.image.tensor, masks: masks, words: caption.words), scene, caption)
    }

    /// Fraction of mask pixels whose colour is within `tolerance` of `rgb`.
    static func agreement(_ s: ImageAugmentation.Sample, mask k: Int, rgb: [UInt8], tolerance: Float = 40) -> Double {
        let m = s.masks[k].scalars, img = s.image.scalars
        let inside = m.indices.filter { m[$0] > 0 }
        guard !inside.isEmpty else { return 0 }
        let close = inside.filter { i in (0..<3).map { abs(img[i * 3 + $0] - Float(rgb[$0])) }.max()! <= tolerance }
        return Double(close.count) / Double(inside.count)
    }

    @Test(arguments: [ImageAugmentation.crop, .rotate, .flip])
    func groundTruthMovesWithTheGeometry(kind: ImageAugmentation) {
        for seed in 0..<8 as Range<UInt64> {
            let (sample, scene, _) = Self.scene(seed: seed)
            var rng = SplitMix64(seed: seed + 100)
            let out = kind.apply(sample, using: &rng)
            for k in scene.objects.indices {
                let a = Self.agreement(out, mask: k, rgb: scene.objects[k].rgb)
                #expect(a >= 0.85, "\(kind) seed \(seed) object \(k): only \(a) of the moved mask has the object's colour")
                let before = sample.masks[k].scalars.filter { $0 > 0 }.count, after = out.masks[k].scalars.filter { $0 > 0 }.count
                #expect(Double(after) > 0.6 * Double(before) && Double(after) < 1.6 * Double(before))
            }
        }
    }

    @Test func flipTwiceIsIdentityAndTheCaptionStaysTrue() {
        var flipped = 0
        for seed in 0..<10 as Range<UInt64> {
            let (sample, scene, caption) = Self.scene(seed: seed)
            var rng = SplitMix64(seed: seed)
            let once = ImageAugmentation.flip.apply(sample, using: &rng)
            if once.image.scalars == sample.image.scalars { #expect(once.words == sample.words); continue }
            flipped += 1
            #expect(ImageOps.flipHorizontal(once.image).scalars == sample.image.scalars)
            #expect(ImageAugmentation.mirrored(once.words) == sample.words)
            // The flipped caption is the caption of the flipped scene.
            let mirroredObjects = scene.objects.map { o -> SceneObject in var m = o; m.centerX = 64 - o.centerX; return m }
            let truth = SceneCaptions.captions(for: mirroredObjects).map(\.words)
            #expect(truth.contains(once.words) || !caption.words.contains("left") && !caption.words.contains("right"),
                    "\(once.words) not among \(truth)")
        }
        #expect(flipped >= 2 && flipped <= 8)  // p = ½ over 10 seeds
    }

    @Test func jitterKeepsColourWordsTrue() {
        let (_, scene, _) = Self.scene(seed: 5)
        for b in [Float(0.85), 1.15] { for c in [Float(0.85), 1.15] { for s in [Float(0.85), 1.15] {
            let j = ImageAugmentation.jitter(scene.image.tensor, brightness: b, contrast: c, saturation: s).scalars
            for (k, o) in scene.objects.enumerated() {
                let i = scene.masks[k].firstIndex(of: true)!
                let rgb = (0..<3).map { UInt8(j[i * 3 + $0].rounded()) }
                let nearest = SceneObject.Colour.allCases.min { x, y in
                    zip(SceneObject.baseRGB(x), rgb).reduce(0) { $0 + ($1.0 - Int($1.1)) * ($1.0 - Int($1.1)) }
                        < zip(SceneObject.baseRGB(y), rgb).reduce(0) { $0 + ($1.0 - Int($1.1)) * ($1.0 - Int($1.1)) }
                }
                #expect(nearest == o.colour, "jitter \(b),\(c),\(s) turned \(o.colour) into \(String(describing: nearest))")
            }
        } } }
    }

    @Test func noiseIsZeroMeanAndBounded() {
        let flat = ImageAugmentation.Sample(image: Tensor.full([64, 64, 3], 128), words: ["a"])
        var rng = SplitMix64(seed: 1)
        let out = ImageAugmentation.noise.apply(flat, using: &rng).image.scalars.map { $0 - 128 }
        let mean = out.reduce(0, +) / Float(out.count)
        let std = (out.reduce(0) { $0 + $1 * $1 } / Float(out.count)).squareRoot()
        #expect(abs(mean) < 0.3 && std <= 8.3)
    }

    @Test func sameSeedSameAugmentation() {
        let (sample, _, _) = Self.scene(seed: 1)
        for kind in ImageAugmentation.allCases {
            var a = SplitMix64(seed: 9), b = SplitMix64(seed: 9)
            #expect(kind.apply(sample, using: &a).image.scalars == kind.apply(sample, using: &b).image.scalars)
        }
    }
}

@Suite struct TextAugmentationTests {
    let words = Tokenizer.words("there is a small red circle left of a large blue square")

    @Test func deletionRateAndNeverEmpty() {
        var rng = SplitMix64(seed: 1)
        var removed = 0, total = 0
        for _ in 0..<2000 {
            let out = TextAugmentation.delete.apply(words, using: &rng)
            #expect(!out.isEmpty)
            removed += words.count - out.count; total += words.count
        }
        #expect(abs(Double(removed) / Double(total) - 0.1) < 0.01)
        #expect(!TextAugmentation.delete.apply(["only"], using: &rng).isEmpty)
    }

    @Test func swapKeepsTheWordsAndInsertAddsOneSynonym() {
        var rng = SplitMix64(seed: 2)
        for _ in 0..<100 {
            let s = TextAugmentation.swap.apply(words, using: &rng)
            #expect(s.sorted() == words.sorted() && zip(s, words).filter { $0 != $1 }.count <= 2)
            let i = TextAugmentation.insert.apply(words, using: &rng)
            #expect(i.count == words.count + 1)
            let added = Set(i).subtracting(words)
            #expect(added.allSatisfy { w in TextAugmentation.synonyms.values.contains { $0.contains(w) } })
        }
    }

    @Test func synonymsComeFromTheTable() {
        var rng = SplitMix64(seed: 3)
        var changed = 0
        for _ in 0..<500 {
            let s = TextAugmentation.synonym.apply(words, using: &rng)
            #expect(s.count == words.count)
            for (a, b) in zip(words, s) where a != b {
                changed += 1
                #expect(TextAugmentation.synonyms[a]?.contains(b) == true)
            }
        }
        #expect(changed > 100)  // 4 replaceable words × 0.1 × 500 ≈ 200
    }
}

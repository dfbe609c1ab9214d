/// Captions of a scene, word by word, each word knowing what it names.
///
/// Every phrasing states order with "left"/"right"/"above"/"below" explicitly, so mirroring the
/// image and swapping "left" ↔ "right" in the caption keeps it true (the flip augmentation
/// relies on this). Captions are at most 15 words, so they fit `text.max_len` 16 with `<bos>`.
public struct GroundedCaption: Equatable, Sendable {
    public enum Reference: Equatable, Sendable {
        /// Function word: names nothing.
        case none
        /// Names these objects of the scene (one for an attribute, two for a relation).
        case objects([Int])
        /// Names the spoken word of the audio clip.
        case audio
    }
    public var words: [String]
    public var references: [Reference]

    public var text: String { Vocabulary.join(words) }

    public init(_ parts: [(String, Reference)]) {
        words = parts.map(\.0)
        references = parts.map(\.1)
    }
}

public enum SceneCaptions {
    /// "small red circle" for object k.
    static func describe(_ o: SceneObject, _ k: Int, withSize: Bool = true) -> [(String, GroundedCaption.Reference)] {
        (withSize ? [(o.size.rawValue, .objects([k]))] : []) + [(o.colour.rawValue, .objects([k])), (o.kind.rawValue, .objects([k]))]
    }

    public static func words(_ s: String) -> [(String, GroundedCaption.Reference)] {
        s.split(separator: " ").map { (String($0), .none) }
    }

    /// All phrasings for a scene of one to three objects.
    public static func captions(for objects: [SceneObject]) -> [GroundedCaption] {
        switch objects.count {
        case 1:
            let d = describe(objects[0], 0)
            return [GroundedCaption(words("a") + d), GroundedCaption(words("there is a") + d), GroundedCaption(words("a picture of a") + d)]
        case 2:
            let (a, b) = (objects[0], objects[1])
            let horizontal = abs(a.centerX - b.centerX) > abs(a.centerY - b.centerY)
            // First = left (or upper) object.
            let first = horizontal ? (a.centerX < b.centerX ? 0 : 1) : (a.centerY < b.centerY ? 0 : 1)
            let second = 1 - first
            let both = GroundedCaption.Reference.objects([first, second].sorted())
            let forward: [(String, GroundedCaption.Reference)] = horizontal ? [("left", both), ("of", .none)] : [("above", both)]
            let backward: [(String, GroundedCaption.Reference)] = horizontal ? [("right", both), ("of", .none)] : [("below", both)]
            let (p, q) = (describe(objects[first], first), describe(objects[second], second))
            return [
                GroundedCaption(words("a") + p + forward + words("a") + q),
                GroundedCaption(words("a") + q + backward + words("a") + p),
                GroundedCaption(words("there is a") + p + forward + words("a") + q),
            ]
        case 3:
            let order = objects.indices.sorted { objects[$0].centerX < objects[$1].centerX }
            let d = order.map { describe(objects[$0], $0, withSize: false) }
            let all = GroundedCaption.Reference.objects(order.sorted())
            let list = words("a") + d[0] + words(", a") + d[1] + words("and a") + d[2]
            let ltr: [(String, GroundedCaption.Reference)] = [("from", .none), ("left", all), ("to", .none), ("right", all)]
            let leftOf = { (i: Int, j: Int) -> [(String, GroundedCaption.Reference)] in
                [("left", .objects([order[i], order[j]].sorted())), ("of", .none)]
            }
            return [
                GroundedCaption(list + ltr),
                GroundedCaption(ltr + list),
                GroundedCaption(words("a") + d[0] + leftOf(0, 1) + words("a") + d[1] + leftOf(1, 2) + words("a") + d[2]),
            ]
        default:
            preconditionFailure("scenes have one to three objects, got \(objects.count)")
        }
    }
}

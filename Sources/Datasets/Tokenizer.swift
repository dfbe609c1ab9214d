import Engine

/// Caption tokenizer: lowercase, then split on whitespace and around punctuation, so
/// "A red circle, left." → ["a", "red", "circle", ",", "left", "."]. Apostrophes and hyphens
/// inside a word are kept ("don't", "t-shirt"). This is the tokenization that `explain --word K`
/// and grounding.json's `index` count in.
public enum Tokenizer {
    public static func words(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        func flush() { if !current.isEmpty { out.append(current); current = "" } }
        let scalars = Array(text.lowercased().unicodeScalars)
        for (i, u) in scalars.enumerated() {
            if u.properties.isWhitespace { flush(); continue }
            let inner = (u == "'" || u == "-") && !current.isEmpty && i + 1 < scalars.count
                && (scalars[i + 1].properties.isAlphabetic || scalars[i + 1].properties.numericType != nil)
            if u.properties.isAlphabetic || u.properties.numericType != nil || u.properties.isDiacritic || inner {
                current.unicodeScalars.append(u)
            } else {
                flush()
                out.append(String(u))  // punctuation and symbols are tokens of their own
            }
        }
        flush()
        return out
    }
}

/// The caption vocabulary (MODEL.md "Text"): ids 0…3 are `<pad>`, `<bos>`, `<eos>`, `<unk>`,
/// then words. Stored in the checkpoint as `glassbox.vocab` (index = id).
public struct Vocabulary: Equatable, Sendable {
    public static let pad: Int32 = 0, bos: Int32 = 1, eos: Int32 = 2, unk: Int32 = 3
    public static let specials = ["<pad>", "<bos>", "<eos>", "<unk>"]

    /// Token strings; index = id.
    public let tokens: [String]
    private let ids: [String: Int32]

    /// A vocabulary from its token list (as stored in a checkpoint). The first four must be the
    /// special tokens, and tokens must be unique.
    public init(tokens: [String]) throws {
        guard tokens.count >= 4, Array(tokens.prefix(4)) == Self.specials else {
            throw VocabularyError("vocabulary must start with \(Self.specials.joined(separator: ", "))")
        }
        var ids: [String: Int32] = [:]
        for (i, t) in tokens.enumerated() {
            guard ids.updateValue(Int32(i), forKey: t) == nil else { throw VocabularyError("vocabulary lists '\(t)' twice") }
        }
        self.tokens = tokens
        self.ids = ids
    }

    /// Builds a vocabulary from training captions: words seen at least `minCount` times, most
    /// frequent first (ties alphabetical), so the same captions always give the same ids.
    public init(captions: [String], minCount: Int = 1) {
        var counts: [String: Int] = [:]
        for c in captions { for w in Tokenizer.words(c) { counts[w, default: 0] += 1 } }
        let kept = counts.filter { $0.value >= minCount && !Self.specials.contains($0.key) }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
        try! self.init(tokens: Self.specials + kept)
    }

    public var count: Int { tokens.count }

    /// The id of a word, `<unk>` when unknown.
    public func id(_ word: String) -> Int32 { ids[word] ?? Self.unk }

    public func contains(_ word: String) -> Bool { ids[word] != nil }

    /// Word ids of a caption (no `<bos>`/`<eos>`).
    public func encode(_ caption: String) -> [Int32] { Tokenizer.words(caption).map(id) }

    /// Words for ids, stopping at `<eos>` and skipping `<pad>`/`<bos>`.
    public func decode(_ ids: [Int32]) -> [String] {
        var out: [String] = []
        for i in ids {
            if i == Self.eos { break }
            if i == Self.pad || i == Self.bos { continue }
            out.append(i >= 0 && Int(i) < tokens.count ? tokens[Int(i)] : "<unk>")
        }
        return out
    }

    /// Words joined with spaces, punctuation attached to the word before ("a circle, left").
    public static func join(_ words: [String]) -> String {
        var s = ""
        for w in words {
            let punct = w.unicodeScalars.count == 1 && !w.unicodeScalars.first!.properties.isAlphabetic
                && w.unicodeScalars.first!.properties.numericType == nil
            if !s.isEmpty && !punct { s += " " }
            s += w
        }
        return s
    }
}

public struct VocabularyError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

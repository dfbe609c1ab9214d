import Foundation

/// What RFC 8259 forbids (or leaves undefined) but Foundation's parsers let through, found by
/// ``scanJSONStructure(_:depthLimit:)``.
///
/// Measured on Linux, Swift 6.3: `JSONSerialization` accepts `{"a":1,}` and keeps the *last* of
/// two equal keys, while `JSONDecoder` keeps the *first*. A safetensors header whose meaning
/// depends on which parser reads it is a lying header, so both are errors here (the Python
/// package's serde parser rejects trailing commas too).
enum JSONStructureProblem: Equatable {
    /// Objects or arrays nested more than `limit` deep (rejected before parsing, so a header of
    /// a million `[` cannot exhaust the stack of a recursive parser).
    case tooDeep(limit: Int)
    /// `key` occurs twice in one object; `owners` are the keys leading to that object from the
    /// top (empty for the top-level object).
    case duplicateKey(key: String, owners: [String])
    /// A `,` directly before `}` or `]`, at byte `offset` of the text.
    case trailingComma(offset: Int)
}

/// One pass over JSON text, without recursion, reporting the structural problems above.
///
/// Depth is checked first and everywhere (a too-deep text is reported even if an earlier
/// duplicate key was seen); otherwise the first problem in text order is returned. The text
/// need not be valid JSON: the scan never fails on garbage, and validity is `JSONSerialization`'s
/// job. Keys are unescaped with `JSONSerialization` so `"a"` and `"\u0061"` count as the same key.
func scanJSONStructure(_ text: ArraySlice<UInt8>, depthLimit: Int) -> JSONStructureProblem? {
    struct Container {
        let isObject: Bool
        var keys: Set<String> = []
        var expectingKey: Bool
        var lastKey: String?
    }
    var stack: [Container] = []
    var firstProblem: JSONStructureProblem?
    var previous: UInt8 = 0  // last significant byte; `"` after a string, `0` after a scalar
    var i = text.startIndex
    while i < text.endIndex {
        let byte = text[i]
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
            i += 1
            continue
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            if stack.count >= depthLimit { return .tooDeep(limit: depthLimit) }
            stack.append(Container(isObject: byte == UInt8(ascii: "{"), expectingKey: byte == UInt8(ascii: "{")))
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            if previous == UInt8(ascii: ","), firstProblem == nil { firstProblem = .trailingComma(offset: i - text.startIndex) }
            if !stack.isEmpty { stack.removeLast() }
        case UInt8(ascii: ","):
            if let last = stack.indices.last, stack[last].isObject { stack[last].expectingKey = true }
        case UInt8(ascii: "\""):
            var end = i + 1  // index of the closing quote
            while end < text.endIndex, text[end] != UInt8(ascii: "\"") {
                end += text[end] == UInt8(ascii: "\\") ? 2 : 1
            }
            if let last = stack.indices.last, stack[last].isObject, stack[last].expectingKey, end < text.endIndex {
                let key = decodeJSONString(text[i...end])
                if stack[last].keys.contains(key), firstProblem == nil {
                    let owners = stack.dropLast().compactMap(\.lastKey)
                    firstProblem = .duplicateKey(key: key, owners: owners)
                }
                stack[last].keys.insert(key)
                stack[last].lastKey = key
                stack[last].expectingKey = false
            }
            previous = UInt8(ascii: "\"")
            i = end + 1
            continue
        default:
            break  // numbers, true/false/null, ':' and garbage
        }
        previous = byte
        i += 1
    }
    return firstProblem
}

/// The value of a quoted JSON string token (quotes included), unescaped by `JSONSerialization`;
/// falls back to the raw bytes when the token is malformed (the parse proper reports that).
private func decodeJSONString(_ token: ArraySlice<UInt8>) -> String {
    if let value = try? JSONSerialization.jsonObject(with: Data(token), options: .fragmentsAllowed) as? String {
        return value
    }
    return String(decoding: token.dropFirst().dropLast(), as: UTF8.self)
}

/// `value` (from `JSONSerialization`) as an `Int` if it is a JSON integer: written without a
/// fraction or exponent, not `true`/`false`, and within `Int`'s range. `1.0`, `1e3`, `true`
/// and `18446744073709551616` are not.
func jsonInteger(_ value: Any) -> Int? {
    guard let number = value as? NSNumber, !(number is NSDecimalNumber) else { return nil }
    switch String(cString: number.objCType) {
    case "c", "B", "d", "f": return nil  // "c"/"B": JSON booleans; "d"/"f": written with '.' or 'e'
    default: return value as? Int  // nil for unsigned values above Int.max
    }
}

/// What kind of JSON value `value` is, for messages: "a string", "a number", "an array", …
func jsonKind(_ value: Any) -> String {
    switch value {
    case is String: return "a string"
    case let number as NSNumber: return isJSONBoolean(number) ? "a boolean" : "a number"
    case is [Any]: return "an array"
    case is [String: Any]: return "an object"
    default: return "null"
    }
}

/// A short rendering of a JSON value for messages: `-3`, `1.5`, `true`, `'x'`, `an array`.
func jsonDescription(_ value: Any) -> String {
    switch value {
    case let text as String: return quoted(text, limit: 40)
    case let number as NSNumber: return isJSONBoolean(number) ? (number.boolValue ? "true" : "false") : number.description
    default: return jsonKind(value)
    }
}

private func isJSONBoolean(_ number: NSNumber) -> Bool {
    let type = String(cString: number.objCType)
    return type == "c" || type == "B"
}

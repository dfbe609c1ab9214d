/// The subset of Python literal syntax that NumPy writes in an `.npy` header
/// (`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`), read the way
/// `ast.literal_eval` would read it, but only as far as NPY needs.
///
/// Supported: strings in `'…'` or `"…"` (common backslash escapes), `True`, `False`, `None`,
/// numbers (kept as their text, since Python integers are unbounded), tuples (`()`, `(5,)`,
/// `(2, 3)`; `(5)` is just `5`, as in Python), lists, and dicts with string keys. Trailing
/// commas are allowed where Python allows them. Nesting deeper than 8 is refused, so a hostile
/// header cannot exhaust the stack.
indirect enum PythonLiteral {
    case string(String)
    case bool(Bool)
    case none
    /// A number's text, e.g. `"-3"`, `"1.5"`, `"99999999999999999999"`.
    case number(String)
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    /// Key-value pairs in source order (duplicates kept, so the caller can refuse them).
    case dict([(key: String, value: PythonLiteral)])

    /// Parses `text`, which must hold exactly one literal (plus surrounding whitespace).
    static func parse(_ text: [Unicode.Scalar]) throws(PythonLiteralError) -> PythonLiteral {
        var parser = Parser(text: text)
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == text.count else { throw parser.unexpected("after the literal") }
        return value
    }

    /// How the value reads in a message: `True`, `'<f8'`, `1.5`, `a tuple`.
    var summary: String {
        switch self {
        case .string(let text): return quoted(text, limit: 20)
        case .bool(let value): return value ? "True" : "False"
        case .none: return "None"
        case .number(let text): return text.count > 24 ? String(text.prefix(24)) + "…" : text
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        }
    }

    /// The value of an integer literal that fits in `Int`; nil for anything else.
    var integer: Int? {
        guard case .number(let text) = self else { return nil }
        let negative = text.hasPrefix("-")
        let digits = text.drop { $0 == "-" || $0 == "+" }.filter { $0 != "_" }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              text.filter({ $0 == "-" || $0 == "+" }).count <= 1 else { return nil }
        var value = 0
        for digit in digits {
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = shifted.addingReportingOverflow(Int(digit.asciiValue! - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return negative ? -value : value
    }
}

/// Why a header is not a literal, e.g. "unexpected '@' at character 12".
struct PythonLiteralError: Error {
    let message: String
}

/// Recursive descent over Unicode scalars; `position` only moves forward.
private struct Parser {
    let text: [Unicode.Scalar]
    var position = 0
    let depthLimit = 8

    func unexpected(_ context: String) -> PythonLiteralError {
        guard position < text.count else { return PythonLiteralError(message: "unexpected end \(context)") }
        let found = escapingControlCharacters(String(text[position]))
        return PythonLiteralError(message: "unexpected '\(found)' at character \(position) \(context)")
    }

    mutating func skipWhitespace() {
        while position < text.count, [" ", "\t", "\n", "\r", "\u{C}"].contains(text[position]) { position += 1 }
    }

    mutating func value(depth: Int) throws(PythonLiteralError) -> PythonLiteral {
        guard depth < depthLimit else { throw PythonLiteralError(message: "nested more than \(depthLimit) levels deep") }
        skipWhitespace()
        guard position < text.count else { throw unexpected("where a value should start") }
        let first = text[position]
        switch first {
        case "'", "\"":
            return .string(try string(quote: first))
        case "(":
            let (items, sawComma) = try sequence(until: ")", depth: depth)
            return items.count == 1 && !sawComma ? items[0] : .tuple(items)  // "(5)" is 5
        case "[":
            return .list(try sequence(until: "]", depth: depth).items)
        case "{":
            return try dict(depth: depth)
        case "-", "+", "0"..."9":
            let start = position
            position += 1
            while position < text.count, text[position].properties.isAlphabetic || ("0"..."9").contains(text[position])
                    || text[position] == "." || text[position] == "_" {
                position += 1
            }
            return .number(String(String.UnicodeScalarView(text[start..<position])))
        default:
            let start = position
            while position < text.count, text[position].properties.isAlphabetic || text[position] == "_" { position += 1 }
            switch String(String.UnicodeScalarView(text[start..<position])) {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default:
                position = start
                throw unexpected("where a value should start")
            }
        }
    }

    /// Items up to `close`, separated by commas, with an optional trailing comma.
    mutating func sequence(until close: Unicode.Scalar, depth: Int) throws(PythonLiteralError) -> (items: [PythonLiteral], sawComma: Bool) {
        position += 1  // the opening bracket
        var items: [PythonLiteral] = []
        var sawComma = false
        while true {
            skipWhitespace()
            if position < text.count, text[position] == close { position += 1; return (items, sawComma) }
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            guard position < text.count else { throw unexpected("in a sequence") }
            if text[position] == "," { position += 1; sawComma = true; continue }
            guard text[position] == close else { throw unexpected("in a sequence") }
        }
    }

    mutating func dict(depth: Int) throws(PythonLiteralError) -> PythonLiteral {
        position += 1  // "{"
        var pairs: [(key: String, value: PythonLiteral)] = []
        while true {
            skipWhitespace()
            if position < text.count, text[position] == "}" { position += 1; return .dict(pairs) }
            guard case .string(let key) = try value(depth: depth + 1) else {
                throw PythonLiteralError(message: "a dict key is not a string")
            }
            skipWhitespace()
            guard position < text.count, text[position] == ":" else { throw unexpected("after a dict key") }
            position += 1
            pairs.append((key, try value(depth: depth + 1)))
            skipWhitespace()
            guard position < text.count else { throw unexpected("in a dict") }
            if text[position] == "," { position += 1; continue }
            guard text[position] == "}" else { throw unexpected("in a dict") }
        }
    }

    /// A quoted string; the common escapes are decoded, any other backslash is kept.
    mutating func string(quote: Unicode.Scalar) throws(PythonLiteralError) -> String {
        position += 1
        var out = String.UnicodeScalarView()
        while position < text.count {
            let c = text[position]
            position += 1
            if c == quote { return String(out) }
            if c == "\n" { break }  // Python strings in quotes cannot span lines
            if c == "\\", position < text.count {
                let escaped = text[position]
                position += 1
                switch escaped {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "0": out.append("\0")
                case "\\", "'", "\"": out.append(escaped)
                default: out.append(c); out.append(escaped)
                }
            } else {
                out.append(c)
            }
        }
        throw PythonLiteralError(message: "unterminated string")
    }
}

import Foundation

/// Why a file could not be read or written, as one line: `"<source>: <problem>"`, e.g.
/// `model.safetensors: tensor 'a' data_offsets [0, 64] end beyond the 32-byte data buffer`.
///
/// `source` is the file name (the URL's last path component) or, for in-memory bytes, the label
/// the caller passed. Control characters in either part are escaped, so the description is always
/// exactly one line and safe to print after `error:` (CLI.md).
public struct MediaError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// File name or label of the bytes.
    public let source: String
    /// What is wrong, without the source.
    public let problem: String

    public init(source: String, problem: String) {
        self.source = escapingControlCharacters(source)
        self.problem = escapingControlCharacters(problem)
    }

    public var description: String { "\(source): \(problem)" }
    public var errorDescription: String? { description }
}

/// `name` in single quotes for an error message, control characters escaped and cut to
/// `limit` characters, so a hostile megabyte-long tensor name still gives a short line.
func quoted(_ name: String, limit: Int = 80) -> String {
    let clipped = name.count > limit ? String(name.prefix(limit)) + "…" : name
    return "'\(escapingControlCharacters(clipped))'"
}

/// Replaces control characters (newlines, tabs, NUL, …) with Swift escapes such as `\n`.
func escapingControlCharacters(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: isControl) else { return text }
    var out = ""
    for scalar in text.unicodeScalars {
        out += isControl(scalar) ? scalar.escaped(asASCII: true) : String(scalar)
    }
    return out
}

private func isControl(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .lineSeparator, .paragraphSeparator: return true
    default: return false
    }
}

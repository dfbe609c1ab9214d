import Foundation

/// Progress on stderr (CLI.md): a bar with count, rate and ETA when stderr is a terminal; plain
/// lines at most every 2 seconds (and at the end) otherwise.
final class Progress {
    let label: String
    let total: Int
    let start: Date
    let isTerminal = isatty(STDERR_FILENO) == 1
    var lastLine = Date.distantPast

    /// `start`: when the work began (a bar made at the first report of work already under way
    /// passes the earlier time, so its first rate is not the count over a few microseconds).
    init(_ label: String, total: Int, start: Date = Date()) { self.label = label; self.total = total; self.start = start }

    /// A progress callback for work that learns its total only when it first reports: the bar is
    /// made then, its rate counted from when this was called.
    static func reporter(_ label: String) -> (_ done: Int, _ total: Int, _ extra: String) -> Void {
        let began = Date()
        var bar: Progress?
        return { done, total, extra in
            if bar == nil { bar = Progress(label, total: total, start: began) }
            bar!.update(done, extra: extra)
        }
    }

    func update(_ done: Int, extra: String = "") {
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let stats = "\(done)/\(total) \(Self.format(rate: rate)) ETA \(Self.format(seconds: eta))\(extra.isEmpty ? "" : " " + extra)"
        if isTerminal {
            let width = 30, filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data("\r\(label) \(bar) \(stats)\u{1B}[K".utf8))
            if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if done >= total || now.timeIntervalSince(lastLine) >= 2 {
            FileHandle.standardError.write(Data("\(label): \(stats)\n".utf8))
            lastLine = now
        }
    }

    static func format(rate: Double) -> String { rate >= 10 ? String(format: "%.0f/s", rate) : String(format: "%.2f/s", rate) }
    static func format(seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s / 60 % 60) : (s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s")
    }
}

import Foundation
import Media

/// The readable forms of an ``EvaluationReport``: a text table and a bar chart.
public enum ExplanationTable {
    static func format(_ x: Double?, digits: Int = 2) -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: "%.\(digits)f", x)
    }

    /// Column headers and one row of cells per method.
    public static func rows(_ report: EvaluationReport) -> (header: [String], rows: [[String]]) {
        let audio = report.methods.contains { !$0.audioPointing.isEmpty }
        var header = ["method", "pointing", "mass in", "deletion ↓", "insertion ↑", "rand del", "rand ins", "self-agree", "randomised ρ", "sanity", "ms"]
        if audio { header.insert(contentsOf: ["audio pointing", "modality"], at: 3) }
        let rows = report.methods.map { m -> [String] in
            var row = [m.method, format(m.pointingGame), format(MethodReport.mean(m.massInside)),
                       format(MethodReport.mean(m.deletion), digits: 3), format(MethodReport.mean(m.insertion), digits: 3),
                       format(MethodReport.mean(m.randomDeletion), digits: 3), format(MethodReport.mean(m.randomInsertion), digits: 3),
                       format(m.selfAgreementMean), format(m.randomizedCorrelation),
                       m.passesRandomization.map { $0 ? "pass" : "FAIL" } ?? "–", format(m.medianMilliseconds, digits: 0)]
            if audio { row.insert(contentsOf: [format(MethodReport.mean(m.audioPointing)), format(MethodReport.mean(m.modality))], at: 3) }
            return row
        }
        return (header, rows)
    }

    /// A fixed-width table for a terminal.
    public static func text(_ report: EvaluationReport) -> String {
        let (header, rows) = rows(report)
        let widths = header.indices.map { c in ([header[c]] + rows.map { $0[c] }).map(\.count).max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, s in c == 0 ? s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                                                    : String(repeating: " ", count: widths[c] - s.count) + s }.joined(separator: "  ")
        }
        var out = "\(report.words) words from \(report.examples) \(report.split) examples (sanity on \(report.sanityWords)); \(report.fill)\n"
        out += line(header) + "\n" + line(widths.map { String(repeating: "-", count: $0) }) + "\n"
        for r in rows { out += line(r) + "\n" }
        if let mm = report.mmShap {
            let shares = mm.shares.keys.sorted().map { "\($0) \(format(mm.shares[$0]))" }.joined(separator: ", ")
            let balance = mm.features.keys.sorted().map { "\(mm.features[$0]!) \($0)" }.joined(separator: " / ")
            out += "MM-SHAP (KernelSHAP, \(mm.samples) samples, balanced features: \(balance); text one per token): \(shares)"
            if let accuracy = mm.modalityAccuracy { out += "; own modality larger for \(format(accuracy)) of words (compare each method's 'modality')" }
            out += "\n"
        }
        return out
    }

    /// Grouped bars per method: pointing game, deletion and insertion AUC, randomised correlation.
    public static func chart(_ report: EvaluationReport) -> Canvas {
        let v = { (f: (MethodReport) -> Double?) in report.methods.map { f($0) ?? .nan } }
        return BarChart(title: "Explanation methods: localisation, faithfulness, sanity", yLabel: "score",
                        groups: report.methods.map(\.method),
                        series: [("pointing game", v { $0.pointingGame }, [31, 119, 180]),
                                 ("deletion AUC (lower is better)", v { MethodReport.mean($0.deletion) }, [214, 39, 40]),
                                 ("insertion AUC", v { MethodReport.mean($0.insertion) }, [44, 160, 44]),
                                 ("rank corr. after randomisation", v { $0.randomizedCorrelation }, [148, 103, 189])])
            .render(width: 960, height: 440)
    }
}

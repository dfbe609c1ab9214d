import Foundation
import Testing
import TestSupport

/// CLI.md's error contract, on the built binary, over bad inputs for every subcommand (issue 15):
/// each case must end with exit status 1 (not a signal), print exactly one stderr line that
/// starts with `error: ` and names the offending file or flag, print nothing on stdout, create
/// nothing (no partial output, no temporary file), and leave a file already at the output path
/// byte for byte as it was. Each case with an output runs twice: with nothing at the output
/// path, and with an earlier output there.
@Suite struct ErrorContractTests {
    /// The output a case would write if it succeeded.
    enum Output: Sendable {
        case none
        /// A file; an earlier one at the path must survive unchanged.
        case file(String)
        /// A folder; an earlier one holds `marker` (the file that makes it replaceable by this subcommand).
        case folder(String, marker: String)
    }

    /// One bad invocation. In `arguments`, `@name` is the corpus file `name` (``ErrorContractCorpus``)
    /// and `{out}` the watched output path; `names` must occur in the error line.
    struct Case: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        let names: String
        let output: Output
        var testDescription: String { arguments.joined(separator: " ") }
    }

    // MARK: The cases

    static func c(_ arguments: [String], _ names: String, _ output: Output = .none) -> Case { Case(arguments: arguments, names: names, output: output) }

    /// Bad values for a flag (replacing its value in `base`, or appended): each error must name the
    /// flag. Negative numbers go as `--flag=-1` (as `--flag -1` the parser sees a missing value).
    static func values(_ base: [String], _ flag: String, _ bad: [String], _ output: Output) -> [Case] {
        bad.map { value in
            var arguments = base
            if let i = base.firstIndex(of: flag) { arguments.removeSubrange(i...(i + 1)) }
            arguments += value.hasPrefix("-") ? ["\(flag)=\(value)"] : [flag, value]
            return c(arguments, flag, output)
        }
    }

    static let notNumbers = ["x", "1.5e", ""]
    static let overflow = "99999999999999999999999"

    static let image = ["--image", "@good.png"], audio = ["--audio", "@good.wav"]
    static let imageAudioModel = ["--model", "@image-audio.safetensors"]

    // Broken inputs by kind (corpus names; each error must name the file).
    static let badModels = ["missing.safetensors", "empty.safetensors", "truncated.safetensors", "text.safetensors", "folder.safetensors",
                            "lying-length.safetensors", "huge-length.safetensors", "offsets.safetensors", "shape.safetensors",
                            "huge-shape.safetensors", "nan.safetensors", "missing-tensor.safetensors", "not-glassbox.safetensors",
                            "no-vocab.safetensors", "heads.safetensors", "bigger.safetensors", "png.safetensors"]
    static let badImages = ["missing.png", "empty.png", "truncated.png", "text.png", "folder.png", "huge.png", "lying.png", "crc.png",
                            "good.wav", "truncated.npy", "truncated.jpg", "garbage.jpg", "huge.jpg", "header-only.jpg"]
    static let badAudio = ["missing.wav", "empty.wav", "truncated.wav", "text.wav", "folder.wav", "lying.wav", "rate0.wav",
                           "nan.wav", "inf.wav", "good.png", "truncated.mp3", "good.jpg"]
    static let badConfigs = ["heads.json", "patch.json", "negative.json", "unknown-key.json", "missing-key.json", "wrong-type.json",
                             "huge-size.json", "huge-width.json", "huge-mels.json", "notjson.json", "empty.json", "missing.json"]
    static let badDatasets: [(String, String)] = [
        ("missing-folder", "missing-folder"), ("no-dataset", "no-dataset"), ("good.png", "good.png"), ("ds-notjson", "ds-notjson/captions.json"),
        ("ds-empty", "ds-empty/captions.json"), ("ds-truncated", "ds-truncated/captions.json"), ("ds-nokeys", "ds-nokeys/captions.json"),
        ("ds-captions-folder", "ds-captions-folder/captions.json"), ("ds-missing-image", "nowhere.png"), ("ds-split", "ds-split/captions.json"),
    ]

    // Each subcommand's valid invocation that its flag cases vary (``validInvocationsSucceed``).
    static let dataBase = ["data", "--dataset", "shapes", "--out", "{out}", "--count", "2"]
    static let trainBase = ["train", "--data", "@shapes", "--out", "{out}", "--config", "@tiny-image.json", "--steps", "1", "--time-limit", "0", "--no-whiten"]
    static let captionBase = ["caption"] + imageAudioModel + image + audio
    static let evaluateBase = ["evaluate"] + imageAudioModel + ["--data", "@scenes", "--captions", "{out}"]
    static let explainBase = ["explain"] + imageAudioModel + image + audio + ["--method", "gradient", "--caption", "a red circle", "--out", "{out}"]
    static let evaluateExplanationsBase = ["evaluate-explanations", "--model", "@scenes.safetensors", "--data", "@scenes", "--chart", "{out}",
                                           "--count", "1", "--methods", "gradient", "--sanity-words", "0", "--curve-steps", "4"]

    static let data: [Case] = {
        let out = Output.folder("data", marker: "captions.json")
        let base = dataBase
        return [
            c(["data", "--dataset", "nope", "--out", "{out}"], "--dataset", out),
            c(["data", "--out", "{out}"], "--dataset", out),
            c(["data", "--dataset", "shapes"], "--out"),
            c(base + ["--colour", "red"], "--colour", out),
            c(base + ["extra"], "extra", out),
            c(["data", "--dataset", "shapes", "--out", "@good.png", "--count", "2"], "good.png"),
            c(["data", "--dataset", "shapes", "--out", "@good.png/data", "--count", "2"], "good.png"),
            c(["data", "--dataset", "shapes", "--out", "@notes", "--count", "2"], "notes"),
        ]
            + values(base, "--count", ["0", "-1", "1000000000000", overflow] + notNumbers, out)
            + values(base, "--seed", ["-1", overflow] + notNumbers, out)
            + values(base, "--image-size", ["0", "-64", "31", "1025", "100000", overflow] + notNumbers, out)
    }()

    static let features: [Case] = {
        let out = Output.file("out.npy")
        let image = ["features", "--config", "@tiny.json", "--out", "{out}", "--image"]
        let audio = ["features", "--config", "@tiny.json", "--out", "{out}", "--audio"]
        return badImages.map { c(image + ["@" + $0], $0, out) }
            + badAudio.map { c(audio + ["@" + $0], $0, out) }
            + badConfigs.map { c(["features", "--image", "@good.png", "--out", "{out}", "--config", "@" + $0], $0, out) }
            + badModels.map { c(["features", "--image", "@good.png", "--out", "{out}", "--model", "@" + $0], $0, out) }
            + [
                c(["features", "--config", "no-such-config", "--out", "{out}", "--image", "@good.png"], "no-such-config", out),
                c(["features", "--config", "@tiny.json", "--out", "{out}", "--image", "@good.png", "--audio", "@good.wav"], "--image", out),
                c(["features", "--config", "@tiny.json", "--out", "{out}"], "--image", out),
                c(["features", "--config", "@tiny.json", "--model", "@image.safetensors", "--out", "{out}", "--image", "@good.png"], "--model", out),
                c(["features", "--out", "{out}", "--image", "@good.png"], "--model", out),
                c(["features", "--model", "@audio.safetensors", "--out", "{out}", "--image", "@good.png"], "--image", out),
                c(["features", "--model", "@image.safetensors", "--out", "{out}", "--audio", "@good.wav"], "--audio", out),
                c(["features", "--config", "@tiny.json", "--image", "@good.png"], "--out"),
                c(["features", "--config", "@tiny.json", "--image", "@good.png", "--out", "@folder.png"], "folder.png"),
                c(["features", "--config", "@tiny.json", "--image", "@good.png", "--out", "@good.png/x.npy"], "good.png"),
                c(["features", "--config", "@tiny.json", "--image", "@good.png", "--out", "@missing-folder/x.npy"], "missing-folder"),
            ]
    }()

    static let train: [Case] = {
        let out = Output.folder("run", marker: "notes.txt")
        let base = trainBase
        return values(base, "--steps", ["0", "-1", overflow] + notNumbers, out)
            + values(base, "--batch", ["0", "-1", "1000000000", overflow] + notNumbers, out)
            + values(base, "--captions-per-image", ["0", "-1", "65", overflow] + notNumbers, out)
            + values(base, "--lr", ["0", "-0.1", "nan", "inf", "-inf", "1e39"] + notNumbers, out)
            + values(base, "--seed", ["-1", overflow] + notNumbers, out)
            + values(base, "--eval-every", ["0", "-1"] + notNumbers, out)
            + values(base, "--checkpoint-every", ["0", "-1"] + notNumbers, out)
            + values(base, "--log-every", ["0", "-1"] + notNumbers, out)
            + values(base, "--warmup", ["-1", overflow] + notNumbers, out)
            + values(base, "--beta2", ["0", "1", "-0.5", "nan", "inf"] + notNumbers, out)
            + values(base, "--workers", ["0", "-1", "65", overflow] + notNumbers, out)
            + values(base, "--time-limit", ["-1", "nan", "inf"] + notNumbers, out)
            + values(base, "--augment", ["sparkle", "flip,sparkle"], out)
            + badConfigs.map { c(["train", "--data", "@shapes", "--out", "{out}", "--steps", "1", "--config", "@" + $0], $0, out) }
            + badDatasets.map { c(["train", "--out", "{out}", "--config", "@tiny-image.json", "--steps", "1", "--data", "@" + $0.0], $0.1, out) }
            + [
                c(["train", "--data", "@ds-no-train", "--out", "{out}", "--config", "@tiny-image.json", "--steps", "1"], "ds-no-train", out),
                c(["train", "--data", "@ds-text-image", "--out", "{out}", "--config", "@tiny-image.json", "--steps", "1"], "000001.png", out),
                c(["train", "--data", "@ds-truncated-image", "--out", "{out}", "--config", "@tiny-image.json", "--steps", "1"], "000001.png", out),
                c(["train", "--data", "@ds-truncated-jpeg", "--out", "{out}", "--config", "@tiny-image.json", "--steps", "1"], "000001.png", out),
                c(["train", "--data", "@ds-huge-image", "--out", "{out}", "--config", "@tiny-image.json", "--steps", "1"], "000001.png", out),
                c(["train", "--data", "@ds-nan-audio", "--out", "{out}", "--config", "@tiny.json", "--steps", "1"], ".wav", out),
                c(["train", "--data", "@shapes", "--out", "{out}", "--config", "no-such-config", "--steps", "1"], "no-such-config", out),
                c(["train", "--data", "@shapes", "--out", "{out}", "--config", "@heads.json", "--steps", "1", "--resume"], "heads.json", out),
                c(["train", "--data", "@shapes", "--out", "@good.png", "--config", "@tiny-image.json", "--steps", "1"], "good.png"),
                c(["train", "--data", "@shapes", "--out", "@good.png/run", "--config", "@tiny-image.json", "--steps", "1"], "good.png"),
                c(["train", "--data", "@scenes", "--out", "{out}", "--config", "@image.safetensors", "--steps", "1"], "image.safetensors", out),
                c(["train", "--data", "@shapes", "--out", "@run-bad-state", "--config", "@tiny-image.json", "--steps", "1", "--resume"], "train_state.safetensors"),
                c(["train", "--data", "@shapes", "--out", "{out}", "--config", "@tiny-image.json", "--lr", "-0.1"], "--lr", out),
                c(["train", "--data", "@shapes", "--config", "@tiny-image.json"], "--out"),
                c(["train", "--out", "{out}", "--config", "@tiny-image.json"], "--data", out),
            ]
    }()

    static let caption: [Case] = {
        let base = captionBase
        return badModels.map { c(["caption", "--model", "@" + $0] + image + audio, $0) }
            + badImages.map { c(["caption"] + imageAudioModel + audio + ["--image", "@" + $0], $0) }
            + badAudio.map { c(["caption"] + imageAudioModel + image + ["--audio", "@" + $0], $0) }
            + values(base, "--beam", ["0", "-1", overflow] + notNumbers, .none)
            + values(base, "--temperature", ["0", "-1", "nan", "inf", "1e39"] + notNumbers, .none)
            + values(base + ["--temperature", "1"], "--top-k", ["-1", overflow] + notNumbers, .none)
            + values(base, "--seed", ["-1", overflow] + notNumbers, .none)
            + [
                c(["caption", "--model", "@audio.safetensors"] + image + audio, "--image"),
                c(["caption", "--model", "@image.safetensors"] + image + audio, "--audio"),
                c(["caption"] + imageAudioModel + audio, "--image"),
                c(["caption"] + imageAudioModel + image, "--audio"),
                c(["caption"] + image + audio, "--model"),
                c(base + ["--json", "yes"], "yes"),
                c(base + ["--verbose"], "--verbose"),
            ]
    }()

    static let evaluate: [Case] = {
        let out = Output.file("captions.json")
        let base = evaluateBase
        return ["truncated.safetensors", "nan.safetensors", "heads.safetensors", "missing.safetensors"].map {
            c(["evaluate", "--model", "@" + $0, "--data", "@scenes", "--captions", "{out}"], $0, out)
        }
            + badDatasets.map { c(["evaluate"] + imageAudioModel + ["--captions", "{out}", "--data", "@" + $0.0], $0.1, out) }
            + values(base, "--beam", ["0", "-1", overflow] + notNumbers, out)
            + values(base, "--split", ["dev", "TEST", ""], out)
            + [
                c(["evaluate"] + imageAudioModel + ["--data", "@ds-nan-audio", "--captions", "{out}"], ".wav", out),
                c(["evaluate"] + imageAudioModel + ["--data", "@ds-no-test", "--captions", "{out}"], "ds-no-test", out),
                c(["evaluate", "--model", "@image.safetensors", "--data", "@ds-text-image", "--captions", "{out}", "--split", "train"], "000001.png", out),
                c(["evaluate", "--model", "@image.safetensors", "--data", "@ds-huge-image", "--captions", "{out}", "--split", "test"], ".png", out),
                c(["evaluate"] + imageAudioModel + ["--data", "@shapes", "--captions", "{out}"], "shapes", out),    // an audio model, a dataset without audio
                c(["evaluate"] + imageAudioModel + ["--data", "@scenes", "--captions", "@good.png/c.json"], "good.png"),
                c(["evaluate"] + imageAudioModel + ["--data", "@scenes", "--captions", "@folder.png"], "folder.png"),
                c(["evaluate"] + imageAudioModel + ["--captions", "{out}"], "--data", out),
            ]
    }()

    static let explain: [Case] = {
        let out = Output.folder("explanation", marker: "explanation.json")
        let base = explainBase
        return ["truncated.safetensors", "huge-length.safetensors", "shape.safetensors", "nan.safetensors", "heads.safetensors", "folder.safetensors"].map {
            c(["explain", "--model", "@" + $0] + image + audio + ["--method", "gradient", "--out", "{out}"], $0, out)
        }
            + badImages.map { c(["explain"] + imageAudioModel + audio + ["--method", "gradient", "--out", "{out}", "--image", "@" + $0], $0, out) }
            + badAudio.map { c(["explain"] + imageAudioModel + image + ["--method", "gradient", "--out", "{out}", "--audio", "@" + $0], $0, out) }
            + values(base, "--method", ["magic", ""], out)
            + values(base, "--ig-method", ["simpson"], out)
            + values(base, "--caption", ["a red zebra", "", "a a a a a a a a"], out)
            + values(base, "--word", ["0", "-1", "4", overflow] + notNumbers, out)
            + values(base, "--steps", ["0", "-1", "100001", overflow] + notNumbers, out)
            + values(base, "--samples", ["1", "0", "-5", "10000000", overflow] + notNumbers, out)
            + values(base, "--seed", ["-1", overflow] + notNumbers, out)
            + values(base, "--sigma", ["-1", "nan", "inf", "1e39"] + notNumbers, out)
            + values(base, "--grid", ["0", "-1", "9", overflow] + notNumbers, out)
            + values(base, "--window", ["0", "9", overflow] + notNumbers, out)
            + values(base, "--stride", ["0", "-2"] + notNumbers, out)
            + values(base, "--audio-segment", ["0", "9"] + notNumbers, out)
            + values(base, "--audio-window", ["0", "9"] + notNumbers, out)
            + values(base, "--audio-stride", ["0", "-3"] + notNumbers, out)
            + values(base, "--batch-size", ["0", "-1", "4097", overflow] + notNumbers, out)
            + values(base, "--modalities", ["sound", "image,,smell"], out)
            + values(base, "--fit", ["sideways", ""], out)
            + values(base, "--picture-size", ["0", "63", "4097", "-5", overflow] + notNumbers, out)
            + [
                c(["explain", "--model", "@audio.safetensors"] + image + audio + ["--method", "gradient", "--out", "{out}"], "--image", out),
                c(["explain", "--model", "@image.safetensors"] + image + ["--method", "gradient", "--audio-window", "2", "--out", "{out}"], "--audio-window", out),
                c(["explain", "--model", "@audio.safetensors"] + audio + ["--method", "gradient", "--grid", "2", "--out", "{out}"], "--grid", out),
                c(["explain"] + imageAudioModel + image + audio + ["--method", "gradient", "--out", "@notes"], "notes"),
                c(["explain"] + imageAudioModel + image + audio + ["--method", "gradient", "--out", "@good.png"], "good.png"),
                c(["explain"] + imageAudioModel + image + audio + ["--method", "gradient", "--out", "@good.png/explanation"], "good.png"),
                c(["explain"] + imageAudioModel + image + audio + ["--out", "{out}"], "--method", out),
                c(["explain"] + imageAudioModel + image + audio + ["--method", "gradient"], "--out"),
            ]
    }()

    static let evaluateExplanations: [Case] = {
        let out = Output.file("chart.png")
        let model = ["--model", "@scenes.safetensors"]
        let base = evaluateExplanationsBase
        return ["truncated.safetensors", "nan.safetensors", "bigger.safetensors", "missing.safetensors"].map {
            c(["evaluate-explanations", "--model", "@" + $0, "--data", "@scenes", "--chart", "{out}", "--count", "1"], $0, out)
        }
            + badDatasets.map { c(["evaluate-explanations"] + model + ["--chart", "{out}", "--count", "1", "--data", "@" + $0.0], $0.1, out) }
            + values(base, "--count", ["0", "-1", overflow] + notNumbers, out)
            + values(base, "--sanity-words", ["-1", overflow] + notNumbers, out)
            + values(base, "--curve-steps", ["0", "1", "1001", overflow] + notNumbers, out)
            + values(base, "--steps", ["0", "100001"] + notNumbers, out)
            + values(base, "--samples", ["1", "10000000"] + notNumbers, out)
            + values(base, "--seed", ["-1"] + notNumbers, out)
            + values(base, "--window", ["0", "-1", "100000"] + notNumbers, out)
            + values(base, "--stride", ["0", "100000"] + notNumbers, out)
            + values(base, "--split", ["dev", ""], out)
            + values(base, "--methods", ["magic", "gradient,magic", "", ","], out)
            + [
                c(["evaluate-explanations"] + model + ["--data", "@ds-bad-grounding", "--chart", "{out}", "--count", "1"], "grounding.json", out),
                c(["evaluate-explanations"] + model + ["--data", "@ds-no-grounding", "--chart", "{out}", "--count", "1"], "grounding.json", out),
                c(["evaluate-explanations"] + model + ["--data", "@ds-nan-audio", "--chart", "{out}", "--count", "1"], ".wav", out),
                c(["evaluate-explanations"] + model + ["--data", "@ds-grounding-index", "--chart", "{out}", "--count", "1"], "grounding.json", out),
                c(["evaluate-explanations"] + model + ["--data", "@ds-grounding-mask", "--chart", "{out}", "--count", "1"], "nowhere.png", out),
                c(["evaluate-explanations"] + model + ["--data", "@ds-text-masks", "--chart", "{out}", "--count", "1"], ".png", out),
                c(["evaluate-explanations"] + model + ["--data", "@ds-text-image", "--chart", "{out}", "--count", "1"], ".png", out),
                c(["evaluate-explanations"] + model + ["--data", "@shapes", "--chart", "{out}", "--count", "1"], "shapes", out),
                c(["evaluate-explanations"] + imageAudioModel + ["--data", "@scenes", "--chart", "{out}", "--count", "1"], "scenes", out),
                c(["evaluate-explanations"] + model + ["--data", "@scenes", "--count", "1", "--chart", "@good.png/chart.png"], "good.png"),
                c(["evaluate-explanations"] + model + ["--data", "@scenes", "--count", "1", "--chart", "@folder.png"], "folder.png"),
                c(["evaluate-explanations", "--model", "@good.png/scenes.safetensors", "--data", "@scenes", "--count", "1"], "good.png"),
            ]
    }()

    static let compressBase = ["compress", "--model", "@scenes.safetensors", "--out", "{out}", "--method", "quantize"]

    /// compress (issue 17): bad sparsity, too many heads, a student that does not fit, a model
    /// that is already quantised, flags of another method.
    static let compress: [Case] = {
        let out = Output.file("m2.safetensors")
        let model = ["--model", "@scenes.safetensors", "--out", "{out}"]
        let prune = ["compress"] + model + ["--method", "prune", "--sparsity", "0.5"]
        let heads = ["compress"] + model + ["--method", "prune-heads", "--data", "@scenes", "--heads", "1"]
        let distill = ["compress"] + model + ["--method", "distill", "--data", "@scenes", "--steps", "1", "--student", "@tiny.json"]
        return values(prune, "--sparsity", ["1", "1.5", "-0.1", "nan"] + notNumbers, out)
            + values(heads, "--heads", ["0", "-1", "1000", overflow] + notNumbers, out)
            + values(distill, "--student", ["caption-small", "no-such-config"], out)
            + badConfigs.map { c(distill.dropLast(2) + ["--student", "@" + $0], $0, out) }
            + badModels.map { c(["compress", "--model", "@" + $0, "--out", "{out}", "--method", "quantize"], $0, out) }
            + values(compressBase, "--method", ["zip", ""], out)
            + values(compressBase, "--percentile", ["0", "101", "nan"] + notNumbers, out)
            + [
                c(["compress", "--model", "@quantized.safetensors", "--out", "{out}", "--method", "quantize"], "quantized.safetensors", out),
                c(compressBase + ["--sparsity", "0.5"], "--sparsity", out),
                c(compressBase + ["--heads", "2"], "--heads", out),
                c(["compress"] + model + ["--method", "prune"], "--sparsity", out),
                c(["compress"] + model + ["--method", "prune-heads", "--heads", "1"], "--data", out),
                c(["compress"] + model + ["--method", "distill", "--data", "@scenes"], "--student", out),
                c(["compress", "--model", "@scenes.safetensors", "--method", "quantize"], "--out"),
                c(["compress", "--model", "@scenes.safetensors", "--method", "quantize", "--out", "@folder.png"], "folder.png"),
                c(["compress", "--model", "@scenes.safetensors", "--method", "quantize", "--out", "@missing-folder/m.safetensors"], "missing-folder"),
            ]
    }()

    static let compareBase = ["compare", "--model", "@scenes.safetensors", "--model", "@quantized.safetensors", "--data", "@scenes",
                              "--chart", "{out}", "--count", "1", "--methods", "gradient", "--bleu-count", "2"]

    static let compare: [Case] = {
        let out = Output.file("compare.png")
        return values(compareBase, "--count", ["0", "-1", overflow] + notNumbers, out)
            + values(compareBase, "--methods", ["sparkle", ","], out)
            + values(compareBase, "--bleu-count", ["0", "-3"], out)
            + [
                c(["compare", "--model", "@scenes.safetensors", "--data", "@scenes", "--chart", "{out}"], "--model", out),
                c(["compare", "--model", "@scenes.safetensors", "--model", "@missing.safetensors", "--data", "@scenes", "--chart", "{out}"], "missing.safetensors", out),
            ]
    }()

    static let bench: [Case] =
        values(["bench"], "--samples", ["0", "-1", "1000000000", overflow] + notNumbers, .none)
        + [c(["bench", "--fast"], "--fast"), c(["bench", "now"], "now"), c(["bench", "--samples", "-1"], "--samples")]

    /// Demo: argument errors and an output folder that cannot be made (a real demo is not run).
    static let demo: [Case] = {
        let out = Output.folder("demo", marker: "index.html")
        return [
            c(["demo", "--out", "{out}", "--fast"], "--fast", out),
            c(["demo", "--out", "{out}", "--quick", "yes"], "yes", out),
            c(["demo", "--out"], "--out"),
            c(["demo", "--out", "@good.png"], "good.png"),
            c(["demo", "--out", "@good.png/demo"], "good.png"),
        ]
    }()

    static let allCases: [Case] = data + features + train + caption + evaluate + explain + evaluateExplanations + compress + compare + bench + demo
        + [c(["frobnicate"], "frobnicate")]

    // MARK: The checks

    /// The invocations the flag cases vary, unchanged, succeed: each case's error comes from the
    /// one thing it changes, not from a broken base.
    @Test(arguments: [(dataBase, Output.folder("data", marker: "captions.json")), (trainBase, .folder("run", marker: "notes.txt")),
                      (captionBase, .none), (evaluateBase, .file("captions.json")), (explainBase, .folder("explanation", marker: "explanation.json")),
                      (evaluateExplanationsBase, .file("chart.png")), (compressBase, .file("m2.safetensors")), (compareBase, .file("compare.png")),
                      (["features", "--config", "@tiny.json", "--image", "@good.png", "--out", "{out}"], .file("out.npy")),
                      (["features", "--config", "@tiny.json", "--audio", "@good.wav", "--out", "{out}"], .file("out.npy"))])
    func validInvocationsSucceed(_ arguments: [String], _ output: Output) throws {
        let work = ErrorContractCorpus.runs.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let r = try runBinary(resolve(arguments, out: outputPath(output, in: work)), in: work)
        #expect(r.status == 0 && !r.signaled, "\(arguments.joined(separator: " ")): \(r.stderr)")
    }

    @Test(arguments: allCases)
    func badInputIsOneErrorLine(_ badCase: Case) throws {
        switch badCase.output {
        case .none: try check(badCase, earlier: false)
        case .file, .folder: try check(badCase, earlier: false); try check(badCase, earlier: true)
        }
    }

    /// Runs one case in a fresh working folder (also the process's current directory), with or
    /// without an earlier output at the watched path, and checks the contract.
    func check(_ badCase: Case, earlier: Bool) throws {
        let fm = FileManager.default
        let work = ErrorContractCorpus.runs.appendingPathComponent(UUID().uuidString)
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }
        let outPath = outputPath(badCase.output, in: work)
        if earlier {
            switch badCase.output {
            case .none: break
            case .file: try Data("an earlier output\n".utf8).write(to: URL(fileURLWithPath: outPath))
            case .folder(_, let marker):
                try fm.createDirectory(atPath: outPath, withIntermediateDirectories: false)
                try Data("an earlier output\n".utf8).write(to: URL(fileURLWithPath: outPath).appendingPathComponent(marker))
            }
        }
        let arguments = resolve(badCase.arguments, out: outPath)
        let before = try snapshot(work), corpusBefore = ErrorContractCorpus.listing()
        let r = try runBinary(arguments, in: work)
        let context = "\(badCase.testDescription)\(earlier ? " (earlier output present)" : "")\nstderr: \(r.stderr)"
        #expect(!r.signaled, "killed by signal \(r.status): \(context)")
        #expect(r.status == 1, "exit status \(r.status): \(context)")
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "not exactly one stderr line: \(context)")
        #expect(r.stderr.hasPrefix("error: "), "no 'error: ' line: \(context)")
        #expect(r.stderr.contains(badCase.names), "the error line does not name '\(badCase.names)': \(context)")
        #expect(r.stdout.isEmpty, "wrote to stdout: \(r.stdout.prefix(300)): \(context)")
        let after = try snapshot(work)
        #expect(after == before, "the working folder changed: \(difference(before, after)): \(context)")
        #expect(ErrorContractCorpus.listing() == corpusBefore, "wrote into the input folder: \(context)")
    }

    func outputPath(_ output: Output, in work: URL) -> String {
        switch output {
        case .none: return work.appendingPathComponent("unused").path
        case .file(let name), .folder(let name, _): return work.appendingPathComponent(name).path
        }
    }

    /// `arguments` with `@name` as the corpus file's path and `{out}` as `out`.
    func resolve(_ arguments: [String], out: String) -> [String] {
        let corpus = ErrorContractCorpus.directory.path
        return arguments.map { $0 == "{out}" ? out : ($0.hasPrefix("@") ? corpus + "/" + $0.dropFirst() : $0) }
    }

    /// Every file and folder under `root`: relative path → its bytes (folders: nil).
    func snapshot(_ root: URL) throws -> [String: Data?] {
        var out: [String: Data?] = [:]
        for case let path as String in FileManager.default.enumerator(atPath: root.path) ?? FileManager.DirectoryEnumerator() {
            var isDirectory: ObjCBool = false
            let full = root.appendingPathComponent(path).path
            _ = FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory)
            out[path] = isDirectory.boolValue ? .some(nil) : .some(FileManager.default.contents(atPath: full))
        }
        return out
    }

    func difference(_ before: [String: Data?], _ after: [String: Data?]) -> String {
        let added = after.keys.filter { before[$0] == nil }.sorted(), removed = before.keys.filter { after[$0] == nil }.sorted()
        let changed = before.keys.filter { after[$0] != nil && after[$0]! != before[$0]! }.sorted()
        return "added \(added), removed \(removed), changed \(changed)"
    }

    struct Run { let status: Int32; let signaled: Bool; let stdout: String; let stderr: String }

    /// Runs glassbox in `directory` with stdout and stderr going to files outside it (no pipe can
    /// fill up), killing it after 120 s (a hang fails the case instead of the suite).
    func runBinary(_ arguments: [String], in directory: URL) throws -> Run {
        let captures = ErrorContractCorpus.runs.appendingPathComponent(".capture-\(UUID().uuidString)")
        let outURL = captures.appendingPathExtension("out"), errURL = captures.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        try out.close(); try err.close()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return Run(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                   stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                   stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}

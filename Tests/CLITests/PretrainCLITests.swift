import Foundation
import Testing
import TestSupport

/// `glassbox pretrain` and `train --init` from the command line: what they print and refuse.
@Suite(.serialized) struct PretrainCLITests {
    static var root: URL { CrashSafetyTests.root }

    /// Pretrain masked patches + words, then fine-tune with --init on 10 images' captions: the
    /// fine-tuning run reports what it took and what it drew fresh.
    @Test func pretrainThenFineTune() throws {
        let (data, config) = CrashSafetyTests.setup
        let pre = Self.root.appendingPathComponent("cli-pre"), fine = Self.root.appendingPathComponent("cli-fine")
        let p = try CLITests.run(["pretrain", "--data", data.path, "--out", pre.path, "--config", config.path, "--steps", "4", "--batch", "4",
                                  "--time-limit", "0", "--objective", "masked-patches,masked-words"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stdout.hasPrefix("pretrained 4 steps"))
        let f = try CLITests.run(["train", "--data", data.path, "--out", fine.path, "--init", pre.appendingPathComponent("model.safetensors").path,
                                  "--train-images", "10", "--steps", "2", "--batch", "4", "--time-limit", "0", "--freeze", "image.enc"])
        #expect(f.status == 0, "\(f.stderr)")
        #expect(f.stderr.contains("--init model.safetensors: took 54 tensors (image.patch ×2, image.pos, image.enc.0 ×16,") && f.stderr.contains("; fresh 0"), "\(f.stderr)")
        #expect(f.stderr.contains("10 examples"), "\(f.stderr)")
    }

    @Test func badInputsAreOneErrorLine() throws {
        let (data, config) = CrashSafetyTests.setup
        let notCheckpoint = Self.root.appendingPathComponent("not-a-checkpoint.safetensors")
        try Data("hello".utf8).write(to: notCheckpoint)
        let out = Self.root.appendingPathComponent("cli-bad").path
        let cases: [([String], String)] = [
            (["pretrain", "--data", data.path, "--out", out, "--config", config.path, "--objective", "masked-frames"],
             "error: --objective masked-frames needs an audio input, and this config has none"),
            (["pretrain", "--data", data.path, "--out", out, "--config", "scenes-small", "--objective", "masked-frames"],
             "error: \(data.path): masked-frames needs audio, and image"),
            (["pretrain", "--data", data.path, "--out", out, "--objective", "masked-pixels"], "error: --objective: unknown objective 'masked-pixels'"),
            (["pretrain", "--data", data.path, "--out", out, "--mask-ratio", "1"], "error: --mask-ratio must be in (0, 1), got 1.0"),
            (["pretrain", "--data", data.path, "--out", out, "--mask-ratio", "0"], "error: --mask-ratio must be in (0, 1), got 0.0"),
            (["train", "--data", data.path, "--out", out, "--init", notCheckpoint.path], "error: not-a-checkpoint.safetensors: "),
            (["train", "--data", data.path, "--out", out, "--train-images", "0"], "error: --train-images must be positive, got 0"),
            (["train", "--data", data.path, "--out", out, "--freeze", "image.encoder"], "error: --freeze: 'image.encoder' names no parameter"),
        ]
        for (arguments, prefix) in cases {
            let r = try CLITests.run(arguments)
            #expect(r.status == 1, "\(arguments): status \(r.status)")
            #expect(r.stderr.hasPrefix(prefix), "\(arguments): \(r.stderr)")
            #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(arguments) left \(out) behind")
        }
    }
}

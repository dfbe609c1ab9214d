import Foundation
import Media
import TestSupport

/// The bad inputs of ``ErrorContractTests``, made at run time in a temporary folder: broken
/// copies of small valid files (PNG, WAV, safetensors, .npy, captions.json), model configs that
/// break one rule each, and dataset folders with one thing wrong each. Case arguments name these
/// files as `@name` (see ``ErrorContractTests/Case``).
enum ErrorContractCorpus {
    /// The corpus folder (removed and rebuilt on each test run).
    static let directory: URL = {
        let temporary = FileManager.default.temporaryDirectory
        // Corpora of earlier test processes that are gone (one per process, as cases run in parallel).
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] where name.hasPrefix("glassbox-contract-") {
            if let pid = Int32(name.dropFirst("glassbox-contract-".count)), kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
            }
        }
        let root = temporary.appendingPathComponent("glassbox-contract-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: root)
        let corpus = root.appendingPathComponent("corpus")
        do { try make(corpus) } catch { preconditionFailure("cannot build the error-contract corpus: \(error)") }
        return corpus
    }()

    /// Where each case's own working folder goes (beside the corpus).
    static var runs: URL { directory.deletingLastPathComponent().appendingPathComponent("runs") }

    /// Every path in the corpus, for checking that no case wrote into it.
    static func listing() -> [String] {
        let base = directory.path + "/"
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        return (enumerator?.allObjects as? [String] ?? []).map { base + $0 }.sorted()
    }

    static func make(_ dir: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        func put(_ name: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
        func folder(_ name: String) throws { try fm.createDirectory(at: dir.appendingPathComponent(name), withIntermediateDirectories: true) }
        let text = Array("this is plain text, not the file its name says\n".utf8)

        // Models: the 8×8-image, 0.08 s-audio fixtures (MODEL.md layout), copied so that nothing a
        // case might write beside a model lands among the fixtures.
        let fixtures = fixturesDirectory.appendingPathComponent("model")
        for (name, fixture) in [("image-audio", "cross_image_audio"), ("image", "cross_image"), ("audio", "concat_audio")] {
            try fm.copyItem(at: fixtures.appendingPathComponent("\(fixture).safetensors"), to: dir.appendingPathComponent("\(name).safetensors"))
        }

        // PNG.
        let pixels = (0..<(8 * 8 * 3)).map { UInt8(($0 * 37) % 256) }
        let png = try PNG.encode(Image(width: 8, height: 8, channels: 3, pixels: pixels))
        try put("good.png", png)
        try put("empty.png", [])
        try put("truncated.png", Array(png.prefix(png.count / 2)))
        try put("text.png", text)
        try folder("folder.png")
        try put("huge.png", pngWithHeader(width: 100_000, height: 100_000, idat: []))  // 10¹⁰ pixels, no data
        let small = try PNG.encode(Image(width: 4, height: 4, channels: 3, pixels: Array(pixels.prefix(48))))
        try put("lying.png", rewritingIHDR(small, width: 8, height: 8))                  // header 8×8, data for 4×4
        var badCRC = png
        badCRC[png.count - 20] ^= 0xFF                                                   // inside the last IDAT
        try put("crc.png", badCRC)

        // JPEG (the committed fixtures, Tests/Fixtures/make_jpeg_fixtures.py): cut, garbage after the
        // signature, a header claiming 60000×60000, the header alone.
        let jpeg = Array(try Data(contentsOf: fixturesDirectory.appendingPathComponent("jpeg/photo_60x40.jpg")))
        try put("good.jpg", jpeg)
        try put("truncated.jpg", Array(jpeg.prefix(jpeg.count / 2)))
        try put("garbage.jpg", [0xFF, 0xD8, 0xFF] + (0..<400).map { UInt8(truncatingIfNeeded: ($0 &* 2654435761) >> 13) })
        var huge = jpeg
        if let sof = (0..<(huge.count - 9)).first(where: { huge[$0] == 0xFF && (0xC0...0xC2).contains(huge[$0 + 1]) }) {
            huge.replaceSubrange((sof + 5)...(sof + 8), with: [0xEA, 0x60, 0xEA, 0x60])   // height, width = 60000
        }
        try put("huge.jpg", huge)
        // MP3 cut mid-stream (libmpg123 would print its own warnings on stderr: they must not appear).
        try put("truncated.mp3", Array(Array(try Data(contentsOf: fixturesDirectory.appendingPathComponent("audio/mp3_mono_16k.mp3"))).prefix(1200)))
        try put("header-only.jpg", Array(try Data(contentsOf: fixturesDirectory.appendingPathComponent("jpeg/header_only.jpg"))))

        // WAV: 0.08 s at 16 kHz (the fixture models' clip).
        let samples = (0..<1280).map { Float(sin(Double($0) * 0.3) * 0.5) }
        let wav = try AudioFile.encodeWAV(Audio(sampleRate: 16000, mono: samples))
        try put("good.wav", wav)
        try put("empty.wav", [])
        try put("truncated.wav", Array(wav.prefix(30)))                                  // inside the fmt chunk
        try put("text.wav", text)
        try folder("folder.wav")
        try put("lying.wav", rewritingWAVDataSize(wav, to: 0x7FFF_FFF0))                 // data chunk claims 2 GB
        var rate0 = wav
        rate0.replaceSubrange(24..<28, with: [0, 0, 0, 0])                              // sample rate 0
        try put("rate0.wav", rate0)
        var nan = samples, inf = samples
        nan[100] = .nan
        inf[200] = .infinity
        try put("nan.wav", AudioFile.encodeWAV(Audio(sampleRate: 16000, mono: nan), encoding: .float32))
        try put("inf.wav", AudioFile.encodeWAV(Audio(sampleRate: 16000, mono: inf), encoding: .float32))

        // .npy (only ever an output; as an input it is a wrong-type file).
        var npyHeader = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".utf8)
        while (10 + npyHeader.count + 1) % 64 != 0 { npyHeader.append(0x20) }
        npyHeader.append(0x0A)
        let npy = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(npyHeader.count), 0] + npyHeader + [UInt8](repeating: 0x3F, count: 24)
        try put("truncated.npy", Array(npy.prefix(npy.count - 5)))

        // safetensors, derived from the image+audio fixture.
        let checkpoint = Array(try Data(contentsOf: dir.appendingPathComponent("image-audio.safetensors")))
        try put("empty.safetensors", [])
        try put("truncated.safetensors", Array(checkpoint.prefix(checkpoint.count / 2)))
        try put("text.safetensors", text)
        try folder("folder.safetensors")
        try put("lying-length.safetensors", withLength(checkpoint, UInt64(checkpoint.count)))      // header "runs" past the end
        try put("huge-length.safetensors", withLength(checkpoint, .max))
        try put("offsets.safetensors", try rewritingSafeTensors(checkpoint) { header, data in
            var t = header["image.patch.weight"] as! [String: Any]
            t["data_offsets"] = [data.count, data.count + 64]
            header["image.patch.weight"] = t
        })
        try put("shape.safetensors", try rewritingSafeTensors(checkpoint) { header, _ in      // same count, wrong shape
            var t = header["image.patch.weight"] as! [String: Any]
            t["shape"] = Array((t["shape"] as! [Int]).reversed())
            header["image.patch.weight"] = t
        })
        try put("huge-shape.safetensors", try rewritingSafeTensors(checkpoint) { header, _ in  // element count overflows
            var t = header["image.patch.weight"] as! [String: Any]
            t["shape"] = [1 << 40, 1 << 40]
            header["image.patch.weight"] = t
        })
        try put("nan.safetensors", try rewritingSafeTensors(checkpoint) { header, data in
            let begin = ((header["text.embed"] as! [String: Any])["data_offsets"] as! [Int])[0]
            data.replaceSubrange(begin..<(begin + 4), with: [0x00, 0x00, 0xC0, 0x7F])             // quiet NaN, little-endian
        })
        try put("missing-tensor.safetensors", try rewritingSafeTensors(checkpoint) { header, _ in
            header["image.patch.bias"] = nil
        })
        try put("not-glassbox.safetensors", try rewritingMetadata(checkpoint) { $0["format"] = "pt" })
        try put("no-vocab.safetensors", try rewritingMetadata(checkpoint) { $0["glassbox.vocab"] = "[\"a\", " })
        try put("heads.safetensors", try rewritingMetadata(checkpoint) { $0["glassbox.config"] = fixtureConfig { $0["n_heads"] = 3 } })
        try put("bigger.safetensors", try rewritingMetadata(checkpoint) {                    // a config its tensors do not fit
            $0["glassbox.config"] = fixtureConfig { var image = $0["image"] as! [String: Any]; image["size"] = 16; $0["image"] = image }
        })
        try put("png.safetensors", png)

        // Model configs (the image+audio fixture's, with one thing wrong).
        try put("tiny.json", Array(fixtureConfig { $0["dropout"] = 0; $0["text"] = ["max_len": 16] }.utf8))
        try put("tiny-image.json", Array(fixtureConfig { $0["dropout"] = 0; $0["text"] = ["max_len": 16]; $0["audio"] = NSNull() }.utf8))
        try put("heads.json", Array(fixtureConfig { $0["n_heads"] = 3 }.utf8))
        try put("patch.json", Array(fixtureConfig { var i = $0["image"] as! [String: Any]; i["patch"] = 3; $0["image"] = i }.utf8))
        try put("negative.json", Array(fixtureConfig { $0["d_ff"] = -4 }.utf8))
        try put("unknown-key.json", Array(fixtureConfig { $0["dropuot"] = 0.5 }.utf8))
        try put("missing-key.json", Array(fixtureConfig { $0["d_model"] = nil }.utf8))
        try put("wrong-type.json", Array(fixtureConfig { $0["d_model"] = "wide" }.utf8))
        try put("huge-size.json", Array(fixtureConfig { var i = $0["image"] as! [String: Any]; i["size"] = 100_000; i["patch"] = 1000; $0["image"] = i }.utf8))
        try put("huge-width.json", Array(fixtureConfig { $0["d_model"] = 1 << 40; $0["n_heads"] = 1 }.utf8))
        try put("huge-mels.json", Array(fixtureConfig { var a = $0["audio"] as! [String: Any]; a["n_fft"] = 1 << 40; a["n_mels"] = 8; $0["audio"] = a }.utf8))
        try put("notjson.json", text)
        try put("empty.json", [])

        // Datasets: small built-in ones made by the binary, then copies with one thing wrong.
        for (name, kind) in [("shapes", "shapes"), ("scenes", "scenes")] {
            let r = try CLITests.run(["data", "--dataset", kind, "--out", dir.appendingPathComponent(name).path, "--count", "10", "--seed", "1", "--image-size", "32"])
            guard r.status == 0 else { throw CorpusError("glassbox data \(kind): \(r.stderr)") }
        }
        func dataset(_ name: String, from source: String = "shapes", _ change: (URL) throws -> Void) throws {
            let url = dir.appendingPathComponent(name)
            try fm.copyItem(at: dir.appendingPathComponent(source), to: url)
            try change(url)
        }
        let captions = Array(try Data(contentsOf: dir.appendingPathComponent("shapes/captions.json")))
        func captionsObject(_ change: (inout [String: Any]) -> Void) throws -> Data {
            var object = try JSONSerialization.jsonObject(with: Data(captions)) as! [String: Any]
            change(&object)
            return try JSONSerialization.data(withJSONObject: object)
        }
        func images(_ object: [String: Any]) -> [[String: Any]] { object["images"] as! [[String: Any]] }
        try folder("no-dataset")
        try folder("notes")
        try put("notes/notes.txt", Array("someone's notes\n".utf8))
        try dataset("ds-notjson") { try Data(text).write(to: $0.appendingPathComponent("captions.json")) }
        try dataset("ds-empty") { try Data().write(to: $0.appendingPathComponent("captions.json")) }
        try dataset("ds-truncated") { try Data(captions.prefix(captions.count / 2)).write(to: $0.appendingPathComponent("captions.json")) }
        try dataset("ds-nokeys") { try captionsObject { $0["annotations"] = nil }.write(to: $0.appendingPathComponent("captions.json")) }
        try dataset("ds-captions-folder") {
            try fm.removeItem(at: $0.appendingPathComponent("captions.json"))
            try fm.createDirectory(at: $0.appendingPathComponent("captions.json"), withIntermediateDirectories: false)
        }
        try dataset("ds-missing-image") {
            try captionsObject { o in var i = images(o); i[0]["file_name"] = "images/nowhere.png"; o["images"] = i }
                .write(to: $0.appendingPathComponent("captions.json"))
        }
        try dataset("ds-split") {
            try captionsObject { o in var i = images(o); i[0]["split"] = "dev"; o["images"] = i }.write(to: $0.appendingPathComponent("captions.json"))
        }
        try dataset("ds-no-train") {   // every image in the test split
            try captionsObject { o in o["images"] = images(o).map { var e = $0; e["split"] = "test"; return e } }
                .write(to: $0.appendingPathComponent("captions.json"))
        }
        try dataset("ds-no-test") {    // every image in the train split
            try captionsObject { o in o["images"] = images(o).map { var e = $0; e["split"] = "train"; return e } }
                .write(to: $0.appendingPathComponent("captions.json"))
        }
        // Every image (or clip) replaced, so whichever split a command reads meets it.
        func replacingAll(_ sub: String, in d: URL, with bytes: [UInt8]) throws {
            for name in try fm.contentsOfDirectory(atPath: d.appendingPathComponent(sub).path) {
                try Data(bytes).write(to: d.appendingPathComponent("\(sub)/\(name)"))
            }
        }
        try dataset("ds-text-image", from: "scenes") { try replacingAll("images", in: $0, with: text) }
        try dataset("ds-truncated-image", from: "scenes") { try replacingAll("images", in: $0, with: Array(png.prefix(png.count / 2))) }
        try dataset("ds-truncated-jpeg", from: "scenes") { try replacingAll("images", in: $0, with: Array(jpeg.prefix(jpeg.count / 2))) }
        try dataset("ds-huge-image", from: "scenes") { try replacingAll("images", in: $0, with: pngWithHeader(width: 100_000, height: 100_000, idat: [])) }
        try dataset("ds-nan-audio", from: "scenes") { try replacingAll("audio", in: $0, with: Array(try Data(contentsOf: dir.appendingPathComponent("nan.wav")))) }
        // A model whose vocabulary is the scenes dataset's (one training step), for the
        // subcommands that skip words a model does not know.
        let run = dir.deletingLastPathComponent().appendingPathComponent("scenes-run")
        let trained = try CLITests.run(["train", "--data", dir.appendingPathComponent("scenes").path, "--out", run.path, "--config",
                                        dir.appendingPathComponent("tiny.json").path, "--steps", "1", "--no-whiten"])
        guard trained.status == 0 else { throw CorpusError("glassbox train: \(trained.stderr)") }
        try fm.moveItem(at: run.appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("scenes.safetensors"))
        // Its quantised copy (compress refuses to quantise it again; compare reads it).
        let quantized = try CLITests.run(["compress", "--model", dir.appendingPathComponent("scenes.safetensors").path, "--out",
                                          dir.appendingPathComponent("quantized.safetensors").path, "--method", "quantize"])
        guard quantized.status == 0 else { throw CorpusError("glassbox compress: \(quantized.stderr)") }
        try dataset("ds-bad-grounding") { try Data(text).write(to: $0.appendingPathComponent("grounding.json")) }
        func groundingWords(_ d: URL, _ change: (inout [String: Any]) -> Void) throws {
            let url = d.appendingPathComponent("grounding.json")
            var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            object["annotations"] = (object["annotations"] as! [[String: Any]]).map { entry in
                var entry = entry
                entry["words"] = (entry["words"] as! [[String: Any]]).map { var w = $0; change(&w); return w }
                return entry
            }
            try JSONSerialization.data(withJSONObject: object).write(to: url)
        }
        try dataset("ds-grounding-index", from: "scenes") { try groundingWords($0) { $0["index"] = 99 } }
        try dataset("ds-grounding-mask", from: "scenes") { try groundingWords($0) { w in if w["mask"] != nil { w["mask"] = "masks/nowhere.png" } } }
        try dataset("ds-text-masks", from: "scenes") { try replacingAll("masks", in: $0, with: text) }
        // A run folder whose training state is not a checkpoint (for --resume).
        try folder("run-bad-state")
        try put("run-bad-state/train_state.safetensors", text)
        try dataset("ds-no-grounding") { try fm.removeItem(at: $0.appendingPathComponent("grounding.json")) }
    }

    /// The image+audio fixture's config as JSON, after `change`.
    static func fixtureConfig(_ change: (inout [String: Any]) -> Void) -> String {
        let json = try! JSONSerialization.jsonObject(with: Data(contentsOf: fixturesDirectory.appendingPathComponent("model/cross_image_audio.json"))) as! [String: Any]
        var config = json["config"] as! [String: Any]
        change(&config)
        return String(decoding: try! JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
    }

    struct CorpusError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Byte surgery

    /// CRC-32 (ISO-HDLC, as PNG chunks use).
    static func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
    }

    /// A PNG whose IHDR claims `width`×`height` RGB 8-bit, with the given IDAT bytes.
    static func pngWithHeader(width: UInt32, height: UInt32, idat: [UInt8]) -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", bigEndian(width) + bigEndian(height) + [8, 2, 0, 0, 0]) + chunk("IDAT", idat) + chunk("IEND", [])
    }

    /// `png` with its IHDR size replaced (and the CRC recomputed, so only the size lies).
    static func rewritingIHDR(_ png: [UInt8], width: UInt32, height: UInt32) -> [UInt8] {
        var out = png
        out.replaceSubrange(16..<24, with: bigEndian(width) + bigEndian(height))
        out.replaceSubrange(29..<33, with: bigEndian(crc32(out[12..<29])))
        return out
    }

    /// `wav` with the size field of its `data` chunk replaced.
    static func rewritingWAVDataSize(_ wav: [UInt8], to size: UInt32) -> [UInt8] {
        var out = wav
        var i = 12
        while i + 8 <= out.count {
            let length = Int(out[i + 4]) | Int(out[i + 5]) << 8 | Int(out[i + 6]) << 16 | Int(out[i + 7]) << 24
            if out[i..<(i + 4)].elementsEqual("data".utf8) {
                out.replaceSubrange((i + 4)..<(i + 8), with: (0..<4).map { UInt8(size >> (8 * UInt32($0)) & 0xFF) })
                return out
            }
            i += 8 + length + (length & 1)
        }
        preconditionFailure("no data chunk")
    }

    /// A safetensors file with its 8-byte header length replaced.
    static func withLength(_ file: [UInt8], _ length: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(length >> (8 * UInt64($0)) & 0xFF) } + file.dropFirst(8)
    }

    /// Parses a safetensors file into its header object and data buffer, lets `change` edit both,
    /// and serializes the result (header padded with spaces to a multiple of 8).
    static func rewritingSafeTensors(_ file: [UInt8], _ change: (inout [String: Any], inout [UInt8]) throws -> Void) throws -> [UInt8] {
        let n = (0..<8).reduce(0) { $0 | Int(file[$1]) << (8 * $1) }
        var header = try JSONSerialization.jsonObject(with: Data(file[8..<(8 + n)])) as! [String: Any]
        var data = Array(file[(8 + n)...])
        try change(&header, &data)
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        return withLength([UInt8](repeating: 0, count: 8), UInt64(json.count)) + json + data
    }

    static func rewritingMetadata(_ file: [UInt8], _ change: (inout [String: String]) -> Void) throws -> [UInt8] {
        try rewritingSafeTensors(file) { header, _ in
            var metadata = header["__metadata__"] as! [String: String]
            change(&metadata)
            header["__metadata__"] = metadata
        }
    }
}

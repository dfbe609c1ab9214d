#!/usr/bin/env python3
"""Pretraining -> fine-tuning against training from scratch at the same label budget (issue 16).

Runs, with the built `glassbox` binary:
  1. `glassbox pretrain` on every training image of DATA (objectives from --objective; for shapes
     masked-patches, which reads no caption),
  2. for each seed: `glassbox train --init PRETRAINED --train-images N` and the same from scratch
     (`glassbox train --train-images N`), with equal steps,
  3. `glassbox evaluate` on the test split (BLEU-4, and single-object shape accuracy computed here
     from the captions it writes), and `glassbox evaluate-explanations --methods
     integrated-gradients` for the pointing game of both kinds of model (first seed),
and prints a Markdown table with means and spreads, and the wall time of each stage.

Usage: python3 Scripts/measure_pretraining.py --glassbox .build/release/glassbox --data data/shapes --out runs/pretraining
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPES = {"circle", "square", "triangle", "diamond"}


def run(cmd, log):
    start = time.time()
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=f, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}; see {log}")
    return r.stdout, time.time() - start


def shape_accuracy(captions_file, data):
    """Over test images whose references each name exactly one shape (all the same)."""
    dataset = json.load(open(os.path.join(data, "captions.json")))
    refs = {}
    for a in dataset["annotations"]:
        refs.setdefault(a["image_id"], []).append(a["caption"].replace(",", " ").split())
    hit = total = 0
    for result in json.load(open(captions_file)):
        named = {tuple(w for w in r if w in SHAPES) for r in refs[result["image_id"]]}
        if len(named) != 1 or len(next(iter(named))) != 1:
            continue
        total += 1
        got = [w for w in result["caption"].replace(",", " ").split() if w in SHAPES]
        hit += int(bool(got) and got[0] == next(iter(named))[0])
    return hit / max(total, 1), total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--glassbox", default=".build/release/glassbox")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--objective", default="masked-patches")
    ap.add_argument("--config", default="caption-small")
    ap.add_argument("--pretrain-steps", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=1000, help="fine-tuning and from-scratch steps")
    ap.add_argument("--train-images", type=int, default=500)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--explain-count", type=int, default=20)
    args = ap.parse_args()
    g, out = args.glassbox, args.out
    os.makedirs(out, exist_ok=True)
    times = {}

    pre = os.path.join(out, "pretrain")
    if not os.path.exists(os.path.join(pre, "model.safetensors")):
        _, times["pretrain"] = run([g, "pretrain", "--data", args.data, "--out", pre, "--config", args.config, "--objective", args.objective,
                                    "--steps", str(args.pretrain_steps), "--time-limit", "0"], os.path.join(out, "pretrain.log"))
    rows = {"fine-tuned": [], "from scratch": []}
    for seed in args.seeds:
        for kind in rows:
            run_dir = os.path.join(out, f"{'fine' if kind == 'fine-tuned' else 'scratch'}-{seed}")
            extra = ["--init", os.path.join(pre, "model.safetensors")] if kind == "fine-tuned" else ["--config", args.config]
            if not os.path.exists(os.path.join(run_dir, "model.safetensors")):
                _, t = run([g, "train", "--data", args.data, "--out", run_dir, "--train-images", str(args.train_images),
                            "--steps", str(args.steps), "--seed", str(seed), "--time-limit", "0"] + extra, run_dir + ".log")
                times.setdefault(kind, []).append(t)
            caps = os.path.join(run_dir, "test-captions.json")
            scores, _ = run([g, "evaluate", "--model", os.path.join(run_dir, "model.safetensors"), "--data", args.data,
                             "--captions", caps], run_dir + ".evaluate.log")
            bleu = json.loads(scores)["bleu_4"]
            acc, n = shape_accuracy(caps, args.data)
            pointing = None
            if seed == args.seeds[0]:
                report, times[f"{kind} evaluate-explanations"] = run(
                    [g, "evaluate-explanations", "--model", os.path.join(run_dir, "model.safetensors"), "--data", args.data,
                     "--methods", "integrated-gradients", "--count", str(args.explain_count)], run_dir + ".explanations.log")
                pointing = json.loads(report)["methods"][0]["pointing_game"]
            rows[kind].append((seed, bleu, acc, n, pointing))

    def spread(xs):
        return f"{statistics.mean(xs):.3f} ± {statistics.pstdev(xs):.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"
    print(f"| model ({args.train_images} captioned images, {args.steps} steps) | test BLEU-4 per seed | mean ± sd | "
          f"shape accuracy (single-object) | IG pointing game (seed {args.seeds[0]}) |")
    print("|---|---|---|---|---|")
    for kind, rs in rows.items():
        print(f"| {kind} | {', '.join(f'{b:.3f}' for _, b, _, _, _ in rs)} | {spread([b for _, b, _, _, _ in rs])} | "
              f"{spread([a for _, _, a, _, _ in rs])} (of {rs[0][3]}) | {rs[0][4] if rs[0][4] is None else f'{rs[0][4]:.2f}'} |")
    gain = statistics.mean(b for _, b, *_ in rows["fine-tuned"]) - statistics.mean(b for _, b, *_ in rows["from scratch"])
    print(f"\nfine-tuned minus from scratch, mean test BLEU-4: {gain:+.3f}")
    print("wall time: " + "; ".join(f"{k} {v:.0f} s" if isinstance(v, float) else f"{k} {statistics.mean(v):.0f} s per run"
                                    for k, v in times.items()))


if __name__ == "__main__":
    main()

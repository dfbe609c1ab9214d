#!/usr/bin/env python3
"""Generates Tests/Fixtures/metrics/cases.json: caption metrics computed by pycocoevalcap.

Run by hand when the fixture needs to change (CI never runs it):
    python3 -m venv /work/venv && /work/venv/bin/pip install pycocoevalcap   # 1.2
    /work/venv/bin/python Tests/Fixtures/make_metric_fixtures.py

Each case is a corpus of already-tokenized captions (lowercase, no punctuation). They are given to
`Bleu(4).compute_score` and `Cider().compute_score` directly as space-joined strings, skipping
PTBTokenizer, so Glassbox's `scoreCaptions(hypotheses:references:)` sees exactly the same words.
Stored per case: references [image][ref][word], hypotheses [image][word], BLEU-1…4 (corpus),
CIDEr-D (corpus mean) and CIDEr-D per image. Floats are Python reprs, which round-trip exactly.

Cases:
  hand     3 images, 2–3 references each: a perfect match, a closest-length tie (4 vs 6 for a
           5-word hypothesis: pycocoevalcap takes the shorter), repeated words (clipping)
  random   40 images, 1–5 references drawn from a shapes vocabulary with word edits; hypotheses of
           length 1, 2 and 3 (higher-order n-grams absent), one longer than all its references,
           one empty, one made only of words that occur in no reference
  random2  a second random corpus (other seed, 25 images)
  perfect  every hypothesis equals one of its references (BLEU-4 is 1 minus the epsilons' bias)
  short    every hypothesis has fewer than 4 words (the 4-gram precision is tiny/small)
  single   one image: ref_len = log(1) = 0 and every df is 1, so every tf-idf weight, hence CIDEr, is 0

Also stored ("ptb"): raw captions in the style of the shapes dataset, with capitals and
punctuation, and the words pycocoevalcap's PTBTokenizer (Java) makes of them after removing its
punctuation list. The Swift test checks that Glassbox's Tokenizer minus punctuation tokens gives the
same words, which is what `scoreCaptions(hypothesisTexts:referenceTexts:)` relies on.
"""
import json
import os
import random

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))

SIZES = ["small", "large", "tiny", "big"]
COLOURS = ["red", "blue", "green", "yellow", "purple"]
SHAPES = ["circle", "square", "triangle", "star"]
RELATIONS = [["left", "of"], ["right", "of"], ["above"], ["below"], ["next", "to"]]
OPENERS = [["a"], ["there", "is", "a"], ["a", "picture", "of", "a"]]
VOCAB = SIZES + COLOURS + SHAPES + ["a", "the", "of", "left", "right", "above", "below", "and", "is"]


def scene(rng):
    """A base caption: "a small red circle left of a large blue square"."""
    obj = lambda: [rng.choice(SIZES), rng.choice(COLOURS), rng.choice(SHAPES)]
    return rng.choice(OPENERS) + obj() + rng.choice(RELATIONS) + ["a"] + obj()


def edit(words, rng, n_edits):
    """Random substitutions, deletions and insertions from the vocabulary."""
    words = list(words)
    for _ in range(n_edits):
        op = rng.choice(["sub", "del", "ins"])
        if op == "sub" and words:
            words[rng.randrange(len(words))] = rng.choice(VOCAB)
        elif op == "del" and len(words) > 1:
            del words[rng.randrange(len(words))]
        else:
            words.insert(rng.randrange(len(words) + 1), rng.choice(VOCAB))
    return words


def random_corpus(seed, n_images):
    rng = random.Random(seed)
    refs, hyps = [], []
    for i in range(n_images):
        base = scene(rng)
        image_refs = [edit(base, rng, rng.randrange(0, 4)) for _ in range(rng.randint(1, 5))]
        hyp = edit(base, rng, rng.randrange(0, 6))
        if i % 10 == 3:
            hyp = hyp[:1 + (i // 10) % 3]                         # length 1, 2, 3: no 4-grams (no 2-grams…)
        if i == 5:
            hyp = max(image_refs, key=len) + ["and", "a", "star"]  # longer than every reference
        if i == 7:
            hyp = rng.choice(image_refs)                          # exact match
        refs.append(image_refs)
        hyps.append(hyp)
    return refs, hyps


def pycoco(refs, hyps):
    gts = {i: [" ".join(r) for r in rs] for i, rs in enumerate(refs)}
    res = {i: [" ".join(h)] for i, h in enumerate(hyps)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    cider, per_image = Cider().compute_score(gts, res)
    return [float(b) for b in bleu], float(cider), [float(c) for c in per_image]


def case(name, refs, hyps):
    bleu, cider, per_image = pycoco(refs, hyps)
    return {"name": name, "references": refs, "hypotheses": hyps,
            "bleu": bleu, "cider_d": cider, "cider_d_per_image": per_image}


def main():
    w = str.split
    hand_refs = [
        [w("a small red circle left of a large blue square"), w("a red circle left of a blue square"),
         w("there is a small red circle")],
        [w("a big green star"), w("a big green star above a")],
        [w("a tiny yellow triangle below a circle"), w("a triangle below a red circle"),
         w("yellow triangle")],
    ]
    hand_hyps = [
        w("a red circle left of a blue square"),   # perfect match with the second reference
        w("a green star above square"),            # 5 words, refs of 4 and 6: a tie, pycocoevalcap takes 4
        w("a a a triangle triangle"),              # clipped counts
    ]
    cases = [case("hand", hand_refs, hand_hyps)]

    refs, hyps = random_corpus(20261123, 40)
    hyps[12] = []                                          # empty hypothesis (a model that stops at once)
    hyps[14] = ["zebra", "under", "the", "moon"]          # no word occurs in any reference
    cases.append(case("random", refs, hyps))
    cases.append(case("random2", *random_corpus(7, 25)))

    refs, _ = random_corpus(99, 12)
    rng = random.Random(5)
    cases.append(case("perfect", refs, [rng.choice(rs) for rs in refs]))
    refs, hyps = random_corpus(11, 10)
    cases.append(case("short", refs, [h[:1 + i % 3] for i, h in enumerate(hyps)]))
    cases.append(case("single", [[w("a small red circle above a square"), w("a red circle")]],
                      [w("a small red circle")]))

    # PTBTokenizer on raw captions in the dataset's style.
    raw = ["A small red circle, left of a large blue square.", "There is a tiny green star.",
           "A circle, a square and a triangle from left to right!", "a picture of a BIG purple star; above: a dot?",
           "A red circle - left of a blue square..."]
    tokenized = PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(raw)})
    ptb = [{"caption": c, "words": tokenized[i][0].split()} for i, c in enumerate(raw)]

    os.makedirs(os.path.join(HERE, "metrics"), exist_ok=True)
    with open(os.path.join(HERE, "metrics", "cases.json"), "w") as f:
        json.dump({"cases": cases, "ptb": ptb}, f, indent=1)
        f.write("\n")
    for c in cases:
        print(c["name"], len(c["hypotheses"]), c["bleu"], c["cider_d"])


if __name__ == "__main__":
    main()

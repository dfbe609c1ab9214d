#!/usr/bin/env python3
"""Checks files written by Glassbox's Swift writers with the reference Python readers.

Run by `swift test` (MediaTests, PythonCrossCheckTests) when GLASSBOX_PYTHON points to a Python
with numpy and safetensors:
    GLASSBOX_PYTHON=/path/to/python swift test --filter MediaTests
or by hand on a directory the test left behind:
    python3 Tests/Fixtures/check_written.py <dir>

<dir>/expected.json lists every file the Swift test wrote and what it must contain:
  {"safetensors": {"<file>": {"metadata": {...}, "tensors": {"<name>": <array>}, "same_bytes_as_python": bool}},
   "npy": {"<file>": <array> + {"same_bytes_as_python": bool}}}
where <array> is {"dtype": "float32" | "int32", "shape": [...], "values": [...]}; float32 values
are given as their uint32 bit patterns, so the comparison is exact (-0, inf and NaN included).
safetensors files are opened with safetensors.safe_open(framework="numpy"), .npy files with
numpy.load(allow_pickle=False). With "same_bytes_as_python", the file must also equal byte for
byte what safetensors.numpy.save / numpy.save write for the same arrays.
Prints one line per mismatch; exit status 0 when everything matches, 1 otherwise.
"""
import io
import json
import os
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save as safetensors_save


def expected_array(spec):
    if spec["dtype"] == "float32":
        flat = np.array(spec["values"], dtype=np.uint32).view(np.float32)
    else:
        flat = np.array(spec["values"], dtype=np.int32)
    return flat.reshape(spec["shape"])


def compare(label, actual, spec, problems):
    want = expected_array(spec)
    if actual.dtype.kind != want.dtype.kind or actual.dtype.itemsize != 4:
        problems.append(f"{label}: dtype {actual.dtype} != {want.dtype}")
    elif actual.shape != want.shape:
        problems.append(f"{label}: shape {actual.shape} != {want.shape}")
    elif actual.astype(want.dtype.newbyteorder("=")).tobytes() != want.tobytes():
        problems.append(f"{label}: values differ: {actual.ravel()[:8]} vs {want.ravel()[:8]}")


def check(directory):
    with open(os.path.join(directory, "expected.json"), encoding="utf-8") as f:
        expected = json.load(f)
    problems = []
    for name, want in expected.get("safetensors", {}).items():
        path = os.path.join(directory, name)
        with safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            if metadata != want["metadata"]:
                problems.append(f"{name}: metadata {metadata!r} != {want['metadata']!r}")
            if set(f.keys()) != set(want["tensors"]):
                problems.append(f"{name}: tensors {sorted(f.keys())} != {sorted(want['tensors'])}")
            for key, spec in want["tensors"].items():
                if key in f.keys():
                    compare(f"{name}:{key}", f.get_tensor(key), spec, problems)
        if want.get("same_bytes_as_python"):
            arrays = {k: expected_array(spec) for k, spec in want["tensors"].items()}
            reference = safetensors_save(arrays, metadata=want["metadata"] or None)
            with open(path, "rb") as f:
                if f.read() != reference:
                    problems.append(f"{name}: bytes differ from safetensors.numpy.save")
    for name, spec in expected.get("npy", {}).items():
        path = os.path.join(directory, name)
        compare(name, np.load(path, allow_pickle=False), spec, problems)
        if spec.get("same_bytes_as_python"):
            reference = io.BytesIO()
            np.save(reference, expected_array(spec))
            with open(path, "rb") as f:
                if f.read() != reference.getvalue():
                    problems.append(f"{name}: bytes differ from numpy.save")
    return problems


def main():
    if len(sys.argv) != 2:
        print("usage: check_written.py <dir>", file=sys.stderr)
        return 2
    problems = check(sys.argv[1])
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

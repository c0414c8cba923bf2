#!/usr/bin/env python3
"""Scores a registry version's canary rows with onnxruntime (an independent ONNX
implementation) and checks them against the manifest's expected predictions (1e-4).

usage: check_onnxruntime.py <registry>/models/<version> [rows.json]
rows.json, if given, replaces the canaries: {"features": [[f32 or null, ...], ...], "expected": [...]}
exit: 0 agree, 1 disagree, 77 onnxruntime/numpy not installed (skip)
"""
import json
import math
import sys

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:  # pragma: no cover
    print(f"skip: {e}", file=sys.stderr)
    sys.exit(77)

d = sys.argv[1]
m = json.load(open(f"{d}/manifest.json"))
sess = ort.InferenceSession(f"{d}/model.onnx", providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
assert inp.shape[1] == len(m["feature_names"]), (inp.shape, len(m["feature_names"]))
if len(sys.argv) > 2:
    r = json.load(open(sys.argv[2]))
    rows, expected = r["features"], r["expected"]
else:
    rows, expected = [c["features"] for c in m["canaries"]], [c["expected"] for c in m["canaries"]]
x = np.array([[math.nan if v is None else v for v in row] for row in rows], dtype=np.float32)
got = sess.run(None, {inp.name: x})[0]
assert got.shape == (len(rows), 1), got.shape
worst = max(abs(float(g[0]) - e) for g, e in zip(got, expected))
print(f"onnxruntime {ort.__version__}: {len(rows)} rows, max |diff| {worst:.3g}")
sys.exit(0 if worst <= 1e-4 else 1)

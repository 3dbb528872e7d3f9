#!/usr/bin/python3
"""make_st_python.py — writes tests/data/st_python.safetensors, the fixture
that tests/test_safetensors.c reads to check interoperability with files
written outside mrcnn. Uses only the Python standard library (struct, json),
following the safetensors format: u64 little-endian header length, JSON
header, raw little-endian data. Deliberately unlike our writer: no header
padding (so the data section is not aligned), keys not sorted, a U8 tensor
first (so later tensors are misaligned), several dtypes, a scalar, an empty
tensor and metadata. The expected values are repeated in the C test.

usage: /usr/bin/python3 tests/data/make_st_python.py [OUT]
"""
import json
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/st_python.safetensors"

tensors = [  # (name, dtype, shape, bytes) in data order
    ("roi_heads.mask_predictor.mask_fcn_logits.mask", "U8", [3], bytes([1, 0, 255])),
    ("backbone.body.conv1.weight", "F32", [2, 3, 1, 1],
     struct.pack("<6f", *[i * 0.5 - 1.0 for i in range(6)])),
    ("roi_heads.box_predictor.bbox_pred.bias", "F64", [3], struct.pack("<3d", 1.5, -2.25, 1e-3)),
    ("half", "F16", [4], struct.pack("<4e", 1.0, -2.5, 65504.0, 2.0 ** -24)),
    ("bf", "BF16", [2], struct.pack("<2H", 0x4049, 0xBF00)),  # 3.140625, -0.5
    ("iteration_count", "I64", [], struct.pack("<q", 1234567890123)),
    ("empty", "F32", [0, 4], b""),
]

header = {"__metadata__": {"format": "pt", "iteration": "100"}}
data = b""
for name, dtype, shape, raw in tensors:
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
# a key order unlike the data order
keys = sorted(header, key=lambda k: (len(k), k), reverse=True)
hjson = json.dumps({k: header[k] for k in keys}, separators=(",", ":")).encode()
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(hjson)) + hjson + data)

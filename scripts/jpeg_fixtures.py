#!/usr/bin/python3
"""jpeg_fixtures.py — the small JPEGs of tests/fixtures/jpeg/ and their pixels
as PIL decodes them (Image.open(f).convert("RGB"), libjpeg-turbo), for
tests/test_image.c's bitwise check of datasets/image.c's JPEG decoder.

Crops of COCO image 139 (../shared/coco/images, or the repository's
tests/fixtures/coco/images copy) saved with PIL in several encodings
(4:2:0, 4:2:2, 4:4:4 chroma, progressive, grayscale, odd sizes,
quality 30), and expected.txt: one line per file, "NAME W H FNV1A64" of the
decoded RGB bytes (row-major, 3 per pixel). Rerun to regenerate; commit both.

    /usr/bin/python3 scripts/jpeg_fixtures.py [OUTDIR]
"""
import os, sys
from PIL import Image

def fnv1a64(b):
    h = 0xcbf29ce484222325
    for x in b:
        h ^= x
        h = (h * 0x100000001b3) & 0xffffffffffffffff
    return h

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fixtures", "jpeg")
    src = os.path.join(here, "..", "tests", "fixtures", "coco", "images", "000000000139.jpg")
    os.makedirs(out, exist_ok=True)
    im = Image.open(src).convert("RGB")
    cases = [  # name, crop box, save options
        ("s420.jpg", (100, 120, 164, 168), dict(quality=85, subsampling=2)),
        ("s422_odd.jpg", (300, 200, 337, 229), dict(quality=75, subsampling=1)),
        ("s444.jpg", (0, 0, 48, 40), dict(quality=95, subsampling=0)),
        ("prog_odd.jpg", (400, 50, 451, 83), dict(quality=80, progressive=True)),
        ("gray.jpg", (200, 300, 245, 333), dict(quality=90, mode="L")),
        ("q30_420_odd.jpg", (500, 100, 563, 141), dict(quality=30, subsampling=2)),
    ]
    lines = []
    for name, box, opt in cases:
        c = im.crop(box)
        if opt.pop("mode", None) == "L":
            c = c.convert("L")
        p = os.path.join(out, name)
        c.save(p, "JPEG", optimize=False, **opt)
        d = Image.open(p).convert("RGB")
        lines.append("%s %d %d %016x" % (name, d.width, d.height, fnv1a64(d.tobytes())))
    with open(os.path.join(out, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))

if __name__ == "__main__":
    main()

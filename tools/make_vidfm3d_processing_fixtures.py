#!/usr/bin/env python3
"""Writes golden fixtures for the authors' data processing (github.com/zxhuang1698/VidFM3D, commit
84ea537, vidfm3d/data/processing/) and for CPython's `random`, so vidprobe's re-implementation of
their window/crop choice and train/val split is checked against their own code.

Usage: python3 tools/make_vidfm3d_processing_fixtures.py PATH_TO_VIDFM3D_CHECKOUT
(the directory holding `vidfm3d/`, e.g. `git archive HEAD vidfm3d | tar x`). Their modules are
imported and called; none of their code is copied. Run with CPython 3.11.7 and NumPy 2.x (the
fixtures-venv); `random`'s MT19937 seeding and `_randbelow` are unchanged from 3.2 to 3.13.

Written files (contract with tests/core/python_random_test.cpp and
tests/data/vidfm3d_processing_test.cpp):
  * tests/fixtures/vidfm3d/python_random.json: per seed, CPython's `random.Random(seed)`:
    getrandbits(32) x 8, getrandbits(k) for k in 1..64, random() x 3, _randbelow(n) for a few n,
    and shuffle(list(range(n))) each from a freshly seeded generator.
  * tests/fixtures/vidfm3d/processing.json:
      - "split": their co3d/create_split.py and dl3dv/create_split.py `main()` run (sys.argv
        patched) on temporary trees of empty `<subset>/<hash>.sft` files (DL3DV: two of their 13
        outliers included, and a subset folder not ending in "K", which they ignore); records the
        tree and the train.json / val.json they wrote.
      - "crops": co3d/extract_frames.py crop_aspect_pp_locked, trunc_loss and upsample_factor on
        random image sizes and boxes (16:9).
      - "windows": co3d/extract_frames.py process_sequence on synthetic sequences whose masks are
        rectangles (some frames empty). Stand-in: `cv2` is replaced by a module whose imread
        returns the synthetic mask for a mask path and, for an image path, an int32 array holding
        (x, y, frame index) per pixel; resize records what it was given (so the chosen crop box
        and frame indices are read back from the pixels it receives) and imwrite does nothing.
        Their search (window starts, border, aspect crop, truncation, up-sampling check) runs
        unchanged.
"""
import argparse
import json
import pathlib
import random
import sys
import tempfile
import types

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "vidfm3d"


def python_random_fixture():
    seeds = [0, 1, 42, 123456789, 2**32 + 5, 2**40 + 123]
    out = []
    for seed in seeds:
        r = random.Random(seed)
        rec = {"seed": seed, "uint32": [r.getrandbits(32) for _ in range(8)]}
        r = random.Random(seed)
        rec["getrandbits"] = [str(r.getrandbits(k)) for k in range(1, 65)]  # strings: > 2^53
        r = random.Random(seed)
        rec["random"] = [r.random() for _ in range(3)]
        r = random.Random(seed)
        rec["randbelow"] = [[n, r._randbelow(n)] for n in (1, 2, 3, 7, 100, 1000, 2**31 + 1)]
        shuffles = []
        for n in (1, 2, 5, 10, 37, 300):
            r = random.Random(seed)
            items = list(range(n))
            r.shuffle(items)
            shuffles.append(items)
        rec["shuffle"] = shuffles
        out.append(rec)
    return {"python": sys.version.split()[0], "cases": out}


def run_split(module, tree, root: pathlib.Path):
    for subset, names in tree.items():
        (root / subset).mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / subset / name).touch()
    out_dir = root / "_out"
    argv = sys.argv
    sys.argv = ["create_split.py", "--root", str(root), "--out-dir", str(out_dir)]
    try:
        module.main()
    finally:
        sys.argv = argv
    return {
        "tree": tree,
        "train": json.loads((out_dir / "train.json").read_text()),
        "val": json.loads((out_dir / "val.json").read_text()),
    }


def split_fixture():
    import vidfm3d.data.processing.co3d.create_split as co3d_split
    import vidfm3d.data.processing.dl3dv.create_split as dl3dv_split

    rng = np.random.default_rng(3)
    hexes = lambda n, k: ["%0*x" % (k, int(v)) for v in rng.integers(0, 16**min(k, 15), n)]
    co3d_tree = {"apple": [f"{h}.sft" for h in hexes(7, 8)],
                 "teddybear": [f"{h}.sft" for h in hexes(12, 8)],
                 "toy": [f"{h}.sft" for h in hexes(4, 8)] + ["notes.txt"]}
    outliers = [name for _, name in dl3dv_split.outliers]
    dl3dv_tree = {"1K": [f"{h}.sft" for h in hexes(9, 64)],
                  "3K": [f"{h}.sft" for h in hexes(6, 64)] + [outliers[7]],
                  "4K": [f"{h}.sft" for h in hexes(5, 64)] + [outliers[0]],
                  "extra": [f"{h}.sft" for h in hexes(2, 64)]}
    with tempfile.TemporaryDirectory() as tmp:
        co3d = run_split(co3d_split, co3d_tree, pathlib.Path(tmp) / "co3d")
        dl3dv = run_split(dl3dv_split, dl3dv_tree, pathlib.Path(tmp) / "dl3dv")
    return {"co3d": co3d, "dl3dv": dl3dv,
            "dl3dv_outliers": [list(o) for o in dl3dv_split.outliers]}


class FakeCv2(types.ModuleType):
    """cv2 stand-in: masks and coordinate images from memory, resize records its input."""

    IMREAD_GRAYSCALE, IMREAD_UNCHANGED, INTER_CUBIC, INTER_NEAREST = 0, -1, 2, 0

    def __init__(self):
        super().__init__("cv2")
        self.masks, self.size, self.resized = {}, (0, 0), []

    def imread(self, path, flag=None):
        path = str(path)
        if path in self.masks:
            return self.masks[path]
        w, h = self.size
        frame = int(pathlib.Path(path).stem[len("frame"):])
        ys, xs = np.mgrid[0:h, 0:w]
        img = np.stack([xs, ys, np.full_like(xs, frame)], -1).astype(np.int32)
        return img if flag != self.IMREAD_GRAYSCALE else img[..., 0]

    def resize(self, img, size, interpolation=None):
        if img.ndim == 3:  # the RGB stand-in: its pixels name the crop and the frame
            self.resized.append([int(img[0, 0, 2]), int(img[0, 0, 0]), int(img[0, 0, 1]),
                                 int(img[-1, -1, 0]), int(img[-1, -1, 1])])
        return img

    def imwrite(self, path, img):
        return True


def window_fixture(extract_frames, cv2):
    rng = np.random.default_rng(11)
    cases = []
    specs = [  # (width, height, frames, nF, search_step, stride)
        (192, 108, 30, 9, 4, 1), (108, 192, 40, 9, 4, 1), (200, 150, 33, 9, 3, 2),
        (160, 90, 25, 5, 4, 1), (120, 160, 50, 13, 4, 1), (192, 108, 12, 9, 4, 1),
        (300, 200, 28, 7, 2, 1), (96, 128, 21, 9, 4, 1)]
    with tempfile.TemporaryDirectory() as tmp:
        for case_index, (w, h, n, nF, step, stride) in enumerate(specs):
            seq = pathlib.Path(tmp) / "raw" / "cat" / f"seq{case_index}"
            (seq / "images").mkdir(parents=True)
            (seq / "masks").mkdir(parents=True)
            boxes = []
            cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
            bw, bh = rng.uniform(0.1, 0.6) * w, rng.uniform(0.1, 0.6) * h
            for i in range(n):
                (seq / "images" / f"frame{i:06d}.jpg").touch()
                mpath = seq / "masks" / f"frame{i:06d}.png"
                mpath.touch()
                cx += rng.normal(0, 0.04 * w)
                cy += rng.normal(0, 0.04 * h)
                x0 = int(np.clip(cx - bw / 2, -0.2 * w, w - 1)); x1 = int(np.clip(cx + bw / 2, 0, 1.2 * w))
                y0 = int(np.clip(cy - bh / 2, -0.2 * h, h - 1)); y1 = int(np.clip(cy + bh / 2, 0, 1.2 * h))
                x0, y0 = max(x0, 0), max(y0, 0)
                x1, y1 = min(x1, w - 1), min(y1, h - 1)
                mask = np.zeros((h, w), np.uint8)
                empty = rng.uniform() < 0.04 or x1 < x0 or y1 < y0
                if not empty:
                    mask[y0:y1 + 1, x0:x1 + 1] = 255
                cv2.masks[str(mpath)] = mask
                boxes.append(None if empty else [x0, y0, x1, y1])
            cv2.size, cv2.resized = (w, h), []
            # small targets so the 1.5x up-sampling limit passes on these small frames
            resize_to = (96, 54) if case_index % 4 else (160, 90)
            ok, msg = extract_frames.process_sequence(
                seq, pathlib.Path(tmp) / "out", nF, stride, step, resize_to, 0.25, 16 / 9, 0.5)
            chosen = None
            if ok and cv2.resized:
                first = cv2.resized[0]
                chosen = {"start": first[0], "crop": first[1:],
                          "frames": [r[0] for r in cv2.resized]}
            cases.append({"width": w, "height": h, "num_frames": nF, "search_step": step,
                          "stride": stride, "resize_to": list(resize_to), "boxes": boxes, "accepted": bool(ok),
                          "message": msg, "chosen": chosen})
    return cases


def crop_fixture(extract_frames):
    rng = np.random.default_rng(5)
    cases = []
    for _ in range(60):
        w, h = [int(v) for v in rng.choice([(1920, 1080), (1080, 1920), (800, 600), (480, 640), (333, 777)])]
        x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
        crop = [int(v) for v in extract_frames.crop_aspect_pp_locked(w, h, x0, y0, x1, y1, 16 / 9)]
        boxes = []
        for _ in range(3):
            bx0, bx1 = sorted(int(v) for v in rng.integers(0, w, 2))
            by0, by1 = sorted(int(v) for v in rng.integers(0, h, 2))
            boxes.append([bx0, by0, bx1, by1])
        cases.append({"width": w, "height": h, "union": [x0, y0, x1, y1], "crop": crop,
                      "boxes": boxes, "trunc": extract_frames.trunc_loss(boxes, crop),
                      "upsample": extract_frames.upsample_factor(crop, 960, 540)})
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkout", type=pathlib.Path, help="VidFM3D checkout (holds vidfm3d/)")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    if not (checkout / "vidfm3d" / "data" / "processing" / "co3d" / "extract_frames.py").is_file():
        sys.exit(f"{checkout}: not a VidFM3D checkout")
    sys.path.insert(0, str(checkout))
    cv2 = FakeCv2()
    sys.modules["cv2"] = cv2
    import vidfm3d.data.processing.co3d.extract_frames as extract_frames

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "python_random.json").write_text(json.dumps(python_random_fixture()) + "\n")
    processing = {"source": "zxhuang1698/VidFM3D 84ea537 vidfm3d/data/processing",
                  "split": split_fixture(), "crops": crop_fixture(extract_frames),
                  "windows": window_fixture(extract_frames, cv2)}
    (OUT / "processing.json").write_text(json.dumps(processing) + "\n")
    print("wrote", OUT / "python_random.json", OUT / "processing.json")


if __name__ == "__main__":
    main()

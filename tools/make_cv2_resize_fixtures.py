#!/usr/bin/env python3
"""Writes tests/fixtures/vidfm3d/cv2_resize.json: OpenCV's own cv2.resize on small seeded 8-bit
images, the resampling the authors' CO3D processing (VidFM3D vidfm3d/data/processing/co3d/
extract_frames.py) applies to each accepted window: INTER_CUBIC for the RGB crop to 960 x 540 and
INTER_NEAREST for masks and depth. tests/data/vidfm3d_processing_test.cpp compares
data/vidfm3d_processing.h's cv2_resize_cubic / cv2_resize_nearest with them.

Cases: 3-channel and 1-channel images, down- and up-sampling by the ratios a 16:9 crop meets
(<= 1.5x up, arbitrary down), and non-integer ratios in each axis.

Versions: opencv-python-headless 4.14.0 (PyPI, installed with --no-deps --target DIR), NumPy 2.4.
Rerun (CPU, a second):
  pip install --no-deps --target /tmp/cv2site "opencv-python-headless<5"
  PYTHONPATH=/tmp/cv2site python3 tools/make_cv2_resize_fixtures.py
"""
import json
import pathlib

import cv2
import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/vidfm3d/cv2_resize.json"
# (source width, height, channels) -> (target width, height)
CASES = [((37, 21, 3), (16, 9)), ((23, 13, 3), (32, 18)), ((48, 27, 3), (64, 36)),
         ((29, 17, 1), (40, 23)), ((64, 36, 3), (21, 12)), ((9, 7, 1), (13, 5))]


def main():
    rng = np.random.default_rng(7)
    cases = []
    for (width, height, channels), (out_w, out_h) in CASES:
        image = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
        case = {"width": width, "height": height, "channels": channels, "out_width": out_w,
                "out_height": out_h, "pixels": image.reshape(-1).tolist()}
        for name, mode in (("cubic", cv2.INTER_CUBIC), ("nearest", cv2.INTER_NEAREST)):
            resized = cv2.resize(image, (out_w, out_h), interpolation=mode)
            case[name] = resized.reshape(-1).tolist()  # (H, W) for one channel: same order
        cases.append(case)
    OUT.write_text(json.dumps({"opencv": cv2.__version__, "cases": cases}) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases, OpenCV {cv2.__version__})")


if __name__ == "__main__":
    main()

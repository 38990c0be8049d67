#!/usr/bin/env python3
"""Writes tests/fixtures/vidfm3d/co3d_jpeg.json: the last step of the authors' CO3D processing
(VidFM3D vidfm3d/data/processing/co3d/extract_frames.py, process_sequence) run by OpenCV itself on
a small seeded frame: the crop, cv2.resize(..., cv2.INTER_CUBIC) to the output size, then
cv2.imwrite(".jpg") with OpenCV's defaults (their line 298) and cv2.imread of that file, which is
what VGGT and the feature extractors read afterwards. tests/data/vidfm3d_processing_test.cpp runs
vidprobe's vidfm3d_co3d_crop and io/image.h's JPEG round trip on the same frame and compares.

Stored per case: the crop, the output size, cv2's resized pixels, the JPEG file's bytes (hex) and
the decoded pixels; pixels are RGB, row-major (cv2 is fed and read BGR).

Versions: opencv-python-headless 4.14.0 (bundled libjpeg-turbo 3.1.2), NumPy 2.4.
Rerun (CPU, a second):
  pip install --no-deps --target /tmp/cv2site "opencv-python-headless<5"
  PYTHONPATH=/tmp/cv2site python3 tools/make_co3d_jpeg_fixtures.py
"""
import json
import pathlib
import re
import tempfile

import cv2
import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/vidfm3d/co3d_jpeg.json"
WIDTH, HEIGHT = 56, 40
# (crop [x0, y0, x1, y1] inclusive, as their boxes; output (width, height)): a 16:9 crop of 48 x 27
# up-sampled 1.33x (their limit is 1.5x) and down-sampled to odd sizes (partial JPEG blocks).
CASES = [([4, 6, 51, 32], (64, 36)), ([4, 6, 51, 32], (37, 21))]


def source_frame():
    """Smooth shading, an object with a hard edge and seeded noise: JPEG meets all three."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    rgb = np.stack([40 + 3 * x + y, 200 - 4 * y + x, 90 + (x * y) % 60], axis=-1).astype(np.int32)
    inside = (x - 28) ** 2 + (y - 20) ** 2 < 12**2
    rgb[inside] = [220, 60, 30]
    rgb += rng.integers(-10, 11, size=rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def their_step(bgr, crop, size, directory):
    x0, y0, x1, y1 = crop
    resized = cv2.resize(bgr[y0:y1 + 1, x0:x1 + 1], size, interpolation=cv2.INTER_CUBIC)
    path = pathlib.Path(directory) / "frame_00001.jpg"
    assert cv2.imwrite(str(path), resized)
    return resized, path.read_bytes(), cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def flat_rgb(bgr):
    return bgr[..., ::-1].reshape(-1).tolist()


def main():
    rgb = source_frame()
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    libjpeg = re.search(r"JPEG:\s+(.*)", cv2.getBuildInformation()).group(1).strip()
    cases = []
    with tempfile.TemporaryDirectory() as directory:
        for crop, (out_w, out_h) in CASES:
            resized, jpeg, decoded = their_step(bgr, crop, (out_w, out_h), directory)
            cases.append({"crop": crop, "out_width": out_w, "out_height": out_h,
                          "resized": flat_rgb(resized), "jpeg_hex": jpeg.hex(),
                          "decoded": flat_rgb(decoded)})
    OUT.write_text(json.dumps({"opencv": cv2.__version__, "libjpeg": libjpeg, "width": WIDTH,
                               "height": HEIGHT, "pixels": rgb.reshape(-1).tolist(),
                               "cases": cases}) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases, OpenCV {cv2.__version__}, {libjpeg})")


if __name__ == "__main__":
    main()

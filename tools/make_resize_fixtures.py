#!/usr/bin/env python3
"""Writes tests/fixtures/resize/: expected pixels of Pillow's Image.resize and of transformers' PIL
image processors, so vidprobe's PIL-exact resampler (src/vidprobe/data/pil_resample.h) and its
processor specs (src/vidprobe/data/image_processor.h) are checked against the code they imitate,
not against themselves.

Reference versions: Pillow 13.0.0, transformers 5.24.0 (PIL backend processors
BitImageProcessorPil, VideoMAEImageProcessorPil), diffusers 0.42.1 (VideoProcessor, for
vidfm3d-wan and vidfm3d-cogvideox), numpy 2.4.6 and torch 2.11 of the venv; and Pillow 12.3.0 and 12.1.1 for the cases
where releases order the two resampling passes differently. vidfm3d-dinov2 is VidFM3D's own
Image.open(p).convert("RGB").resize((728, 420), Image.BICUBIC) (features/dino/extract_features.py);
vidfm3d-vjepa is their torchvision T.Resize((480, 832)) of the PIL frame (features/vjepa);
vidfm3d-fast3r is dust3r's load_images(size=512) (features/f3r): long side to 512 (rounded),
LANCZOS when shrinking, then a centre crop to multiples of 16 (dust3r_load_images_512 below).
vidfm3d-opensora is their frame.resize((848, 480), Image.BICUBIC) (features/opensora/
opensora_features.py, frames_to_tensor).

Files:
  input_<name>.png   source images, uint8, odd sizes: seeded random RGB and gray, and a
                     structured RGB image (gradient, checkerboard, hard edges, 0/255 plateaus, so
                     bicubic and Lanczos overshoot and clipping is exercised)
  <case>.png         expected outputs (pillow<version>_<case>.png: made by an older Pillow)
  cases.json
    resample    [{pillow, input, filter, width, height, expected}]: Image.resize((width, height),
                filter) for every convolution filter, downscaling, upscaling, mixed, one axis
                only, at the exact scale factors of the real 960 x 540 -> 832 x 480 and -> 728 x
                420 resizes, and extreme ratios; `pillow` is the release that made it
    processor   [{input, spec, shortest_edge?, crop?, expected, resized}]: the transformers
                processor (do_rescale/do_normalize off, so the output is the 8-bit pixels) for
                the hf-* specs with small sizes (the real 224 x 224 outputs of random images are
                too big to store); `resized` is transformers' get_resize_output_image_size
    shortest_edge_sizes  [{input: [w, h], shortest_edge, resized: [w, h]}] from transformers'
                get_resize_output_image_size, including ratios where truncation matters
    full_size   [{spec, width, height, fnv1a64}]: the named specs at their REAL sizes applied to a
                960 x 540 RGB frame given by a formula (pattern_960x540 below, repeated in the
                C++ test) by the reference code (transformers' processors with their defaults,
                diffusers' VideoProcessor, PIL), stored as the FNV-1a 64 hash of the output
                bytes (H x W x C)

Rerun (CPU, a few seconds; the venv's python has numpy but no Pillow of its own):
  PY=/root/.cache/vidprobe/venv-torch-2.11.0/bin/python
  $PY -m pip install --target /tmp/pilref pillow==13.0.0 transformers==5.24.0
  $PY -m pip install --no-deps --target /tmp/pilref_diffusers diffusers==0.42.1 requests \\
      importlib_metadata zipp urllib3 charset_normalizer certifi
  $PY -m pip install --no-deps --target /tmp/pil1230 pillow==12.3.0
  $PY -m pip install --no-deps --target /tmp/pil1211 pillow==12.1.1
  PYTHONPATH=/tmp/pilref:/tmp/pilref_diffusers $PY tools/make_resize_fixtures.py \\
      --older-pillow /tmp/pil1230 --older-pillow /tmp/pil1211
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import PIL
from PIL import Image

try:  # absent in the --release-cases runs under an older Pillow
    import transformers
    from transformers.image_transforms import get_resize_output_image_size
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil
    from transformers.models.videomae.image_processing_pil_videomae import (
        VideoMAEImageProcessorPil,
    )
except ImportError:
    transformers = None

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/resize"

FILTERS = {
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def structured(width, height):
    x = np.arange(width)[None, :]
    y = np.arange(height)[:, None]
    gradient = (x * 255 // (width - 1) + 0 * y).astype(np.uint8)
    checker = np.where(((x // 3) + (y // 2)) % 2 == 0, 255, 0).astype(np.uint8)
    edges = np.where((x > width // 3) & (y < 2 * height // 3), 250, 5).astype(np.uint8)
    edges[:, : width // 4] = 0
    return np.stack([gradient, checker, edges], axis=-1)


def inputs():
    rng = np.random.default_rng(20261202)
    return {
        "random_rgb_23x17": rng.integers(0, 256, size=(17, 23, 3), dtype=np.uint8),
        "random_gray_19x31": rng.integers(0, 256, size=(31, 19), dtype=np.uint8),
        # more than 100 times taller than wide: Pillow 12.2 and 12.3 resize it vertically first
        "random_rgb_2x211": rng.integers(0, 256, size=(211, 2, 3), dtype=np.uint8),
        "structured_41x29": structured(41, 29),
        # the exact scale factors of the real frame resizes: 960/832 = 30/26, 540/480 = 18/16,
        # 960/728 = 120/91, 540/420 = 18/14
        "random_rgb_30x18": rng.integers(0, 256, size=(18, 30, 3), dtype=np.uint8),
        "random_rgb_120x18": rng.integers(0, 256, size=(18, 120, 3), dtype=np.uint8),
    }


RESAMPLE_TARGETS = {
    "random_rgb_23x17": [(11, 7), (41, 29), (15, 26), (31, 17), (23, 5), (3, 2), (97, 3)],
    "random_gray_19x31": [(7, 12), (40, 47), (17, 9)],
    "random_rgb_2x211": [(3, 50), (1, 20)],
    "structured_41x29": [(13, 9), (70, 51), (41, 60)],
    "random_rgb_30x18": [(26, 16)],
}
# Sizes where Pillow releases differ in the order of the passes (pil_resample.h PillowRelease),
# also made with the older releases given by --older-pillow.
RELEASE_TARGETS = [("random_rgb_23x17", 97, 3), ("random_gray_19x31", 17, 9),
                   ("random_rgb_2x211", 3, 50), ("random_rgb_2x211", 1, 20)]
# Large outputs only for the filter the real resize uses, to keep the fixtures small.
SINGLE_FILTER_TARGETS = [("random_rgb_120x18", 91, 14, "bicubic")]


def pattern_960x540():
    """uint32 arithmetic wraps in numpy as in C++; repeated in tests/data/pil_resample_test.cpp."""
    x = np.arange(960, dtype=np.uint32)[None, :, None]
    y = np.arange(540, dtype=np.uint32)[:, None, None]
    c = np.arange(3, dtype=np.uint32)[None, None, :]
    mixed = (x * np.uint32(73856093)) ^ (y * np.uint32(19349663)) ^ (c * np.uint32(83492791))
    noise = (mixed >> np.uint32(11)) & np.uint32(63)
    smooth = (x // np.uint32(5) + y // np.uint32(3) + c * np.uint32(40)) % np.uint32(192)
    return (noise + smooth).astype(np.uint8)


def fnv1a64(array):
    value = 0xCBF29CE484222325
    for byte in np.ascontiguousarray(array).tobytes():
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def pil_resize(array, width, height, filter_name):
    return np.asarray(Image.fromarray(array).resize((width, height), resample=FILTERS[filter_name]))


def hf_processor(spec, shortest_edge, crop):
    cls, resample = {
        "hf-dinov2": (BitImageProcessorPil, Image.Resampling.BICUBIC),
        "hf-videomae": (VideoMAEImageProcessorPil, Image.Resampling.BILINEAR),
    }[spec]
    return cls(size={"shortest_edge": shortest_edge}, crop_size={"height": crop[1], "width": crop[0]},
               resample=resample, do_resize=True, do_center_crop=True, do_rescale=False,
               do_normalize=False)


# facebook/dinov2-{small,base,large,giant} preprocessor_config.json (BitImageProcessor): size
# {"shortest_edge": 256}, crop_size 224 x 224, resample 3 (BICUBIC); written out here because this
# machine does not reach the Hub. VideoMAE's are the class defaults, checked below.
DINOV2_CONFIG = dict(shortest_edge=256, crop=(224, 224))


def check_videomae_defaults():
    defaults = VideoMAEImageProcessorPil()
    assert defaults.size.shortest_edge == 224, defaults.size
    assert (defaults.crop_size.width, defaults.crop_size.height) == (224, 224), defaults.crop_size
    assert defaults.resample == Image.Resampling.BILINEAR, defaults.resample
    assert defaults.do_resize and defaults.do_center_crop


def run_hf(spec, array, shortest_edge, crop):
    processor = hf_processor(spec, shortest_edge, crop)
    images = [[array]] if spec == "hf-videomae" else [array]
    values = processor(images, return_tensors="np")["pixel_values"]
    values = np.asarray(values).reshape(-1, *np.asarray(values).shape[-3:])[0]  # C x H x W
    assert values.shape[0] == 3, values.shape
    out = np.moveaxis(values, 0, -1)
    assert np.array_equal(out, np.round(out)) and out.min() >= 0 and out.max() <= 255
    return out.astype(np.uint8)


def resized_size(array, shortest_edge):
    height, width = get_resize_output_image_size(array, shortest_edge, default_to_square=False,
                                                 input_data_format="channels_last")
    return [int(width), int(height)]


def diffusers_version():
    import diffusers

    return diffusers.__version__


def run_diffusers_wan(array, height=480, width=832):
    """VidFM3D's WAN input: diffusers' VideoProcessor.preprocess_video(height=480, width=832) of PIL
    frames (features/wan), returned in [-1, 1]; mapped back to the 8-bit pixels it resized. Their
    CogVideoX and Aether inputs are the same call with height=480, width=720."""
    from diffusers.video_processor import VideoProcessor

    video = VideoProcessor(vae_scale_factor=8).preprocess_video([Image.fromarray(array)] * 2,
                                                                height=height, width=width)
    frame = ((video[0, :, 0].permute(1, 2, 0).double() + 1) / 2 * 255).numpy()
    pixels = np.round(frame)
    assert np.abs(frame - pixels).max() < 1e-3
    return pixels.astype(np.uint8)


def check_hf_is_pil(spec, array, shortest_edge, crop, out):
    """The processor must be PIL resize + the (resized - crop) // 2 crop; a mismatch here means
    the C++ spec's rules, not only its pixels, would be wrong."""
    width, height = resized_size(array, shortest_edge)
    filter_name = "bicubic" if spec == "hf-dinov2" else "bilinear"
    resized = pil_resize(array, width, height, filter_name)
    top, left = (height - crop[1]) // 2, (width - crop[0]) // 2
    assert np.array_equal(out, resized[top:top + crop[1], left:left + crop[0]]), spec


def release_cases():
    """Run under an older Pillow (see older_release_cases): writes its outputs for
    RELEASE_TARGETS and prints their cases as JSON."""
    cases = []
    for name, width, height in RELEASE_TARGETS:
        array = np.asarray(Image.open(OUT / f"input_{name}.png"))
        for filter_name in FILTERS:
            expected = f"pillow{PIL.__version__}_{name}_to_{width}x{height}_{filter_name}"
            out = pil_resize(array, width, height, filter_name)
            Image.fromarray(out).save(OUT / f"{expected}.png", optimize=True)
            cases.append(dict(pillow=PIL.__version__, input=name, filter=filter_name,
                              width=width, height=height, expected=expected))
    print(json.dumps(cases))


def older_release_cases(pillow_dir):
    env = dict(os.environ, PYTHONPATH=pillow_dir)
    result = subprocess.run([sys.executable, __file__, "--release-cases"], env=env, check=True,
                            capture_output=True, text=True)
    cases = json.loads(result.stdout)
    assert cases and cases[0]["pillow"] != PIL.__version__, (pillow_dir, cases[:1])
    return cases


def dust3r_load_images_512(frame):
    """dust3r/utils/image.py load_images(size=512) on one frame (its _resize_pil_image and crop
    rules): the long side to 512 with round(), LANCZOS when shrinking (BICUBIC otherwise), then
    the box (cx - halfw, cy - halfh, cx + halfw, cy + halfh) with cx = W // 2,
    halfw = ((2 cx) // 16) * 8 (and likewise for y)."""
    image = Image.fromarray(frame)
    longest = max(image.size)
    new_size = tuple(int(round(x * 512 / longest)) for x in image.size)
    image = image.resize(new_size, Image.LANCZOS if longest > 512 else Image.BICUBIC)
    cx, cy = image.size[0] // 2, image.size[1] // 2
    halfw, halfh = ((2 * cx) // 16) * 8, ((2 * cy) // 16) * 8
    return np.asarray(image.crop((cx - halfw, cy - halfh, cx + halfw, cy + halfh)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--older-pillow", action="append", default=[], metavar="DIR",
                        help="a pip --target dir holding an older Pillow (repeatable)")
    parser.add_argument("--release-cases", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.release_cases:
        release_cases()
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    images = inputs()
    for name, array in images.items():
        Image.fromarray(array).save(OUT / f"input_{name}.png", optimize=True)

    resample_cases = []
    for name, targets in RESAMPLE_TARGETS.items():
        for width, height in targets:
            for filter_name in FILTERS:
                expected = f"{name}_to_{width}x{height}_{filter_name}"
                out = pil_resize(images[name], width, height, filter_name)
                Image.fromarray(out).save(OUT / f"{expected}.png", optimize=True)
                resample_cases.append(dict(pillow=PIL.__version__, input=name,
                                           filter=filter_name, width=width, height=height,
                                           expected=expected))
    for name, width, height, filter_name in SINGLE_FILTER_TARGETS:
        expected = f"{name}_to_{width}x{height}_{filter_name}"
        out = pil_resize(images[name], width, height, filter_name)
        Image.fromarray(out).save(OUT / f"{expected}.png", optimize=True)
        resample_cases.append(dict(pillow=PIL.__version__, input=name, filter=filter_name,
                                   width=width, height=height, expected=expected))
    for older in args.older_pillow:
        resample_cases += older_release_cases(older)

    processor_cases = []
    hf_small = [("hf-dinov2", "random_rgb_23x17", 20, (17, 16)),
                ("hf-dinov2", "structured_41x29", 40, (33, 31)),
                ("hf-videomae", "random_rgb_23x17", 12, (9, 11)),
                ("hf-videomae", "structured_41x29", 23, (23, 23)),
                ("hf-dinov2", "random_rgb_30x18", 19, (16, 16))]
    for spec, name, shortest_edge, crop in hf_small:
        expected = f"{spec}_{name}_se{shortest_edge}_crop{crop[0]}x{crop[1]}"
        out = run_hf(spec, images[name], shortest_edge, crop)
        check_hf_is_pil(spec, images[name], shortest_edge, crop, out)
        Image.fromarray(out).save(OUT / f"{expected}.png", optimize=True)
        processor_cases.append(dict(input=name, spec=spec, shortest_edge=shortest_edge,
                                    crop=list(crop), expected=expected,
                                    resized=resized_size(images[name], shortest_edge)))

    shortest_edge_sizes = []
    for width, height, shortest_edge in [(960, 540, 256), (960, 540, 224), (540, 960, 256),
                                         (23, 17, 20), (17, 23, 20), (41, 29, 40), (29, 41, 7),
                                         (1920, 1080, 224), (1280, 720, 256), (640, 480, 224),
                                         (100, 100, 224), (3, 7, 224), (1000, 999, 1),
                                         (7, 3, 10), (49, 7, 7), (998, 333, 256)]:
        array = np.zeros((height, width, 3), dtype=np.uint8)
        shortest_edge_sizes.append(dict(input=[width, height], shortest_edge=shortest_edge,
                                        resized=resized_size(array, shortest_edge)))

    check_videomae_defaults()
    frame = pattern_960x540()
    full_size = []
    for spec, out in [
        ("hf-dinov2", run_hf("hf-dinov2", frame, DINOV2_CONFIG["shortest_edge"],
                             DINOV2_CONFIG["crop"])),
        ("hf-videomae", run_hf("hf-videomae", frame, 224, (224, 224))),
        ("vidfm3d-wan", run_diffusers_wan(frame)),
        ("vidfm3d-cogvideox", run_diffusers_wan(frame, 480, 720)),
        ("vidfm3d-dinov2", pil_resize(frame, 728, 420, "bicubic")),
        # torchvision's T.Resize((480, 832)) of a PIL image is img.resize((832, 480), BILINEAR).
        ("vidfm3d-vjepa", pil_resize(frame, 832, 480, "bilinear")),
        ("vidfm3d-fast3r", dust3r_load_images_512(frame)),
        # Their Open-Sora frames_to_tensor: frame.resize((848, 480), Image.BICUBIC).
        ("vidfm3d-opensora", pil_resize(frame, 848, 480, "bicubic")),
    ]:
        full_size.append(dict(spec=spec, width=out.shape[1], height=out.shape[0],
                              fnv1a64=fnv1a64(out)))

    # The brief's reading of the reference, checked: diffusers' resize is PIL LANCZOS, squashed.
    assert np.array_equal(run_diffusers_wan(frame), pil_resize(frame, 832, 480, "lanczos"))
    manifest = dict(diffusers=diffusers_version(), pillow=PIL.__version__, transformers=transformers.__version__,
                    numpy=np.__version__, resample=resample_cases, processor=processor_cases,
                    shortest_edge_sizes=shortest_edge_sizes, full_size=full_size,
                    pattern_960x540_fnv1a64=fnv1a64(frame))
    (OUT / "cases.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(resample_cases)} resample, {len(processor_cases)} processor, "
          f"{len(full_size)} full-size cases, {total / 1024:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()

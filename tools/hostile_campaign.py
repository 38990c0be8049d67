#!/usr/bin/env python3
"""Hostile-input campaign for vidprobe (issue #19): rerunnable, Python 3 standard library only.

Builds small valid inputs with build/bin/vidprobe itself (`vidprobe render`, `extract`, `train`,
`eval`, `sweep`) and with writers of its own below (CO3Dv2 annotations, DL3DV transforms.json and
COLMAP text and binary models, the vidfm3d importer's .sft files and split lists), checks that
every one of them is accepted (a baseline that fails stops the campaign: a mutation of it would
prove nothing), then runs several hundred malformed variants, one at a time, each with a timeout:

  * every reader: clip.json, manifest.json, metrics.json, sweep.json, probe configs, VGGT model
    configs, checkpoint config.json next to weights, safetensors (header, offsets, dtypes, shapes)
    as cache shards, probe weights, backbone weights and vidfm3d .sft files, PNG / JPEG / raw depth
    frames, CO3Dv2 frame annotations, DL3DV transforms.json, COLMAP text and binary, vidfm3d split
    files, resume state (state.json, optimizer.pt, checkpoint weights);
  * every flag of every subcommand (taken from `--help`, so a new flag without a case is
    reported): non-positive, overflowing, NaN and non-numeric numbers, unknown enum values, options
    that do not apply to the backbone, paths under regular files and non-UTF-8 names;
  * SIGKILL at random moments of render, extract and train, then a rerun that must reproduce the
    uninterrupted result byte for byte (files known to hold timings are exempt);
  * a full disk: a small tmpfs under extract and train (root only; otherwise RLIMIT_FSIZE, so that
    writes fail with EFBIG), which must fail with an error naming the file and leave no temporary.

Outcome of a malformed-input case:
  OK       exit status 1 and a line starting `vidprobe: error:` that names the file, key, flag or
           value at fault (one of the case's expected names), or exit status 2 (usage error);
  FINDING  a signal (crash), a timeout (hang), exit status 3 or any other (internal error), exit
           status 0 (silent acceptance), or an error that names none of the expected names.

Writes docs/results/hostile-campaign-<date>.jsonl (one line per case) and prints a summary; exit
status 0 when there is no finding, 1 otherwise.

Usage: python3 tools/hostile_campaign.py [--bin build/bin/vidprobe] [--only SUBSTRING]
           [--timeout 120] [--seed 19] [--out FILE] [--keep]
Runs cases serially with OMP_NUM_THREADS=1 (a shared 2-core machine); a full run takes a few
minutes of CPU.
"""

import argparse
import base64
import datetime
import gzip
import json
import math
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

# A 16 x 16 baseline JPEG (made once with Pillow; kept here so the tool needs only the stdlib).
JPEG_16 = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1R"
    "V19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2NjY2NjY2P/wAARCAAQABADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAA"
    "AgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6"
    "Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXG"
    "x8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREA"
    "AgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5"
    "OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPE"
    "xcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDn7ex6cVp29j04rTt7HpxWnb2PTiqq4sMv"
    "x22p/9k=")

BAD_UTF8 = b"bad\xff\xfe\x80name"


# ----------------------------------------------------------------------------- small file writers

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    with open(path, mode) as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def png_bytes(width, height, channels=3, bit_depth=8, pixel=lambda x, y, c: (x * 13 + y * 7 + c * 50) % 256):
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    bytes_per = bit_depth // 8
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        for x in range(width):
            for c in range(channels):
                v = pixel(x, y, c)
                raw += v.to_bytes(bytes_per, "big")

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw)))
            + chunk(b"IEND", b""))


def safetensors_bytes(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes) in order."""
    header, offset, body = {}, 0, b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        body += data
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + body


def parse_safetensors(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    return header, blob[8 + n:]


def with_header(blob, mutate):
    """Re-serialises a safetensors file after mutate(header) (tensor bytes kept as they were)."""
    header, body = parse_safetensors(blob)
    mutate(header)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def floats(values, fmt="<f"):
    return b"".join(struct.pack(fmt, v) for v in values)


# ----------------------------------------------------------------------------- JSON mutations

def nested(depth):
    return "[" * depth + "]" * depth


GENERIC_JSON = [
    ("empty", lambda text: b""),
    ("truncated", lambda text: text[: len(text) // 2]),
    ("not-json", lambda text: b"this is not json {"),
    ("nested-100000", lambda text: nested(100000).encode()),
    ("nested-object-5000", lambda text: ('{"a":' * 5000 + "1" + "}" * 5000).encode()),
    ("top-level-array", lambda text: b"[1, 2, 3]"),
    ("top-level-number", lambda text: b"42"),
    ("bad-utf8", lambda text: text.replace(b'"', b'"\xff\xfe', 1)),
    ("nul-bytes", lambda text: text[:5] + b"\x00\x00\x00" + text[5:]),
    ("huge-number", lambda text: b'{"x": 1e99999}'),
]


def set_path(obj, path, value):
    for key in path[:-1]:
        obj = obj[key]
    if value is DELETE:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


class _Delete:
    def __repr__(self):
        return "DELETE"


DELETE = _Delete()


def json_with(text, path, value):
    obj = json.loads(text)
    set_path(obj, path, value)
    return json.dumps(obj, allow_nan=True).encode()


# ----------------------------------------------------------------------------- the campaign


class BaselineFailed(Exception):
    """A valid input the campaign builds was refused: its mutations would prove nothing."""


class Campaign:
    def __init__(self, args):
        self.bin = os.path.abspath(args.bin)
        self.timeout = args.timeout
        self.only = args.only
        self.cases = None
        if args.cases:
            with open(args.cases) as f:
                self.cases = {line.rstrip("\n") for line in f if line.strip()}
        self.random = random.Random(args.seed)
        self.work = tempfile.mkdtemp(prefix="vidprobe-hostile-")
        self.results = []
        self.env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.counter = 0

    def skip(self, text):
        """--only A,B: run only cases whose description contains one of them; --cases FILE: only the
        cases whose description ("group target case", as printed) is a line of FILE."""
        if self.cases is not None and text not in self.cases:
            return True
        return bool(self.only) and not any(part in text for part in self.only.split(","))

    # -- running

    def run(self, argv, timeout=None, preexec=None, cwd=None):
        start = time.monotonic()
        argv = [os.fsencode(a) if isinstance(a, str) else a for a in argv]
        proc = subprocess.Popen([self.bin.encode(), b"-q"] + argv, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env, preexec_fn=preexec,
                                cwd=cwd or self.work, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout or self.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            timed_out = True
        return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), \
            time.monotonic() - start, timed_out

    def must(self, argv, what):
        rc, out, err, _, _ = self.run(argv, timeout=600)
        if rc != 0:
            raise BaselineFailed(f"baseline '{what}' failed (exit {rc}): {' '.join(map(str, argv))}\n{err[-3000:]}")
        return out, err

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def fresh(self, name):
        self.counter += 1
        p = self.path("cases", f"{self.counter:04d}-{name}")
        os.makedirs(p, exist_ok=True)
        return p

    # -- classification

    def record(self, group, target, name, argv, names, rc, err, seconds, timed_out, note="", accept_note=None):
        first_error = next((line for line in err.splitlines() if line.startswith("vidprobe: error:")), "")
        # stderr is decoded with replacement characters: compare names decoded the same way.
        names = [n.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for n in names]
        if timed_out:
            outcome, why = "FINDING", "hang (timeout)"
        elif rc < 0:
            outcome, why = "FINDING", f"crash (signal {-rc})"
        elif rc == 0 and accept_note and accept_note in err:
            outcome, why = "OK", "accepted, saying so: " + accept_note
        elif rc == 0:
            outcome, why = "FINDING", "silent acceptance (exit 0)"
        elif rc == 2:
            outcome, why = "OK", "usage error"
        elif rc == 1:
            if not first_error:
                outcome, why = "FINDING", "exit 1 without 'vidprobe: error:'"
            elif names and not any(n in err for n in names):
                outcome, why = "FINDING", "error does not name the fault"
            else:
                outcome, why = "OK", "error names the fault"
        else:
            outcome, why = "FINDING", f"internal error (exit {rc})"
        if note and outcome == "OK":
            why += "; " + note
        entry = {"group": group, "target": target, "case": name, "outcome": outcome, "why": why,
                 "exit": rc, "seconds": round(seconds, 3),
                 "argv": [a if isinstance(a, str) else a.decode("utf-8", "backslashreplace") for a in argv],
                 "expected_names": names,
                 "message": (first_error or err.strip().splitlines()[-1] if err.strip() else "")[:600]}
        self.results.append(entry)
        mark = "." if outcome == "OK" else "F"
        print(f"{mark} [{group}] {target}: {name} -> {why}" + ("" if outcome == "OK" else f" | {entry['message'][:200]}"),
              flush=True)

    def case(self, group, target, name, argv, names, timeout=None, accept_note=None):
        if self.skip(f"{group} {target} {name}"):
            return
        rc, out, err, seconds, timed_out = self.run(argv, timeout=timeout)
        self.record(group, target, name, argv, names, rc, err, seconds, timed_out, accept_note=accept_note)

    # -- baselines

    def baselines(self):
        p = self.path
        self.must(["render", "--family", "objects", "--clips", "3", "--frames", "4", "--size", "32",
                   "--seed", "3", "--out", p("data")], "render")
        write(p("probe.json"), json.dumps({
            "preset": "vidprobe",
            "model": {"width": 32, "num_heads": 2, "num_blocks": 2, "mlp_ratio": 2.0},
            "heads": {"dense": {"features": 8, "out_channels": [8, 8, 8, 8]}, "camera": {"trunk_depth": 1}},
            "train": {"batch_size": 2, "checkpoint_every": 2, "log_every": 2}}, indent=1))
        self.extract_args = ["extract", "--backbone", "random-vit", "--frames", "4", "--gt-size", "16",
                             "--seed", "3"]
        self.must(self.extract_args + ["--data", p("data"), "--out", p("feats")], "extract")
        self.train_args = ["train", "--features", p("feats"), "--config", p("probe.json"), "--steps", "4",
                           "--seed", "3"]
        self.must(self.train_args + ["--out", p("run")], "train")
        self.must(["eval", "--run", p("run"), "--features", p("feats"), "--out", p("eval"), "--visualize", "0",
                   "--chamfer-points", "64"], "eval")
        self.must(["report", "--eval", p("eval"), "--out", p("report")], "report")
        self.must(["sweep", "--backbone", "pixels", "--data", p("data"), "--layers", "0", "--frames", "4", "--train-ratio", "0.6",
                   "--gt-size", "16", "--preset", "vidprobe", "--config", p("probe.json"), "--steps", "2",
                   "--chamfer-points", "64", "--out", p("sweep")], "sweep")
        self.must(["report", "--sweep", p("sweep"), "--out", p("report-sweep")], "report --sweep")
        meta = json.loads(read(os.path.join(FIXTURES, "backbones", "vggt", "meta.json")))
        write(p("vggt.json"), json.dumps(meta["small"], indent=1))
        self.annotate_args = ["annotate", "--data", p("data"), "--weights",
                              os.path.join(FIXTURES, "backbones", "vggt", "small.safetensors"),
                              "--backbone-size", "56", "--frames", "2", "--clips", "1"]
        self.must(self.annotate_args + ["--model-config", p("vggt.json"), "--out", p("ann")], "annotate")
        self.make_co3d(p("co3d"))
        self.must(["extract", "--backbone", "pixels", "--data-kind", "co3d", "--frames", "3", "--data", p("co3d"),
                   "--out", p("feats-co3d")], "extract co3d")
        self.make_dl3dv(p("dl3dv"))
        for scene in ("transforms", "colmap_text", "colmap_bin"):
            self.must(["extract", "--backbone", "pixels", "--data-kind", "dl3dv", "--frames", "3", "--data",
                       p("dl3dv", scene), "--out", p("feats-dl3dv-" + scene)], "extract dl3dv " + scene)
        self.make_vidfm3d(p("vidfm3d"))
        self.must(self.import_args(p("vidfm3d")) + ["--out", p("feats-vidfm3d")], "import vidfm3d")
        self.must(self.annotate_args + ["--model-config", p("vggt.json"), "--window", "3", "--format", "vidfm3d",
                                        "--frame-chunk", "2", "--out", p("ann-window")], "annotate --window")
        self.make_wan_model(p("wan"))
        self.check_args = ["check", "--backbone", "wan2.1-t2v", "--weights", p("wan"), "--backbone-opt",
                           "text_context=" + p("wan", "context.safetensors"), "--backbone-opt", "size=32x48",
                           "--frames", "5", "--compute-dtype", "fp32"]
        self.must(self.check_args + ["--timestep", "100", "--sample-steps", "2", "--out", p("check")], "check")
        self.list_backbones()

    def list_backbones(self):
        _, out, _, _, _ = self.run(["extract", "--help"], timeout=60)
        start = out.find("Backbone name (")
        self.backbones = out[start + len("Backbone name ("): out.find(")", start)].replace("\n", " ").split(", ")
        self.backbones = [b.strip() for b in self.backbones if b.strip()]

    # CO3Dv2: one category, two sequences of three frames (JPEG images, float16 depth PNGs, masks).
    def make_co3d(self, root):
        annotations = []
        for s, sequence in enumerate(("seq_a", "seq_b")):
            for f in range(3):
                base = f"{sequence}/images/frame{f:06d}.jpg"
                write(os.path.join(root, "apple", base), JPEG_16)
                write(os.path.join(root, "apple", sequence, "depths", f"frame{f:06d}.jpg.geometric.png"),
                      png_bytes(16, 16, 1, 16, lambda x, y, c: 0x3C00 + x))  # float16 1.0 ..
                write(os.path.join(root, "apple", sequence, "depth_masks", f"frame{f:06d}.png"),
                      png_bytes(16, 16, 1, 8, lambda x, y, c: 255))
                write(os.path.join(root, "apple", sequence, "masks", f"frame{f:06d}.png"),
                      png_bytes(16, 16, 1, 8, lambda x, y, c: 200))
                angle = 0.1 * f + s
                c, si = math.cos(angle), math.sin(angle)
                annotations.append({
                    "sequence_name": sequence, "frame_number": f, "frame_timestamp": f * 0.1,
                    "image": {"path": f"apple/{base}", "size": [16, 16]},
                    "depth": {"path": f"apple/{sequence}/depths/frame{f:06d}.jpg.geometric.png",
                              "scale_adjustment": 1.0, "mask_path": f"apple/{sequence}/depth_masks/frame{f:06d}.png"},
                    "mask": {"path": f"apple/{sequence}/masks/frame{f:06d}.png", "mass": 100},
                    "viewpoint": {"R": [[c, 0, -si], [0, 1, 0], [si, 0, c]], "T": [0.1, 0.2, 3.0],
                                  "focal_length": [1.5, 1.5], "principal_point": [0.0, 0.0],
                                  "intrinsics_format": "ndc_isotropic"}})
        self.co3d_annotations = json.dumps(annotations, indent=1).encode()
        write(os.path.join(root, "apple", "frame_annotations.jgz"), gzip.compress(self.co3d_annotations))

    # DL3DV: three scenes of three PNG frames, cameras from transforms.json, COLMAP text, COLMAP binary.
    def make_dl3dv(self, root):
        poses = []
        for f in range(3):
            a = 0.1 * f
            poses.append(([[math.cos(a), 0, math.sin(a), 0.1 * f], [0, 1, 0, 0], [-math.sin(a), 0, math.cos(a), 1.0],
                           [0, 0, 0, 1]]))
        for scene in ("transforms", "colmap_text", "colmap_bin"):
            for f in range(3):
                write(os.path.join(root, scene, "s0", "images", f"frame_{f + 1:05d}.png"), png_bytes(16, 12))
        self.transforms = json.dumps({
            "w": 16, "h": 12, "fl_x": 14.0, "fl_y": 14.0, "cx": 8.0, "cy": 6.0, "camera_model": "PINHOLE",
            "frames": [{"file_path": f"images/frame_{f + 1:05d}.png", "transform_matrix": poses[f]}
                       for f in range(3)]}, indent=1).encode()
        write(os.path.join(root, "transforms", "s0", "transforms.json"), self.transforms)
        self.colmap_cameras_txt = b"# Camera list\n1 PINHOLE 16 12 14 14 8 6\n"
        lines = [b"# Image list"]
        for f in range(3):
            a = 0.05 * f
            lines.append(f"{f + 1} {math.cos(a)} 0 {math.sin(a)} 0 {0.1 * f} 0 1 1 frame_{f + 1:05d}.png".encode())
            lines.append(b"")
        self.colmap_images_txt = b"\n".join(lines) + b"\n"
        sparse = os.path.join(root, "colmap_text", "s0", "sparse", "0")
        write(os.path.join(sparse, "cameras.txt"), self.colmap_cameras_txt)
        write(os.path.join(sparse, "images.txt"), self.colmap_images_txt)
        self.colmap_cameras_bin = struct.pack("<Q", 1) + struct.pack("<iiQQ", 1, 1, 16, 12) + floats([14, 14, 8, 6], "<d")
        images = struct.pack("<Q", 3)
        for f in range(3):
            a = 0.05 * f
            images += struct.pack("<I", f + 1) + floats([math.cos(a), 0, math.sin(a), 0, 0.1 * f, 0, 1], "<d")
            images += struct.pack("<I", 1) + f"frame_{f + 1:05d}.png".encode() + b"\x00" + struct.pack("<Q", 0)
        self.colmap_images_bin = images
        sparse = os.path.join(root, "colmap_bin", "s0", "sparse", "0")
        write(os.path.join(sparse, "cameras.bin"), self.colmap_cameras_bin)
        write(os.path.join(sparse, "images.bin"), self.colmap_images_bin)

    # vidfm3d: one CO3D scene of 4 frames at 14 x 14 with DINOv2-like features (4, 2, 2, 8).
    def make_vidfm3d(self, root):
        s, h, w = 4, 14, 14
        extr = []
        for f in range(s):
            extr += [1, 0, 0, 0.1 * f, 0, 1, 0, 0, 0, 0, 1, 2.0]
        tensors = [
            ("images", "U8", [s, 3, h, w], bytes((i * 7) % 256 for i in range(s * 3 * h * w))),
            ("depthmaps", "F32", [s, h, w, 1], floats([2.0] * (s * h * w))),
            ("pointmaps", "F32", [s, h, w, 3], floats([0.5] * (s * h * w * 3))),
            ("confmaps", "F32", [s, h, w, 1], floats([1.0] * (s * h * w))),
            ("intrinsic", "F32", [s, 3, 3], floats([10, 0, 7, 0, 10, 7, 0, 0, 1] * s)),
            ("extrinsic", "F32", [s, 3, 4], floats(extr)),
        ]
        self.vidfm3d_scene = safetensors_bytes(tensors)
        write(os.path.join(root, "data", "apple", "hash0.sft"), self.vidfm3d_scene)
        self.vidfm3d_split = json.dumps([["apple", "hash0"]]).encode()
        write(os.path.join(root, "data", "val.json"), self.vidfm3d_split)
        write(os.path.join(root, "data", "train.json"), b"[]")
        self.vidfm3d_feature = safetensors_bytes([("feat", "F32", [s, 2, 2, 8], floats([0.25] * (s * 2 * 2 * 8)))])
        write(os.path.join(root, "feat", "dino", "apple", "hash0", "feature.sft"), self.vidfm3d_feature)

    def make_wan_model(self, root):
        """The WAN fixture's small diffusers layout (tests/backbones/wan/test_fixtures.h) with its
        umT5 context, for `vidprobe check`."""
        fixtures = os.path.join(FIXTURES, "wan")
        configs = json.loads(read(os.path.join(fixtures, "configs.json")))
        vae = dict(configs["vae"], latents_mean=configs["latents_mean"], latents_std=configs["latents_std"])
        for part, config in (("transformer", configs["dit"]), ("vae", vae)):
            os.makedirs(os.path.join(root, part), exist_ok=True)
            write(os.path.join(root, part, "config.json"), json.dumps(config).encode())
        shutil.copyfile(os.path.join(fixtures, "dit_diffusers.safetensors"),
                        os.path.join(root, "transformer", "diffusion_pytorch_model.safetensors"))
        shutil.copyfile(os.path.join(fixtures, "vae_diffusers.safetensors"),
                        os.path.join(root, "vae", "diffusion_pytorch_model.safetensors"))
        header, body = parse_safetensors(read(os.path.join(fixtures, "reference.safetensors")))
        entry = header["context"]
        begin, end = entry["data_offsets"]
        write(os.path.join(root, "context.safetensors"),
              safetensors_bytes([("context", entry["dtype"], entry["shape"], body[begin:end])]))

    def import_args(self, root):
        return ["import", "vidfm3d", "--data", os.path.join(root, "data"), "--split", "val", "--features",
                os.path.join(root, "feat"), "--model", "dino", "--dataset", "co3d", "--context", "4"]

    # ------------------------------------------------------------------------- copies to mutate

    def copy_tree(self, source, name):
        dest = self.fresh(name)
        shutil.rmtree(dest)
        shutil.copytree(source, dest, symlinks=True)
        return dest

    # ------------------------------------------------------------------------- reader cases

    def json_reader_cases(self, target, source_rel, tree, make_argv, names, fields, generic=True):
        """Generic JSON mutations plus field mutations of one JSON file inside a copied tree."""
        original = read(os.path.join(tree, source_rel))
        mutations = list(GENERIC_JSON) if generic else []
        for path, value in fields:
            label = "/".join(map(str, path)) + "=" + (repr(value) if value is not DELETE else "deleted")
            mutations.append((label, lambda text, path=path, value=value: json_with(text, path, value)))
        for label, mutate in mutations:
            if self.skip(f"reader {target} {label}"):
                continue
            copy = self.copy_tree(tree, target.replace("/", "_").replace(" ", "_"))
            write(os.path.join(copy, source_rel), mutate(original))
            self.case("reader", target, label, make_argv(copy), names)

    def blob_cases(self, target, source_rel, tree, make_argv, names, mutations):
        original = read(os.path.join(tree, source_rel))
        for label, mutate in mutations:
            if self.skip(f"reader {target} {label}"):
                continue
            copy = self.copy_tree(tree, target.replace("/", "_").replace(" ", "_"))
            target_path = os.path.join(copy, source_rel)
            data = mutate(original)
            if data is None:
                os.remove(target_path)
            else:
                write(target_path, data)
            self.case("reader", target, label, make_argv(copy), names)

    def reader_cases(self):
        p = self.path
        clip = "objects_00000"
        extract = lambda d: self.extract_args + ["--data", d, "--out", os.path.join(d, "OUT")]
        # clip.json
        self.json_reader_cases("clip.json", f"{clip}/clip.json", p("data"), extract, ["clip.json"], [
            (["format_version"], 2), (["format"], "something-else"), (["frames"], DELETE), (["frames"], []),
            (["frames"], {}), (["num_frames"], 99), (["num_frames"], -1), (["frames", 0, "width"], 4294967360),
            (["frames", 0, "width"], -32), (["frames", 0, "width"], 0), (["frames", 0, "width"], 1.5),
            (["frames", 0, "width"], "32"), (["frames", 0, "height"], 3.6e127), (["frames", 0, "K"], [1, 2, 3]),
            (["frames", 0, "K", 0], 0), (["frames", 0, "K", 0], -10), (["frames", 0, "K", 0], float("nan")),
            (["frames", 0, "K", 0], float("inf")), (["frames", 0, "K", 3], 5.0),
            (["frames", 0, "cam_from_world"], [0] * 12), (["frames", 0, "cam_from_world", 0], 2.0),
            (["frames", 0, "cam_from_world", 3], float("nan")),
            (["frames", 0, "cam_from_world"], [-1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]),
            (["frames", 0, "rgb"], "rgb/missing.png"), (["frames", 0, "rgb"], "../../../../etc/passwd"),
            (["frames", 0, "rgb"], "/etc/hostname"), (["frames", 0, "depth_crc32"], 1),
            (["frames", 0, "depth_crc32"], -1), (["frames", 0, "depth_crc32"], 99999999999999),
            (["frames", 0, "mask"], 7), (["frames", 0, "index"], 5), (["id"], "other"),
        ])
        # frames of a synthetic clip: PNG, mask, raw depth
        png_mut = [
            ("missing", lambda b: None), ("empty", lambda b: b""), ("truncated", lambda b: b[: len(b) // 2]),
            ("garbage", lambda b: b"\x89PNG\r\n\x1a\n" + b"garbage" * 10), ("jpeg-bytes", lambda b: JPEG_16),
            ("other-size", lambda b: png_bytes(31, 32)),
            ("huge-declared", lambda b: b[:16] + struct.pack(">II", 1 << 30, 1 << 30) + b[24:]),
            ("bad-crc", lambda b: b[:30] + bytes([b[30] ^ 0xFF]) + b[31:]),
        ]
        self.blob_cases("png rgb", f"{clip}/rgb/000001.png", p("data"), extract, ["000001.png"], png_mut)
        self.blob_cases("png mask", f"{clip}/mask/000001.png", p("data"), extract, ["000001.png"], png_mut + [
            ("rgb-mask", lambda b: png_bytes(32, 32, 3, 8))])
        depth_mut = [
            ("missing", lambda b: None), ("empty", lambda b: b""), ("truncated", lambda b: b[:-4]),
            ("extra-bytes", lambda b: b + b"\0\0\0\0"), ("crc-mismatch", lambda b: b[:8] + b"\x01\x02\x03\x04" + b[12:]),
        ]
        self.blob_cases("depth f32", f"{clip}/depth/000001.f32", p("data"), extract, ["000001.f32"], depth_mut)

        # feature cache: manifest.json and shards, read by train
        train = lambda d: self.train_args[:2] + [d] + self.train_args[3:] + ["--out", os.path.join(d, "RUN")]
        self.json_reader_cases("manifest.json", "manifest.json", p("feats"), train, ["manifest.json"], [
            (["version"], 99), (["format"], "x"), (["feature_dim"], -1), (["feature_dim"], 4294967297), (["feature_dim"], 1.5),
            (["clips"], DELETE), (["clips"], "x"), (["clips"], [{"id": 1}]), (["identity"], 5),
            (["expected_clips"], -3), (["expected_clips"], 99), (["expected_clips"], 1e30),
        ])
        shard = sorted(os.listdir(p("feats", "clips")))[0]
        self.safetensors_cases("cache shard", f"clips/{shard}", p("feats"), train, [shard, "clips"],
                               float_keys=["features", "depth", "extrinsics"], int_keys=["images"])

        # probe config (train --config) and run state (train --resume)
        def train_config(d):
            return ["train", "--features", p("feats"), "--config", os.path.join(d, "probe.json"), "--steps", "2",
                    "--out", os.path.join(d, "RUN")]
        cfgdir = self.fresh("probe-config")
        shutil.copy(p("probe.json"), cfgdir)
        self.json_reader_cases("probe config", "probe.json", cfgdir, train_config, ["probe.json"], [
            (["preset"], "nope"), (["model", "width"], 0), (["model", "width"], -32), (["model", "width"], 4294967328),
            (["model", "width"], 33), (["model", "num_heads"], 0), (["model", "num_heads"], 3),
            (["model", "num_blocks"], -1), (["model", "mlp_ratio"], -2.0), (["model", "mlp_ratio"], float("nan")),
            (["train", "batch_size"], 4294967297), (["train", "batch_size"], 0), (["train", "batch_size"], -2),
            (["train", "checkpoint_every"], 0), (["train", "log_every"], -1), (["train", "lr"], -1.0),
            (["train", "lr"], float("nan")), (["train", "lr"], float("inf")), (["train", "seed"], -1),
            (["train", "steps"], 0), (["train", "steps"], -10), (["train", "epochs"], -1),
            (["heads", "dense", "features"], 0), (["heads", "dense", "out_channels"], [8]),
            (["heads", "camera", "trunk_depth"], -1), (["unknown_key"], 1), (["model", "unknown"], 1),
            (["model"], []), (["train", "batch_size"], True),
        ])
        self.resume_cases()

        # eval --weights: probe weights safetensors
        run_model = os.path.join(p("run"), "model.safetensors")
        weights_dir = self.fresh("probe-weights")
        shutil.copy(run_model, weights_dir)
        shutil.copy(p("probe.json"), weights_dir)
        def eval_weights(d):
            return ["eval", "--weights", os.path.join(d, "model.safetensors"), "--preset", "vidprobe", "--config",
                    os.path.join(d, "probe.json"), "--features", p("feats"), "--out", os.path.join(d, "EVAL"),
                    "--visualize", "0", "--chamfer-points", "64"]
        header, _ = parse_safetensors(read(run_model))
        keys = sorted(k for k in header if k != "__metadata__")
        self.safetensors_cases("probe weights", "model.safetensors", weights_dir, eval_weights, ["model.safetensors"],
                               float_keys=keys[:2], int_keys=[])

        # metrics.json (report --eval) and sweep.json (report --sweep)
        report = lambda d: ["report", "--eval", d, "--out", os.path.join(d, "REPORT")]
        self.json_reader_cases("metrics.json", "metrics.json", p("eval"), report, ["metrics.json"], [
            (["num_clips"], -1), (["num_clips"], "many"), (["num_clips"], 4294967297), (["preset"], 5),
            (["depth.abs_rel"], "x"), (["points.err"], []), (["camera.auc30"], {"a": 1}), (["baseline"], 7),
            (["baseline", "depth.abs_rel"], "x"), (["run"], 3), (["run"], {"label": 5}),
        ])
        report_sweep = lambda d: ["report", "--sweep", d, "--out", os.path.join(d, "REPORT")]
        self.json_reader_cases("sweep.json", "sweep.json", p("sweep"), report_sweep, ["sweep.json"], [
            (["points"], "x"), (["points"], [1, 2]), (["points", 0, "layer"], "a"), (["points", 0, "layer"], 1e300),
            (["points", 0], {}),
        ])

        # VGGT model config (annotate --model-config)
        def annotate_cfg(d):
            return self.annotate_args + ["--model-config", os.path.join(d, "vggt.json"), "--out", os.path.join(d, "ANN")]
        cfgdir = self.fresh("vggt-config")
        shutil.copy(p("vggt.json"), cfgdir)
        vggt = json.loads(read(p("vggt.json")))
        fields = [([k], v) for k, v in [("patch_size", 0), ("patch_size", -14), ("embed_dim", 0), ("num_heads", 0),
                                         ("num_heads", 7), ("depth", -1), ("img_size", 0), ("patch_size", 1e300),
                                         ("unknown", 1)]]
        fields = [(path, v) for path, v in fields if path[0] in vggt or path[0] == "unknown"]
        self.json_reader_cases("vggt config", "vggt.json", cfgdir, annotate_cfg, ["vggt.json"], fields)
        # VGGT weights (annotate --weights): the safetensors reader on a backbone checkpoint
        vdir = self.fresh("vggt-weights")
        shutil.copy(os.path.join(FIXTURES, "backbones", "vggt", "small.safetensors"), vdir)
        def annotate_weights(d):
            args = list(self.annotate_args)
            args[args.index("--weights") + 1] = os.path.join(d, "small.safetensors")
            return args + ["--model-config", p("vggt.json"), "--out", os.path.join(d, "ANN")]
        vheader, _ = parse_safetensors(read(os.path.join(vdir, "small.safetensors")))
        vkeys = sorted(k for k in vheader if k != "__metadata__")
        self.safetensors_cases("vggt weights", "small.safetensors", vdir, annotate_weights, ["small.safetensors"],
                               float_keys=[vkeys[0], vkeys[-1]], int_keys=[])

        self.checkpoint_config_cases()
        self.co3d_cases()
        self.dl3dv_cases()
        self.vidfm3d_cases()

    def safetensors_cases(self, target, rel, tree, make_argv, names, float_keys, int_keys, strict_keys=True):
        """The safetensors reader's mutations of one file; strict_keys: an extra tensor must be refused
        (False for the authors' vidfm3d files, whose readers take the tensors they need and ignore others,
        as their own code does)."""
        def first(header):
            return sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])

        def overlap(h):
            keys = first(h)
            if len(keys) < 2:  # one tensor: a second entry over the same bytes
                h["zz_overlapping"] = dict(h[keys[0]])
                return
            h[keys[1]]["data_offsets"] = [h[keys[0]]["data_offsets"][0], h[keys[0]]["data_offsets"][0]
                                          + h[keys[1]]["data_offsets"][1] - h[keys[1]]["data_offsets"][0]]

        def hole(h):
            keys = first(h)
            last = keys[-1]
            # shrink the last tensor's shape by moving its start forward: a hole before it
            begin, end = h[last]["data_offsets"]
            h[last]["data_offsets"] = [begin + 4, end]

        def reversed_offsets(h):
            k = first(h)[0]
            b, e = h[k]["data_offsets"]
            h[k]["data_offsets"] = [e, b]

        def beyond(h):
            k = first(h)[-1]
            b, e = h[k]["data_offsets"]
            h[k]["data_offsets"] = [b, e + 4096]

        def set_field(key, field, value):
            def mutate(h):
                h[key][field] = value
            return mutate

        muts = [
            ("empty", lambda b: b""), ("short", lambda b: b[:5]),
            ("header-length-huge", lambda b: struct.pack("<Q", 1 << 62) + b[8:]),
            ("header-length-past-end", lambda b: struct.pack("<Q", len(b)) + b[8:]),
            ("header-not-json", lambda b: struct.pack("<Q", 8) + b"notjson!" + b[8:]),
            ("header-nested", lambda b: struct.pack("<Q", 200000) + nested(100000).encode()),
            ("header-array", lambda b: struct.pack("<Q", 8) + b"[1,2,3] "),
            ("truncated-data", lambda b: b[:-16]),
            ("trailing-bytes", lambda b: b + b"\0" * 16),
            ("overlap", lambda b: with_header(b, overlap)),
            ("hole", lambda b: with_header(b, hole)),
            ("offsets-reversed", lambda b: with_header(b, reversed_offsets)),
            ("offsets-beyond-file", lambda b: with_header(b, beyond)),
            ("metadata-not-strings", lambda b: with_header(b, lambda h: h.__setitem__("__metadata__", {"a": 1}))),
        ]
        for key in float_keys[:1]:
            muts += [
                ("unknown-dtype", lambda b, k=key: with_header(b, set_field(k, "dtype", "Q7"))),
                ("dtype-I32-for-float", lambda b, k=key: with_header(b, set_field(k, "dtype", "I32"))),
                ("dtype-F64-size-mismatch", lambda b, k=key: with_header(b, set_field(k, "dtype", "F64"))),
                ("shape-overflow", lambda b, k=key: with_header(b, set_field(k, "shape", [1 << 62, 1 << 62, 16]))),
                ("shape-negative", lambda b, k=key: with_header(b, set_field(k, "shape", [-1, 4]))),
                ("shape-float", lambda b, k=key: with_header(b, set_field(k, "shape", [1.5]))),
                ("shape-wrong-size", lambda b, k=key: with_header(b, set_field(k, "shape", [1, 1]))),
                ("offsets-not-pair", lambda b, k=key: with_header(b, set_field(k, "data_offsets", [0]))),
                ("offsets-negative", lambda b, k=key: with_header(b, set_field(k, "data_offsets", [-8, 0]))),
                ("tensor-missing", lambda b, k=key: safetensors_without(b, k)),
            ]
        for key in float_keys[1:2]:
            muts += [("dtype-I64-for-float-2", lambda b, k=key: with_header(b, set_field(k, "dtype", "I64"))
                      if False else with_header(b, set_field(k, "dtype", "BOOL")))]
        for key in int_keys[:1]:
            muts += [("dtype-F32-for-u8", lambda b, k=key: with_header(b, set_field(k, "dtype", "I8")))]
        if strict_keys:
            muts += [("extra-tensor", lambda b: safetensors_plus(b))]
        self.blob_cases(target, rel, tree, make_argv, names, muts)

    def resume_cases(self):
        p = self.path
        checkpoints = sorted(os.listdir(p("run", "checkpoints")))
        resume = lambda d: self.train_args[:2] + [p("feats")] + self.train_args[3:] + ["--out", d, "--resume"]
        every = lambda fn: (lambda d: [fn(os.path.join(d, "checkpoints", c)) for c in checkpoints])

        def write_in_all(name, data):
            return every(lambda c: write(os.path.join(c, name), data))

        for label, mutate in [
            ("state.json-all-empty", write_in_all("state.json", b"")),
            ("state.json-all-nested", write_in_all("state.json", nested(100000).encode())),
            ("state.json-all-step-negative", write_in_all("state.json", b'{"step": -5}')),
            ("state.json-all-step-string", write_in_all("state.json", b'{"step": "x"}')),
            ("optimizer.pt-all-truncated", every(lambda c: write(os.path.join(c, "optimizer.pt"),
                                                                  read(os.path.join(c, "optimizer.pt"))[:100]))),
            ("optimizer.pt-all-garbage", write_in_all("optimizer.pt", b"PK\x03\x04garbage" * 20)),
            ("model-all-truncated", every(lambda c: write(os.path.join(c, "model.safetensors"),
                                                           read(os.path.join(c, "model.safetensors"))[:64]))),
            ("checkpoints-removed", lambda d: shutil.rmtree(os.path.join(d, "checkpoints"))),
            ("config.json-changed", lambda d: write(os.path.join(d, "config.json"),
                                                    json_with(read(os.path.join(d, "config.json")), ["model", "width"], 64))),
            ("config.json-nested", lambda d: write(os.path.join(d, "config.json"), nested(100000).encode())),
        ]:
            if self.skip(f"reader resume state {label}"):
                continue
            copy = self.copy_tree(p("run"), "resume")
            mutate(copy)
            # A run killed before its first checkpoint restarts from step 0 by design, saying so.
            note = "has no checkpoint yet; starting from step 0" if label == "checkpoints-removed" else None
            self.case("reader", "resume state", label, resume(copy), ["checkpoint", "config.json", "state.json",
                                                                    "optimizer.pt", "model.safetensors"],
                      accept_note=note)

    def checkpoint_config_cases(self):
        # config.json next to weights: read before any weight; a mismatch names the field.
        families = [
            ("dinov2-small", {"model_type": "dinov2", "hidden_size": 768, "num_hidden_layers": 12,
                              "num_attention_heads": 12, "patch_size": 14}, ["hidden_size"]),
            ("videomae-base", {"model_type": "videomae", "hidden_size": 1024, "num_hidden_layers": 24}, ["hidden_size"]),
            ("vjepa2-vitl-fpc64-256", {"model_type": "vjepa2", "hidden_size": 64, "num_attention_heads": 3},
             ["hidden_size", "num_attention_heads"]),
        ]
        for backbone, config, names in families:
            if backbone not in self.backbones:
                candidates = [b for b in self.backbones if b.startswith(backbone.split("-")[0])]
                if not candidates:
                    continue
                backbone = candidates[0]
            for label, text in [("other-size", json.dumps(config).encode()),
                                ("model-type", json.dumps({"model_type": "bert"}).encode()),
                                ("nested", nested(100000).encode()),
                                ("hidden-size-string", json.dumps({"model_type": config["model_type"],
                                                                    "hidden_size": "big"}).encode()),
                                ("hidden-size-overflow", json.dumps({"model_type": config["model_type"],
                                                                      "hidden_size": 4294967297}).encode())]:
                if self.skip(f"reader checkpoint config.json {backbone} {label}"):
                    continue
                d = self.fresh("ckpt-" + backbone)
                write(os.path.join(d, "config.json"), text)
                write(os.path.join(d, "model.safetensors"), safetensors_bytes([("x", "F32", [1], floats([0]))]))
                self.case("reader", "checkpoint config.json", f"{backbone} {label}",
                          ["extract", "--backbone", backbone, "--weights", d, "--frames", "4", "--data", self.path("data"),
                           "--out", os.path.join(d, "OUT")], ["config.json"] + names + ["model_type"])

    def co3d_cases(self):
        p = self.path
        extract = lambda d: ["extract", "--backbone", "pixels", "--data-kind", "co3d", "--frames", "3", "--data", d,
                             "--out", os.path.join(d, "OUT")]
        original = self.co3d_annotations
        fields = [([0, "viewpoint"], DELETE), ([0, "viewpoint", "focal_length"], [-1.5, 1.5]),
                  ([0, "viewpoint", "focal_length"], [0, 0]), ([0, "viewpoint", "R"], [[0, 0, 0]] * 3),
                  ([0, "viewpoint", "R"], [[2, 0, 0], [0, 1, 0], [0, 0, 1]]), ([0, "viewpoint", "R"], [[1, 0], [0, 1]]),
                  ([0, "viewpoint", "T"], [float("nan"), 0, 0]), ([0, "viewpoint", "intrinsics_format"], "screen"),
                  ([0, "image", "size"], [16, 17]), ([0, "image", "size"], [0, 16]), ([0, "image", "size"], [4294967312, 16]),
                  ([0, "image", "path"], "apple/missing.jpg"), ([0, "image", "path"], 5),
                  ([0, "depth", "scale_adjustment"], float("nan")), ([0, "depth", "scale_adjustment"], -1.0),
                  ([0, "depth", "path"], "apple/seq_a/images/frame000000.jpg"),
                  ([0, "frame_number"], 1.5), ([0, "frame_number"], 4294967297), ([0, "frame_number"], 1),
                  ([0, "sequence_name"], 5), ([0], "frame")]
        mutations = [(label, lambda t, m=m: gzip.compress(m(t))) for label, m in GENERIC_JSON]
        for path, value in fields:
            label = "/".join(map(str, path)) + "=" + (repr(value) if value is not DELETE else "deleted")
            mutations.append((label, lambda t, path=path, value=value: gzip.compress(json_with(t, path, value))))
        mutations += [("not-gzip", lambda t: t), ("gzip-truncated", lambda t: gzip.compress(t)[:40]),
                      ("gzip-bad-crc", lambda t: gzip.compress(t)[:-8] + b"\0" * 8), ("missing", lambda t: None)]
        self.blob_cases_from("co3d frame_annotations", "apple/frame_annotations.jgz", p("co3d"), extract,
                             ["frame_annotations", "frame000000", "seq_a"], original, mutations)
        jpeg_mut = [("empty", lambda b: b""), ("truncated", lambda b: b[: len(b) // 2]), ("garbage", lambda b: b"\xff\xd8garbage"),
                    ("png-bytes", lambda b: png_bytes(16, 16)),
                    ("huge-declared", lambda b: b.replace(b"\xff\xc0\x00\x11\x08\x00\x10\x00\x10",
                                                          b"\xff\xc0\x00\x11\x08\x6e\x67\x2e\x70")),
                    ("other-size", lambda b: None if False else JPEG_16_8x8)]
        self.blob_cases("co3d jpeg", "apple/seq_a/images/frame000001.jpg", p("co3d"), extract, ["frame000001"], jpeg_mut)
        # Not mutations: a depth map at another size is resampled to its image and non-finite
        # depths become invalid pixels, both by design (docs/datasets.md).
        depth_mut = [("empty", lambda b: b""), ("8-bit", lambda b: png_bytes(16, 16, 1, 8)),
                     ("rgb", lambda b: png_bytes(16, 16, 3, 16)), ("truncated", lambda b: b[: len(b) // 2])]
        self.blob_cases("co3d depth png", "apple/seq_a/depths/frame000001.jpg.geometric.png", p("co3d"), extract,
                        ["frame000001"], depth_mut)

    def blob_cases_from(self, target, rel, tree, make_argv, names, original, mutations):
        for label, mutate in mutations:
            if self.skip(f"reader {target} {label}"):
                continue
            copy = self.copy_tree(tree, target.replace(" ", "_"))
            data = mutate(original)
            if data is None:
                os.remove(os.path.join(copy, rel))
            else:
                write(os.path.join(copy, rel), data)
            self.case("reader", target, label, make_argv(copy), names)

    def dl3dv_cases(self):
        p = self.path
        extract = lambda d: ["extract", "--backbone", "pixels", "--data-kind", "dl3dv", "--frames", "3", "--data", d,
                             "--out", os.path.join(d, "OUT")]
        self.json_reader_cases("dl3dv transforms.json", "s0/transforms.json", p("dl3dv", "transforms"), extract,
                               ["transforms.json"], [
            (["camera_model"], "OPENCV_FISHEYE"), (["fl_x"], 0), (["fl_x"], -14.0), (["fl_x"], float("nan")),
            (["w"], 40), (["w"], 4294967312), (["w"], -16), (["h"], 0), (["frames"], DELETE), (["frames"], []),
            (["frames", 0, "transform_matrix"], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
            (["frames", 0, "transform_matrix"], [[0, 0, 0, 0]] * 4),
            (["frames", 0, "transform_matrix"], [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]),
            (["frames", 0, "file_path"], "images/missing.png"), (["frames", 0, "file_path"], 3),
            (["frames", 0, "fl_y"], -2.0), (["applied_transform"], [[1, 0, 0]]),
        ])
        self.blob_cases("dl3dv png", "s0/images/frame_00002.png", p("dl3dv", "transforms"), extract,
                        ["frame_00002"], [("other-size", lambda b: png_bytes(15, 12)), ("garbage", lambda b: b"nope")])
        # (A 16-bit or gray PNG frame is converted to 8-bit RGB by design, as PIL would: not a mutation.)
        text = lambda rel: (lambda d: extract(d))
        cam_mut = [("empty", lambda b: b""), ("unknown-model", lambda b: b"1 WEIRD 16 12 14 14 8 6\n"),
                   ("too-few-params", lambda b: b"1 PINHOLE 16 12 14\n"),
                   ("non-numeric", lambda b: b"1 PINHOLE 16 12 fx 14 8 6\n"),
                   ("negative-focal", lambda b: b"1 PINHOLE 16 12 -14 14 8 6\n"),
                   ("zero-width", lambda b: b"1 PINHOLE 0 12 14 14 8 6\n"),
                   ("huge-width", lambda b: b"1 PINHOLE 99999999999999999999 12 14 14 8 6\n"),
                   ("nan-focal", lambda b: b"1 PINHOLE 16 12 nan 14 8 6\n"),
                   ("other-camera-id", lambda b: b"7 PINHOLE 16 12 14 14 8 6\n"),
                   ("fisheye", lambda b: b"1 OPENCV_FISHEYE 16 12 14 14 8 6 0 0 0 0\n")]
        self.blob_cases("colmap cameras.txt", "s0/sparse/0/cameras.txt", p("dl3dv", "colmap_text"), extract,
                        ["cameras.txt"], cam_mut)
        img_mut = [("empty", lambda b: b""), ("zero-quaternion", lambda b: b.replace(b"1 1.0 0 0.0 0", b"1 0 0 0 0", 1)),
                   ("nan-translation", lambda b: b.replace(b"0 1 1 frame_00001", b"0 nan 1 frame_00001", 1)),
                   ("missing-name", lambda b: b.replace(b" frame_00001.png", b"", 1)),
                   ("unknown-camera", lambda b: b.replace(b"0 1 1 frame_00001", b"0 1 9 frame_00001", 1)),
                   ("non-numeric-id", lambda b: b.replace(b"1 1.0", b"x 1.0", 1)),
                   ("missing-image-file", lambda b: b.replace(b"frame_00001.png", b"frame_09999.png", 1)),
                   ("duplicate-id", lambda b: b.replace(b"\n2 ", b"\n1 ", 1)),
                   ("huge-id", lambda b: b.replace(b"1 1.0", b"99999999999999999999 1.0", 1))]
        self.blob_cases("colmap images.txt", "s0/sparse/0/images.txt", p("dl3dv", "colmap_text"), extract,
                        ["images.txt"], img_mut)
        bcam = [("empty", lambda b: b""), ("truncated", lambda b: b[:20]),
                ("count-huge", lambda b: struct.pack("<Q", 1 << 62) + b[8:]),
                ("unknown-model-id", lambda b: b[:12] + struct.pack("<i", 99) + b[16:]),
                ("width-zero", lambda b: b[:16] + struct.pack("<Q", 0) + b[24:]),
                ("width-huge", lambda b: b[:16] + struct.pack("<Q", 1 << 63) + b[24:]),
                ("focal-negative", lambda b: b[:32] + struct.pack("<d", -14.0) + b[40:]),
                ("focal-nan", lambda b: b[:32] + struct.pack("<d", float("nan")) + b[40:]),
                ("trailing", lambda b: b + b"\0" * 8)]
        self.blob_cases("colmap cameras.bin", "s0/sparse/0/cameras.bin", p("dl3dv", "colmap_bin"), extract,
                        ["cameras.bin"], bcam)
        bimg = [("empty", lambda b: b""), ("truncated", lambda b: b[:40]),
                ("count-huge", lambda b: struct.pack("<Q", 1 << 62) + b[8:]),
                ("name-unterminated", lambda b: b[: b.index(b"\x00", 70)]),
                ("points-huge", lambda b: b.replace(b"png\x00" + b"\0" * 8, b"png\x00" + struct.pack("<Q", 1 << 60), 1)),
                ("quaternion-zero", lambda b: b[:12] + b"\0" * 32 + b[44:]),
                ("quaternion-nan", lambda b: b[:12] + struct.pack("<d", float("nan")) + b[20:]),
                ("camera-unknown", lambda b: b[:68] + struct.pack("<I", 42) + b[72:])]
        self.blob_cases("colmap images.bin", "s0/sparse/0/images.bin", p("dl3dv", "colmap_bin"), extract,
                        ["images.bin"], bimg)

    def vidfm3d_cases(self):
        p = self.path
        imp = lambda d: self.import_args(d) + ["--out", os.path.join(d, "OUT")]
        self.json_reader_cases("vidfm3d split", "data/val.json", p("vidfm3d"), imp, ["val.json"], [
            ([0], "apple/hash0"), ([0], ["apple"]), ([0], ["apple", "hash0", "x"]), ([0, 1], 5),
            ([0, 1], "../../../etc/passwd"), ([0, 1], "missing-hash")])
        self.safetensors_cases("vidfm3d scene .sft", "data/apple/hash0.sft", p("vidfm3d"), imp, ["hash0.sft"],
                               float_keys=["depthmaps", "extrinsic"], int_keys=["images"], strict_keys=False)
        scene = self.vidfm3d_scene
        shape_muts = []
        for key, shape in [("images", [4, 3, 14, 13]), ("depthmaps", [3, 14, 14, 1]), ("extrinsic", [4, 4, 4]),
                           ("intrinsic", [4, 9])]:
            def m(b, key=key, shape=shape):
                header, body = parse_safetensors(b)
                old = header[key]
                return rebuild(header, body, key, shape, old["dtype"])
            shape_muts.append((f"{key}-shape-{shape}", m))
        shape_muts.append(("extrinsic-not-rotation", lambda b: replace_tensor(
            b, "extrinsic", floats([0.0] * (4 * 12)))))
        shape_muts.append(("intrinsic-negative-focal", lambda b: replace_tensor(
            b, "intrinsic", floats([-10, 0, 7, 0, 10, 7, 0, 0, 1] * 4))))
        shape_muts.append(("depth-nan", lambda b: replace_tensor(b, "depthmaps", floats([float("nan")] * (4 * 14 * 14)))))
        self.blob_cases("vidfm3d scene tensors", "data/apple/hash0.sft", p("vidfm3d"), imp, ["hash0.sft"], shape_muts)
        self.safetensors_cases("vidfm3d feature .sft", "feat/dino/apple/hash0/feature.sft", p("vidfm3d"), imp,
                               ["feature.sft"], float_keys=["feat"], int_keys=[], strict_keys=False)
        self.blob_cases("vidfm3d feature tensors", "feat/dino/apple/hash0/feature.sft", p("vidfm3d"), imp,
                        ["feature.sft", "feat"], [
            ("frames-mismatch", lambda b: safetensors_bytes([("feat", "F32", [3, 2, 2, 8], floats([0.0] * 96))])),
            ("rank-3", lambda b: safetensors_bytes([("feat", "F32", [4, 4, 8], floats([0.0] * 128))])),
            ("key-renamed", lambda b: safetensors_bytes([("features", "F32", [4, 2, 2, 8], floats([0.0] * 128))])),
            ("zero-channels", lambda b: safetensors_bytes([("feat", "F32", [4, 2, 2, 0], b"")])),
            ("nan-features", lambda b: safetensors_bytes([("feat", "F32", [4, 2, 2, 8], floats([float("nan")] * 128))]))])

    # ------------------------------------------------------------------------- flag cases

    def flag_cases(self):
        p = self.path
        reg = self.fresh("regular-file")
        self.nested_json = os.path.join(reg, "nested.json")
        write(self.nested_json, nested(100000))
        regular = os.path.join(reg, "file")
        write(regular, b"x")
        under_file = os.path.join(regular, "sub")
        bad_name = os.fsencode(reg) + b"/" + BAD_UTF8
        os.makedirs(bad_name, exist_ok=True)
        render = ["render", "--family", "objects", "--clips", "1", "--frames", "2", "--size", "16"]
        extract = self.extract_args + ["--data", p("data")]
        pix = ["extract", "--backbone", "pixels", "--frames", "4", "--data", p("data")]
        train = self.train_args + []
        evalc = ["eval", "--run", p("run"), "--features", p("feats"), "--visualize", "0", "--chamfer-points", "64"]
        sweep = ["sweep", "--backbone", "pixels", "--data", p("data"), "--layers", "0", "--frames", "4", "--train-ratio", "0.6", "--gt-size", "16",
                 "--preset", "vidprobe", "--config", p("probe.json"), "--steps", "2", "--chamfer-points", "64"]
        annotate = self.annotate_args + ["--model-config", p("vggt.json")]
        imp = self.import_args(p("vidfm3d"))
        report = ["report", "--eval", p("eval")]
        bench_b = ["bench", "backbone", "--backbone", "pixels", "--frames", "2", "--iterations", "1"]
        bench_p = ["bench", "probe", "--preset", "vidprobe", "--batch", "1", "--frames", "2", "--feature-dim", "8",
                   "--grid", "2", "--size", "8", "--warmup", "0", "--steps", "1"]

        def out(name):
            d = self.fresh(name)
            return ["--out", os.path.join(d, "OUT")]

        NUM_BAD = [("nan", "nan"), ("text", "abc"), ("overflow", "99999999999999999999999"), ("inf", "inf")]
        POS_INT = NUM_BAD + [("zero", "0"), ("negative", "-3")]
        NONNEG_INT = NUM_BAD + [("negative", "-3")]
        POS_FLOAT = NUM_BAD + [("zero", "0"), ("negative", "-0.5"), ("huge", "1e300")]
        UNIT = NUM_BAD + [("negative", "-0.1"), ("above-1", "1.5")]
        SEED = [("nan", "nan"), ("text", "abc"), ("overflow", "99999999999999999999999"), ("negative", "-5")]
        ENUM = [("unknown", "bogus"), ("empty", "")]
        # (command, base argv, flag, bad values, names, needs --out)
        table = [
            ("render", render, "--family", ENUM, True), ("render", render, "--clips", POS_INT, True),
            ("render", render, "--frames", POS_INT, True), ("render", render, "--size", POS_INT + [("too-big", "100000")], True),
            ("render", render, "--width", POS_INT, True), ("render", render, "--height", POS_INT, True),
            ("render", render, "--fov-min", NUM_BAD + [("zero", "0"), ("negative", "-10"), ("180", "180")], True),
            ("render", render, "--fov-max", NUM_BAD + [("zero", "0"), ("above-180", "200")], True),
            ("render", render, "--motion", NUM_BAD + [("negative", "-1")], True),
            ("render", render, "--texture-richness", UNIT, True), ("render", render, "--seed", SEED, True),
            ("render", render, "--threads", NONNEG_INT, True), ("render", render, "--shadow-samples", POS_INT + [("too-many", "65")], True),
            ("render", render, "--mesh", [("missing", "/nonexistent.obj"), ("under-file", under_file + ".obj"),
                                          ("garbage", regular)], True),
            ("render", render, "--texture", [("missing", "/nonexistent.png"), ("garbage", regular)], True),
        ]
        ext_common = [
            ("--backbone", ENUM), ("--weights", [("missing", "/nonexistent/w.safetensors"), ("under-file", under_file)]),
            ("--backbone-opt", [("no-equals", "foo"), ("unknown-key", "foo=1"), ("empty-key", "=1")]),
            ("--compute-dtype", ENUM + [("int8", "int8")]), ("--noise-seed", SEED), ("--data-kind", ENUM),
            ("--train-ratio", UNIT), ("--frames", POS_INT), ("--probe-frames", NONNEG_INT + [("more-than-frames", "9")]),
            ("--keep-first", NONNEG_INT + [("more-than-frames", "9")]), ("--interleaved-clips", POS_INT),
            ("--sampling", ENUM), ("--gt-size", [("zero", "0"), ("negative", "-16"), ("text", "abc"), ("0x0", "0x0"),
                                                  ("overflow", "99999999999x16"), ("nan", "nan")]),
            ("--resize", ENUM), ("--input-processor", ENUM), ("--temporal", ENUM), ("--dtype", ENUM + [("bf16", "bf16")]),
            ("--seed", SEED), ("--device", [("unknown", "tpu"), ("cuda-index", "cuda:99"), ("garbage", "cpu:x")]),
            ("--loader-threads", NONNEG_INT + [("too-many", "65")]),
        ]
        for flag, values in ext_common:
            table.append(("extract", extract, flag, values, True))
        for flag in ("--preset",):
            table.append(("extract", extract, flag, ENUM, True))
        table += [
            ("extract", extract, "--layer", [("too-deep", "999"), ("negative", "-5"), ("nan", "nan"), ("text", "abc")], True),
            ("extract", extract, "--split", ENUM, True),
            ("extract", extract, "--summary", [("under-file", under_file), ("is-dir", reg),
                                              ("missing-parent", "/nonexistent/summary.json")], True),
            ("extract", extract, "--timestep", [("not-diffusion", "500")], True),
            ("extract", pix, "--timestep", [("pixels", "500"), ("garbage", "abc"), ("negative", "-1"),
                                            ("over-1000", "5000"), ("sigma-nan", "sigma=nan")], True),
            ("extract", pix, "--weights", [("pixels-no-weights", p("run", "model.safetensors"))], True),
            ("extract", pix, "--noise-per-clip", [("pixels", None)], True),
            ("extract", pix, "--input-processor", [("pixels-hf-dinov2", "hf-dinov2")], True),
            ("extract", extract, "--random-init", [("with-weights", None)], True),
        ]
        for flag, values in [("--epochs", POS_INT), ("--steps", POS_INT), ("--batch", POS_INT),
                             ("--grad-accumulation", POS_INT), ("--lr", POS_FLOAT), ("--seed", SEED),
                             ("--holdout", UNIT + [("one", "1")]), ("--train-fraction", UNIT + [("zero", "0")]),
                             ("--preset", ENUM), ("--model", ENUM), ("--vggt-depth", POS_INT),
                             ("--val-views", ENUM), ("--device", [("unknown", "tpu")]), ("--threads", NONNEG_INT),
                             ("--config", [("missing", "/nonexistent.json"), ("directory", p("run")),
                                           ("under-file", under_file)]),
                             ("--val-features", [("missing", "/nonexistent"), ("regular-file", regular)])]:
            table.append(("train", train, flag, values, True))
        table.append(("train", train, "--features", [("missing", "/nonexistent"), ("regular-file", regular),
                                                    ("empty-dir", reg)], True))
        table.append(("train", train, "--vggt-depth", [("probe-model", "3")], True))
        for flag, values in [("--batch", POS_INT), ("--visualize", NONNEG_INT), ("--chamfer-points", POS_INT),
                             ("--threads", NONNEG_INT), ("--device", [("unknown", "tpu")]),
                             ("--features", [("missing", "/nonexistent"), ("regular-file", regular)])]:
            table.append(("eval", evalc, flag, values, True))
        table.append(("eval", ["eval", "--features", p("feats")], "--run", [("missing", "/nonexistent"), ("regular-file", regular),
                                                                         ("not-a-run", reg)], True))
        table.append(("eval", evalc, "--weights", [("with-run", p("run", "model.safetensors"))], True))
        table.append(("eval", evalc, "--only-holdout", [("no-holdout", None)], True))
        for flag, values in ext_common + [("--epochs", POS_INT[:3]), ("--grad-accumulation", POS_INT[4:]),
                                          ("--config", [("missing", "/nonexistent.json"), ("under-file", under_file)])]:
            if flag not in ("--device",):
                table.append(("sweep", sweep, flag, values[:3], True))
        evalw = ["eval", "--weights", p("run", "model.safetensors"), "--features", p("feats"), "--visualize", "0",
                 "--chamfer-points", "64", "--preset", "vidprobe", "--config", p("probe.json")]
        table.append(("eval", evalw, "--preset", ENUM, True))
        table.append(("eval", evalw, "--config", [("missing", "/nonexistent.json"), ("nested", self.nested_json)], True))
        table.append(("annotate", annotate, "--random-init", [("with-weights", None)], True))
        table.append(("sweep", sweep, "--noise-per-clip", [("pixels", None)], True))
        table.append(("sweep", sweep, "--random-init", [("pixels", None)], True))
        for flag, values in [("--layers", [("empty", ""), ("text", "a,b"), ("negative", "-3"), ("too-deep", "999"),
                                           ("overflow", "99999999999999999999")]),
                             ("--timesteps", [("pixels", "100"), ("text", "x")]),
                             ("--heatmap-metric", ENUM), ("--chamfer-points", POS_INT), ("--threads", NONNEG_INT),
                             ("--steps", POS_INT), ("--lr", POS_FLOAT), ("--batch", POS_INT),
                             ("--preset", ENUM), ("--frames", POS_INT), ("--device", [("unknown", "tpu")])]:
            table.append(("sweep", sweep, flag, values, True))
        for flag, values in [("--split", ENUM), ("--train-ratio", UNIT), ("--backbone-size", POS_INT + [("not-multiple", "57")]),
                             ("--clips", NONNEG_INT), ("--frames", POS_INT), ("--sampling", ENUM),
                             ("--conf-percentile", [("negative", "-1"), ("above-100", "101"), ("nan", "nan")]),
                             ("--shard", [("index-too-big", "2/2"), ("zero-count", "0/0"), ("text", "a/b"), ("negative", "-1/2")]),
                             ("--device", [("unknown", "tpu")]), ("--compute-dtype", ENUM + [("fp16", "fp16")]),
                             ("--seed", SEED), ("--data-kind", ENUM),
                             ("--weights", [("missing", "/nonexistent.safetensors"), ("under-file", under_file)]),
                             ("--model-config", [("missing", "/nonexistent.json"), ("under-file", under_file)])]:
            table.append(("annotate", annotate, flag, values, True))
        for flag, values in [("--window", NONNEG_INT + [("more-than-frames", "99")]), ("--format", ENUM),
                             ("--frame-chunk", POS_INT), ("--prefetch", NONNEG_INT),
                             ("--dl3dv-downscale", NONNEG_INT + [("not-dl3dv", "2")]),
                             ("--co3d-crop", ENUM + [("not-co3d", "vidfm3d")]),
                             ("--co3d-jpeg", ENUM + [("without-co3d-crop", "true")])]:
            table.append(("annotate", annotate, flag, values, True))
        check = self.check_args
        for flag, values in [("--preset", ENUM), ("--backbone", ENUM + [("not-latent", "pixels")]),
                             ("--weights", [("missing", "/nonexistent"), ("under-file", under_file)]),
                             ("--random-init", [("with-weights", None)]),
                             ("--backbone-opt", [("no-equals", "foo"), ("unknown-key", "foo=1")]),
                             ("--compute-dtype", ENUM + [("int8", "int8")]),
                             ("--data", [("missing", "/nonexistent"), ("regular-file", regular)]),
                             ("--data-kind", ENUM), ("--frames", POS_INT + [("not-4k+1", "4")]),
                             ("--resize", ENUM),
                             ("--timestep", [("garbage", "abc"), ("negative", "-1"), ("over-1000", "5000"),
                                             ("sigma-nan", "sigma=nan")]),
                             ("--noise-seed", SEED), ("--seed", SEED), ("--render-seed", SEED),
                             ("--sample-steps", NONNEG_INT), ("--device", [("unknown", "tpu")])]:
            table.append(("check", check, flag, values, True))
        table.append(("check", check + ["--data", p("data"), "--frames", "1"], "--clip", [("unknown", "nosuchclip")], True))
        for flag, values in [("--split", ENUM), ("--model", ENUM), ("--dataset", ENUM), ("--context", POS_INT + [("one", "1")]),
                             ("--postfix", [("no-such-file", "_t1")]),
                             ("--features", [("missing", "/nonexistent"), ("regular-file", regular)]),
                             ("--data", [("missing", "/nonexistent"), ("regular-file", regular)]),
                             ("--use-mask", [("no-masks", None)])]:
            table.append(("import vidfm3d", imp, flag, values, True))
        for flag, values in [("--eval", [("missing", "/nonexistent"), ("bad-label", "nolabel=" + p("eval")),
                                         ("regular-file", regular)]),
                             ("--sweep", [("missing", "/nonexistent"), ("regular-file", regular)]),
                             ("--notes", [("missing", "/nonexistent.md"), ("directory-non-utf8", os.fsdecode(bad_name))])]:
            table.append(("report", report, flag, values, True))
        for flag, values in [("--backbone", ENUM), ("--dtype", ENUM), ("--frames", POS_INT), ("--layer", [("too-deep", "999"), ("negative", "-5")]),
                             ("--iterations", POS_INT), ("--device", [("unknown", "tpu")]),
                             ("--weights", [("pixels-no-weights", p("run", "model.safetensors"))]),
                             ("--backbone-opt", [("unknown-key", "foo=1")]),
                             ("--profile", [("under-file", under_file), ("is-file", regular)])]:
            table.append(("bench backbone", bench_b, flag, values, False))
        for flag, values in [("--preset", ENUM), ("--batch", POS_INT), ("--frames", POS_INT), ("--feature-dim", POS_INT),
                             ("--grid", [("zero", "0"), ("negative", "-2"), ("text", "axb")]),
                             ("--size", [("zero", "0"), ("0x0", "0x0")]), ("--warmup", NONNEG_INT), ("--steps", POS_INT),
                             ("--threads", NONNEG_INT), ("--device", [("unknown", "tpu")]),
                             ("--config", [("missing", "/nonexistent.json")]),
                             ("--profile", [("under-file", under_file), ("is-file", regular)])]:
            table.append(("bench probe", bench_p, flag, values, False))

        for command, base, flag, values, needs_out in table:
            for label, value in values:
                if self.skip(f"flag {command} {flag} {label}"):
                    continue
                argv = strip_flag(base, flag) + ([flag] if value is None else [flag, value])
                if needs_out:
                    argv += out(command.replace(" ", "-") + flag)
                self.case("flag", command, f"{flag} {label}", argv, [flag] + ([value] if value else []))

        # paths: --out under a regular file, a non-UTF-8 name, and an --out that is a regular file
        for command, base in [("render", render), ("extract", extract), ("train", train), ("eval", evalc),
                              ("sweep", sweep), ("annotate", annotate), ("import vidfm3d", imp), ("report", report),
                              ("check", check)]:
            for label, value in [("under-file", under_file), ("is-file", regular)]:
                if self.skip(f"flag {command} --out {label}"):
                    continue
                self.case("flag", command, f"--out {label}", base + ["--out", value], [regular, "--out"])
        # non-UTF-8 names (accepted as bytes: the run must either work or refuse by name)
        for command, base in [("render", render), ("extract", extract), ("train", train)]:
            name = "flag " + command + " --out non-utf8"
            if self.skip(name):
                continue
            dest = os.fsencode(self.fresh("nonutf8")) + b"/" + BAD_UTF8
            rc, _, err, seconds, timed_out = self.run(base + [b"--out", dest])
            # A valid run into a non-UTF-8 directory is fine (Linux names are bytes): exit 0 with the
            # output there is OK; a crash, hang or internal error is not.
            argv = base + ["--out", dest.decode("utf-8", "backslashreplace")]
            if rc == 0 and not timed_out and os.path.isdir(dest):
                self.results.append({"group": "flag", "target": command, "case": "--out non-utf8 (valid run)",
                                     "outcome": "OK", "why": "a valid run writes into the non-UTF-8 path",
                                     "exit": 0, "seconds": round(seconds, 3), "argv": argv, "expected_names": [],
                                     "message": ""})
                print(f". [flag] {command}: --out non-utf8 -> a valid run writes there", flush=True)
            else:
                self.record("flag", command, "--out non-utf8", argv, ["--out", "bad"], rc, err, seconds, timed_out)
        self.flag_coverage(table)

    def flag_coverage(self, table):
        """Every flag of every subcommand's --help must have at least one case."""
        covered = {}
        for command, _, flag, _, _ in table:
            covered.setdefault(command, set()).add(flag)
        for command in ("render", "extract", "train", "eval", "sweep", "annotate", "import vidfm3d", "report",
                        "bench backbone", "bench probe", "check"):
            covered.setdefault(command, set()).update({"--out", "--help", "-h"})
            _, out, _, _, _ = self.run(command.split() + ["--help"], timeout=60)
            flags = set()
            for line in out.splitlines():
                for token in line.replace(",", " ").split():
                    if token.startswith("--") and len(token) > 2:
                        flags.add(token.split("=")[0])
                    break
            missing = sorted(f for f in flags - covered[command] if f not in {"--help", "--quiet", "--version",
                                                                                "--reference", "--gradient-checkpointing",
                                                                                "--python", "--reference-script",
                                                                                "--checkout", "--run-dir",
                                                                                "--no-global-attention",
                                                                                "--no-shadows", "--resume",
                                                                                "--allow-partial", "--data", "--title",
                                                                                "--extract-only"})
            self.uncovered = getattr(self, "uncovered", {})
            if missing:
                self.uncovered[command] = missing

    # ------------------------------------------------------------------------- kill -9 and full disk

    def fault_cases(self, kills):
        p = self.path
        commands = [
            ("render", lambda o: ["render", "--family", "scenes", "--clips", "4", "--frames", "3", "--size", "32",
                                  "--seed", "4", "--out", o], [], []),
            ("extract", lambda o: self.extract_args + ["--data", p("data"), "--out", o], ["manifest.json"], []),
            ("train", lambda o: strip_flag(self.train_args, "--steps") + ["--steps", "8", "--out", o] + (["--resume"] if os.path.exists(
                os.path.join(o, "config.json")) else []),
             ["train_log.jsonl", "train_log.csv", "run.json", "state.json", "optimizer.pt", "model.safetensors"],
             ["train_log.jsonl", "train_log.csv", "run.json", "optimizer.pt"]),
        ]
        for name, argv, rewritten, volatile in commands:
            if self.skip(f"fault kill {name}"):
                continue
            ref = self.path("kill", name, "reference")
            start = time.monotonic()
            self.must(argv(ref), "uninterrupted " + name)
            duration = time.monotonic() - start
            expected = tree_bytes(ref)
            for k in range(kills):
                target = self.path("kill", name, f"killed{k}")
                at = self.random.uniform(0, duration)
                argvk = [os.fsencode(a) for a in argv(target)]
                proc = subprocess.Popen([self.bin.encode(), b"-q"] + argvk, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, env=self.env, cwd=self.work)
                time.sleep(at)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                problems = []
                for rel, data in tree_bytes(target).items():
                    if ".tmp." in rel or any(rel.endswith(r) for r in rewritten):
                        continue
                    if rel not in expected:
                        problems.append("left " + rel)
                    elif expected[rel] != data and not any(rel.endswith(v) for v in volatile):
                        problems.append("half-written " + rel)
                rc, _, err, seconds, timed_out = self.run(argv(target))
                got = tree_bytes(target)
                for rel in expected:
                    if rel not in got:
                        problems.append("missing after resume " + rel)
                    elif got[rel] != expected[rel] and not any(rel.endswith(v) for v in volatile):
                        problems.append("differs after resume " + rel)
                problems += ["extra after resume " + rel for rel in got if rel not in expected]
                outcome = "OK" if rc == 0 and not problems and not timed_out else "FINDING"
                self.results.append({"group": "fault", "target": name, "case": f"kill -9 at {at:.2f} s of {duration:.2f} s",
                                     "outcome": outcome, "why": "; ".join(problems) or (f"rerun exit {rc}" if rc else
                                                                                         "resumed to the same bytes"),
                                     "exit": rc, "seconds": round(seconds, 3), "argv": argv(target),
                                     "message": err.strip()[-400:] if rc else ""})
                print(("." if outcome == "OK" else "F") + f" [fault] {name}: kill -9 at {at:.2f} s -> "
                      + self.results[-1]["why"], flush=True)
        self.full_disk_cases()

    def full_disk_cases(self):
        p = self.path
        cases = [("extract", 400, lambda o: self.extract_args + ["--data", p("data"), "--out", o]),
                 ("train", 600, lambda o: self.train_args + ["--out", o]),
                 ("render", 64, lambda o: ["render", "--family", "objects", "--clips", "3", "--frames", "4", "--size",
                                          "32", "--seed", "3", "--out", o]),
                 ("eval", 64, lambda o: ["eval", "--run", p("run"), "--features", p("feats"), "--visualize", "1",
                                        "--chamfer-points", "64", "--out", o])]
        for name, kilobytes, argv in cases:
            if self.skip(f"fault full disk {name}"):
                continue
            mount = self.path("disk", name)
            os.makedirs(mount, exist_ok=True)
            mounted = os.geteuid() == 0 and subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", mount],
                stderr=subprocess.DEVNULL).returncode == 0
            out = os.path.join(mount, "out")
            preexec = None
            how = f"tmpfs of {kilobytes} KB"
            if not mounted:
                limit = kilobytes * 1024
                how = f"RLIMIT_FSIZE {kilobytes} KB"

                def preexec(limit=limit):
                    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            try:
                rc, _, err, seconds, timed_out = self.run(argv(out), preexec=preexec)
                left = [rel for rel in tree_bytes(out) if ".tmp." in rel] if os.path.isdir(out) else []
            finally:
                if mounted:
                    subprocess.run(["umount", "-l", mount])
            names = ["No space left on device", "File too large"]
            self.record("fault", name, f"full disk ({how})", argv(out), names, rc, err, seconds, timed_out)
            if rc == 0 and self.results[-1]["outcome"] == "FINDING":
                # the run fitted: not a full disk after all
                self.results[-1].update(outcome="OK", why="the run fitted on the small disk (no fault injected)")
            if left:
                self.results[-1].update(outcome="FINDING", why="temporaries left: " + ", ".join(left[:5]))
                print(f"F [fault] {name}: temporaries left", flush=True)


# ----------------------------------------------------------------------------- helpers

JPEG_16_8x8 = None  # set below: the same JPEG with its declared size changed to 8 x 8 (data for 16 x 16)


def strip_flag(argv, flag):
    """argv without `flag VALUE` (so a case's value replaces the base's)."""
    out, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if a == flag:
            skip = i + 1 < len(argv) and not str(argv[i + 1]).startswith("--")
            continue
        out.append(a)
    return out


def tree_bytes(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            full = os.path.join(dirpath, n)
            files[os.path.relpath(full, root)] = read(full)
    return files


def safetensors_without(blob, key):
    header, body = parse_safetensors(blob)
    tensors = []
    for name in sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0]):
        if name == key:
            continue
        b, e = header[name]["data_offsets"]
        tensors.append((name, header[name]["dtype"], header[name]["shape"], body[b:e]))
    return safetensors_bytes(tensors, header.get("__metadata__"))


def safetensors_plus(blob):
    header, body = parse_safetensors(blob)
    tensors = []
    for name in sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0]):
        b, e = header[name]["data_offsets"]
        tensors.append((name, header[name]["dtype"], header[name]["shape"], body[b:e]))
    tensors.append(("zz_unexpected.weight", "F32", [2], floats([1, 2])))
    return safetensors_bytes(tensors, header.get("__metadata__"))


def rebuild(header, body, key, shape, dtype):
    tensors = []
    size = {"F32": 4, "U8": 1, "F16": 2, "I64": 8}[dtype]
    for name in sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0]):
        b, e = header[name]["data_offsets"]
        data = body[b:e]
        s = header[name]["shape"]
        if name == key:
            s = shape
            n = 1
            for d in shape:
                n *= d
            data = (data * 2)[: n * size]
        tensors.append((name, header[name]["dtype"], s, data))
    return safetensors_bytes(tensors)


def replace_tensor(blob, key, data):
    header, body = parse_safetensors(blob)
    tensors = []
    for name in sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0]):
        b, e = header[name]["data_offsets"]
        tensors.append((name, header[name]["dtype"], header[name]["shape"], data if name == key else body[b:e]))
    return safetensors_bytes(tensors)


def _jpeg_declaring(width, height):
    marker = JPEG_16.index(b"\xff\xc0")
    return JPEG_16[: marker + 5] + struct.pack(">HH", height, width) + JPEG_16[marker + 9:]


JPEG_16_8x8 = _jpeg_declaring(8, 8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin", "vidprobe"))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case (a hang past it is a finding)")
    parser.add_argument("--seed", type=int, default=19, help="seed of the kill times")
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs per writing command")
    parser.add_argument("--only", help="run only cases whose group, target or name contains one of these (A,B)")
    parser.add_argument("--cases", help="run only the cases listed in this file, one 'group target case' a line")
    parser.add_argument("--out", help="JSONL file (default docs/results/hostile-campaign-<date>.jsonl)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    campaign = Campaign(args)
    started = time.monotonic()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"work directory {campaign.work}", flush=True)
    failure = None
    try:
        campaign.baselines()
        campaign.reader_cases()
        campaign.flag_cases()
        campaign.fault_cases(args.kills)
    except BaselineFailed as e:
        failure = str(e)
        print(failure, flush=True)
    finally:
        if not args.keep:
            for dirpath in (campaign.path("disk", d) for d in ("extract", "train", "render", "eval")):
                subprocess.run(["umount", "-l", dirpath], stderr=subprocess.DEVNULL)
            shutil.rmtree(campaign.work, ignore_errors=True)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = args.out or os.path.join(ROOT, "docs", "results",
                                   f"hostile-campaign-{datetime.date.today().isoformat()}.jsonl")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".tmp", "w") as f:
        for entry in campaign.results:
            f.write(json.dumps(entry) + "\n")
    os.replace(out + ".tmp", out)
    findings = [r for r in campaign.results if r["outcome"] != "OK"]
    by_group = {}
    for r in campaign.results:
        g = by_group.setdefault(r["group"], [0, 0])
        g[0] += 1
        g[1] += r["outcome"] != "OK"
    by_why = {}
    for r in findings:
        by_why[r["why"].split(":")[0]] = by_why.get(r["why"].split(":")[0], 0) + 1
    print("\nsummary:")
    for g, (n, f) in sorted(by_group.items()):
        print(f"  {g:7s} {n:4d} cases, {f} findings")
    malformed = sum(1 for r in campaign.results if r["group"] in ("reader", "flag"))
    print(f"  {len(campaign.results)} cases ({malformed} malformed inputs), {len(findings)} findings"
          + (": " + ", ".join(f"{k} {v}" for k, v in sorted(by_why.items())) if findings else ""))
    for command, flags in sorted(getattr(campaign, "uncovered", {}).items()):
        print(f"  flags without a case: {command}: {' '.join(flags)}")
    print(f"  {time.monotonic() - started:.0f} s wall, "
          f"{cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime:.0f} CPU-s in vidprobe; results in {out}")
    if failure:
        print("  stopped early: " + failure.splitlines()[0])
    return 1 if findings or failure else 0


if __name__ == "__main__":
    sys.exit(main())

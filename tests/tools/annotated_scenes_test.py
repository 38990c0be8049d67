#!/usr/bin/env python3
"""tools/annotated_scenes.py: the .sft scenes of `vidprobe annotate --format vidfm3d`, read as the
GPU scripts read them (per-clip timing in written order, tensor checks)."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TOOL = os.path.join(ROOT, "tools", "annotated_scenes.py")


def write_scene(path, seconds, frames=3, height=2, width=4, conf=1.5, written_at=None):
    """A scene in the layout annotate writes: U8 images, F32 depth / confidence / points."""
    pixels = frames * height * width
    confidences = [2.0] * pixels
    confidences[pixels // 2 + 1] = conf  # inside the map, away from either end
    tensors = [("images", "U8", [frames, height, width, 3], bytes(3 * pixels)),
               ("depthmaps", "F32", [frames, height, width], struct.pack(f"<{pixels}f", *[1.0] * pixels)),
               ("confmaps", "F32", [frames, height, width],
                struct.pack(f"<{pixels}f", *confidences)),
               ("pointmaps", "F32", [frames, height, width, 3], bytes(12 * pixels))]
    annotator = {"vggt_seconds": seconds, "compute_dtype": "bf16", "frame_chunk": 8,
                 "input_size": [height, width]}
    header, offset = {"__metadata__": {"vidprobe": json.dumps({"annotator": annotator})}}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    encoded = json.dumps(header).encode()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(t[3] for t in tensors))
    if written_at is not None:
        os.utime(path, ns=(written_at, written_at))


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)


class Timing(unittest.TestCase):
    def test_the_median_leaves_out_the_first_clip_written_not_the_first_name(self):
        with tempfile.TemporaryDirectory() as dest:
            # Names sort opposite to the writing order: the warm-up clip is "z".
            for name, seconds, when in (("z", 9.0, 1), ("a", 2.0, 2), ("m", 4.0, 3), ("b", 3.0, 4)):
                write_scene(os.path.join(dest, "cat", f"{name}.sft"), seconds, written_at=when * 10**9)
            result = run_tool("timing", dest, "--extra", '{"backbone": "vggt"}',
                              "--extra", '{"prefetch": 1}')
            self.assertEqual(result.returncode, 0, result.stderr)
            line = json.loads(result.stdout)
            self.assertEqual(line["seconds_per_clip"], [9.0, 2.0, 4.0, 3.0])
            self.assertEqual(line["iterations"], 3)
            self.assertAlmostEqual(line["ms_per_clip"], 3000.0)
            self.assertAlmostEqual(line["clips_per_s"], 1 / 3)
            self.assertEqual((line["frames"], line["height"], line["width"]), (3, 2, 4))
            self.assertEqual((line["backbone"], line["prefetch"], line["dtype"]), ("vggt", 1, "bf16"))

    def test_one_clip_is_refused_with_the_folder_named(self):
        with tempfile.TemporaryDirectory() as dest:
            write_scene(os.path.join(dest, "cat", "a.sft"), 1.0)
            result = run_tool("timing", dest)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn(dest, result.stderr)
            self.assertIn("1 clip(s)", result.stderr)

    def test_a_truncated_file_is_named(self):
        with tempfile.TemporaryDirectory() as dest:
            write_scene(os.path.join(dest, "cat", "a.sft"), 1.0)
            broken = os.path.join(dest, "cat", "b.sft")
            with open(broken, "wb") as out:
                out.write(struct.pack("<Q", 500) + b"{}")
            result = run_tool("timing", dest)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("b.sft", result.stderr)
            self.assertNotIn("Traceback", result.stderr)

    def test_a_scene_without_the_annotator_keys_is_named(self):
        with tempfile.TemporaryDirectory() as dest:
            write_scene(os.path.join(dest, "cat", "a.sft"), 1.0)
            bare = os.path.join(dest, "cat", "b.sft")
            header = json.dumps({"__metadata__": {"vidprobe": json.dumps({"other": 1})}}).encode()
            with open(bare, "wb") as out:
                out.write(struct.pack("<Q", len(header)) + header)
            result = run_tool("timing", dest)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("b.sft", result.stderr)
            self.assertIn("annotator.vggt_seconds", result.stderr)
            self.assertNotIn("Traceback", result.stderr)

    def test_extra_must_be_an_object(self):
        with tempfile.TemporaryDirectory() as dest:
            result = run_tool("timing", dest, "--extra", "[1]")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("--extra", result.stderr)


class Check(unittest.TestCase):
    def scenes(self, dest, conf=1.5, frames=3):
        write_scene(os.path.join(dest, "cat", "a.sft"), 1.25, frames=frames, conf=conf)
        for split, names in (("train.json", ["a", "b"]), ("val.json", ["c"])):
            with open(os.path.join(dest, split), "w") as out:
                json.dump(names, out)

    def lines(self, dest, window):
        result = run_tool("check", dest, "--window", str(window))
        self.assertEqual(result.returncode, 0, result.stderr)
        return [json.loads(line) for line in result.stdout.splitlines()]

    def test_a_good_scene_and_the_split_sizes(self):
        with tempfile.TemporaryDirectory() as dest:
            self.scenes(dest)
            clip, split = self.lines(dest, 3)
            self.assertEqual(clip["file"], os.path.join("cat", "a.sft"))
            self.assertTrue(clip["shapes_ok"])
            self.assertTrue(clip["conf_finite"])
            self.assertEqual(clip["conf_min"], 1.5)
            self.assertEqual(clip["vggt_seconds"], 1.25)
            self.assertEqual((split["train"], split["val"]), (2, 1))

    def test_a_window_of_other_length_fails_the_shapes(self):
        with tempfile.TemporaryDirectory() as dest:
            self.scenes(dest, frames=3)
            self.assertFalse(self.lines(dest, 4)[0]["shapes_ok"])

    def test_a_scene_cut_short_inside_its_confidences_is_refused(self):
        with tempfile.TemporaryDirectory() as dest:
            self.scenes(dest, conf=float("nan"))
            path = os.path.join(dest, "cat", "a.sft")
            with open(path, "rb") as f:
                blob = f.read()
            size = struct.unpack("<Q", blob[:8])[0]
            confidences = json.loads(blob[8:8 + size])["confmaps"]["data_offsets"]
            with open(path, "wb") as out:  # ends 40 bytes into the confidences, before the NaN
                out.write(blob[:8 + size + confidences[0] + 40])
            result = run_tool("check", dest, "--window", "3")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("a.sft", result.stderr)
            self.assertIn("confmaps", result.stderr)
            self.assertNotIn("Traceback", result.stderr)

    def test_a_non_finite_confidence_is_caught_wherever_it_is(self):
        for bad in (float("nan"), float("inf")):
            with tempfile.TemporaryDirectory() as dest:
                self.scenes(dest, conf=bad)
                self.assertFalse(self.lines(dest, 3)[0]["conf_finite"], bad)


if __name__ == "__main__":
    unittest.main()

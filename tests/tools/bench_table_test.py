#!/usr/bin/env python3
"""tools/bench_table.py: pairing within one file, ratios, goals, and the README block check."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "bench_table.py")


def backbone(impl, clips_per_s, mfu=0.3, height=224):
    return {"bench": "backbone_extract", "impl": impl, "backbone": "dinov2-vitl14", "frames": 16,
            "height": height, "width": height, "dtype": "bf16", "clips_per_s": clips_per_s, "mfu": mfu}


def wan(impl, clips_per_s, layer, frames=17, variant="wan2.1-t2v-1.3b", role=None):
    line = {"bench": "wan_extract", "impl": impl, "variant": variant, "frames": frames, "height": 480,
            "width": 832, "layer": layer, "dit_dtype": "bf16", "vae_dtype": "fp32",
            "clips_per_s": clips_per_s, "ms_per_clip": 1000 / clips_per_s, "vae_ms": 1.0,
            "dit_ms": 2.0, "dit_mfu": 0.61}
    if role:
        line["role"] = role
    return line


class BenchTableTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, lines):
        with open(os.path.join(self.dir.name, name), "w") as f:
            f.write("".join(json.dumps(line) + "\n" for line in lines))
        return name

    def run_tool(self, *args):
        return subprocess.run([sys.executable, TOOL, *args], cwd=self.dir.name, capture_output=True,
                              text=True)

    def rows(self, *files):
        result = self.run_tool(*files)
        self.assertEqual(result.returncode, 0, result.stderr)
        return [line for line in result.stdout.splitlines() if line.startswith("| ") and not line.startswith("| what |")]

    def test_a_pair_of_one_file_gives_its_ratio_and_goal(self):
        self.write("a.jsonl", [{"comment": "x"}, backbone("vidprobe", 150.0, mfu=0.55),
                               backbone("transformers", 100.0)])
        rows = self.rows("a.jsonl")
        self.assertIn("| dinov2-vitl14, 16 frames 224x224, bf16: clips/s | 150 | transformers 100 | 1.5 "
                      "| ratio ≥ 1.2 | **met** |", rows)
        self.assertIn("| dinov2-vitl14, 16 frames 224x224, bf16: MFU | 0.55 |  |  | MFU ≥ 0.5 | **met** |",
                      rows)

    def test_a_reference_of_another_file_or_size_is_never_paired(self):
        self.write("ours.jsonl", [backbone("vidprobe", 150.0)])
        self.write("theirs.jsonl", [backbone("transformers", 100.0), backbone("transformers", 9.0, height=420)])
        rows = self.rows("ours.jsonl", "theirs.jsonl")
        ratios = [r.split(" | ")[3] for r in rows if "clips/s" in r]
        self.assertEqual(ratios, ["—", "—", "—"])
        self.assertTrue(any("| — | transformers 9 |" in r for r in rows))

    def test_ratio_below_goal_is_not_met_and_wan14b_at_81_frames_needs_1_3(self):
        self.write("w.jsonl", [wan("vidprobe", 1.25, 20, 81, "wan2.1-t2v-14b"),
                               wan("diffusers", 1.0, 20, 81, "wan2.1-t2v-14b")])
        rows = self.rows("w.jsonl")
        self.assertTrue(any("| 1.25 | ratio ≥ 1.3 | not met |" in r for r in rows), rows)
        self.assertTrue(any("DiT MFU | 0.61 | 0.61 |  | MFU ≥ 0.6 | **met** |" in r for r in rows), rows)

    def test_a_bench_backbone_line_of_wan_pairs_with_diffusers_at_the_same_vae_precision(self):
        ours = {"backbone": "wan2.1-t2v-14b", "frames": 81, "height": 480, "width": 832, "layer": 20,
                "dtype": "bf16", "vae_dtype": "fp32", "clips_per_s": 0.39, "transformer_mfu": 0.56,
                "peak_allocated_gb": 36.0}
        bf16_vae = dict(ours, vae_dtype="bf16", clips_per_s=0.45)
        self.write("b.jsonl", [ours, bf16_vae, wan("diffusers", 0.3, 20, 81, "wan2.1-t2v-14b")])
        rows = self.rows("b.jsonl")
        ratios = [r for r in rows if "clips/s (peak GB)" in r]
        self.assertEqual(len(ratios), 1, rows)
        self.assertIn("| 0.39 (36) | diffusers 0.3 (—) | 1.3 | ratio ≥ 1.3 | **met** |", ratios[0])

    def test_sweep_against_separate_runs_of_each_layer(self):
        sweep = {"bench": "wan_sweep", "impl": "vidprobe", "variant": "wan2.1-t2v-1.3b", "frames": 17,
                 "clips": 20, "layers": [10, 20], "timesteps": [100, 250, 500, 750], "seconds": 40.0}
        self.write("s.jsonl", [sweep, wan("diffusers", 2.0, 10, role="sweep_reference"),
                               wan("diffusers", 4.0, 20, role="sweep_reference")])
        rows = self.rows("s.jsonl")
        # 20 clips x 4 timesteps x (500 + 250) ms = 60 s against 40 s.
        self.assertEqual(len(rows), 1, rows)
        self.assertIn("| 40 | diffusers 60 | 1.5 | ratio ≥ 1.0 | **met** |", rows[0])

    def test_check_fails_when_the_block_is_stale_and_update_mends_it(self):
        self.write("a.jsonl", [backbone("vidprobe", 150.0), backbone("transformers", 100.0)])
        readme = os.path.join(self.dir.name, "README.md")
        with open(readme, "w") as f:
            f.write("# t\n\n<!-- bench_table: a.jsonl -->\nold\n<!-- bench_table end -->\n\ntail\n")
        self.assertEqual(self.run_tool("--check", "README.md").returncode, 1)
        self.assertEqual(self.run_tool("--update", "README.md").returncode, 0)
        self.assertEqual(self.run_tool("--check", "README.md").returncode, 0)
        with open(readme) as f:
            text = f.read()
        self.assertIn("| 150 | transformers 100 | 1.5 |", text)
        self.assertTrue(text.endswith("<!-- bench_table end -->\n\ntail\n"))

    def test_a_malformed_line_is_named_by_file_and_line(self):
        with open(os.path.join(self.dir.name, "bad.jsonl"), "w") as f:
            f.write(json.dumps(backbone("vidprobe", 1.0)) + "\n{oops\n")
        result = self.run_tool("bad.jsonl")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("bad.jsonl:2: not a JSON line", result.stderr)


if __name__ == "__main__":
    unittest.main()

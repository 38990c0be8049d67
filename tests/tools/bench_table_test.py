#!/usr/bin/env python3
"""tools/bench_table.py: pairing within one file, ratios, goals, and the README block check."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "bench_table.py")


def backbone(impl, clips_per_s, mfu=0.3, height=224, width=224):
    return {"bench": "backbone_extract", "impl": impl, "backbone": "dinov2-vitl14", "frames": 16,
            "height": height, "width": width, "dtype": "bf16", "clips_per_s": clips_per_s, "mfu": mfu}


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
        self.assertIn("| dinov2-vitl14, 16 frames 224x224, bf16: MFU (whole forward) | 0.55 |  |  | MFU ≥ 0.5 "
                      "| **met** |", rows)

    def test_a_reference_of_another_file_or_size_is_never_paired(self):
        self.write("ours.jsonl", [backbone("vidprobe", 150.0)])
        self.write("theirs.jsonl", [backbone("transformers", 100.0), backbone("transformers", 9.0, height=420)])
        rows = self.rows("ours.jsonl", "theirs.jsonl")
        ratios = [r.split(" | ")[3] for r in rows if "clips/s" in r]
        self.assertEqual(ratios, ["—", "—", "—"])
        self.assertTrue(any("| — | transformers 9 |" in r for r in rows))

    def test_in_one_file_only_the_same_size_pairs_and_repeated_runs_pair_in_order(self):
        self.write("a.jsonl", [backbone("vidprobe", 150.0), backbone("transformers", 9.0, height=434),
                               backbone("transformers", 100.0), backbone("vidprobe", 160.0),
                               backbone("transformers", 80.0)])
        ratios = [r.split(" | ")[3] for r in self.rows("a.jsonl") if "clips/s" in r]
        self.assertEqual(ratios, ["1.5", "2", "—"])

    def test_a_ratio_just_under_its_goal_never_reads_as_the_goal(self):
        self.write("a.jsonl", [backbone("vidprobe", 119.6, mfu=0.4996), backbone("transformers", 100.0)])
        rows = self.rows("a.jsonl")
        self.assertIn("| 1.196 | ratio ≥ 1.2 | not met |", rows[0])
        self.assertIn("| 0.4996 |  |  | MFU ≥ 0.5 | not met |", rows[1])

    def test_the_encoder_mfu_goal_needs_4096_tokens_after_tubelets(self):
        line = dict(backbone("vidprobe", 150.0, mfu=0.2), backbone="videomae-large")
        self.write("a.jsonl", [line])
        self.assertIn("| MFU ≥ 0.5 (n/a: 1568 tokens < 4096) | — |", self.rows("a.jsonl")[1])

    def test_probe_goal_only_for_the_papers_probe_at_batch_10_and_a_warning_is_shown(self):
        step = {"benchmark": "probe_train_step", "preset": "vidfm3d", "device": "cuda:0", "batch": 10,
                "feature_dim": 1536, "grid": [30, 52], "size": [294, 518], "steps_per_s": 1.3,
                "peak_gb": 87.0}
        ratio = {"benchmark": "probe_train_step_ratio", "cpp_over_pytorch": 1.3 / 1.25, "cpp_steps_per_s": 1.3,
                 "pytorch_steps_per_s": 1.25, "warning": "parameter counts differ"}
        small = dict(step, batch=2, steps_per_s=0.5)
        small_ratio = dict(ratio, cpp_steps_per_s=0.5, pytorch_steps_per_s=0.25, cpp_over_pytorch=2.0)
        small_ratio.pop("warning")
        lone = dict(step, steps_per_s=1.1)
        orphan = dict(small_ratio, cpp_steps_per_s=0.7)  # its step line was lost (a truncated print)
        self.write("p.jsonl", [step, {"benchmark": "probe_train_step_vidfm3d_reference"}, ratio, small,
                               small_ratio, lone, orphan])
        rows = self.rows("p.jsonl")
        self.assertEqual(len(rows), 4, rows)
        self.assertIn("its step line missing (configuration unknown): steps/s | 0.7 | 0.25 | 2 | — | — |", rows[3])
        self.assertIn("(warning: parameter counts differ) | 1.3 (87) | 1.25 (—) | 1.04 | ratio ≥ 1.2 | not met |",
                      rows[0])
        self.assertIn("| 0.5 (87) | 0.25 (—) | 2 | — (the goal is the paper's probe at batch 10) | — |", rows[1])
        self.assertIn("| 1.1 (87) | — | — | ratio ≥ 1.2 | — |", rows[2])
        self.assertNotIn("trunk blocks only", "".join(rows))

    def test_probe_row_names_vidprobes_partial_checkpointing(self):
        step = {"benchmark": "probe_train_step", "preset": "vidfm3d", "device": "cuda:0", "batch": 10,
                "feature_dim": 1536, "grid": [30, 52], "size": [294, 518], "steps_per_s": 1.165,
                "peak_gb": 74.9, "gradient_checkpointing": True, "checkpoint_blocks": 2}
        ratio = {"benchmark": "probe_train_step_ratio", "cpp_over_pytorch": 1.165 / 1.044,
                 "cpp_steps_per_s": 1.165, "pytorch_steps_per_s": 1.044, "pytorch_peak_gb": 59.6}
        self.write("c.jsonl", [step, ratio, dict(step, checkpoint_blocks=-1, steps_per_s=1.1),
                               dict(ratio, cpp_steps_per_s=1.1, cpp_over_pytorch=1.1 / 1.044),
                               dict(step, checkpoint_blocks=0, steps_per_s=1.3),
                               dict(ratio, cpp_steps_per_s=1.3, cpp_over_pytorch=1.3 / 1.044)])
        rows = self.rows("c.jsonl")
        self.assertEqual(len(rows), 3, rows)
        self.assertIn("gradient checkpointing on (vidprobe: its first 2 trunk blocks only): steps/s (peak GB) "
                      "| 1.17 (74.9) | 1.04 (59.6) | 1.12 | ratio ≥ 1.2 | not met |", rows[0])
        self.assertNotIn("trunk blocks", rows[1])
        self.assertIn("gradient checkpointing on (vidprobe: none of its trunk blocks): steps/s (peak GB) "
                      "| 1.3 (74.9) | 1.04 (59.6) | 1.25 | ratio ≥ 1.2 | **met** |", rows[2])

    def test_official_code_ratio_rows_and_no_mfu_goal_in_float32(self):
        ratio = {"benchmark": "official_speed_ratio", "backbone": "fast3r-vitl16-512", "dtype": "bf16",
                 "frames": 81, "vidprobe_clips_per_s": 1.46, "official_clips_per_s": 1.08,
                 "vidprobe_peak_gb": 4.9, "official_peak_gb": 6.74, "ratio": 1.46 / 1.08}
        mfu = {"backbone": "vjepa1-vitl16", "frames": 76, "height": 480, "width": 832, "dtype": "fp32",
               "clips_per_s": 0.33, "transformer_mfu": 0.038}
        self.write("o.jsonl", [ratio, dict(ratio, ratio=1.19, vidprobe_clips_per_s=1.19,
                                           official_clips_per_s=1.0), mfu, dict(mfu, dtype="bf16")])
        rows = self.rows("o.jsonl")
        self.assertEqual(len(rows), 4, rows)
        self.assertIn("| fast3r-vitl16-512, 81 frames, bf16: clips/s (peak GB) | 1.46 (4.9) | official code 1.08 (6.74) "
                      "| 1.35 | ratio ≥ 1.2 | **met** |", rows)
        self.assertIn("| fast3r-vitl16-512, 81 frames, bf16: clips/s (peak GB) | 1.19 (4.9) | official code 1 (6.74) "
                      "| 1.19 | ratio ≥ 1.2 | not met |", rows)
        self.assertIn("| vjepa1-vitl16, 76 frames 480x832, fp32: transformer MFU (clips/s) | 0.038 (0.33) |  |  "
                      "| — (the MFU goals are for bf16) | — |", rows)
        self.assertIn("| vjepa1-vitl16, 76 frames 480x832, bf16: transformer MFU (clips/s) | 0.038 (0.33) |  |  "
                      "| MFU ≥ 0.5 | not met |", rows)

    def test_official_ratio_rows_name_the_official_variant(self):
        ratio = {"benchmark": "official_speed_ratio", "backbone": "vggt-1b-annotate", "dtype": "bf16",
                 "frames": 81, "vidprobe_clips_per_s": 0.6, "official_clips_per_s": 0.46,
                 "vidprobe_peak_gb": None, "official_peak_gb": 19.8, "ratio": 0.6 / 0.46}
        self.write("v.jsonl", [dict(ratio, official_variant="authors"),
                               dict(ratio, official_variant="depth_cameras", official_clips_per_s=0.52,
                                    ratio=0.6 / 0.52)])
        rows = self.rows("v.jsonl")
        self.assertEqual(len(rows), 2, rows)
        self.assertIn("| vggt-1b-annotate, 81 frames, bf16, official side authors: clips/s (peak GB) "
                      "| 0.6 (—) | official code 0.46 (19.8) | 1.3 | ratio ≥ 1.2 | **met** |", rows)
        self.assertIn("| vggt-1b-annotate, 81 frames, bf16, official side depth_cameras: clips/s (peak GB) "
                      "| 0.6 (—) | official code 0.52 (19.8) | 1.15 | ratio ≥ 1.2 | not met |", rows)

    def test_cogvideox_ratio_rows_judge_only_pairs_of_the_same_settings(self):
        ours = {"backbone": "cogvideox-5b", "frames": 49, "height": 480, "width": 720, "dtype": "bf16",
                "layer": 20, "clips_per_s": 0.761, "transformer_mfu": 0.397}
        ratio = {"benchmark": "cogvideox_speed_ratio", "variant": "5b", "backbone": "cogvideox-5b",
                 "frames": 49, "vidprobe_clips_per_s": 0.761, "reference_clips_per_s": 0.561,
                 "reference_implementation": "diffusers", "reference_vae_dtype": "fp32",
                 "reference_vae_tiling": False, "reference_blocks_run": 21, "vidprobe_peak_gb": 29.4,
                 "reference_peak_gb": 28.8, "ratio": 0.761 / 0.561}
        reference = {"benchmark": "cogvideox_extract_reference", "clips_per_s": 0.561}
        self.write("c.jsonl", [ours, reference, ratio,
                               dict(ratio, reference_blocks_run=42, ratio=1.1),
                               dict(ratio, reference_vae_dtype="bf16", ratio=1.1),
                               dict(ratio, vidprobe_blocks_run=21, reference_vae_tiling=True,
                                    vae_tiling="on", reference_implementation="aether", ratio=1.1)])
        rows = self.rows("c.jsonl")
        self.assertEqual(len(rows), 5, rows)
        self.assertIn("| cogvideox-5b, 49 frames, reference VAE fp32, 21 blocks: clips/s (peak GB) "
                      "| 0.761 (29.4) | diffusers 0.561 (28.8) | 1.36 | ratio ≥ 1.2 | **met** |", rows)
        self.assertIn("| cogvideox-5b, 49 frames, reference VAE fp32, 42 blocks: clips/s (peak GB) "
                      "| 0.761 (29.4) | diffusers 0.561 (28.8) | 1.1 | — (the two sides ran different "
                      "settings) | — |", rows)
        self.assertIn("| cogvideox-5b, 49 frames, reference VAE bf16, 21 blocks: clips/s (peak GB) "
                      "| 0.761 (29.4) | diffusers 0.561 (28.8) | 1.1 | — (the two sides ran different "
                      "settings) | — |", rows)
        self.assertIn("| cogvideox-5b, 49 frames, reference VAE fp32, tiled, 21 blocks: clips/s (peak GB) "
                      "| 0.761 (29.4) | aether 0.561 (28.8) | 1.1 | ratio ≥ 1.2 | not met |", rows)

    def test_cogvideox_ratio_lines_of_the_first_form_are_read(self):
        # The 2026-12-03 lines name neither the backbone nor the reference's implementation.
        self.write("old.jsonl", [{"benchmark": "cogvideox_speed_ratio", "ratio": 1.03,
                                  "reference_blocks_run": 21, "reference_clips_per_s": 0.591,
                                  "reference_vae_dtype": "fp32", "vidprobe_clips_per_s": 0.607}])
        rows = self.rows("old.jsonl")
        self.assertEqual(len(rows), 1, rows)
        self.assertIn("| — (the two sides ran different settings) | — |", rows[0])

    def test_busy_goal_is_90_percent(self):
        line = {"benchmark": "extract_busy", "clips_written": 200, "backbone": "dinov2-vitl14", "frames": 16,
                "row": "dinov2", "loader_threads": 15, "clips_per_second": 70.0}
        self.write("b.jsonl", [dict(line, busy_fraction=0.899), dict(line, busy_fraction=0.9)])
        rows = self.rows("b.jsonl")
        self.assertIn("| 70 (89.9 %) |  |  | busy ≥ 90 % | not met |", rows[0])
        self.assertIn("| 70 (90.0 %) |  |  | busy ≥ 90 % | **met** |", rows[1])

    def test_ratio_below_goal_is_not_met_and_wan14b_at_81_frames_needs_1_3(self):
        self.write("w.jsonl", [wan("vidprobe", 1.25, 20, 81, "wan2.1-t2v-14b"),
                               wan("diffusers", 1.0, 20, 81, "wan2.1-t2v-14b")])
        rows = self.rows("w.jsonl")
        self.assertTrue(any("| 1.25 | ratio ≥ 1.3 | not met |" in r for r in rows), rows)
        self.assertTrue(any("DiT MFU | 0.61 | 0.61 |  | MFU ≥ 0.6 | **met** |" in r for r in rows), rows)

    def test_a_bench_backbone_line_of_wan_pairs_with_diffusers_at_the_same_vae_precision(self):
        # As `vidprobe bench backbone` writes them: the VAE precision only when given.
        ours = {"backbone": "wan2.1-t2v-14b", "frames": 81, "height": 480, "width": 832, "layer": 20,
                "dtype": "bf16", "clips_per_s": 0.39, "transformer_mfu": 0.56, "peak_allocated_gb": 36.0}
        bf16_vae = dict(ours, backbone_opts={"vae_dtype": "bf16"}, clips_per_s=0.45, transformer_mfu=0.61)
        self.write("b.jsonl", [ours, bf16_vae, wan("diffusers", 0.3, 20, 81, "wan2.1-t2v-14b")])
        rows = self.rows("b.jsonl")
        ratios = [r for r in rows if "clips/s (peak GB)" in r]
        self.assertEqual(len(ratios), 1, rows)
        self.assertIn("| 0.39 (36) | diffusers 0.3 (—) | 1.3 | ratio ≥ 1.3 | **met** |", ratios[0])
        mfu = [r for r in rows if "transformer MFU" in r]
        self.assertIn("| 0.56 (0.39) |  |  | MFU ≥ 0.6 | not met |", mfu[0])
        self.assertIn("| 0.61 (0.45) |  |  | MFU ≥ 0.6 | **met** |", mfu[1])

    def test_a_float32_wan_line_has_no_mfu_goal_but_still_pairs_with_diffusers(self):
        ours = {"backbone": "wan2.1-t2v-1.3b", "frames": 17, "height": 480, "width": 832, "layer": 15,
                "dtype": "fp32", "clips_per_s": 0.5, "transformer_mfu": 0.05, "peak_allocated_gb": 12.0}
        self.write("f.jsonl", [ours, dict(wan("diffusers", 0.4, 15), dit_dtype="fp32")])
        rows = self.rows("f.jsonl")
        self.assertEqual(len(rows), 2, rows)
        self.assertIn("| 0.05 (0.5) |  |  | — (the MFU goals are for bf16) | — |", rows[0])
        self.assertIn("| 0.5 (12) | diffusers 0.4 (—) | 1.25 | ratio ≥ 1.2 | **met** |", rows[1])

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

    def test_check_refuses_extra_files(self):
        self.assertEqual(self.run_tool("--check", "README.md", "a.jsonl").returncode, 2)

    def test_a_malformed_line_is_named_by_file_and_line(self):
        with open(os.path.join(self.dir.name, "bad.jsonl"), "w") as f:
            f.write(json.dumps(backbone("vidprobe", 1.0)) + "\n{oops\n")
        result = self.run_tool("bad.jsonl")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("bad.jsonl:2: not a JSON line", result.stderr)


if __name__ == "__main__":
    unittest.main()

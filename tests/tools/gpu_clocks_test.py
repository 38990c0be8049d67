#!/usr/bin/env python3
"""tools/gpu_clocks.py: nvidia-smi's samples summarised per benchmark step."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                    "gpu_clocks.py")


def sample(second, clock, power, temperature=60, limit=700):
    return f"2026/12/06 06:09:{second:06.3f}, {clock}, {power}, {temperature}, {limit}\n"


class GpuClocks(unittest.TestCase):
    def run_tool(self, steps, samples, *options):
        with tempfile.TemporaryDirectory() as work:
            steps_path, samples_path = (os.path.join(work, n) for n in ("steps.tsv", "c.csv"))
            with open(steps_path, "w") as out:
                out.writelines(f"2026/12/06 06:09:{second:06.3f}\t{name}\n"
                               for second, name in steps)
            with open(samples_path, "w") as out:
                out.writelines(samples)
            result = subprocess.run([sys.executable, TOOL, steps_path, samples_path, *options],
                                    capture_output=True, text=True)
        return result, [json.loads(line) for line in result.stdout.splitlines()]

    def test_each_step_gets_its_own_samples_and_the_clock_at_the_power_limit(self):
        _, lines = self.run_tool(
            [(10, "vidprobe"), (20, "official")],
            [sample(9, 1980, 700),  # before the first step: nobody's
             sample(11, 1980, 120), sample(12, 1830, 690), sample(13, 1770, 695),
             sample(14, 1860, 689),
             sample(21, 1980, 300), sample(22, 1905, 690, temperature=64)])
        self.assertEqual([l["step"] for l in lines], ["vidprobe", "official"])
        ours, theirs = lines
        self.assertEqual(ours["samples"], 4)
        self.assertEqual(ours["sm_clock_mhz_median"], (1830 + 1860) / 2)
        self.assertEqual(ours["samples_at_power_limit"], 3)  # 689 W is >= 97 % of 700, 120 not
        self.assertEqual(ours["sm_clock_mhz_median_at_power_limit"], 1830)
        self.assertEqual(ours["power_w_mean"], round((120 + 690 + 695 + 689) / 4, 1))
        self.assertEqual(theirs["samples_at_power_limit"], 1)
        self.assertEqual(theirs["sm_clock_mhz_median_at_power_limit"], 1905)
        self.assertEqual(theirs["temperature_c_max"], 64)
        self.assertEqual(theirs["power_limit_w"], 700)

    def test_a_step_below_the_limit_has_no_limited_clock_and_an_empty_step_no_line(self):
        _, lines = self.run_tool([(10, "idle"), (11, "empty"), (12, "light")],
                                 [sample(10.5, 1980, 100), sample(13, 1980, 400)])
        self.assertEqual([l["step"] for l in lines], ["idle", "light"])
        self.assertIsNone(lines[1]["sm_clock_mhz_median_at_power_limit"])
        self.assertEqual(lines[1]["samples_at_power_limit"], 0)

    def test_rows_nvidia_smi_could_not_fill_are_skipped(self):
        _, lines = self.run_tool([(10, "run")],
                                 [sample(11, 1980, 690), "2026/12/06 06:09:12.000, [N/A], 690, 60, 700\n",
                                  "2026/12/06 06:09:13.000, 1755"])
        self.assertEqual(lines[0]["samples"], 1)

    def test_a_sample_on_a_step_boundary_belongs_to_the_step_it_starts(self):
        _, lines = self.run_tool([(10, "a"), (12, "b")],
                                 [sample(11, 1900, 100), sample(12, 1800, 100)])
        self.assertEqual([(l["step"], l["samples"]) for l in lines], [("a", 1), ("b", 1)])

    def test_a_log_without_the_limit_column_needs_the_limit_given(self):
        rows = ["2026/12/06 06:09:11.000, 1830, 690, 61\n", "2026/12/06 06:09:12.000, 1980, 300, 61\n"]
        _, lines = self.run_tool([(10, "run")], rows)
        self.assertEqual(lines[0]["samples"], 2)
        self.assertIsNone(lines[0]["power_limit_w"])
        self.assertEqual(lines[0]["samples_at_power_limit"], 0)
        _, lines = self.run_tool([(10, "run")], rows, "--power-limit", "700")
        self.assertEqual(lines[0]["power_limit_w"], 700)
        self.assertEqual(lines[0]["sm_clock_mhz_median_at_power_limit"], 1830)

    def test_a_board_that_reports_no_limit_keeps_its_samples(self):
        rows = ["2026/12/06 06:09:11.000, 1830, 690, 61, [N/A]\n"]
        _, lines = self.run_tool([(10, "run")], rows)
        self.assertEqual(lines[0]["samples"], 1)
        self.assertIsNone(lines[0]["sm_clock_mhz_median_at_power_limit"])
        _, lines = self.run_tool([(10, "run")], rows, "--power-limit", "700")
        self.assertEqual(lines[0]["sm_clock_mhz_median_at_power_limit"], 1830)

    def test_steps_whose_times_go_backwards_are_refused(self):
        result, _ = self.run_tool([(12, "late"), (10, "early")], [sample(11, 1830, 690)])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("the step times go backwards", result.stderr)

    def test_a_bad_step_timestamp_names_the_file_and_line(self):
        with tempfile.TemporaryDirectory() as work:
            steps = os.path.join(work, "steps.tsv")
            with open(steps, "w") as out:
                out.write("2026/12/06 06:09:10.000\tfine\nyesterday\tbroken\n")
            result = subprocess.run([sys.executable, TOOL, steps, os.devnull],
                                    capture_output=True, text=True)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("steps.tsv:2: bad timestamp 'yesterday'", result.stderr)


# A stand-in for nvidia-smi: a row of the queried fields, stamped now; with -lms, every 50 ms
# until killed.
FAKE_SMI = """#!/usr/bin/env python3
import datetime, sys, time
if "--query-gpu=power.draw.instant" in sys.argv:
    print("695.31")
    sys.exit(0)
while True:
    stamp = datetime.datetime.now().strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
    print(f"{stamp}, 1830, 695, 61, 700", flush=True)
    if "-lms" not in sys.argv:
        break
    time.sleep(0.05)
"""


def install_fake_smi(work, script):
    """An executable nvidia-smi in `work`; the environment that finds it first."""
    smi = os.path.join(work, "nvidia-smi")
    with open(smi, "w") as out:
        out.write(script)
    os.chmod(smi, 0o755)
    return dict(os.environ, PATH=f"{work}:{os.environ['PATH']}")


class SmiFields(unittest.TestCase):
    """--fields: instantaneous power where the driver reads it, the one-second average else."""

    def fields_with(self, body):
        with tempfile.TemporaryDirectory() as work:
            env = install_fake_smi(work, "#!/bin/sh\n" + body + "\n")
            return subprocess.run([sys.executable, TOOL, "--fields"], env=env, check=True,
                                  capture_output=True, text=True).stdout.strip()

    def test_a_driver_that_reads_instantaneous_power_gets_it(self):
        self.assertIn("power.draw.instant", self.fields_with("echo 412.07"))

    def test_a_driver_without_a_value_or_the_field_gets_the_average(self):
        for body in ("echo '[N/A]'", "echo '[Not Supported]'",
                     "echo 'Field \"power.draw.instant\" is not a valid field'; exit 2"):
            fields = self.fields_with(body)
            self.assertNotIn("power.draw.instant", fields, body)
            self.assertIn(",power.draw,", fields, body)


class GpuClocksScript(unittest.TestCase):
    """scripts/gpu-clocks.sh as gpu-bench.sh and gpu-official.sh source it."""

    def test_the_sampler_runs_between_start_and_stop_and_leaves_the_summary(self):
        root = os.path.join(os.path.dirname(TOOL), "..")
        with tempfile.TemporaryDirectory() as work:
            env = install_fake_smi(work, FAKE_SMI)
            # An explicit clocks_stop, then the EXIT trap's: the second must change nothing.
            script = (f'ROOT="{root}"; source "$ROOT/scripts/gpu-clocks.sh"; clocks_start "{work}"; '
                      'clocks_mark first step; sleep 0.6; clocks_mark second; sleep 0.6; '
                      'clocks_stop; echo kept >> "$CLOCKS_DIR/clocks.jsonl"; exit 0')
            subprocess.run(["bash", "-c", script], env=env, check=True, timeout=30)
            with open(os.path.join(work, "clocks.jsonl")) as lines:
                *steps, last = lines.read().splitlines()
            steps = [json.loads(line) for line in steps]
            rows_then = os.path.getsize(os.path.join(work, "gpu-clocks.csv"))
            subprocess.run(["sleep", "0.3"])
            rows_later = os.path.getsize(os.path.join(work, "gpu-clocks.csv"))
        self.assertEqual([s["step"] for s in steps], ["first step", "second"])
        self.assertTrue(all(s["samples"] >= 3 and s["samples_at_power_limit"] == s["samples"]
                            for s in steps), steps)
        self.assertEqual(rows_then, rows_later, "the sampler outlived the script")
        self.assertEqual(last, "kept", "the EXIT trap summarised again after clocks_stop")


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""tools/gpu_memory.py and scripts/gpu-memory.sh: one process's GPU memory, in GB of 10^9 bytes."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TOOL = os.path.join(ROOT, "tools", "gpu_memory.py")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_clocks_test import install_fake_smi  # noqa: E402  (the one stand-in set-up)

GB_PER_MIB = 1024 * 1024 / 1e9


def run_tool(poll_text, *options):
    with tempfile.TemporaryDirectory() as work:
        poll = os.path.join(work, "poll.txt")
        with open(poll, "w") as out:
            out.write(poll_text)
        return subprocess.run([sys.executable, TOOL, poll, *options], capture_output=True,
                              text=True)


class GpuMemoryTool(unittest.TestCase):
    def test_the_peak_is_the_largest_reading_above_the_baseline_in_gigabytes(self):
        result = run_tool("600\n20480\n[N/A]\n\n81000\n30000\n", "--baseline-mib", "500")
        summary = json.loads(result.stdout)
        self.assertEqual(summary["gpu_mem_peak_gb"], round((81000 - 500) * GB_PER_MIB, 3))
        self.assertEqual(summary["gpu_mem_baseline_gb"], round(500 * GB_PER_MIB, 3))
        self.assertEqual(summary["gpu_mem_samples"], 4)
        # 1024 MiB are 1.074 GB, not the 1.0 a GiB label would give.
        one_gib = json.loads(run_tool("1524\n", "--baseline-mib", "500").stdout)
        self.assertEqual(one_gib["gpu_mem_peak_gb"], 1.074)

    def test_without_a_baseline_or_samples_the_values_are_null(self):
        summary = json.loads(run_tool("20480\n").stdout)
        self.assertIsNone(summary["gpu_mem_peak_gb"])
        self.assertIsNone(summary["gpu_mem_baseline_gb"])
        self.assertEqual(summary["gpu_mem_samples"], 1)
        summary = json.loads(run_tool("", "--baseline-mib", "500").stdout)
        self.assertIsNone(summary["gpu_mem_peak_gb"])
        self.assertEqual(summary["gpu_mem_samples"], 0)

    def test_bad_input_is_named(self):
        result = run_tool("1\n", "--baseline-mib", "lots")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--baseline-mib must be a number of MiB, got 'lots'", result.stderr)
        result = subprocess.run([sys.executable, TOOL, "/nonexistent/poll.txt"],
                                capture_output=True, text=True)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("cannot read the poll file /nonexistent/poll.txt", result.stderr)


# memory.used in MiB: 1000 for the single reading, then a rising stream every 50 ms until killed.
FAKE_SMI = """#!/usr/bin/env python3
import sys, time
if "-lms" not in sys.argv:
    print("1000")
    sys.exit(0)
used = 2000
while True:
    print(used, flush=True)
    used += 1000
    time.sleep(0.05)
"""


class GpuMemoryScript(unittest.TestCase):
    """scripts/gpu-memory.sh as the gpu-*.sh scripts source it."""

    def run_script(self, body, env_extra=None, smi=FAKE_SMI):
        with tempfile.TemporaryDirectory() as work:
            env = install_fake_smi(work, smi)
            env.update(env_extra or {})
            poll = os.path.join(work, "poll.txt")
            script = (f'set -euo pipefail; ROOT="{ROOT}"; source "$ROOT/scripts/gpu-memory.sh"; '
                      f'POLL="{poll}"; ' + body)
            result = subprocess.run(["bash", "-c", script], env=env, capture_output=True,
                                    text=True, timeout=30)
            size_then = os.path.getsize(poll) if os.path.exists(poll) else None
            subprocess.run(["sleep", "0.3"])
            size_later = os.path.getsize(poll) if os.path.exists(poll) else None
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(size_then, size_later, "the poll outlived the script")
        return result.stdout

    def test_the_summary_lands_in_the_callers_variable_and_the_poll_stops(self):
        out = self.run_script('gpu_memory_start "$POLL"; sleep 0.5; gpu_memory_stop "$POLL" MEM; '
                              'echo "$MEM"')
        summary = json.loads(out)
        self.assertGreaterEqual(summary["gpu_mem_samples"], 3)
        self.assertEqual(summary["gpu_mem_baseline_gb"], round(1000 * GB_PER_MIB, 3))
        self.assertGreaterEqual(summary["gpu_mem_peak_gb"], round(1000 * GB_PER_MIB, 3))

    def test_a_script_that_exits_with_the_poll_running_stops_it(self):
        self.run_script('gpu_memory_start "$POLL"; sleep 0.3; exit 0')

    def test_a_callers_exit_trap_is_kept_and_its_variable_names_are_free(self):
        out = self.run_script('trap "echo caller-trap" EXIT; gpu_memory_start "$POLL"; sleep 0.2; '
                              'summary=kept; gpu_memory_stop "$POLL" summary; echo "$summary"')
        lines = out.splitlines()
        self.assertGreaterEqual(json.loads(lines[0])["gpu_mem_samples"], 1)
        self.assertEqual(lines[-1], "caller-trap")

    def test_with_the_clock_sampler_both_stop_at_exit_and_the_callers_traps_run_last(self):
        # gpu-clocks.sh and gpu-memory.sh share one EXIT trap (scripts/exit-hooks.sh): neither
        # replaces the other's, nor a trap the script set before either or between them, and
        # those traps run after the hooks with the script's exit status.
        with tempfile.TemporaryDirectory() as work:
            env = install_fake_smi(work, FAKE_SMI)
            poll = os.path.join(work, "poll.txt")
            first, second = os.path.join(work, "clocks1"), os.path.join(work, "clocks2")
            os.mkdir(first)
            os.mkdir(second)
            stopped = '[ -z "$CLOCKS_PID$GPU_MEMORY_PID" ] && echo'
            # Each poll has written before the script goes on (on a loaded machine the fake
            # nvidia-smi can take longer to start than any fixed sleep).
            written = 'until [ -s "$1" ]; do sleep 0.05; done'
            script = (f'set -euo pipefail; ROOT="{ROOT}"; status=kept; '
                      f"written() {{ {written}; }}; "
                      f"trap 'rc=$?; {stopped} before-status-$rc' EXIT; "
                      'source "$ROOT/scripts/gpu-memory.sh"; source "$ROOT/scripts/gpu-clocks.sh"; '
                      f'clocks_start "{first}"; written "{first}/gpu-clocks.csv"; '
                      f"trap '{stopped} between-$status' EXIT; "
                      f'gpu_memory_start "{poll}"; clocks_start "{second}"; '
                      f'written "{poll}"; written "{second}/gpu-clocks.csv"; exit 3')
            result = subprocess.run(["bash", "-c", script], env=env, capture_output=True,
                                    text=True, timeout=30)
            logs = [poll, os.path.join(first, "gpu-clocks.csv"), os.path.join(second, "gpu-clocks.csv")]
            sizes_then = [os.path.getsize(log) for log in logs]
            subprocess.run(["sleep", "0.3"])
            sizes_later = [os.path.getsize(log) for log in logs]
            # The second directory is summarised only by the clock sampler's exit hook.
            summarised = os.path.exists(os.path.join(second, "clocks.jsonl"))
        self.assertEqual(result.returncode, 3, "the script's own exit status is kept")
        self.assertEqual(result.stdout.splitlines(), ["before-status-3", "between-kept"],
                         result.stderr)
        self.assertTrue(all(size > 0 for size in sizes_then), sizes_then)
        self.assertEqual(sizes_then, sizes_later, "a poll outlived the script")
        self.assertTrue(summarised, "the clock sampler's exit summary did not run")

    def test_a_baseline_that_is_no_number_gives_nulls_and_no_poll(self):
        smi = FAKE_SMI.replace('print("1000")', 'print("[N/A]")')
        out = self.run_script('gpu_memory_start "$POLL"; sleep 0.2; gpu_memory_stop "$POLL" MEM; '
                              'echo "$MEM"', smi=smi)
        summary = json.loads(out)
        self.assertIsNone(summary["gpu_mem_peak_gb"])
        self.assertEqual(summary["gpu_mem_samples"], 0)

    def test_off_polls_nothing_and_reports_nulls(self):
        out = self.run_script('gpu_memory_start "$POLL"; gpu_memory_stop "$POLL" MEM; echo "$MEM"',
                              {"GPU_MEMORY_OFF": "1"})
        summary = json.loads(out)
        self.assertIsNone(summary["gpu_mem_peak_gb"])
        self.assertEqual(summary["gpu_mem_samples"], 0)


if __name__ == "__main__":
    unittest.main()

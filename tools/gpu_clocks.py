#!/usr/bin/env python3
"""The GPU's SM clock and board power over each step of a benchmark script.

At the board's power limit, a pipeline that leaves the GPU fewer idle or memory-bound moments runs
the same kernels at a lower clock (docs/perf.md: V-JEPA v1 against its official code), so a ratio
between two sides can hang on it. scripts/gpu-clocks.sh samples nvidia-smi (SMI_FIELDS, CSV, no
header, no units) and writes a line "TIMESTAMP<TAB>step name" as each step starts; this tool
reads both and prints one JSON line per step that has samples: the median SM clock over all of
them and over those at >= 97 % of the power limit, the mean power, the hottest reading. A sample
without a power limit (a board that reports none, or a log from before the column was added)
counts against --power-limit W when given, else never as at the limit.

Usage: python3 tools/gpu_clocks.py STEPS.tsv GPU-CLOCKS.csv [--power-limit W] > clocks.jsonl
       python3 tools/gpu_clocks.py --fields   (the fields to give nvidia-smi --query-gpu)
"""
import argparse
import datetime
import json
import statistics
import subprocess
import sys

STAMP = "%Y/%m/%d %H:%M:%S.%f"  # nvidia-smi's timestamp; the steps file is written to match
# power.draw.instant: power.draw is a one-second average on recent GPUs, too slow for a phase.
SMI_FIELDS = "timestamp,clocks.sm,power.draw.instant,temperature.gpu,power.limit"
AVERAGED_FIELDS = SMI_FIELDS.replace("power.draw.instant", "power.draw")


def smi_fields():
    """SMI_FIELDS, or AVERAGED_FIELDS where the driver does not know power.draw.instant or reads
    no value for it."""
    try:
        probe = subprocess.run(["nvidia-smi", "--id=0", "--query-gpu=power.draw.instant",
                                "--format=csv,noheader,nounits"], capture_output=True, text=True,
                               timeout=30)
    except FileNotFoundError:  # no GPU here: nothing will be sampled either way
        return SMI_FIELDS
    except subprocess.TimeoutExpired:
        return AVERAGED_FIELDS
    try:
        float(probe.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):  # "[N/A]", "[Not Supported]", an error message, nothing
        return AVERAGED_FIELDS
    return SMI_FIELDS if probe.returncode == 0 else AVERAGED_FIELDS
AT_LIMIT = 0.97


def parse_stamp(text):
    return datetime.datetime.strptime(text.strip(), STAMP)


def read_steps(path):
    """[(start, name)] in file order; a line without a tab is not a step."""
    steps = []
    with open(path) as lines:
        for number, line in enumerate(lines, 1):
            if "\t" not in line:
                continue
            stamp, name = line.rstrip("\n").split("\t", 1)
            try:
                steps.append((parse_stamp(stamp), name))
            except ValueError:
                sys.exit(f"gpu_clocks.py: {path}:{number}: bad timestamp '{stamp}'")
    return steps


def read_samples(path):
    """[(time, SM MHz, power W, temperature C, power limit W or None)]; rows nvidia-smi could not
    fill ("[N/A]" in a needed field, a cut last line) are skipped."""
    samples = []
    with open(path) as lines:
        for line in lines:
            fields = [field.strip() for field in line.split(",")]
            if len(fields) not in (4, 5):
                continue
            try:
                row = (parse_stamp(fields[0]), *(float(f) for f in fields[1:4]))
            except ValueError:
                continue
            samples.append((*row, optional_float(fields[4]) if len(fields) == 5 else None))
    return samples


def optional_float(text):
    try:
        return float(text)
    except ValueError:
        return None


def summarise(steps, samples, power_limit=None):
    for index, (start, name) in enumerate(steps):
        end = steps[index + 1][0] if index + 1 < len(steps) else datetime.datetime.max
        inside = [s for s in samples if start <= s[0] < end]
        if not inside:
            continue
        limits = [s[4] if s[4] is not None else power_limit for s in inside]
        limited = [s[1] for s, limit in zip(inside, limits) if limit and s[2] >= AT_LIMIT * limit]
        yield {"benchmark": "gpu_clocks", "step": name, "samples": len(inside),
               "sm_clock_mhz_median": statistics.median(s[1] for s in inside),
               "power_w_mean": round(statistics.fmean(s[2] for s in inside), 1),
               "power_limit_w": limits[-1], "samples_at_power_limit": len(limited),
               "sm_clock_mhz_median_at_power_limit":
                   statistics.median(limited) if limited else None,
               "temperature_c_max": max(s[3] for s in inside)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("steps", nargs="?")
    parser.add_argument("samples", nargs="?")
    parser.add_argument("--power-limit", type=float, help="W, for samples that carry none")
    parser.add_argument("--fields", action="store_true", help=smi_fields.__doc__)
    args = parser.parse_args()
    if args.fields:
        print(smi_fields())
        return
    if args.samples is None:
        parser.error("needs STEPS.tsv and GPU-CLOCKS.csv")
    if args.power_limit is not None and args.power_limit <= 0:
        parser.error(f"--power-limit must be positive, got {args.power_limit}")
    steps = read_steps(args.steps)
    if any(later[0] < earlier[0] for earlier, later in zip(steps, steps[1:])):
        sys.exit(f"gpu_clocks.py: {args.steps}: the step times go backwards")
    for line in summarise(steps, read_samples(args.samples), args.power_limit):
        print(json.dumps(line))


if __name__ == "__main__":
    main()

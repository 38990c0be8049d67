#!/usr/bin/env python3
"""The GPU's SM clock and board power over each step of a benchmark script.

At the board's power limit, a pipeline that leaves the GPU fewer idle or memory-bound moments runs
the same kernels at a lower clock (docs/perf.md: V-JEPA v1 against its official code), so a ratio
between two sides can hang on it. scripts/gpu-clocks.sh samples nvidia-smi
(timestamp,clocks.sm,power.draw,temperature.gpu,power.limit, CSV, no header, no units) and writes
a line "TIMESTAMP<TAB>step name" as each step starts; this tool reads both and prints one JSON
line per step that has samples: the median SM clock over all of them and over those at >= 97 % of
the power limit, the mean power, the hottest reading.

Usage: python3 tools/gpu_clocks.py STEPS.tsv GPU-CLOCKS.csv > clocks.jsonl
"""
import datetime
import json
import statistics
import sys

STAMP = "%Y/%m/%d %H:%M:%S.%f"  # nvidia-smi's timestamp; the steps file is written to match
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
    """[(time, SM MHz, power W, temperature C, power limit W)]; rows nvidia-smi could not fill
    ("[N/A]", a cut last line) are skipped."""
    samples = []
    with open(path) as lines:
        for line in lines:
            fields = line.split(",")
            if len(fields) != 5:
                continue
            try:
                samples.append((parse_stamp(fields[0]), *(float(f) for f in fields[1:])))
            except ValueError:
                continue
    return samples


def summarise(steps, samples):
    for index, (start, name) in enumerate(steps):
        end = steps[index + 1][0] if index + 1 < len(steps) else datetime.datetime.max
        inside = [s for s in samples if start <= s[0] < end]
        if not inside:
            continue
        limited = [s[1] for s in inside if s[2] >= AT_LIMIT * s[4]]
        yield {"benchmark": "gpu_clocks", "step": name, "samples": len(inside),
               "sm_clock_mhz_median": statistics.median(s[1] for s in inside),
               "power_w_mean": round(statistics.fmean(s[2] for s in inside), 1),
               "power_limit_w": inside[-1][4], "samples_at_power_limit": len(limited),
               "sm_clock_mhz_median_at_power_limit":
                   statistics.median(limited) if limited else None,
               "temperature_c_max": max(s[3] for s in inside)}


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    for line in summarise(read_steps(argv[1]), read_samples(argv[2])):
        print(json.dumps(line))


if __name__ == "__main__":
    main(sys.argv)

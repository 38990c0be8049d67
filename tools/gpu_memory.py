#!/usr/bin/env python3
"""One process's GPU memory from nvidia-smi's memory.used samples (scripts/gpu-memory.sh).

Reads the poll file that `nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms
100` wrote while the process ran (MiB, one reading a line; rows the driver could not fill, such as
"[N/A]", are skipped) and the reading taken before it started. Prints one JSON object:
gpu_mem_peak_gb (the largest reading minus the one before, in GB of 10^9 bytes: the process's CUDA
context and its caching allocator's reserve included, so an upper bound of what its tensors
held), gpu_mem_baseline_gb, gpu_mem_samples. Without a baseline (no nvidia-smi) or without
samples, the GB values are null.
Usage: python3 tools/gpu_memory.py POLL_FILE [--baseline-mib MIB]
"""
import argparse
import json
import sys

BYTES_PER_MIB = 1024 * 1024


def readings(path):
    """The MiB readings of a poll file, in order; unreadable rows skipped."""
    values = []
    with open(path) as lines:
        for line in lines:
            try:
                values.append(float(line.strip()))
            except ValueError:
                continue
    return values


def to_gb(mib):
    return round(mib * BYTES_PER_MIB / 1e9, 3)


def summary(values, baseline_mib):
    have = baseline_mib is not None and bool(values)
    return {"gpu_mem_peak_gb": to_gb(max(values) - baseline_mib) if have else None,
            "gpu_mem_baseline_gb": to_gb(baseline_mib) if baseline_mib is not None else None,
            "gpu_mem_samples": len(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("poll_file")
    parser.add_argument("--baseline-mib", default="",
                        help="memory.used before the process started (empty: not read)")
    args = parser.parse_args()
    baseline = None
    if args.baseline_mib.strip():
        try:
            baseline = float(args.baseline_mib)
        except ValueError:
            sys.exit(f"gpu_memory.py: --baseline-mib must be a number of MiB, got '{args.baseline_mib}'")
    try:
        values = readings(args.poll_file)
    except OSError as error:
        sys.exit(f"gpu_memory.py: cannot read the poll file {args.poll_file}: {error.strerror}")
    print(json.dumps(summary(values, baseline)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Does the same fused attention kernel take longer when the GPU never rests between kernels?

vidprobe's V-JEPA v1 calls cuDNN's fused attention with the same shapes and strides as the
official code (q, k, v split from one packed qkv projection), yet its calls took 3-4 % longer in
the profiles of both sides (docs/perf.md). One candidate is the GPU's clock: a pipeline with fewer
low-power memory-bound kernels between its attention calls draws more power and may run at a
lower SM clock. This script times the one attention call in phases that differ only in what runs
between the calls (nothing, or a memory-bound copy of a chosen length) and in the layout of q, k,
v (split from a packed (B, N, 3, H, D) tensor as both V-JEPA sides, or contiguous), rounds
alternating, while `nvidia-smi` samples the SM clock and the board power.

Prints one JSON line per phase: bench "attention_duty", shape, layout, gap_ms (the copy between
calls), round, calls, attention_ms (mean of per-call CUDA event times), tflops, sm_clock_mhz
(median of the samples inside the phase), power_w (mean), samples.
Usage: python3 bench/attention_duty.py [--shape vjepa1-l-480x832] [--gaps 0,2,5] [--rounds 2]
"""
import argparse
import datetime
import json
import shutil
import statistics
import subprocess
import tempfile
import time

import torch

# name: (batch, heads, tokens, head dim) of one self-attention call.
SHAPES = {
    # V-JEPA v1 ViT-L/16 over 5 windows of 16 frames at 480 x 832 (8 x 30 x 52 tokens each).
    "vjepa1-l-480x832": (5, 16, 12480, 64),
    "fast3r-encoder-288x512": (81, 16, 576, 64),
}
SMI_FIELDS = "timestamp,clocks.sm,power.draw"


class ClockSampler:
    """nvidia-smi in the background, one CSV row every `period_ms`; rows read back by time."""

    def __init__(self, period_ms):
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".csv")
        self.process = None
        if shutil.which("nvidia-smi"):
            self.process = subprocess.Popen(
                ["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader,nounits",
                 "-lms", str(period_ms)], stdout=self.log, stderr=subprocess.DEVNULL)

    def between(self, start, end):
        """(SM clock MHz, power W) rows sampled between two datetime.now() values."""
        self.log.flush()
        rows = []
        with open(self.log.name) as log:
            for line in log:
                fields = [f.strip() for f in line.split(",")]
                try:
                    stamp = datetime.datetime.strptime(fields[0], "%Y/%m/%d %H:%M:%S.%f")
                    clock, power = float(fields[1]), float(fields[2])
                except (ValueError, IndexError):
                    continue
                if start <= stamp <= end:
                    rows.append((clock, power))
        return rows

    def close(self):
        if self.process:
            self.process.terminate()
            self.process.wait()
        self.log.close()


def make_qkv(shape, layout, dtype):
    batch, heads, tokens, width = shape
    if layout == "packed":
        packed = torch.randn(batch, tokens, 3, heads, width, device="cuda", dtype=dtype)
        return packed.permute(2, 0, 3, 1, 4).unbind(0)
    return tuple(torch.randn(batch, heads, tokens, width, device="cuda", dtype=dtype)
                 for _ in range(3))


def gap_kernel(gap_ms):
    """A memory-bound copy repeated to take about gap_ms, or None for no gap."""
    if gap_ms <= 0:
        return None
    source = torch.empty(256 << 20, device="cuda", dtype=torch.float32)
    target = torch.empty_like(source)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(3):
        target.copy_(source)
    start.record()
    target.copy_(source)
    end.record()
    torch.cuda.synchronize()
    repeats = max(1, round(gap_ms / start.elapsed_time(end)))

    def run():
        for _ in range(repeats):
            target.copy_(source)
    return run


def phase(q, k, v, gap, calls):
    """Mean per-call attention time (ms) over `calls` calls, each followed by the gap kernel."""
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(calls)]
    for start, end in events:
        start.record()
        torch.nn.functional.scaled_dot_product_attention(q, k, v)
        end.record()
        if gap:
            gap()
    torch.cuda.synchronize()
    return statistics.fmean(start.elapsed_time(end) for start, end in events)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="vjepa1-l-480x832")
    parser.add_argument("--gaps", default="0,2,5", help="ms of memory-bound copy between calls")
    parser.add_argument("--layouts", default="packed,contiguous")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one phase")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        parser.error("needs a CUDA device")
    gaps = [float(g) for g in args.gaps.split(",")]
    layouts = args.layouts.split(",")
    if bad := [l for l in layouts if l not in ("packed", "contiguous")]:
        parser.error(f"--layouts: unknown {bad} (known: packed, contiguous)")
    shape = SHAPES[args.shape]
    batch, heads, tokens, width = shape
    flops = 4.0 * batch * heads * tokens * tokens * width
    inputs = {layout: make_qkv(shape, layout, torch.bfloat16) for layout in layouts}
    gap_kernels = {gap: gap_kernel(gap) for gap in gaps}
    # Each layout once before timing: cuDNN builds an execution plan per stride pattern.
    warm = min(phase(*inputs[layout], None, 10) for layout in layouts)
    sampler = ClockSampler(period_ms=50)
    time.sleep(0.5)
    try:
        for round_index in range(args.rounds):
            for layout in layouts:
                for gap in gaps:
                    calls = max(8, round(args.seconds * 1000 / (warm + gap)))
                    start = datetime.datetime.now()
                    ms = phase(*inputs[layout], gap_kernels[gap], calls)
                    samples = sampler.between(start, datetime.datetime.now())
                    line = {"bench": "attention_duty", "shape": args.shape, "sizes": list(shape),
                            "layout": layout, "gap_ms": gap, "round": round_index,
                            "calls": calls, "attention_ms": round(ms, 4),
                            "tflops": round(flops / ms / 1e9, 1), "samples": len(samples)}
                    if samples:
                        line["sm_clock_mhz"] = statistics.median(s[0] for s in samples)
                        line["power_w"] = round(statistics.fmean(s[1] for s in samples), 1)
                    print(json.dumps(line), flush=True)
    finally:
        sampler.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Does the same fused attention kernel take longer when the GPU never rests between kernels?

vidprobe's V-JEPA v1 calls cuDNN's fused attention with the same shapes and strides as the
official code (q, k, v split from one packed qkv projection), yet its calls took 3-5 % longer in
the profiles of both sides (docs/perf.md). One candidate is the GPU's clock: a pipeline with fewer
low-power memory-bound kernels between its attention calls draws more power and may run at a
lower SM clock. This script times the one attention call in phases that differ only in what runs
between the calls (nothing, or a memory-bound copy of a chosen length) and in the layout of q, k,
v (split from a packed (B, N, 3, H, D) tensor as both V-JEPA sides, or contiguous), the gaps'
order reversed every other round (the layouts' order stays), while `nvidia-smi` samples GPU 0's SM clock and instantaneous
board power every 50 ms (tools/gpu_clocks.py's fields and reader).

Prints one JSON line per phase: bench "attention_duty", shape, layout, gap_ms (the copy between
calls asked for), gap_copies (1 GiB copies run for it: at least one, so a gap shorter than one
copy, about 0.65 ms on an H100, runs as one), round, calls, seconds, attention_ms (mean of per-call CUDA event times), tflops,
sm_clock_mhz (median of the samples inside the phase), power_w (mean), power_limit_w, samples.
Usage: python3 bench/attention_duty.py [--shape vjepa1-l-480x832] [--gaps 0,2,5] [--rounds 2]
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import gpu_clocks  # noqa: E402  (the one nvidia-smi sample reader)

# name: (batch, heads, tokens, head dim) of one self-attention call.
SHAPES = {
    # V-JEPA v1 ViT-L/16 over 5 windows of 16 frames at 480 x 832 (8 x 30 x 52 tokens each).
    "vjepa1-l-480x832": (5, 16, 12480, 64),
    "fast3r-encoder-288x512": (81, 16, 576, 64),
}


class ClockSampler:
    """nvidia-smi in the background, one CSV row every `period_ms`; rows read back by time."""

    def __init__(self, period_ms):
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".csv")
        self.process = None
        if shutil.which("nvidia-smi"):
            self.process = subprocess.Popen(
                ["nvidia-smi", "--id=0", f"--query-gpu={gpu_clocks.smi_fields()}",
                 "--format=csv,noheader,nounits", "-lms", str(period_ms)],
                stdout=self.log, stderr=subprocess.DEVNULL)

    def between(self, start, end):
        """gpu_clocks.read_samples' rows sampled between two datetime.now() values."""
        return [s for s in gpu_clocks.read_samples(self.log.name) if start <= s[0] <= end]

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
    """(A memory-bound copy repeated to take about gap_ms, or None for no gap; the repeats)."""
    if gap_ms <= 0:
        return None, 0
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
    return run, repeats


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


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="vjepa1-l-480x832")
    parser.add_argument("--gaps", default="0,2,5", help="ms of memory-bound copy between calls")
    parser.add_argument("--layouts", default="packed,contiguous")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one phase")
    args = parser.parse_args()
    try:
        args.gaps = [float(g) for g in args.gaps.split(",")]
    except ValueError:
        parser.error(f"--gaps: not a comma-separated list of numbers: '{args.gaps}'")
    if any(g < 0 for g in args.gaps):
        parser.error(f"--gaps must not be negative, got {args.gaps}")
    args.layouts = args.layouts.split(",")
    if bad := [l for l in args.layouts if l not in ("packed", "contiguous")]:
        parser.error(f"--layouts: unknown {bad} (known: packed, contiguous)")
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.seconds <= 0:
        parser.error(f"--seconds must be positive, got {args.seconds}")
    if not torch.cuda.is_available():
        parser.error("needs a CUDA device")
    return args


def main():
    args = parse_args()
    shape = SHAPES[args.shape]
    batch, heads, tokens, width = shape
    flops = 4.0 * batch * heads * tokens * tokens * width
    inputs = {layout: make_qkv(shape, layout, torch.bfloat16) for layout in args.layouts}
    gap_kernels = {gap: gap_kernel(gap) for gap in args.gaps}
    # Each layout once untimed (cuDNN builds an execution plan per stride pattern), then a timed
    # pass that sets how many calls fill a phase.
    for layout in args.layouts:
        phase(*inputs[layout], None, 3)
    call_ms = min(phase(*inputs[layout], None, 10) for layout in args.layouts)
    sampler = ClockSampler(period_ms=50)
    time.sleep(0.5)
    try:
        for round_index in range(args.rounds):
            gaps = args.gaps if round_index % 2 == 0 else args.gaps[::-1]
            for layout in args.layouts:
                for gap in gaps:
                    calls = max(8, round(args.seconds * 1000 / (call_ms + gap)))
                    start = datetime.datetime.now()
                    gap_run, copies = gap_kernels[gap]
                    ms = phase(*inputs[layout], gap_run, calls)
                    end = datetime.datetime.now()
                    samples = sampler.between(start, end)
                    line = {"bench": "attention_duty", "shape": args.shape, "sizes": list(shape),
                            "layout": layout, "gap_ms": gap, "gap_copies": copies,
                            "round": round_index,
                            "calls": calls, "seconds": round((end - start).total_seconds(), 3),
                            "attention_ms": round(ms, 4), "tflops": round(flops / ms / 1e9, 1),
                            "samples": len(samples)}
                    if samples:
                        line["sm_clock_mhz"] = statistics.median(s[1] for s in samples)
                        line["power_w"] = round(statistics.fmean(s[2] for s in samples), 1)
                        line["power_limit_w"] = samples[-1][4]
                    print(json.dumps(line), flush=True)
    finally:
        sampler.close()


if __name__ == "__main__":
    main()

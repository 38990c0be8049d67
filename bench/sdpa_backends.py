#!/usr/bin/env python3
"""Which of PyTorch's fused attention kernels is fastest at the attention shapes of the paper's
models? vidprobe calls at::scaled_dot_product_attention, which picks a kernel by the same rules as
torch.nn.functional.scaled_dot_product_attention, so the "default" row is the kernel both
vidprobe and the reference implementations run; the other rows force one backend each
(torch.nn.attention.sdpa_kernel). Times come from CUDA events around `--iters` calls after
warm-up; "train" rows time forward plus backward (the probe's trunk). FLOPs: 4 * B * H * Lq * Lk
* D forward, 2.5 times that for forward plus backward (flash attention's usual count).

Prints one JSON line per (shape, backend): bench "sdpa", shape name, backend, ms, TFLOP/s, or
"error" where the backend refuses the shape.
Usage: python3 bench/sdpa_backends.py [--iters 20] [--dtype bf16] [--shapes name,name]
"""
import argparse
import json

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

# name: (batch, heads, query length, key length, head dim, train)
SHAPES = {
    "dinov2-l-224": (16, 16, 257, 257, 64, False),
    "dinov2-l-420x728": (16, 16, 1561, 1561, 64, False),
    "videomae-l-16f": (1, 16, 1568, 1568, 64, False),
    "vjepa2-l-16f-256": (1, 16, 2048, 2048, 64, False),
    "vjepa1-h-384-76f": (5, 16, 12480, 12480, 80, False),
    "fast3r-decoder-81f": (1, 16, 46656, 46656, 64, False),
    "wan-1.3b-81f-self": (1, 12, 32760, 32760, 128, False),
    "wan-1.3b-81f-cross": (1, 12, 32760, 512, 128, False),
    "wan-14b-81f-self": (1, 40, 32760, 32760, 128, False),
    "probe-frame": (40, 16, 1565, 1565, 64, True),
    "probe-global": (10, 16, 6260, 6260, 64, True),
}
BACKENDS = {
    "default": None,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
}
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def time_ms(fn, iters):
    for _ in range(3):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters


def run(name, shape, backend, dtype, iters):
    b, h, lq, lk, d, train = shape
    q = torch.randn(b, h, lq, d, device="cuda", dtype=dtype, requires_grad=train)
    k = torch.randn(b, h, lk, d, device="cuda", dtype=dtype, requires_grad=train)
    v = torch.randn(b, h, lk, d, device="cuda", dtype=dtype, requires_grad=train)
    grad = torch.randn(b, h, lq, d, device="cuda", dtype=dtype) if train else None

    def call():
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        if train:
            out.backward(grad)

    flops = 4.0 * b * h * lq * lk * d * (2.5 if train else 1.0)
    line = {"bench": "sdpa", "shape": name, "backend": backend, "train": train,
            "sizes": [b, h, lq, lk, d]}
    try:
        if BACKENDS[backend] is None:
            ms = time_ms(call, iters)
        else:
            with sdpa_kernel([BACKENDS[backend]]):
                ms = time_ms(call, iters)
        line.update(ms=round(ms, 4), tflops=round(flops / ms / 1e9, 1))
    except RuntimeError as error:
        line["error"] = str(error).splitlines()[0][:160]
    print(json.dumps(line), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    args = parser.parse_args()
    names = args.shapes.split(",")
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        parser.error(f"--shapes: unknown {unknown} (known: {', '.join(SHAPES)})")
    if args.iters < 1:
        parser.error(f"--iters must be positive, got {args.iters}")
    if not torch.cuda.is_available():
        parser.error("needs a CUDA device")
    for name in names:
        for backend in BACKENDS:
            run(name, SHAPES[name], backend, DTYPES[args.dtype], args.iters)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Where two runs of the same work spend their time, side by side: reads two kernels.json files
(`vidprobe bench backbone --profile DIR` and bench/*_reference.py --profile DIR write them; schema
in src/vidprobe/nn/kernel_profile.h), sorts every kernel into a category by its name (the CUDA
kernel names of cuBLAS/CUTLASS, flash and cuDNN attention, PyTorch's elementwise and reduction
kernels; on the CPU the aten operator names) and prints a Markdown table of milliseconds per
category with the ratio, then the largest kernels of each side.

Usage: python3 tools/compare_kernel_profiles.py OURS/kernels.json REFERENCE/kernels.json
       [--labels vidprobe,transformers] [--top 8]
"""
import argparse
import json
import re
import sys

# First match wins: attention and convolution kernels also say "gemm" in their names.
CATEGORIES = [
    ("attention", r"flash|fmha|attention|_efficient_attention|scaled_dot_product|softmax"),
    ("convolution", r"conv|fprop|dgrad|wgrad|winograd|implicit_gemm|im2col|cudnn"),
    ("matmul", r"gemm|cutlass|nvjet|xmma|cublas|wgmma|aten::(mm|addmm|bmm|linear|matmul)$"),
    ("normalisation", r"norm|rsqrt"),
    ("copy / layout", r"memcpy|memset|copy|cat|transpose|permute|contiguous|index|gather|scatter|"
                      r"clone|to_copy|upsample|interpolate|pad"),
    ("elementwise", r"elementwise|vectorized|unrolled|gelu|silu|sigmoid|add|mul|div|sub|exp|"
                    r"aten::(sum|mean)"),
    ("reduction", r"reduce|sum|mean|max|min"),
]


def category(name):
    lowered = name.lower()
    for label, pattern in CATEGORIES:
        if re.search(pattern, lowered):
            return label
    return "other"


def load(path):
    try:
        with open(path) as f:
            profile = json.load(f)
        kernels = profile["kernels"]
        for kernel in kernels:
            kernel["name"], kernel["total_ms"], kernel["calls"]  # schema check
    except (OSError, ValueError, KeyError, TypeError) as error:
        sys.exit(f"compare_kernel_profiles: error: {path}: not a kernels.json ({error})")
    return profile


def by_category(profile):
    totals = {}
    for kernel in profile["kernels"]:
        label = category(kernel["name"])
        totals[label] = totals.get(label, 0.0) + kernel["total_ms"]
    return totals


def table(profiles, labels):
    totals = [by_category(p) for p in profiles]
    names = sorted(set(totals[0]) | set(totals[1]), key=lambda c: -max(t.get(c, 0.0) for t in totals))
    lines = [f"| category | {labels[0]} ms | {labels[1]} ms | {labels[0]} / {labels[1]} |",
             "|---|---:|---:|---:|"]
    for name in names + ["total"]:
        a, b = ((p["total_ms"] for p in profiles) if name == "total"
                else (t.get(name, 0.0) for t in totals))
        ratio = f"{a / b:.2f}" if b > 0 else "-"
        lines.append(f"| {name} | {a:.2f} | {b:.2f} | {ratio} |")
    return "\n".join(lines)


def top_kernels(profile, label, count):
    lines = [f"\n{label}: the {count} largest of {len(profile['kernels'])} kernels", "",
             "| kernel | category | calls | ms | share |", "|---|---|---:|---:|---:|"]
    for kernel in profile["kernels"][:count]:
        name = kernel["name"] if len(kernel["name"]) <= 90 else kernel["name"][:87] + "..."
        share = kernel["total_ms"] / profile["total_ms"] if profile["total_ms"] else 0.0
        lines.append(f"| `{name}` | {category(kernel['name'])} | {kernel['calls']} | "
                     f"{kernel['total_ms']:.3f} | {share:.1%} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ours")
    parser.add_argument("reference")
    parser.add_argument("--labels", default="vidprobe,reference")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    labels = args.labels.split(",")
    if len(labels) != 2:
        sys.exit(f"compare_kernel_profiles: error: --labels needs two names, got '{args.labels}'")
    profiles = [load(args.ours), load(args.reference)]
    print(table(profiles, labels))
    for profile, label in zip(profiles, labels):
        print(top_kernels(profile, label, args.top))


if __name__ == "__main__":
    main()

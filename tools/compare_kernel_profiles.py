#!/usr/bin/env python3
"""Where two runs of the same work spend their time, side by side: reads two kernels.json files
(`vidprobe bench backbone --profile DIR` and bench/*_reference.py --profile DIR write them; schema
in src/vidprobe/nn/kernel_profile.h), sorts every kernel into a category by its name (the CUDA
kernel names of cuBLAS/CUTLASS, flash and cuDNN attention, PyTorch's elementwise and reduction
kernels; on the CPU the aten operator names) and prints a Markdown table of milliseconds per
category with the ratio, then the largest kernels of each side. Given one file, the same for it
alone. --stage NAME reads only the kernels of that stage ("transformer", "vae": the "stages" that
vidprobe's profiles of a backbone hold), so a DiT's transformer is seen apart from its VAE.

Usage: python3 tools/compare_kernel_profiles.py OURS/kernels.json [REFERENCE/kernels.json]
       [--labels vidprobe,transformers] [--top 8] [--stage transformer]
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
                    r"rotary|aten::(sum|mean)"),
    ("reduction", r"reduce|sum|mean|max|min"),
]


def category(name):
    lowered = name.lower()
    for label, pattern in CATEGORIES:
        if re.search(pattern, lowered):
            return label
    return "other"


def load(path, stage=None):
    try:
        with open(path) as f:
            profile = json.load(f)
        if stage is not None:
            stages = profile.get("stages", {})
            if stage not in stages:
                sys.exit(f"compare_kernel_profiles: error: {path}: no stage '{stage}' "
                         f"(stages: {', '.join(sorted(stages)) or 'none'})")
            profile = stages[stage]
        profile["total_ms"]  # schema check
        for kernel in profile["kernels"]:
            kernel["name"], kernel["total_ms"], kernel["calls"]  # schema check
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        sys.exit(f"compare_kernel_profiles: error: {path}: not a kernels.json ({error})")
    return profile


def by_category(profile):
    totals = {}
    for kernel in profile["kernels"]:
        label = category(kernel["name"])
        totals[label] = totals.get(label, 0.0) + kernel["total_ms"]
    return totals


def table(profiles, labels):
    """Milliseconds per category, one column per profile; with two, their ratio too."""
    totals = [by_category(p) for p in profiles]
    names = sorted(set().union(*totals), key=lambda c: -max(t.get(c, 0.0) for t in totals))
    pair = len(profiles) == 2
    lines = ["| category | " + " | ".join(f"{label} ms" for label in labels) +
             (f" | {labels[0]} / {labels[1]} |" if pair else " | share |"),
             "|---|" + "---:|" * (len(profiles) + 1)]
    for name in names + ["total"]:
        values = [p["total_ms"] if name == "total" else t.get(name, 0.0)
                  for p, t in zip(profiles, totals)]
        if pair:
            last = f"{values[0] / values[1]:.2f}" if values[1] > 0 else "-"
        else:
            last = f"{values[0] / profiles[0]['total_ms']:.1%}" if profiles[0]["total_ms"] else "-"
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {last} |")
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
    parser.add_argument("reference", nargs="?")
    parser.add_argument("--labels", default=None,
                        help="names of the columns (default: vidprobe,reference; vidprobe alone)")
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--stage", default=None,
                        help="only this stage's kernels (the profile's \"stages\")")
    args = parser.parse_args()
    paths = [args.ours] + ([args.reference] if args.reference else [])
    labels = args.labels.split(",") if args.labels else ["vidprobe", "reference"][:len(paths)]
    if len(labels) != len(paths):
        sys.exit(f"compare_kernel_profiles: error: --labels needs {len(paths)} name(s), "
                 f"got '{args.labels}'")
    profiles = [load(path, args.stage) for path in paths]
    print(table(profiles, labels))
    for profile, label in zip(profiles, labels):
        print(top_kernels(profile, label, args.top))


if __name__ == "__main__":
    main()

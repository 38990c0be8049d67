#!/usr/bin/env python3
"""The work of bench/backbones_bench.cpp done with transformers' own models, on the same machine,
for the speed ratio: random weights at ViT-L size, the same clip sizes, every block run (the
C++ side runs up to the default last block; transformers adds its final layernorm, < 0.1%).

  dinov2-vitl14          Dinov2Model, the clip's frames as a batch of 224 x 224 images (--size HxW:
                         of that size instead, e.g. the paper's 420x728; transformers interpolates
                         the position embeddings as vidprobe does)
  videomae-large         VideoMAEModel, one clip of FRAMES frames at 224 x 224
  vjepa2-vitl-fpc64-256  VJEPA2Model encoder (skip_predictor), one clip at 256 x 256

Attention is transformers' SDPA path. Prints one JSON line per backbone with the fields of the
C++ benchmark (vidprobe_bench --benchmark_filter=BackboneExtract).
--profile DIR: one more clip under torch.profiler, its GPU activities (kernels, copies, memsets;
on the CPU the operators' self time) written to DIR/<backbone>/kernels.json in the schema of
`vidprobe bench backbone --profile` (nn/kernel_profile.h) with a Chrome trace beside it, so
tools/compare_kernel_profiles.py can put the two side by side.
Usage: python3 bench/backbones_reference.py [--backbone NAME|all] [--device cuda] [--dtype bf16]
       [--frames 16] [--iters 5] [--size HxW] [--profile DIR]
"""
import argparse
import collections
import json
import os
import time

import torch

H100_DENSE_BF16 = 989e12
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def vit_flops(sequences, n, d, f, blocks):
    """Same count as bench/backbones_bench.cpp (2 FLOPs per multiply-add)."""
    return 2.0 * sequences * blocks * (4 * n * d * d + 2 * n * n * d + 2 * n * d * f)


def build(name, frames, size):
    """(model, input builder, (height, width), FLOPs of the blocks) for a backbone name; `size` is
    None (the native size) or (height, width), which only DINOv2 takes (main() checks)."""
    if name == "dinov2-vitl14":
        from transformers import Dinov2Config, Dinov2Model
        config = Dinov2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, image_size=518,
                              patch_size=14, attn_implementation="sdpa")
        height, width = size or (224, 224)
        n = 1 + (height // 14) * (width // 14)
        return (Dinov2Model(config), lambda clip: dict(pixel_values=clip), (height, width),
                vit_flops(frames, n, 1024, 4096, 24))
    if name == "videomae-large":
        from transformers import VideoMAEConfig, VideoMAEModel
        config = VideoMAEConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                intermediate_size=4096, image_size=224, patch_size=16, num_frames=frames,
                                tubelet_size=2, attn_implementation="sdpa")
        n = frames // 2 * 14 * 14
        return (VideoMAEModel(config), lambda clip: dict(pixel_values=clip.unsqueeze(0)), (224, 224),
                vit_flops(1, n, 1024, 4096, 24))
    if name == "vjepa2-vitl-fpc64-256":
        from transformers import VJEPA2Config, VJEPA2Model
        config = VJEPA2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, crop_size=256,
                              frames_per_clip=64, attn_implementation="sdpa")
        n = frames // 2 * 16 * 16
        return (VJEPA2Model(config), lambda clip: dict(pixel_values_videos=clip.unsqueeze(0), skip_predictor=True),
                (256, 256), vit_flops(1, n, 1024, 4096, 24))
    raise SystemExit(f"unknown backbone {name}")


def write_kernel_profile(step, sync, device, directory):
    """One step under torch.profiler; kernels.json as vidprobe's (GPU activities never nest, so
    their durations add up; CPU operators count their self time)."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    # Input shapes and strides on the GPU's trace, as vidprobe's, for tools/trace_kernel_ops.py.
    with profile(activities=activities, record_shapes=device.type == "cuda") as prof:
        step()
        sync()
    totals = collections.defaultdict(lambda: [0, 0.0])
    if device.type == "cuda":
        events = prof.profiler.kineto_results.events()
        # A record_function scope (the optimiser's "Optimizer.step#AdamW.step") is mirrored on the
        # GPU's timeline under its CPU name: a span holding kernels, not a kernel, so left out.
        cpu_names = {e.name() for e in events if e.device_type() == torch.autograd.DeviceType.CPU}
        for event in events:
            if event.device_type() == torch.autograd.DeviceType.CUDA and event.name() not in cpu_names:
                totals[event.name()][0] += 1
                totals[event.name()][1] += event.duration_ns() / 1e6
    else:
        for event in prof.events():
            if event.device_type == torch.autograd.DeviceType.CPU:
                totals[event.name][0] += 1
                totals[event.name][1] += event.self_cpu_time_total / 1e3
    total = sum(ms for _, ms in totals.values())
    kernels = [{"name": n, "calls": c, "total_ms": ms, "share": ms / total if total else 0.0}
               for n, (c, ms) in sorted(totals.items(), key=lambda item: -item[1][1])]
    os.makedirs(directory, exist_ok=True)
    prof.export_chrome_trace(os.path.join(directory, "trace.json"))
    path = os.path.join(directory, "kernels.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"device": device.type, "total_ms": total, "kernel_count": len(kernels),
                   "kernels": kernels}, f, indent=1)
    os.replace(path + ".tmp", path)
    return {"total_ms": total, "kernels_file": path}


def run(name, args):
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    torch.manual_seed(0)
    model, inputs, (height, width), flops = build(name, args.frames, args.size)
    model = model.eval().to(device=device, dtype=dtype)
    clip = torch.rand(args.frames, 3, height, width, device=device)
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)

    def step():
        # Normalisation included, as in the C++ extract().
        out = model(**inputs(((clip - mean) / std).to(dtype)))
        return out.last_hidden_state

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode():
        for _ in range(2):
            step()
        sync()
        start = time.perf_counter()
        for _ in range(args.iters):
            step()
        sync()
        seconds = time.perf_counter() - start
        profiled = (write_kernel_profile(step, sync, device, os.path.join(args.profile, name))
                    if args.profile else None)
    line = {"bench": "backbone_extract", "impl": "transformers", "backbone": name, "device": args.device,
            "dtype": args.dtype, "frames": args.frames, "height": height, "width": width, "blocks_run": 24,
            "iterations": args.iters, "clips_per_s": args.iters / seconds,
            "ms_per_clip": 1000 * seconds / args.iters, "tflop_per_clip": flops / 1e12,
            "mfu": flops * args.iters / seconds / H100_DENSE_BF16}
    if profiled:
        line["profile"] = profiled
    print(json.dumps(line), flush=True)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()


def height_width(text):
    try:
        height, width = (int(side) for side in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not HxW, e.g. 420x728")
    if height <= 0 or width <= 0 or height % 14 or width % 14:
        raise argparse.ArgumentTypeError(f"'{text}': both sides must be positive multiples of 14")
    return height, width


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="all")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bf16", choices=list(DTYPES))
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--size", type=height_width, default=None,
                        help="HxW frames (DINOv2 only; multiples of 14), e.g. 420x728")
    parser.add_argument("--profile", default="", help="write DIR/<backbone>/kernels.json")
    args = parser.parse_args()
    names = ["dinov2-vitl14", "videomae-large", "vjepa2-vitl-fpc64-256"] if args.backbone == "all" else [args.backbone]
    if args.size and names != ["dinov2-vitl14"]:
        parser.error("--size needs --backbone dinov2-vitl14 (the video encoders run at their native size)")
    for name in names:
        run(name, args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The work of bench/wan_bench.cpp done with diffusers, on the same GPU, for comparison.

One clip of 17 frames at 480x832 (random values) through AutoencoderKLWan.encode (float32, the
posterior mean, normalised) and WanTransformer3DModel (bf16, random weights) truncated to the
blocks up to the default middle one (num_layers = layer + 1: the same blocks vidprobe runs, plus
the output head, which costs < 0.1%), at one noised timestep. Prints one JSON line per variant
with the same fields as the C++ benchmark.

The GPU machine has no diffusers: carry the wheel, e.g.
  pip download --no-deps -d .whl diffusers==0.36.0   (on a machine with network)
  run(command="pip install --no-deps .whl/diffusers-*.whl && python3 bench/wan_reference.py",
      carry=[".whl"])
Usage: python3 bench/wan_reference.py [--variant 1.3b|14b|both] [--frames 17] [--height 480]
       [--width 832] [--layer L] [--iters 3]
"""
import argparse
import json
import time

import torch

H100_DENSE_BF16 = 989e12
VARIANTS = {
    "1.3b": dict(name="wan2.1-t2v-1.3b", heads=12, ffn=8960, layers=30),
    "14b": dict(name="wan2.1-t2v-14b", heads=40, ffn=13824, layers=40),
}


def transformer_flops(dim, ffn, tokens, context, blocks):
    """Same count as vidprobe::backbones::wan::transformer_flops (2 FLOPs per multiply-add)."""
    n, l, d, f = tokens, context, dim, ffn
    macs = 4 * n * d * d + 2 * n * n * d + 2 * n * d * d + 2 * l * d * d + 2 * n * l * d + 2 * n * d * f
    return 2.0 * macs * blocks


def run(variant, args):
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    spec = VARIANTS[variant]
    layer = args.layer if args.layer is not None else spec["layers"] // 2
    device = torch.device("cuda")
    torch.manual_seed(0)
    with torch.device(device):
        vae = AutoencoderKLWan().eval()
        dit = WanTransformer3DModel(num_attention_heads=spec["heads"], attention_head_dim=128,
                                    ffn_dim=spec["ffn"], num_layers=layer + 1, text_dim=4096,
                                    freq_dim=256, in_channels=16, out_channels=16).eval()
    dit = dit.to(torch.bfloat16)
    mean = torch.tensor(vae.config.latents_mean, device=device).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std, device=device).view(1, -1, 1, 1, 1)
    video = torch.rand(1, 3, args.frames, args.height, args.width, device=device) * 2 - 1
    context = torch.zeros(1, 512, 4096, device=device, dtype=torch.bfloat16)
    context[0, 0] = torch.randn(4096, device=device)
    timestep = 250
    sigma = timestep / 1000.0

    def encode():
        with torch.no_grad():
            return (vae.encode(video).latent_dist.mean - mean) / std

    def denoise(latents):
        noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(0)).to(device)
        noisy = ((1 - sigma) * latents + sigma * noise).to(torch.bfloat16)
        with torch.no_grad():
            return dit(noisy, torch.tensor([float(timestep)], device=device), context, return_dict=False)[0]

    for _ in range(args.warmup):
        denoise(encode())
    torch.cuda.synchronize()
    vae_s = dit_s = 0.0
    for _ in range(args.iters):
        start = time.perf_counter()
        latents = encode()
        torch.cuda.synchronize()
        middle = time.perf_counter()
        denoise(latents)
        torch.cuda.synchronize()
        end = time.perf_counter()
        vae_s += middle - start
        dit_s += end - middle
    latent_frames = (args.frames - 1) // 4 + 1
    tokens = latent_frames * (args.height // 16) * (args.width // 16)
    flops = transformer_flops(spec["heads"] * 128, spec["ffn"], tokens, 512, layer + 1)
    total = vae_s + dit_s
    n = args.iters
    print(json.dumps({
        "bench": "wan_extract", "impl": "diffusers", "variant": spec["name"],
        "device": torch.cuda.get_device_name(), "frames": args.frames, "height": args.height,
        "width": args.width, "layer": layer, "blocks_run": layer + 1, "timestep": timestep,
        "tokens": tokens, "dit_dtype": "bf16", "vae_dtype": "fp32", "iterations": n,
        "clips_per_s": n / total, "ms_per_clip": 1000 * total / n, "vae_ms": 1000 * vae_s / n,
        "dit_ms": 1000 * dit_s / n, "dit_tflop": flops / 1e12,
        "dit_mfu": flops * n / dit_s / H100_DENSE_BF16,
        "end_to_end_mfu": flops * n / total / H100_DENSE_BF16,
        "peak_memory_gb": torch.cuda.max_memory_allocated() / 1e9}), flush=True)
    del vae, dit
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=["1.3b", "14b", "both"], default="both")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--layer", type=int, default=None)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    for variant in (["1.3b", "14b"] if args.variant == "both" else [args.variant]):
        run(variant, args)


if __name__ == "__main__":
    main()

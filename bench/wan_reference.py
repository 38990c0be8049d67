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

--make-parity DIR instead writes a REAL-SIZE random 1.3B model twice (DIR/diffusers: transformer/
and vae/ in the diffusers layout, sharded fp32 with an index JSON; DIR/original: the original
Wan-Video key names in one bf16 file plus Wan2.1_VAE.safetensors and config.json; weights rounded
to bf16 so both layouts hold the same numbers), a text context, a 5-frame 480x832 clip and
diffusers' float32 hidden states of block 15 at timestep 250 with the noise of seed 1234. The test
WanBackboneCuda.RealSizeCheckpointsMatchDiffusers (VIDPROBE_WAN_PARITY_DIR=DIR) compares.
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


def make_parity(out_dir):
    import pathlib
    import sys

    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from safetensors.torch import save_file

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))
    from make_wan_fixtures import dit_key_to_original, vae_key_to_original

    out = pathlib.Path(out_dir)
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    with torch.device(device):
        vae = AutoencoderKLWan().eval()
        dit = WanTransformer3DModel(num_attention_heads=12, attention_head_dim=128, ffn_dim=8960,
                                    num_layers=30).eval()
    with torch.no_grad():  # bf16-representable weights, perturbed so norms and biases matter
        for module in (vae, dit):
            for p in module.parameters():
                p.add_(0.02 * torch.randn_like(p)).copy_(p.bfloat16().float())
    dit.save_pretrained(out / "diffusers" / "transformer", max_shard_size="2GB")
    vae.save_pretrained(out / "diffusers" / "vae")
    original = out / "original"
    original.mkdir(parents=True, exist_ok=True)
    save_file({dit_key_to_original(k): v.bfloat16().contiguous() for k, v in dit.state_dict().items()},
              str(original / "diffusion_pytorch_model.safetensors"))
    save_file({vae_key_to_original(k): v.contiguous() for k, v in vae.state_dict().items()
               if k.startswith(("encoder.", "quant_conv."))}, str(original / "Wan2.1_VAE.safetensors"))
    (original / "config.json").write_text(json.dumps(
        {"_class_name": "WanModel", "dim": 1536, "eps": 1e-06, "ffn_dim": 8960, "freq_dim": 256,
         "in_dim": 16, "model_type": "t2v", "num_heads": 12, "num_layers": 30, "out_dim": 16,
         "text_len": 512}))

    generator = torch.Generator().manual_seed(5)
    clip = torch.rand(5, 3, 480, 832, generator=generator)
    hidden = torch.randn(3, 4096, generator=generator)  # a 3-token prompt's embeddings
    context = torch.zeros(1, 512, 4096)
    context[0, :3] = hidden
    mean = torch.tensor(vae.config.latents_mean, device=device).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std, device=device).view(1, -1, 1, 1, 1)
    captured = {}
    dit.blocks[15].register_forward_hook(lambda _m, _i, o: captured.__setitem__("h", o.detach()))
    with torch.no_grad():
        video = (clip * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0).to(device)
        latents = (vae.encode(video).latent_dist.mean - mean) / std
        noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(1234)).to(device)
        noisy = 0.75 * latents + 0.25 * noise
        dit(noisy, torch.tensor([250.0], device=device), context.to(device), return_dict=False)
    save_file({"context": hidden}, str(out / "context.safetensors"))
    save_file({"clip": clip, "latents": latents.cpu().contiguous(),
               "block15_t250": captured["h"].cpu().contiguous()}, str(out / "reference.safetensors"))
    print(json.dumps({"parity_dir": str(out), "tokens": captured["h"].shape[1]}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=["1.3b", "14b", "both"], default="both")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--layer", type=int, default=None)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--make-parity", metavar="DIR", default=None)
    args = parser.parse_args()
    if args.make_parity:
        make_parity(args.make_parity)
        return
    for variant in (["1.3b", "14b"] if args.variant == "both" else [args.variant]):
        run(variant, args)


if __name__ == "__main__":
    main()

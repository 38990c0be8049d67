#!/usr/bin/env python3
"""CogVideoX-5B-I2V at real size on the GPU, the reference side (diffusers), for
scripts/gpu-cogvideox.sh:

  make DIR   a random CogVideoX-5B-I2V at the published size in the diffusers layout
             (transformer/ in bf16, vae/ in fp32, scheduler/, an empty-prompt stand-in context of
             226 x 4096) plus DIR/parity.safetensors: one 49-frame 480 x 720 clip, its scaled
             posterior-mean latents, the seeded DDIM noise at timestep 250 (index 749 of 1000
             trailing steps, the authors' point), the I2V first-frame latents (posterior MEAN:
             vidprobe's image_latents=mean, so no sampling noise has to be shared), the
             transformer input, and block 20's video hidden states in float32 (TF32 off), as
             tools/make_cogvideox_backbone_fixtures.py computes them at fixture size.
             tests/backbones/cogvideox/real_size_test.cpp compares vidprobe against it
             (VIDPROBE_COGVIDEOX_PARITY_DIR=DIR).
  bench DIR  clips/s of the same extraction in diffusers on the same GPU: VAE encode of the clip
             and of its first frame, DDIM noising, the transformer with the pipeline's RoPE
             tables. Two transformer variants are timed: all 42 blocks (what the authors'
             TransformerCogVideoXWithFeatureOutput runs) and stopping after block 20 (a forward
             hook raises: the fastest a diffusers user gets). VAE in float32 (vidprobe's choice)
             and in the transformer dtype (the authors' fp16/bf16 pipeline). One JSON line each.

The transformer is built with diffusers' own constructor from the published config values of
THUDM/CogVideoX-5b-I2V (transformer/config.json), random-initialised, and its bf16 weights are
what both sides read (the float32 reference upcasts the same bf16 values).

Versions: torch 2.11.0, diffusers 0.42.1 (carried as a wheel: see scripts/gpu-cogvideox.sh).
"""
import argparse
import json
import pathlib
import sys
import time
import types

import torch

TRANSFORMER_5B_I2V = dict(
    num_attention_heads=48, attention_head_dim=64, in_channels=32, out_channels=16,
    flip_sin_to_cos=True, freq_shift=0, time_embed_dim=512, text_embed_dim=4096, num_layers=42,
    dropout=0.0, attention_bias=True, sample_width=90, sample_height=60, sample_frames=49,
    patch_size=2, temporal_compression_ratio=4, max_text_seq_length=226,
    activation_fn="gelu-approximate", timestep_activation_fn="silu", norm_elementwise_affine=True,
    norm_eps=1e-5, spatial_interpolation_scale=1.875, temporal_interpolation_scale=1.0,
    use_rotary_positional_embeddings=True, use_learned_positional_embeddings=True)
VAE_SCALING_5B = 0.7
SCHEDULER_5B = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                    num_train_timesteps=1000, prediction_type="v_prediction",
                    rescale_betas_zero_snr=True, snr_shift_scale=1.0, timestep_spacing="trailing",
                    set_alpha_to_one=True, steps_offset=0, clip_sample=False)
FRAMES, HEIGHT, WIDTH, LAYER, INDEX, NOISE_SEED = 49, 480, 720, 20, 749, 1234


class StopAfterBlock(Exception):
    pass


def emit(**fields):
    print(json.dumps(fields), flush=True)


def scheduler_and_timestep():
    from diffusers.schedulers.scheduling_ddim_cogvideox import CogVideoXDDIMScheduler
    scheduler = CogVideoXDDIMScheduler(**SCHEDULER_5B)
    scheduler.set_timesteps(1000)
    return scheduler, scheduler.timesteps[torch.tensor([INDEX])]


def rope(model, latents, device):
    """The I2V pipeline's own RoPE tables, called on a stand-in exactly as the fixtures do."""
    from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import (
        CogVideoXImageToVideoPipeline)
    stand_in = types.SimpleNamespace(vae_scale_factor_spatial=8, transformer=model)
    _, frames, _, h, w = latents.shape
    return CogVideoXImageToVideoPipeline._prepare_rotary_positional_embeddings(
        stand_in, h * 8, w * 8, frames, device)


def encode(vae, clip, dtype):
    """clip (T, 3, H, W) in [0, 1] -> scaled posterior means of the clip and of frame 0 alone."""
    video = (clip * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0).to(dtype)
    scale = vae.config.scaling_factor
    latents = vae.encode(video).latent_dist.mean.permute(0, 2, 1, 3, 4) * scale
    first = vae.encode(video[:, :, :1]).latent_dist.mean.permute(0, 2, 1, 3, 4) * scale
    padding = torch.zeros(1, latents.shape[1] - 1, *first.shape[2:], device=first.device,
                          dtype=first.dtype)
    return latents.float(), torch.cat([first, padding], dim=1).float()


def transformer_input(latents, image_latents, noise, scheduler, t):
    noisy = scheduler.add_noise(latents, noise, t.to(latents.device))
    return torch.cat([noisy, image_latents], dim=2)


def block_states(model, model_input, context, t, rotary, stop):
    captured = {}

    def hook(_module, _inputs, out):
        captured["states"] = out[0]
        if stop:
            raise StopAfterBlock

    handle = model.transformer_blocks[LAYER].register_forward_hook(hook)
    try:
        model(hidden_states=model_input, encoder_hidden_states=context,
              timestep=t.expand(1).to(model_input.device), image_rotary_emb=rotary,
              return_dict=False)
    except StopAfterBlock:
        pass
    finally:
        handle.remove()
    return captured["states"]


def make(directory):
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel
    from safetensors.torch import save_file
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    root = pathlib.Path(directory)
    start = time.time()
    torch.manual_seed(0)
    with torch.device("cuda"):  # initialising 5.6 B parameters on the CPU takes minutes
        model = CogVideoXTransformer3DModel(**TRANSFORMER_5B_I2V).to(torch.bfloat16).eval()
        vae = AutoencoderKLCogVideoX(scaling_factor=VAE_SCALING_5B).eval()
    model.save_pretrained(root / "transformer", safe_serialization=True, max_shard_size="5GB")
    vae.save_pretrained(root / "vae", safe_serialization=True)
    (root / "scheduler").mkdir(parents=True, exist_ok=True)
    scheduler_config = dict(SCHEDULER_5B, _class_name="CogVideoXDDIMScheduler")
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler_config, indent=2))
    generator = torch.Generator().manual_seed(99)
    clip = torch.rand(FRAMES, 3, HEIGHT, WIDTH, generator=generator)
    context = torch.randn(1, 226, 4096, generator=generator)
    save_file({"context": context}, str(root / "context.safetensors"))
    made = time.time() - start

    device = torch.device("cuda")
    scheduler, t = scheduler_and_timestep()
    with torch.no_grad():
        vae = vae.to(device)
        latents, image_latents = encode(vae, clip.to(device), torch.float32)
        vae.cpu()
        noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(NOISE_SEED))
        model = model.float().to(device)
        model_input = transformer_input(latents, image_latents, noise.to(device), scheduler, t)
        rotary = rope(model, latents, device)
        states = block_states(model, model_input, context.to(device), t, rotary, stop=True)
    _, f, _, h, w = latents.shape
    maps = states.reshape(f, h // 2, w // 2, -1)
    saved = {"clip": clip, "latents": latents, "image_latents": image_latents, "noise": noise,
             "input": model_input, "timestep": t.to(torch.int64), f"block{LAYER}": maps}
    save_file({k: v.cpu().contiguous() for k, v in saved.items()},
              str(root / "parity.safetensors"))
    emit(benchmark="cogvideox_make_random_weights", seconds=made,
         reference_seconds=time.time() - start - made, timestep=int(t.item()),
         latents=list(latents.shape), block=list(maps.shape))


def bench(directory, iterations, dtype_name):
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel
    from safetensors.torch import load_file
    root = pathlib.Path(directory)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    device = torch.device("cuda")
    model = CogVideoXTransformer3DModel.from_pretrained(root / "transformer",
                                                       torch_dtype=dtype).to(device).eval()
    vae_fp32 = AutoencoderKLCogVideoX.from_pretrained(root / "vae").to(device).eval()
    context = load_file(str(root / "context.safetensors"))["context"].to(device, dtype)
    clip = load_file(str(root / "parity.safetensors"))["clip"].to(device)
    scheduler, t = scheduler_and_timestep()
    flops = transformer_flops(model.config, LAYER + 1)

    def one(vae, vae_dtype, stop):
        latents, image_latents = encode(vae, clip, vae_dtype)
        noise = torch.randn(latents.shape, device=device)
        model_input = transformer_input(latents, image_latents, noise, scheduler, t).to(dtype)
        rotary = rope(model, latents, device)
        return block_states(model, model_input, context, t, rotary, stop)

    for vae_name in ("fp32", dtype_name):
        vae = vae_fp32 if vae_name == "fp32" else vae_fp32.to(dtype)
        vae_dtype = torch.float32 if vae_name == "fp32" else dtype
        for stop in (True, False):
            with torch.inference_mode():
                one(vae, vae_dtype, stop)  # warm-up (cuDNN autotuning, allocator)
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                start = time.perf_counter()
                for _ in range(iterations):
                    one(vae, vae_dtype, stop)
                torch.cuda.synchronize()
                seconds = (time.perf_counter() - start) / iterations
            emit(benchmark="cogvideox_extract_reference", implementation="diffusers",
                 backbone="cogvideox-5b-i2v", frames=FRAMES, height=HEIGHT, width=WIDTH,
                 layer=LAYER, dtype=dtype_name, vae_dtype=vae_name,
                 blocks_run=LAYER + 1 if stop else model.config.num_layers,
                 iterations=iterations, ms_per_clip=1000 * seconds, clips_per_s=1 / seconds,
                 peak_allocated_gb=torch.cuda.max_memory_allocated() / 1e9,
                 transformer_tflop_to_block=flops / 1e12)


def transformer_flops(config, blocks):
    """Matmul FLOPs of `blocks` expert blocks on the 49-frame 480 x 720 clip (2 per MAC)."""
    tokens_video = (FRAMES - 1) // 4 + 1
    tokens_video *= (HEIGHT // 16) * (WIDTH // 16)
    tokens = tokens_video + config.max_text_seq_length
    d = config.num_attention_heads * config.attention_head_dim
    per_block = 2 * tokens * (4 * d * d + 2 * 4 * d * d) + 2 * 2 * tokens * tokens * d
    return blocks * per_block


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["make", "bench"])
    parser.add_argument("dir")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp16"])
    args = parser.parse_args()
    if args.command == "make":
        make(args.dir)
    else:
        bench(args.dir, args.iterations, args.dtype)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Writes tests/fixtures/cogvideox/: reference hidden states of diffusers' CogVideoXTransformer3DModel
(the CogVideoX 1.0 expert transformer) in SMALL seeded random configurations, one per published
variant, so the C++ port is checked against code it shares nothing with.

Variants (the positional encoding is what tells them apart):
  2b      3D sin-cos positions added in the patch embed, no RoPE; run at a latent size other than
          the configured sample size, so the sin-cos table is recomputed for the input grid
  5b      3D RoPE on the video tokens (positions from the pipeline's resize-crop region of the
          base grid: the input grid here is narrower than the base grid, so the column positions
          are fractional); batch of 2 with different timesteps; text shorter than max_text_seq_length
  5b-i2v  RoPE + learned positional embeddings (a persistent buffer, perturbed here so it is not
          the sin-cos table it is initialised with), 2 x in_channels (latents + image latents)

Files (all fp32):
  <variant>.safetensors     the model's state_dict, diffusers key names (transformer_blocks.0.attn1.to_q.weight, ...)
  reference.safetensors     per variant v:
      v/latents           (B, F, C, H, W) the transformer input, diffusers' layout
      v/timesteps         (B,) float32
      v/text              (B, L, text_embed_dim) encoder_hidden_states
      v/rope_cos, v/rope_sin   (F*H/2*W/2, head_dim) RoPE tables of the pipeline (5b, 5b-i2v only)
      v/block{i}          video hidden states after block i, (B, F*H/2*W/2, dim)
      v/text_block{i}     text hidden states after block i, (B, L, dim)
      v/output            the model's prediction (B, F, out_channels, H, W)
  configs.json              the small configurations (diffusers config keys)
  param_counts.json         parameter / persistent-buffer counts of the REAL-size models
                            (THUDM/CogVideoX-2b, -5b, -5b-I2V transformer configs), built on the
                            meta device

RoPE tables come from the pipeline's own CogVideoXPipeline._prepare_rotary_positional_embeddings
(called with a stand-in for the pipeline object), as the model takes them precomputed.

Versions used: torch 2.11.0 (vidprobe venv), diffusers 0.42.1, transformers 5.24.0, accelerate 1.16.0.
Rerun (CPU, a few seconds):
  /root/.cache/vidprobe/venv-torch-2.11.0/bin/python -m pip install --target /tmp/cogref \\
      diffusers transformers accelerate   # then delete torch/triton/nvidia from /tmp/cogref
  PYTHONPATH=/tmp/cogref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python tools/make_cogvideox_fixtures.py
"""
import json
import pathlib
import types

import torch
from diffusers import CogVideoXTransformer3DModel
from diffusers.pipelines.cogvideo.pipeline_cogvideox import CogVideoXPipeline
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/cogvideox"

COMMON = dict(num_attention_heads=2, attention_head_dim=16, out_channels=4, time_embed_dim=16,
              text_embed_dim=20, num_layers=2, sample_width=12, sample_height=8, sample_frames=9,
              patch_size=2, temporal_compression_ratio=4, max_text_seq_length=5,
              spatial_interpolation_scale=1.875, temporal_interpolation_scale=1.0, norm_eps=1e-5,
              flip_sin_to_cos=True, freq_shift=0)
VARIANTS = {
    "2b": dict(config=dict(in_channels=4, use_rotary_positional_embeddings=False,
                           use_learned_positional_embeddings=False),
               latents=(1, 2, 4, 6, 8), timesteps=[700.0], text_tokens=5),
    "5b": dict(config=dict(in_channels=4, use_rotary_positional_embeddings=True,
                           use_learned_positional_embeddings=False),
               latents=(2, 2, 4, 8, 8), timesteps=[999.0, 250.0], text_tokens=3),
    "5b-i2v": dict(config=dict(in_channels=8, use_rotary_positional_embeddings=True,
                               use_learned_positional_embeddings=True),
                   latents=(1, 3, 8, 8, 12), timesteps=[500.0], text_tokens=5),
}
# The transformer configs of the hub checkpoints (transformer/config.json); the rest are defaults.
REAL = {
    "cogvideox-2b": dict(num_attention_heads=30, num_layers=30, in_channels=16),
    "cogvideox-5b": dict(num_attention_heads=48, num_layers=42, in_channels=16,
                         use_rotary_positional_embeddings=True),
    "cogvideox-5b-i2v": dict(num_attention_heads=48, num_layers=42, in_channels=32,
                             use_rotary_positional_embeddings=True,
                             use_learned_positional_embeddings=True),
}


def perturb(model, seed, scale):
    """Default inits leave norms at 1 and biases at 0, which would hide weight/bias mix-ups; the
    learned position table is perturbed too (it starts as the sin-cos table)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.state_dict(keep_vars=True).items()):
            p.add_(scale * torch.randn(p.shape, generator=generator, dtype=p.dtype))


def contiguous(state):
    return {k: v.detach().float().contiguous().clone() for k, v in state.items()}


def rope_tables(model, latents):
    """The pipeline's own RoPE computation (height/width in pixels = latent size * 8)."""
    _, frames, _, height, width = latents.shape
    stand_in = types.SimpleNamespace(vae_scale_factor_spatial=8, transformer=model)
    return CogVideoXPipeline._prepare_rotary_positional_embeddings(
        stand_in, height * 8, width * 8, frames, torch.device("cpu"))


def run_variant(name, spec, seed, ref):
    model = CogVideoXTransformer3DModel(**COMMON, **spec["config"]).eval()
    perturb(model, seed=seed, scale=0.1)
    save_file(contiguous(model.state_dict()), str(OUT / f"{name}.safetensors"))

    generator = torch.Generator().manual_seed(100 + seed)
    latents = torch.randn(spec["latents"], generator=generator)
    text = torch.randn(spec["latents"][0], spec["text_tokens"], COMMON["text_embed_dim"],
                       generator=generator)
    timesteps = torch.tensor(spec["timesteps"])
    rotary = None
    if spec["config"]["use_rotary_positional_embeddings"]:
        rotary = rope_tables(model, latents)
        ref[f"{name}/rope_cos"], ref[f"{name}/rope_sin"] = rotary

    captured = {}
    hooks = [block.register_forward_hook(
        lambda _m, _i, out, i=i: captured.__setitem__(i, (out[0].clone(), out[1].clone())))
        for i, block in enumerate(model.transformer_blocks)]
    with torch.no_grad():
        output = model(latents, text, timesteps, image_rotary_emb=rotary, return_dict=False)[0]
    for h in hooks:
        h.remove()
    ref.update({f"{name}/latents": latents, f"{name}/text": text, f"{name}/timesteps": timesteps,
                f"{name}/output": output})
    for i, (video, text_states) in captured.items():
        ref[f"{name}/block{i}"] = video
        ref[f"{name}/text_block{i}"] = text_states
    return {k: v for k, v in model.config.items() if not k.startswith("_")}


def param_counts():
    """Parameter and persistent-buffer counts of the real configurations, without memory."""
    counts = {}
    with torch.device("meta"):
        for name, cfg in REAL.items():
            model = CogVideoXTransformer3DModel(**cfg)
            state = model.state_dict()
            counts[name] = {
                "parameters": sum(p.numel() for p in model.parameters()),
                "state_dict_elements": sum(t.numel() for t in state.values()),
                "state_dict_keys": len(state),
            }
    return counts


def main():
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    ref, configs = {}, {}
    for seed, (name, spec) in enumerate(VARIANTS.items(), start=1):
        configs[name] = run_variant(name, spec, seed, ref)
    save_file(contiguous(ref), str(OUT / "reference.safetensors"))
    (OUT / "configs.json").write_text(json.dumps(configs, indent=2) + "\n")
    (OUT / "param_counts.json").write_text(json.dumps(param_counts(), indent=2) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

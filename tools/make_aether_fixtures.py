#!/usr/bin/env python3
"""Writes tests/fixtures/aether/: reference hidden states of the AetherV1 transformer as the
official Aether code runs it (github OpenRobotLab/Aether, aether/pipelines/
aetherv1_pipeline_cogvideox.py), in a SMALL seeded random configuration.

AetherV1's transformer is diffusers' CogVideoXTransformer3DModel (loaded from
AetherWorldModel/AetherV1/transformer) with Aether's channels: the latents hold RGB | disparity |
raymap (latent + latent + 24 channels; 16 + 16 + 24 = 56 at full size), the condition holds the
image or video latents | camera (latent + 24), and the model reads [latents | condition]
(2 latent + 48 channels; 96 at full size) and predicts the latents' channels. What the official
pipeline adds is the RoPE: AetherV1PipelineCogVideoX._prepare_rotary_positional_embeddings(...,
fps) scales the time positions by _base_fps / fps (12 / 8 = 1.5 in VidFM3D's extraction, which
passes fps=8). The tables here come from calling that method itself (on a stand-in for the
pipeline object, as it reads only vae_scale_factor_spatial, transformer.config and _base_fps).

Small configuration: latent channels 4, so latents 4 + 4 + 24 = 32 and the input 32 + 28 = 60;
2 heads x 16, 2 blocks, learned positional embeddings (as 5B-I2V, which Aether fine-tunes; the
buffer perturbed so it is not its sin-cos initialisation), 3 latent frames of 8 x 12 (the
configured sample size, so the learned table is used).

Files (fp32):
  transformer.safetensors   the state_dict, diffusers key names
  config.json               the small configuration (diffusers keys)
  reference.safetensors     latents (1, 3, 60, 8, 12) the transformer input; timesteps (1,);
                            text (1, 5, 20); rope_cos, rope_sin (F*H/2*W/2, head_dim) with fps 8;
                            rope_cos_fps12 (the pipeline's table at fps 12 = base fps, no scaling);
                            block{i}, text_block{i} after block i; output (1, 3, 32, 8, 12)
  meta.json                 {"fps": 8, "base_fps": 12, "latent_channels": 4, "camera_channels": 24}

Versions: torch 2.11.0 (vidprobe venv), diffusers 0.42.1, transformers 5.24.0, einops 0.8.
Rerun (CPU, seconds):
  git -C <Aether mirror> archive HEAD aether | tar x -C /tmp/aether_src
  pip install --no-deps --target /tmp/aetherref einops   # diffusers etc.: tools/make_cogvideox_fixtures.py
  PYTHONPATH=/tmp/cogref:/tmp/aetherref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python \\
      tools/make_aether_fixtures.py /tmp/aether_src
"""
import argparse
import json
import pathlib
import sys
import types

import torch
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/aether"

LATENT, CAMERA = 4, 24
CONFIG = dict(num_attention_heads=2, attention_head_dim=16, in_channels=2 * LATENT + 2 * CAMERA + LATENT,
              out_channels=2 * LATENT + CAMERA, time_embed_dim=16, text_embed_dim=20, num_layers=2,
              sample_width=12, sample_height=8, sample_frames=9, patch_size=2,
              temporal_compression_ratio=4, max_text_seq_length=5,
              spatial_interpolation_scale=1.875, temporal_interpolation_scale=1.0, norm_eps=1e-5,
              flip_sin_to_cos=True, freq_shift=0, use_rotary_positional_embeddings=True,
              use_learned_positional_embeddings=True)
FPS = 8  # VidFM3D's OneStepAetherPipeline.__call__


def perturb(model, seed, scale):
    """Random weights everywhere (the zero-initialised adaLN and the sin-cos buffer included)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=generator) * scale)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkout", type=pathlib.Path, help="Aether checkout (holds aether/)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout))
    from diffusers import CogVideoXTransformer3DModel

    from aether.pipelines.aetherv1_pipeline_cogvideox import AetherV1PipelineCogVideoX

    assert CONFIG["in_channels"] == 60 and CONFIG["out_channels"] == 32
    model = CogVideoXTransformer3DModel(**CONFIG).eval()
    perturb(model, seed=11, scale=0.1)
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().float().contiguous().clone() for k, v in model.state_dict().items()},
              str(OUT / "transformer.safetensors"))

    generator = torch.Generator().manual_seed(111)
    latents = torch.randn(1, 3, CONFIG["in_channels"], 8, 12, generator=generator)
    text = torch.randn(1, 5, CONFIG["text_embed_dim"], generator=generator)
    timesteps = torch.tensor([250.0])
    stand_in = types.SimpleNamespace(vae_scale_factor_spatial=8, transformer=model,
                                     _base_fps=AetherV1PipelineCogVideoX._base_fps)
    rope = AetherV1PipelineCogVideoX._prepare_rotary_positional_embeddings(
        stand_in, 8 * 8, 12 * 8, 3, torch.device("cpu"), fps=FPS)
    base = AetherV1PipelineCogVideoX._prepare_rotary_positional_embeddings(
        stand_in, 8 * 8, 12 * 8, 3, torch.device("cpu"), fps=AetherV1PipelineCogVideoX._base_fps)

    captured = {}
    hooks = [block.register_forward_hook(
        lambda _m, _i, out, i=i: captured.__setitem__(i, (out[0].clone(), out[1].clone())))
        for i, block in enumerate(model.transformer_blocks)]
    with torch.no_grad():
        output = model(latents, text, timesteps, image_rotary_emb=rope, return_dict=False)[0]
    for h in hooks:
        h.remove()
    ref = {"latents": latents, "text": text, "timesteps": timesteps, "rope_cos": rope[0],
           "rope_sin": rope[1], "rope_cos_fps12": base[0], "output": output}
    for i, (video, text_states) in captured.items():
        ref[f"block{i}"] = video
        ref[f"text_block{i}"] = text_states
    save_file({k: v.contiguous() for k, v in ref.items()}, str(OUT / "reference.safetensors"))
    config = {k: v for k, v in model.config.items() if not k.startswith("_")}
    (OUT / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    meta = dict(fps=FPS, base_fps=AetherV1PipelineCogVideoX._base_fps, latent_channels=LATENT,
                camera_channels=CAMERA)
    (OUT / "meta.json").write_text(json.dumps(meta) + "\n")
    print({k: tuple(v.shape) for k, v in ref.items()})


if __name__ == "__main__":
    main()

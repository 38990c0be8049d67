#!/usr/bin/env python3
"""Writes tests/fixtures/cogvideox/backbone_*: end-to-end reference features of the CogVideoX
feature extraction as the paper's authors run it (VidFM3D features/cogvideox/cogvideox_feature*.py
on diffusers), in the SMALL seeded configurations of the transformer and VAE fixtures:

  clip in [0, 1] -> 2 x - 1 (the pipeline's video processor) -> AutoencoderKLCogVideoX.encode
  -> latent_dist.mean, (B, F, C, h, w), x scaling_factor -> CogVideoXDDIMScheduler
  (set_timesteps(1000), timesteps[index]).add_noise with seeded noise -> [I2V: the first frame
  encoded alone, latent_dist.sample(generator) x scaling_factor, zero-padded to F latent frames,
  concatenated along channels, as CogVideoXImageToVideoPipeline.prepare_latents] ->
  CogVideoXTransformer3DModel with the pipeline's RoPE tables, video states after each block
  reshaped (F, h', w', dim) as the authors' TransformerCogVideoXWithFeatureOutput does.

The weights are the existing fixtures (<variant>.safetensors, configs.json, vae_encoder.safetensors,
vae_config.json); the C++ test assembles a diffusers model directory from them and
backbone_schedulers.json.

Noise: torch.randn(latents.shape, generator=torch.Generator().manual_seed(seed)); the I2V
posterior sample's draw is the SECOND randn of the image-latent shape from a generator seeded
with the same seed (vidprobe's seeded_noise(shape, seed, draw=1)).

Files (fp32):
  backbone_reference.safetensors, per variant v:
    v/clip (T, 3, H, W) in [0, 1]; v/context (1, L, text_dim); v/noise; v/image_noise (I2V);
    v/latents (1, F, C, h, w) scaled mean; v/input (1, F, in_channels, h, w) transformer input;
    v/timestep (1,) int64; v/block{i} (F, h', w', dim)
  backbone_schedulers.json: per variant, the scheduler config (diffusers keys) and the DDIM index

Versions: torch 2.11.0 (vidprobe venv), diffusers 0.42.1.
Rerun (CPU, seconds; reference install: see tools/make_cogvideox_fixtures.py):
  PYTHONPATH=/tmp/cogref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python tools/make_cogvideox_backbone_fixtures.py
"""
import json
import pathlib
import types

import torch
from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel
from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import (
    CogVideoXImageToVideoPipeline, retrieve_latents)
from diffusers.schedulers.scheduling_ddim_cogvideox import CogVideoXDDIMScheduler
from safetensors.torch import load_file, save_file

FIX = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/cogvideox"

# variant: clip (T, H, W), DDIM index into 1000 trailing timesteps, noise seed, SNR shift.
CASES = {
    "2b": dict(clip=(17, 32, 48), index=749, seed=5, snr_shift_scale=3.0),
    "5b": dict(clip=(9, 48, 80), index=500, seed=6, snr_shift_scale=1.0),
    "5b-i2v": dict(clip=(9, 64, 96), index=749, seed=7, snr_shift_scale=1.0),
}


def load_vae():
    config = json.loads((FIX / "vae_config.json").read_text())
    vae = AutoencoderKLCogVideoX(**config).eval()
    missing, unexpected = vae.load_state_dict(load_file(str(FIX / "vae_encoder.safetensors")),
                                              strict=False)
    assert not unexpected and all(k.startswith("decoder.") for k in missing)
    return vae


def rope(model, latents):
    """The I2V pipeline's own RoPE tables (height/width in pixels), as the authors call it."""
    stand_in = types.SimpleNamespace(vae_scale_factor_spatial=8, transformer=model)
    _, frames, _, h, w = latents.shape
    return CogVideoXImageToVideoPipeline._prepare_rotary_positional_embeddings(
        stand_in, h * 8, w * 8, frames, torch.device("cpu"))


def image_latents(vae, video, latents, seed, ref, name):
    """prepare_latents of the I2V pipeline for the first frame, with a seeded posterior sample."""
    image = video[:, :, :1]
    posterior = vae.encode(image).latent_dist
    generator = torch.Generator().manual_seed(seed)
    torch.randn(posterior.mean.shape, generator=generator)  # draw 0 belongs to the video noise
    state = generator.get_state()
    eps = torch.randn(posterior.mean.shape, generator=generator)
    generator.set_state(state)
    sample = retrieve_latents(vae.encode(image), generator)  # latent_dist.sample(generator)
    torch.testing.assert_close(sample, posterior.mean + posterior.std * eps, rtol=0, atol=0)
    ref[f"{name}/image_noise"] = eps
    first = sample.permute(0, 2, 1, 3, 4) * vae.config.scaling_factor
    padding = torch.zeros(1, latents.shape[1] - 1, *first.shape[2:])
    return torch.cat([first, padding], dim=1)


def run_case(name, case, vae, configs, ref):
    model = CogVideoXTransformer3DModel(**configs[name]).eval()
    model.load_state_dict(load_file(str(FIX / f"{name}.safetensors")))
    scheduler = CogVideoXDDIMScheduler(snr_shift_scale=case["snr_shift_scale"],
                                       timestep_spacing="trailing")
    scheduler.set_timesteps(1000)
    t = scheduler.timesteps[torch.tensor([case["index"]])]

    frames, height, width = case["clip"]
    generator = torch.Generator().manual_seed(1000 + case["seed"])
    clip = torch.rand(frames, 3, height, width, generator=generator)
    context = torch.randn(1, configs[name]["max_text_seq_length"], configs[name]["text_embed_dim"],
                          generator=generator)
    video = (clip * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0)
    latents = vae.encode(video).latent_dist.mean.permute(0, 2, 1, 3, 4) * vae.config.scaling_factor
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(case["seed"]))
    model_input = scheduler.add_noise(latents, noise, t)
    if configs[name]["in_channels"] == 2 * latents.shape[2]:
        model_input = torch.cat(
            [model_input, image_latents(vae, video, latents, case["seed"], ref, name)], dim=2)
    rotary = rope(model, latents) if configs[name]["use_rotary_positional_embeddings"] else None

    captured = {}
    hooks = [block.register_forward_hook(
        lambda _m, _i, out, i=i: captured.__setitem__(i, out[0].clone()))
        for i, block in enumerate(model.transformer_blocks)]
    model(hidden_states=model_input, encoder_hidden_states=context, timestep=t.expand(1),
          image_rotary_emb=rotary, return_dict=False)
    for h in hooks:
        h.remove()
    _, f, _, h, w = latents.shape
    p = configs[name]["patch_size"]
    for i, states in captured.items():  # the authors' reshape: (B, F, h / p, w / p, dim)
        ref[f"{name}/block{i}"] = states.reshape(1, f, h // p, w // p, -1)[0]
    ref.update({f"{name}/clip": clip, f"{name}/context": context, f"{name}/noise": noise,
                f"{name}/latents": latents, f"{name}/input": model_input,
                f"{name}/timestep": t.to(torch.int64)})
    config = {k: v for k, v in scheduler.config.items() if not k.startswith("_")}
    return {"scheduler": config, "index": case["index"], "seed": case["seed"],
            "timestep": int(t.item())}


def main():
    torch.set_num_threads(1)
    configs = json.loads((FIX / "configs.json").read_text())
    vae = load_vae()
    ref, schedulers = {}, {}
    with torch.no_grad():
        for name, case in CASES.items():
            schedulers[name] = run_case(name, case, vae, configs, ref)
    save_file({k: v.contiguous() for k, v in ref.items()}, str(FIX / "backbone_reference.safetensors"))
    (FIX / "backbone_schedulers.json").write_text(json.dumps(schedulers, indent=2) + "\n")
    for name in CASES:
        print(name, tuple(ref[f"{name}/input"].shape), tuple(ref[f"{name}/block1"].shape),
              schedulers[name]["timestep"])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes tests/fixtures/cogvideox/check_*: what `vidprobe check` must report for the small
CogVideoX fixtures, computed with diffusers 0.42.1's own modules (AutoencoderKLCogVideoX,
CogVideoXTransformer3DModel, CogVideoXDDIMScheduler / CogVideoXDPMScheduler and the pipelines'
RoPE helper), never with vidprobe:

  clip (T, 3, H, W) in [0, 1] -> 2 x - 1 -> vae.encode(...).latent_dist.mean x scaling_factor
  (x0, the pipelines' (B, F, C, h, w)) -> vae.decode(x0 / scaling_factor) (the pipelines'
  decode_latents) -> (x + 1) / 2 clamped: the reconstruction.
  noise = torch.randn(x0 as (1, C, F, h, w), Generator().manual_seed(NOISE_SEED)) ->
  scheduler.add_noise(x0, noise, t) -> transformer([x_t | I2V image latents], context, t) ->
  CogVideoXDDIMScheduler(set_timesteps(1000)).step(...).pred_original_sample = x0_hat.
  Sampling as CogVideoXPipeline / CogVideoXImageToVideoPipeline.__call__'s loop with
  guidance_scale 1 (no classifier-free guidance): latents = start noise (init_noise_sigma 1),
  SAMPLE_STEPS steps of the variant's scheduler (DDIM eta 0; DPM with a Generator seeded 1 for
  its step noise, vidprobe's kCheckSamplerSeed), then decoded as above.
  I2V image latents: the first frame encoded alone, latent_dist.sample with the eps that
  vidprobe's extraction draws at noise seed 0 (the second randn of that shape from
  Generator().manual_seed(0)), x scaling_factor, zero-padded in time.

Cases: "2b" (text-to-video, CogVideoXDDIMScheduler: THUDM's sampler for 2B) and "5b-i2v"
(CogVideoXDPMScheduler, THUDM's for 5B / 5B-I2V), each with v-prediction, zero terminal SNR and
trailing spacing as the published scheduler configs; the transformer weights, configs, contexts
and VAE are the existing fixtures (plus decoder.safetensors).

PSNR: frames in [0, 1] clamped, MSE over everything in float64, -10 log10(MSE).

The clip is remainder(arange(T * 3 * H * W, float64) x 0.6180339887, 1) as (T, 3, H, W) float32
(9 x 32 x 48 for 2b, 9 x 64 x 96 for 5b-i2v, the transformer fixtures' sizes), rebuilt by the test.

Files:
  check_reference.safetensors  per case c: c/x0 (1, C, F, h, w), c/x0_hat, c/start (the
                               sampler's initial noise), c/sampled (final latents, (1, C, F, h, w))
  check.json                   per case: scheduler config (with _class_name), timestep, noise
                               seed, steps, sigma, vae_psnr_db, x0_relative_error, x0_psnr_db,
                               sample_psnr_db

Rerun (CPU, seconds; reference install: see tools/make_cogvideox_fixtures.py):
  PYTHONPATH=/tmp/cogref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python tools/make_cogvideox_check_fixtures.py
"""
import json
import math
import pathlib
import types

import torch
from diffusers import (AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXDPMScheduler,
                       CogVideoXTransformer3DModel)
from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import \
    CogVideoXImageToVideoPipeline
from safetensors.torch import load_file, save_file

FIX = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/cogvideox"
SCHEDULER = dict(snr_shift_scale=1.0, prediction_type="v_prediction", rescale_betas_zero_snr=True,
                 timestep_spacing="trailing", set_alpha_to_one=True)
CASES = {
    "2b": dict(clip=(9, 32, 48), scheduler=CogVideoXDDIMScheduler, snr_shift_scale=3.0),
    "5b-i2v": dict(clip=(9, 64, 96), scheduler=CogVideoXDPMScheduler, snr_shift_scale=1.0),
}
TIMESTEP, NOISE_SEED, SAMPLE_STEPS, CONDITION_SEED, SAMPLER_SEED = 500, 4, 3, 0, 1


def test_clip(t_count, height, width):
    """A deterministic clip the C++ test rebuilds with the same float64 ops (not stored)."""
    values = torch.arange(t_count * 3 * height * width, dtype=torch.float64) * 0.6180339887
    return torch.remainder(values, 1.0).reshape(t_count, 3, height, width).float()


def load_vae():
    config = json.loads((FIX / "vae_config.json").read_text())
    vae = AutoencoderKLCogVideoX(**config).eval()
    state = load_file(str(FIX / "vae_encoder.safetensors"))
    state.update(load_file(str(FIX / "decoder.safetensors")))
    vae.load_state_dict(state, strict=True)
    return vae


def frames(vae, latents):
    """decode_latents + postprocess: (1, F, C, h, w) scaled -> (T, 3, H, W) in [0, 1]."""
    video = vae.decode(latents.permute(0, 2, 1, 3, 4) / vae.config.scaling_factor).sample
    return ((video[0].permute(1, 0, 2, 3) + 1) / 2).clamp(0, 1)


def psnr(a, b):
    mse = (a.double().clamp(0, 1) - b.double().clamp(0, 1)).square().mean().item()
    return -10 * math.log10(mse)


def image_condition(vae, video, latents):
    image = video[:, :, :1]
    posterior = vae.encode(image).latent_dist
    generator = torch.Generator().manual_seed(CONDITION_SEED)
    torch.randn(posterior.mean.shape, generator=generator)  # draw 0: the extraction's video noise
    eps = torch.randn(posterior.mean.shape, generator=generator)
    first = (posterior.mean + posterior.std * eps).permute(0, 2, 1, 3, 4) * vae.config.scaling_factor
    return torch.cat([first, torch.zeros(1, latents.shape[1] - 1, *first.shape[2:])], dim=1)


def run_case(name, case, vae, configs, contexts, ref):
    config = configs[name]
    model = CogVideoXTransformer3DModel(**config).eval()
    model.load_state_dict(load_file(str(FIX / f"{name}.safetensors")))
    scheduler_kwargs = dict(SCHEDULER, snr_shift_scale=case["snr_shift_scale"])
    context = contexts[f"{name}/context"]
    t_count, height, width = case["clip"]
    clip = test_clip(t_count, height, width)
    video = (clip * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0)
    x0 = vae.encode(video).latent_dist.mean.permute(0, 2, 1, 3, 4) * vae.config.scaling_factor
    condition = image_condition(vae, video, x0) if config["in_channels"] == 2 * x0.shape[2] else None
    rotary = None
    if config["use_rotary_positional_embeddings"]:
        stand_in = types.SimpleNamespace(vae_scale_factor_spatial=8, transformer=model)
        rotary = CogVideoXImageToVideoPipeline._prepare_rotary_positional_embeddings(
            stand_in, height, width, x0.shape[1], torch.device("cpu"))

    def transformer(latents, t):
        inputs = latents if condition is None else torch.cat([latents, condition], dim=2)
        return model(hidden_states=inputs, encoder_hidden_states=context,
                     timestep=t.expand(1), image_rotary_emb=rotary, return_dict=False)[0].float()

    # (b): x0 estimate at TIMESTEP; the check draws its noise in (1, C, F, h, w).
    ddim = CogVideoXDDIMScheduler(**scheduler_kwargs)
    ddim.set_timesteps(1000)
    t = torch.tensor(TIMESTEP)
    noise = torch.randn(x0.permute(0, 2, 1, 3, 4).shape,
                        generator=torch.Generator().manual_seed(NOISE_SEED)).permute(0, 2, 1, 3, 4)
    noisy = ddim.add_noise(x0, noise, t)
    x0_hat = ddim.step(transformer(noisy, t), TIMESTEP, noisy).pred_original_sample
    # (c): the pipeline's loop with guidance 1.
    sampler = case["scheduler"](**scheduler_kwargs)
    sampler.set_timesteps(SAMPLE_STEPS)
    start = torch.randn(x0.permute(0, 2, 1, 3, 4).shape,
                        generator=torch.Generator().manual_seed(NOISE_SEED + 1))
    latents = start.permute(0, 2, 1, 3, 4) * sampler.init_noise_sigma
    generator = torch.Generator().manual_seed(SAMPLER_SEED)
    old_x0 = None
    for i, step_t in enumerate(sampler.timesteps):
        output = transformer(latents, step_t)
        if isinstance(sampler, CogVideoXDPMScheduler):
            latents, old_x0 = sampler.step(output, old_x0, step_t,
                                           sampler.timesteps[i - 1] if i > 0 else None, latents,
                                           generator=generator, return_dict=False)
        else:
            latents = sampler.step(output, step_t, latents, return_dict=False)[0]

    ref.update({f"{name}/x0": x0.permute(0, 2, 1, 3, 4),
                f"{name}/x0_hat": x0_hat.permute(0, 2, 1, 3, 4), f"{name}/start": start,
                f"{name}/sampled": latents.permute(0, 2, 1, 3, 4)})
    scheduler_config = {k: v for k, v in sampler.config.items() if k != "_use_default_values"}
    scheduler_config["_class_name"] = type(sampler).__name__
    return {"scheduler": scheduler_config, "timestep": TIMESTEP, "noise_seed": NOISE_SEED,
            "sample_steps": SAMPLE_STEPS,
            "sigma": math.sqrt(1 - ddim.alphas_cumprod[TIMESTEP].item()),
            "vae_psnr_db": psnr(frames(vae, x0), clip),
            "x0_relative_error": ((x0_hat - x0).norm() / x0.norm()).item(),
            "x0_psnr_db": psnr(frames(vae, x0_hat), clip),
            "sample_psnr_db": psnr(frames(vae, latents), clip)}


def main():
    torch.set_num_threads(1)
    configs = json.loads((FIX / "configs.json").read_text())
    contexts = load_file(str(FIX / "backbone_reference.safetensors"))
    vae = load_vae()
    ref, meta = {}, {}
    with torch.no_grad():
        for name, case in CASES.items():
            meta[name] = run_case(name, case, vae, configs, contexts, ref)
    save_file({k: v.contiguous() for k, v in ref.items()}, str(FIX / "check_reference.safetensors"))
    (FIX / "check.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes tests/fixtures/wan/sampler.{json,safetensors}: WAN2.1 text-to-video sampling as diffusers
runs it, computed by diffusers' OWN code (UniPCMultistepScheduler and WanPipeline), for the C++
sampler (src/vidprobe/backbones/flow_unipc_sampler.*, backbones/wan/sampling.*).

(1) The scheduler alone, built from the scheduler config of Wan-AI/Wan2.1-T2V-1.3B-Diffusers
    (written out below; prediction_type flow_prediction, use_flow_sigmas, solver_order 2, bh2,
    predict_x0, lower_order_final, final_sigmas_type zero, flow_shift 3.0) with flow_shift and
    solver_order overridden per case:
      sampler.json "schedules": set_timesteps(N) sigmas (float32, N + 1 values with the final 0)
          and int64 timesteps for a few (N, shift);
      sampler.json "steps" + sampler.safetensors "steps/<case>/{sample0, model_output<i>,
          prev_sample<i>}": step() chained over every timestep of an N-step schedule on random
          model outputs (sample_{i+1} = prev_sample_i), for solver orders 1, 2 (WAN's) and 3, and
          at order 2 with final_sigmas_type "sigma_min", with solver_type "bh1" (and sigma_min:
          with a final sigma of 0 its last step is NaN in diffusers, -inf * 0) and with
          disable_corrector [1, 3].
(2) The full WanPipeline (diffusers.WanPipeline.__call__) on the tiny random transformer and VAE of
    tests/fixtures/wan/{dit,vae}_diffusers.safetensors (written by tools/make_wan_fixtures.py under
    the real diffusers key names; loaded here strictly, so rerun that script first if it changes)
    with the configs of tests/fixtures/wan/configs.json. No text encoder: prompt_embeds and
    negative_prompt_embeds (1, 12, 32) are given as random tensors, and so are the initial latents
    (1, 16, 3, 4, 6), i.e. num_frames 9, height 32, width 48. Cases (sampler.json "pipeline"):
      cfg5     4 steps, guidance 5.0, flow_shift 3.0 (the 480p default): final latents
               (output_type="latent"), the latents after every step (callback_on_step_end), and
               the decoded video: pipeline/cfg5/decoded (1, 3, 9, 32, 48) is vae.decode of the
               de-normalised latents (latents * latents_std + latents_mean, the pipeline's
               formula) before post-processing; the pipeline's own output_type="pt" video equals
               (decoded / 2 + 0.5).clamp(0, 1), asserted here rather than stored;
      nocfg    4 steps, guidance 1.0 (no unconditional pass): final latents;
      shift5   6 steps, guidance 5.0, flow_shift 5.0 (the 720p value): final latents.

Everything is fp32 on the CPU. Versions: torch 2.11.0, diffusers 0.42.1 (/work/.venv-fixtures).
Rerun (CPU, seconds): /work/.venv-fixtures/bin/python tools/make_wan_sampler_fixtures.py
"""
import json
import pathlib

import torch
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
from safetensors.torch import load_file, save_file

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/wan"

# Wan-AI/Wan2.1-T2V-1.3B-Diffusers scheduler/scheduler_config.json
WAN_SCHEDULER_CONFIG = {
    "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001, "disable_corrector": [],
    "dynamic_thresholding_ratio": 0.995, "final_sigmas_type": "zero", "flow_shift": 3.0,
    "lower_order_final": True, "num_train_timesteps": 1000, "predict_x0": True,
    "prediction_type": "flow_prediction", "rescale_betas_zero_snr": False, "sample_max_value": 1.0,
    "solver_order": 2, "solver_p": None, "solver_type": "bh2", "steps_offset": 0,
    "thresholding": False, "timestep_spacing": "linspace", "trained_betas": None,
    "use_beta_sigmas": False, "use_exponential_sigmas": False, "use_flow_sigmas": True,
    "use_karras_sigmas": False,
}
SCHEDULES = [(1, 3.0), (4, 3.0), (10, 3.0), (50, 3.0), (50, 5.0), (7, 1.0)]
STEP_CASES = [  # (name, steps, shift, solver_order, other config overrides)
    ("order2_n6_shift3", 6, 3.0, 2, {}), ("order2_n20_shift5", 20, 5.0, 2, {}),
    ("order1_n5_shift3", 5, 3.0, 1, {}), ("order3_n6_shift3", 6, 3.0, 3, {}),
    ("order2_n5_shift3_sigma_min", 5, 3.0, 2, {"final_sigmas_type": "sigma_min"}),
    ("order2_n5_shift3_bh1", 5, 3.0, 2,
     {"solver_type": "bh1", "final_sigmas_type": "sigma_min"}),
    ("order2_n6_shift3_no_corrector", 6, 3.0, 2, {"disable_corrector": [1, 3]}),
]
STEP_SHAPE = (1, 2, 3, 4, 5)
PIPELINE_CASES = [  # (name, steps, guidance, shift, decode)
    ("cfg5", 4, 5.0, 3.0, True), ("nocfg", 4, 1.0, 3.0, False), ("shift5", 6, 5.0, 5.0, False),
]
LATENT_SHAPE = (1, 16, 3, 4, 6)
CONTEXT_TOKENS = 12


def scheduler(shift, order=2, **overrides):
    return UniPCMultistepScheduler(**{**WAN_SCHEDULER_CONFIG, "flow_shift": shift,
                                      "solver_order": order, **overrides})


def schedules():
    out = []
    for steps, shift in SCHEDULES:
        s = scheduler(shift)
        s.set_timesteps(steps)
        out.append(dict(steps=steps, shift=shift, sigmas=[float(v) for v in s.sigmas],
                        timesteps=[int(t) for t in s.timesteps]))
    return out


def step_cases(tensors):
    out = []
    generator = torch.Generator().manual_seed(21)
    for name, steps, shift, order, overrides in STEP_CASES:
        s = scheduler(shift, order, **overrides)
        s.set_timesteps(steps)
        sample = torch.randn(STEP_SHAPE, generator=generator)
        tensors[f"steps/{name}/sample0"] = sample
        for i, t in enumerate(s.timesteps):
            model_output = torch.randn(STEP_SHAPE, generator=generator)
            sample = s.step(model_output, t, sample, return_dict=False)[0]
            tensors[f"steps/{name}/model_output{i}"] = model_output
            tensors[f"steps/{name}/prev_sample{i}"] = sample
        out.append(dict(name=name, steps=steps, shift=shift, solver_order=order, **overrides))
    return out


def load_strict(model, path):
    model.load_state_dict(load_file(str(path)), strict=True)  # raises naming missing/extra keys
    return model.eval()


def pipeline(shift, configs):
    transformer = load_strict(WanTransformer3DModel(**{
        **configs["dit"], "patch_size": tuple(configs["dit"]["patch_size"])}),
        OUT / "dit_diffusers.safetensors")
    vae = load_strict(AutoencoderKLWan(**configs["vae"]), OUT / "vae_diffusers.safetensors")
    return WanPipeline(tokenizer=None, text_encoder=None, vae=vae, scheduler=scheduler(shift),
                       transformer=transformer)


def pipeline_cases(tensors, configs):
    generator = torch.Generator().manual_seed(31)
    latents = torch.randn(LATENT_SHAPE, generator=generator)
    context = torch.randn((1, CONTEXT_TOKENS, configs["dit"]["text_dim"]), generator=generator)
    negative = torch.randn((1, CONTEXT_TOKENS, configs["dit"]["text_dim"]), generator=generator)
    tensors.update({"pipeline/latents": latents, "pipeline/prompt_embeds": context,
                    "pipeline/negative_prompt_embeds": negative})
    frames = (LATENT_SHAPE[2] - 1) * 4 + 1
    height, width = LATENT_SHAPE[3] * 8, LATENT_SHAPE[4] * 8
    out = []
    for name, steps, guidance, shift, decode in PIPELINE_CASES:
        pipe = pipeline(shift, configs)
        pipe.set_progress_bar_config(disable=True)
        per_step = []

        def record(_pipe, _i, _t, kwargs):
            per_step.append(kwargs["latents"].clone())
            return {}

        common = dict(prompt_embeds=context, negative_prompt_embeds=negative, height=height,
                      width=width, num_frames=frames, num_inference_steps=steps,
                      guidance_scale=guidance, latents=latents.clone())
        with torch.no_grad():
            final = pipe(**common, output_type="latent", callback_on_step_end=record,
                         return_dict=False)[0]
        tensors[f"pipeline/{name}/final"] = final
        for i, step_latents in enumerate(per_step):
            tensors[f"pipeline/{name}/step{i}"] = step_latents
        if decode:
            vae = pipe.vae
            mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
            std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
            with torch.no_grad():
                decoded = vae.decode(final * std + mean, return_dict=False)[0]
                video = pipe(**common, output_type="pt", return_dict=False)[0]
            # the pipeline's post-processing: (B, C, F, H, W) in [-1, 1] -> (B, F, C, H, W) in [0, 1]
            expected = (decoded / 2 + 0.5).clamp(0, 1).permute(0, 2, 1, 3, 4)
            assert torch.allclose(video, expected, atol=1e-5), (video - expected).abs().max()
            tensors[f"pipeline/{name}/decoded"] = decoded
        out.append(dict(name=name, steps=steps, guidance_scale=guidance, flow_shift=shift,
                        timesteps=[int(t) for t in pipe.scheduler.timesteps], decoded=decode))
    return out, dict(num_frames=frames, height=height, width=width)


def main():
    configs = json.loads((OUT / "configs.json").read_text())
    tensors = {}
    summary = dict(scheduler_config=WAN_SCHEDULER_CONFIG, schedules=schedules(),
                   steps=step_cases(tensors))
    summary["pipeline"], summary["video"] = pipeline_cases(tensors, configs)
    save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()},
              str(OUT / "sampler.safetensors"))
    (OUT / "sampler.json").write_text(json.dumps(summary, indent=1) + "\n")
    print({k: list(v.shape) for k, v in tensors.items() if k.startswith("pipeline/cfg5")})


if __name__ == "__main__":
    main()

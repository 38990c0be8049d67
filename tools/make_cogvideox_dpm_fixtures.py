#!/usr/bin/env python3
"""Writes tests/fixtures/cogvideox/dpm.{json,safetensors}: diffusers' CogVideoXDPMScheduler (the
sampler of Aether's reconstruction, aether/pipelines/aetherv1_pipeline_cogvideox.py) stepped over
a 4-step trailing schedule the way Aether's denoising loop calls it:

    latents, old = scheduler.step(noise_pred, old, t, timesteps[i - 1] if i > 0 else None,
                                  latents, generator=g_i, return_dict=False)

with the scheduler config of THUDM/CogVideoX-5b-I2V (v_prediction, SNR shift 1, zero terminal
SNR, set_alpha_to_one) and random model outputs. Each step's generator is seeded 1000 + i, so its
two draws (noise, then second_noise on second-order steps) are reproduced here with a generator of
the same seed and stored for the C++ test (schedule_test.cpp, dpm_step).

dpm.json: {"config": scheduler config, "steps": 4, "timesteps": [...], "cases": [{"timestep",
"timestep_back" (-1 for None)}]}; dpm.safetensors: step{i}/{sample, model_output, noise,
second_noise, prev_sample, pred_original_sample} float32 of shape (1, 2, 3, 4, 5).

Versions: torch 2.11.0 (vidprobe venv), diffusers 0.42.1.
Rerun (CPU, a second): PYTHONPATH=/tmp/cogref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python \\
    tools/make_cogvideox_dpm_fixtures.py
"""
import json
import pathlib

import torch
from diffusers import CogVideoXDPMScheduler
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/cogvideox"
CONFIG = dict(beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085, clip_sample=False,
              clip_sample_range=1.0, num_train_timesteps=1000, prediction_type="v_prediction",
              rescale_betas_zero_snr=True, sample_max_value=1.0, set_alpha_to_one=True,
              snr_shift_scale=1.0, steps_offset=0, timestep_spacing="trailing", trained_betas=None)
SHAPE = (1, 2, 3, 4, 5)
STEPS = 4


def main():
    scheduler = CogVideoXDPMScheduler(**CONFIG)
    scheduler.set_timesteps(STEPS)
    timesteps = scheduler.timesteps
    generator = torch.Generator().manual_seed(7)
    latents = torch.randn(SHAPE, generator=generator) * scheduler.init_noise_sigma
    old = None
    tensors, cases = {}, []
    for i, t in enumerate(timesteps):
        model_output = torch.randn(SHAPE, generator=generator)
        back = timesteps[i - 1] if i > 0 else None
        replay = torch.Generator().manual_seed(1000 + i)
        noise, second_noise = torch.randn(SHAPE, generator=replay), torch.randn(SHAPE, generator=replay)
        prev, x0 = scheduler.step(model_output, old, t, back, latents,
                                  generator=torch.Generator().manual_seed(1000 + i),
                                  return_dict=False)
        tensors.update({f"step{i}/sample": latents, f"step{i}/model_output": model_output,
                        f"step{i}/noise": noise, f"step{i}/second_noise": second_noise,
                        f"step{i}/prev_sample": prev, f"step{i}/pred_original_sample": x0})
        cases.append(dict(timestep=int(t), timestep_back=-1 if back is None else int(back)))
        latents, old = prev, x0
    save_file({k: v.clone().contiguous() for k, v in tensors.items()}, str(OUT / "dpm.safetensors"))
    (OUT / "dpm.json").write_text(json.dumps(dict(config=CONFIG, steps=STEPS,
                                                  timesteps=[int(t) for t in timesteps],
                                                  cases=cases), indent=1) + "\n")
    print(cases)


if __name__ == "__main__":
    main()

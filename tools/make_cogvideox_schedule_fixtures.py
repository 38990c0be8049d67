#!/usr/bin/env python3
"""Writes tests/fixtures/cogvideox/schedule.json: diffusers' CogVideoXDDIMScheduler (the noise
schedule of CogVideoX: v-prediction, scaled-linear betas, SD3-style SNR shift, zero terminal SNR)
for two SNR shifts, so the C++ schedule is checked against the reference implementation:
alphas_cumprod (float64), the 50 "trailing" timesteps of set_timesteps, and add_noise on seeded
float32 samples at two timesteps.

Versions: torch 2.11.0 (vidprobe venv), diffusers 0.42.1.
Rerun (see tools/make_cogvideox_fixtures.py for the reference install):
  PYTHONPATH=/tmp/cogref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python tools/make_cogvideox_schedule_fixtures.py
"""
import json
import pathlib

import torch
from diffusers import CogVideoXDDIMScheduler

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/cogvideox/schedule.json"

CONFIGS = {
    "snr_shift_3": dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                        num_train_timesteps=1000, prediction_type="v_prediction",
                        rescale_betas_zero_snr=True, snr_shift_scale=3.0,
                        timestep_spacing="trailing", set_alpha_to_one=True, steps_offset=0),
    "snr_shift_1": dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                        num_train_timesteps=1000, prediction_type="v_prediction",
                        rescale_betas_zero_snr=True, snr_shift_scale=1.0,
                        timestep_spacing="trailing", set_alpha_to_one=True, steps_offset=0),
}


def main():
    generator = torch.Generator().manual_seed(31)
    x0 = torch.randn(2, 3, 4, generator=generator)
    noise = torch.randn(2, 3, 4, generator=generator)
    timesteps = torch.tensor([999, 500])
    out = {"x0": x0.tolist(), "noise": noise.tolist(), "timesteps": timesteps.tolist()}
    for name, config in CONFIGS.items():
        scheduler = CogVideoXDDIMScheduler(**config)
        scheduler.set_timesteps(50)
        out[name] = {
            "config": config,
            "alphas_cumprod": scheduler.alphas_cumprod.double().tolist(),
            "timesteps_50": scheduler.timesteps.tolist(),
            "noisy": scheduler.add_noise(x0, noise, timesteps).tolist(),
        }
    OUT.write_text(json.dumps(out) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes tests/fixtures/cogvideox/vae_*: reference encodings of diffusers' AutoencoderKLCogVideoX
(the CogVideoX 3D causal VAE) in a SMALL seeded random configuration, so the C++ encoder is checked
against code it shares nothing with.

Files (all fp32):
  vae_encoder.safetensors    the VAE's encoder.* tensors, diffusers key names
  vae_reference.safetensors
      clip17          (1, 3, 17, 16, 16) video in [-1, 1], (B, C, T, H, W)
      moments17       (1, 2 * latent, 5, 2, 2) encoder output of the whole clip: diffusers encodes
                      it in frame batches of 8 (9 + 8 frames here) carrying the causal-conv caches
      moments9        encoder output of the first 9 frames only (one batch)
      moments1        encoder output of the first frame only (an image)
      mean17          the posterior mean (the first `latent` channels of moments17)
  vae_config.json            the small configuration (diffusers config keys)

Versions: torch 2.11.0 (vidprobe venv), diffusers 0.42.1.
Rerun (CPU, a few seconds; see tools/make_cogvideox_fixtures.py for the reference install):
  PYTHONPATH=/tmp/cogref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python tools/make_cogvideox_vae_fixtures.py
"""
import json
import pathlib

import torch
from diffusers import AutoencoderKLCogVideoX
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/cogvideox"

VAE = dict(in_channels=3, out_channels=3, block_out_channels=(4, 8, 8, 8), latent_channels=4,
           layers_per_block=1, norm_num_groups=2, norm_eps=1e-6, temporal_compression_ratio=4)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(**VAE).eval()
    generator = torch.Generator().manual_seed(21)
    with torch.no_grad():  # default inits leave norms at 1 and biases at 0
        for _, p in sorted(vae.named_parameters()):
            p.add_(0.1 * torch.randn(p.shape, generator=generator))
    # The encoder only (the decoder is not needed for features and would double the size).
    save_file({k: v.contiguous() for k, v in vae.state_dict().items() if k.startswith("encoder.")},
              str(OUT / "vae_encoder.safetensors"))
    clip = torch.rand(1, 3, 17, 16, 16, generator=generator) * 2 - 1
    with torch.no_grad():
        moments = {n: vae._encode(clip[:, :, :n]) for n in (17, 9, 1)}
        mean = vae.encode(clip).latent_dist.mean
    assert torch.equal(mean, moments[17][:, :VAE["latent_channels"]])
    ref = {"clip17": clip, "mean17": mean}
    ref.update({f"moments{n}": m for n, m in moments.items()})
    save_file({k: v.contiguous() for k, v in ref.items()}, str(OUT / "vae_reference.safetensors"))
    config = {k: v for k, v in vae.config.items() if not k.startswith("_")}
    (OUT / "vae_config.json").write_text(json.dumps(config, indent=2) + "\n")
    for n, m in moments.items():
        print(n, tuple(m.shape))


if __name__ == "__main__":
    main()

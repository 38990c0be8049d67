#!/usr/bin/env python3
"""Writes tests/fixtures/cogvideox/decoder_*: reference decodings of diffusers'
AutoencoderKLCogVideoX.decode (CogVideoXDecoder3D, the VAE half `vidprobe check` needs) in SMALL
seeded random configurations, so the C++ decoder is checked against code it shares nothing with.

The VAEs are rebuilt exactly as the encoder fixtures build them (diffusers' own constructor,
torch.manual_seed(0), then every parameter perturbed by 0.1 x randn from a generator seeded 21),
and the script asserts that their encoder.* tensors equal the stored encoder fixtures, so the
decoder files complete those VAEs:
  decoder.safetensors          decoder.* of tools/make_cogvideox_vae_fixtures.py's VAE
                               (vae_config.json, 4 latent channels, no post_quant_conv)
  decoder_aether.safetensors   decoder.* of tools/make_aether_backbone_fixtures.py's VAE
                               (tests/fixtures/aether/backbone_vae_config.json, 16 latent channels)
  decoder_pqc.safetensors      decoder.* and post_quant_conv.* of the first VAE's configuration
  decoder_pqc_config.json      with use_post_quant_conv=True and 3 latent channels (seeded the
                               same way; no encoder file). diffusers builds post_quant_conv with
                               out_channels in and out, so it only runs when latent_channels
                               equals out_channels; no published CogVideoX VAE has one.

  decoder_reference.safetensors (fp32, (B, C, T, H, W), as vae.decode(z).sample returns it):
    z5, dec5      5 latent frames: diffusers decodes them in latent frame batches of 2, the first
                  taking the remainder (3 + 2), carrying every causal conv's cache; the odd batch
                  exercises CogVideoXSpatialNorm3D's and CogVideoXUpsample3D's first-frame case
    z4, dec4      4 latent frames (2 + 2, even batches only)
    z1, dec1      1 latent frame (an image)
    pqc_z5, pqc_dec5         5 latent frames (3 channels) through decoder_pqc
    aether_z3, aether_dec3   3 latent frames through the Aether fixture's decoder

Versions: torch 2.11.0 (vidprobe venv), diffusers 0.42.1.
Rerun (CPU, seconds; reference install: see tools/make_cogvideox_fixtures.py):
  PYTHONPATH=/tmp/cogref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python tools/make_cogvideox_decoder_fixtures.py
"""
import json
import pathlib

import torch
from diffusers import AutoencoderKLCogVideoX
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "tests/fixtures/cogvideox"
AETHER = ROOT / "tests/fixtures/aether"
KEEP = ("in_channels", "out_channels", "down_block_types", "up_block_types", "block_out_channels",
        "latent_channels", "layers_per_block", "norm_num_groups", "norm_eps",
        "temporal_compression_ratio", "scaling_factor", "use_post_quant_conv")


def build(config):
    """The fixture recipe: default init under seed 0, then a seeded perturbation of every tensor."""
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(**config).eval()
    generator = torch.Generator().manual_seed(21)
    with torch.no_grad():
        for _, p in sorted(vae.named_parameters()):
            p.add_(0.1 * torch.randn(p.shape, generator=generator))
    return vae


def rebuilt(config_file, encoder_file):
    config = json.loads(config_file.read_text())
    vae = build({k: v for k, v in config.items() if k in KEEP})
    for key, value in load_file(str(encoder_file)).items():
        assert torch.equal(vae.state_dict()[key], value), key
    return vae


def save_parts(vae, prefixes, name):
    save_file({k: v.contiguous() for k, v in vae.state_dict().items() if k.startswith(prefixes)},
              str(OUT / name))


def main():
    torch.set_num_threads(1)
    vae = rebuilt(OUT / "vae_config.json", OUT / "vae_encoder.safetensors")
    aether = rebuilt(AETHER / "backbone_vae_config.json", AETHER / "backbone_vae_encoder.safetensors")
    pqc_config = {k: v for k, v in vae.config.items() if k in KEEP}
    pqc_config.update(use_post_quant_conv=True, latent_channels=3)
    pqc = build(pqc_config)
    save_parts(vae, ("decoder.",), "decoder.safetensors")
    save_parts(aether, ("decoder.",), "decoder_aether.safetensors")
    save_parts(pqc, ("decoder.", "post_quant_conv."), "decoder_pqc.safetensors")
    full = {k: v for k, v in pqc.config.items() if not k.startswith("_")}
    (OUT / "decoder_pqc_config.json").write_text(json.dumps(full, indent=2) + "\n")

    generator = torch.Generator().manual_seed(31)
    z5 = torch.randn(1, 4, 5, 2, 3, generator=generator)
    z4 = torch.randn(1, 4, 4, 2, 3, generator=generator)
    aether_z3 = torch.randn(1, 16, 3, 2, 3, generator=generator)
    pqc_z5 = torch.randn(1, 3, 5, 2, 3, generator=generator)
    with torch.no_grad():
        ref = {"z5": z5, "dec5": vae.decode(z5).sample, "z4": z4, "dec4": vae.decode(z4).sample,
               "z1": z5[:, :, :1], "dec1": vae.decode(z5[:, :, :1]).sample,
               "pqc_z5": pqc_z5, "pqc_dec5": pqc.decode(pqc_z5).sample, "aether_z3": aether_z3,
               "aether_dec3": aether.decode(aether_z3).sample}
    save_file({k: v.contiguous() for k, v in ref.items()}, str(OUT / "decoder_reference.safetensors"))
    for key, value in ref.items():
        print(key, tuple(value.shape))


if __name__ == "__main__":
    main()

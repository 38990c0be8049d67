#!/usr/bin/env python3
"""Writes tests/fixtures/cogvideox/tiling_*: diffusers' own AutoencoderKLCogVideoX.tiled_encode and
tiled_decode (what `vae.enable_tiling()` switches on, as the Aether authors' extraction does) on the
SMALL seeded VAE of the encoder / decoder fixtures, so the C++ tiling is checked against code it
shares nothing with.

The VAE is rebuilt by tools/make_cogvideox_decoder_fixtures.py's recipe (diffusers' constructor,
seed 0, every tensor perturbed by 0.1 x randn from a generator seeded 21) and the script asserts
that its tensors equal the stored vae_encoder.safetensors and decoder.safetensors.

The fixture VAE's config says sample 480 x 720, so enable_tiling() alone would give 240 x 360
tiles, larger than any frame a CPU test (and a small fixture file) can afford. The test tiling is
therefore passed as values, enable_tiling(tile_sample_min_height=48, tile_sample_min_width=64,
tile_overlap_factor_height=1/3, tile_overlap_factor_width=1/4) (overlaps larger than the default
1/6 and 1/5 so that 6 x 8 latent tiles still blend over 2 rows / columns), on frames of 64 x 96:
encode tiles every 32 x 48 pixels (2 x 2 tiles), decode tiles of 6 x 8 latents every 4 x 6 with
pixel blends of 16 x 16. The defaults are recorded separately.

  tiling.json
    defaults   what enable_tiling() without arguments leaves on this VAE (sample // 2, 1/6, 1/5,
               and diffusers' latent tile sizes), for the C++ defaults
    test       the tiling the references use, in the same fields
  tiling_reference.safetensors (fp32, (B, C, T, H, W))
    clip17       (1, 3, 17, 64, 96) video in [-1, 1]
    moments17    vae.encode(clip17) with tiling: every tile in frame batches 9 + 8, its own
                 causal context; [mean | logvar] as _encode returns them
    moments1     vae.encode(clip17[:, :, :1]) with tiling (the first frame alone, as the I2V and
                 Aether image latents are encoded)
    z4, dec4     (1, 4, 4, 8, 12) latents and vae.decode(z4).sample with tiling (latent frame
                 batches 2 + 2 per tile)

Versions: torch 2.11.0 (vidprobe venv), diffusers 0.42.1.
Rerun (CPU, seconds; reference install: see tools/make_cogvideox_fixtures.py):
  PYTHONPATH=/tmp/cogref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python tools/make_cogvideox_tiling_fixtures.py
"""
import json

import torch
from safetensors.torch import load_file, save_file

from make_cogvideox_decoder_fixtures import OUT, rebuilt

FIELDS = ("tile_sample_min_height", "tile_sample_min_width", "tile_latent_min_height",
          "tile_latent_min_width", "tile_overlap_factor_height", "tile_overlap_factor_width")


def tiling_state(vae):
    return {field: getattr(vae, field) for field in FIELDS}


def main():
    torch.set_num_threads(1)
    vae = rebuilt(OUT / "vae_config.json", OUT / "vae_encoder.safetensors")
    for key, value in load_file(str(OUT / "decoder.safetensors")).items():
        assert torch.equal(vae.state_dict()[key], value), key
    vae.enable_tiling()
    defaults = tiling_state(vae)
    vae.enable_tiling(tile_sample_min_height=48, tile_sample_min_width=64,
                      tile_overlap_factor_height=1 / 3, tile_overlap_factor_width=1 / 4)
    test = tiling_state(vae)

    generator = torch.Generator().manual_seed(41)
    clip = torch.rand(1, 3, 17, 64, 96, generator=generator) * 2 - 1
    z4 = torch.randn(1, 4, 4, 8, 12, generator=generator)
    with torch.no_grad():
        # encode() dispatches to tiled_encode (the frame exceeds a tile); the posterior's
        # parameters are _encode's moments.
        moments17 = vae.encode(clip).latent_dist.parameters
        assert torch.equal(moments17, vae.tiled_encode(clip))
        moments1 = vae.encode(clip[:, :, :1]).latent_dist.parameters
        dec4 = vae.decode(z4).sample
        assert torch.equal(dec4, vae.tiled_decode(z4).sample)
        vae.disable_tiling()
        whole17 = vae.encode(clip).latent_dist.parameters
        whole_dec4 = vae.decode(z4).sample

    def rel(a, b):
        return ((a - b).abs().max() / b.abs().max()).item()

    print("untiled vs tiled: moments17", rel(whole17, moments17), "dec4", rel(whole_dec4, dec4))
    ref = {"clip17": clip, "moments17": moments17, "moments1": moments1, "z4": z4, "dec4": dec4}
    save_file({k: v.contiguous() for k, v in ref.items()}, str(OUT / "tiling_reference.safetensors"))
    (OUT / "tiling.json").write_text(json.dumps({"defaults": defaults, "test": test}, indent=2) + "\n")
    for key, value in ref.items():
        print(key, tuple(value.shape))


if __name__ == "__main__":
    main()

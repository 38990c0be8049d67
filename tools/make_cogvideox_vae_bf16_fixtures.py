#!/usr/bin/env python3
"""Writes tests/fixtures/cogvideox/vae_bf16_reference.safetensors: diffusers' own
AutoencoderKLCogVideoX with the VAE in bfloat16 on the CPU, as the Aether authors load it
(AutoencoderKLCogVideoX.from_pretrained(..., torch_dtype=torch.bfloat16): float32 weights cast to
bf16), so `--backbone-opt vae_dtype=bf16` is checked against code it shares nothing with.

The VAE is the small seeded one of the encoder / decoder fixtures, rebuilt by
tools/make_cogvideox_decoder_fixtures.py's recipe (which asserts its encoder tensors equal
vae_encoder.safetensors; the decoder tensors are checked here against decoder.safetensors), then
cast with .to(torch.bfloat16). The clip is tiling_reference.safetensors' clip17 (1, 3, 17, 64, 96)
float32 in [-1, 1]; like the pipelines' video processor output it is cast to the VAE's dtype
before encode. Every tensor below is bf16, as diffusers returns it, except moments17_fp16:

  moments17        vae.encode(clip17.to(bf16)).latent_dist.parameters, whole frames (frame
                   batches 9 + 8): [mean | logvar]
  scaled_mean17    scaling_factor * latent_dist.mean (the authors' feature path:
                   `self.vae_scaling_factor_image * latents`, in the VAE's dtype)
  moments1         the first frame alone (the I2V / Aether image latents' encode)
  eps1             torch.randn(mean's shape, generator=Generator().manual_seed(7), dtype=bf16),
                   the draw DiagonalGaussianDistribution.sample(generator) makes in bf16
  scaled_sample1   scaling_factor * latent_dist.sample(Generator().manual_seed(7)) of moments1
  tiled_moments17  vae.encode(clip17) with enable_tiling(48, 64, 1/3, 1/4) (tiling.json "test")
  dec4             vae.decode(z4.to(bf16)).sample, z4 of tiling_reference.safetensors (latent
                   frame batches 2 + 2)
  decode_latents4  the pipelines' decode_latents of z4 as the transformer's latents (B, F, C, H, W)
                   in bf16: permuted, `1 / vae_scaling_factor_image * latents` in bf16, decoded
                   (what `vidprobe check` decodes)
  moments17_fp16   moments17 with the VAE and clip in float16 instead (the CogVideoX authors'
                   CogVideoXFeaturizer loads the VAE with torch_dtype=torch.float16)

Versions: torch 2.11.0 (vidprobe venv), diffusers 0.42.1.
Rerun (CPU, seconds; diffusers from .whl/ on PYTHONPATH, see tools/make_cogvideox_fixtures.py):
  PYTHONPATH=/tmp/site /root/.cache/vidprobe/venv-torch-2.11.0/bin/python \
      tools/make_cogvideox_vae_bf16_fixtures.py
"""
import torch
from safetensors.torch import load_file, save_file

from make_cogvideox_decoder_fixtures import OUT, rebuilt

EPS_SEED = 7


def main():
    torch.set_num_threads(1)
    vae = rebuilt(OUT / "vae_config.json", OUT / "vae_encoder.safetensors")
    for key, value in load_file(str(OUT / "decoder.safetensors")).items():
        assert torch.equal(vae.state_dict()[key], value), key
    vae = vae.to(torch.bfloat16)
    scaling = vae.config.scaling_factor
    tiling = load_file(str(OUT / "tiling_reference.safetensors"))
    clip = tiling["clip17"].to(torch.bfloat16)
    ref = {}
    with torch.no_grad():
        posterior = vae.encode(clip).latent_dist
        ref["moments17"] = posterior.parameters
        ref["scaled_mean17"] = scaling * posterior.mean
        image = vae.encode(clip[:, :, :1]).latent_dist
        ref["moments1"] = image.parameters
        ref["eps1"] = torch.randn(image.mean.shape, generator=torch.Generator().manual_seed(EPS_SEED),
                                  dtype=torch.bfloat16)
        ref["scaled_sample1"] = scaling * image.sample(torch.Generator().manual_seed(EPS_SEED))
        ref["dec4"] = vae.decode(tiling["z4"].to(torch.bfloat16)).sample
        latents = tiling["z4"].permute(0, 2, 1, 3, 4).to(torch.bfloat16)  # (B, F, C, H, W)
        ref["decode_latents4"] = vae.decode(1 / scaling * latents.permute(0, 2, 1, 3, 4)).sample
        vae.enable_tiling(tile_sample_min_height=48, tile_sample_min_width=64,
                          tile_overlap_factor_height=1 / 3, tile_overlap_factor_width=1 / 4)
        ref["tiled_moments17"] = vae.encode(clip).latent_dist.parameters
        # What the bf16 VAE changes: the float32 VAE (its own weights, not the bf16 ones cast
        # back) on the float32 clip.
        fp32 = rebuilt(OUT / "vae_config.json", OUT / "vae_encoder.safetensors")
        whole = fp32.encode(tiling["clip17"]).latent_dist.parameters
        # The CogVideoX authors' fp16 VAE (CogVideoXFeaturizer: torch_dtype=torch.float16), the
        # same float32 weights cast to float16.
        fp16 = rebuilt(OUT / "vae_config.json", OUT / "vae_encoder.safetensors").to(torch.float16)
        ref["moments17_fp16"] = fp16.encode(tiling["clip17"].to(torch.float16)).latent_dist.parameters
    for key, value in ref.items():
        assert value.dtype == (torch.float16 if key.endswith("_fp16") else torch.bfloat16), key
    rel = ((ref["moments17"].float() - whole).abs().max() / whole.abs().max()).item()
    print("bf16 vs fp32 moments17: max relative error", rel)
    rel16 = ((ref["moments17_fp16"].float() - whole).abs().max() / whole.abs().max()).item()
    print("fp16 vs fp32 moments17: max relative error", rel16)
    save_file({k: v.contiguous() for k, v in ref.items()}, str(OUT / "vae_bf16_reference.safetensors"))
    for key, value in ref.items():
        print(key, tuple(value.shape))


if __name__ == "__main__":
    main()

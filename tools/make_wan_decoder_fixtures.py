#!/usr/bin/env python3
"""Writes tests/fixtures/wan/decoder.safetensors: reference outputs of the WAN2.1 VAE *decoder*
(diffusers AutoencoderKLWan.decode, diffusers 0.42.1, torch 2.11, CPU, fp32) for the small seeded
VAE that tools/make_wan_fixtures.py already wrote (tests/fixtures/wan/vae_diffusers.safetensors,
configuration in configs.json), so the C++ decoder is checked against code it shares nothing with.

The latents are de-normalised exactly as diffusers' WanPipeline does before vae.decode:
    z = latents / (1 / latents_std) + latents_mean
(per channel, the config's published statistics).

Tensors (all fp32 unless said):
  latents           (1, 16, 3, 4, 6)  normalised latents (reference.safetensors' `latents`, the
                                      encoding of its 9-frame clip)
  video_raw         (1, 3, 9, 32, 48) WanPipeline's de-normalisation, then the decode before its
                                      clamp to [-1, 1]: diffusers' own _decode loop
                                      (post_quant_conv, then the decoder latent frame by latent
                                      frame with its feature cache) without torch.clamp, so the
                                      parity is not hidden by saturation; checked here to equal
                                      vae.decode(z).sample once clamped
  random_latents    (1, 16, 2, 4, 6)  torch.randn(generator=manual_seed(21)), normalised space
  random_video      (1, 3, 5, 32, 48) their decode (clamped)
  single_latents    (1, 16, 1, 4, 6)  latents[:, :, :1]: the first latent frame decodes to 1 frame
  single_video      (1, 3, 1, 32, 48)
  real_decoder_params  int64 (1,)     parameters of decoder + post_quant_conv of the REAL-size
                                      WAN2.1 VAE (AutoencoderKLWan() on the meta device)

Also tests/fixtures/wan/vae_decoder_original.safetensors: the same decoder + post_quant_conv
tensors under the original WanVAE key names (Wan2.1_VAE.pth: decoder.upsamples.N flat,
decoder.middle.N, decoder.head.N, conv2), mapped here and checked by diffusers' own
convert_wan_vae_to_diffusers giving back exactly the diffusers state_dict.

Rerun: /work/.venv-fixtures/bin/python tools/make_wan_decoder_fixtures.py   (CPU, seconds)
  (or the torch 2.11 venv with diffusers 0.42.1 installed --no-deps into a --target directory on
  PYTHONPATH, as tools/make_cogvideox_fixtures.py describes)
"""
import json
import pathlib

import torch
from diffusers import AutoencoderKLWan
from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers
from safetensors.torch import load_file, save_file

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/wan"


def denormalize(vae, latents):
    mean = torch.tensor(vae.config.latents_mean).view(1, vae.config.z_dim, 1, 1, 1)
    inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, vae.config.z_dim, 1, 1, 1)
    return latents / inv_std + mean  # as WanPipeline.__call__ before vae.decode


def decode_unclamped(vae, z):
    """AutoencoderKLWan._decode without its final clamp, calling diffusers' own modules."""
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    frames = []
    for i in range(x.shape[2]):
        vae._conv_idx = [0]
        frames.append(vae.decoder(x[:, :, i:i + 1], feat_cache=vae._feat_map,
                                  feat_idx=vae._conv_idx, first_chunk=i == 0))
    vae.clear_cache()
    return torch.cat(frames, 2)


RESNET_TO_ORIGINAL = {"norm1.": "residual.0.", "conv1.": "residual.2.", "norm2.": "residual.3.",
                      "conv2.": "residual.6.", "conv_shortcut.": "shortcut."}


def resnet_to_original(rest):
    for ours, theirs in RESNET_TO_ORIGINAL.items():
        if rest.startswith(ours):
            return theirs + rest[len(ours):]
    return rest


def decoder_key_to_original(key, num_res_blocks):
    """diffusers AutoencoderKLWan decoder key -> the original WanVAE (Wan2.1_VAE.pth) key: the up
    blocks' resnets and upsamplers flattened into decoder.upsamples.N (num_res_blocks + 1 resnets,
    then the upsampler, per block). Checked below by diffusers' own convert_wan_vae_to_diffusers."""
    renames = {"post_quant_conv.": "conv2.", "decoder.conv_in.": "decoder.conv1.",
               "decoder.norm_out.": "decoder.head.0.", "decoder.conv_out.": "decoder.head.2."}
    for ours, theirs in renames.items():
        if key.startswith(ours):
            return theirs + key[len(ours):]
    parts = key.split(".")
    if key.startswith("decoder.mid_block."):
        index = {"resnets.0": "0", "attentions.0": "1", "resnets.1": "2"}[".".join(parts[2:4])]
        rest = ".".join(parts[4:])
        return f"decoder.middle.{index}." + (rest if index == "1" else resnet_to_original(rest))
    if key.startswith("decoder.up_blocks."):
        block, per_block = int(parts[2]), num_res_blocks + 2
        if parts[3] == "upsamplers":
            return f"decoder.upsamples.{block * per_block + num_res_blocks + 1}." + ".".join(parts[5:])
        flat = block * per_block + int(parts[4])
        return f"decoder.upsamples.{flat}." + resnet_to_original(".".join(parts[5:]))
    raise KeyError(key)


def write_original_layout(vae_state, num_res_blocks):
    """vae_decoder_original.safetensors: the decoder + post_quant_conv under the original names."""
    decoder = {k: v for k, v in vae_state.items() if k.startswith(("decoder.", "post_quant_conv."))}
    original = {decoder_key_to_original(k, num_res_blocks): v for k, v in decoder.items()}
    back = convert_wan_vae_to_diffusers(dict(original))
    assert set(back) == set(decoder), sorted(set(back) ^ set(decoder))
    assert all(torch.equal(back[k], decoder[k]) for k in decoder)
    save_file({k: v.contiguous() for k, v in original.items()},
              str(FIXTURES / "vae_decoder_original.safetensors"))
    print(f"wrote {FIXTURES / 'vae_decoder_original.safetensors'} ({len(original)} tensors)")


def main():
    torch.set_num_threads(1)
    configs = json.loads((FIXTURES / "configs.json").read_text())
    vae = AutoencoderKLWan(**configs["vae"], latents_mean=configs["latents_mean"],
                           latents_std=configs["latents_std"]).eval()
    vae_state = load_file(FIXTURES / "vae_diffusers.safetensors")
    missing, unexpected = vae.load_state_dict(vae_state, strict=True)
    assert not missing and not unexpected
    write_original_layout(vae_state, configs["vae"]["num_res_blocks"])
    latents = load_file(FIXTURES / "reference.safetensors")["latents"]
    random_latents = torch.randn(1, 16, 2, 4, 6, generator=torch.Generator().manual_seed(21))
    out = {"latents": latents, "random_latents": random_latents,
           "single_latents": latents[:, :, :1].contiguous()}
    with torch.no_grad():
        clamped = vae.decode(denormalize(vae, latents)).sample
        out["video_raw"] = decode_unclamped(vae, denormalize(vae, latents))
        out["random_video"] = vae.decode(denormalize(vae, random_latents)).sample
        out["single_video"] = vae.decode(denormalize(vae, out["single_latents"])).sample
    assert torch.equal(clamped, out["video_raw"].clamp(-1, 1))
    with torch.device("meta"):
        real = AutoencoderKLWan()
        count = sum(p.numel() for p in real.decoder.parameters()) + sum(
            p.numel() for p in real.post_quant_conv.parameters())
    out["real_decoder_params"] = torch.tensor([count], dtype=torch.int64)
    for name in ("video_raw", "random_video"):
        v = out[name]
        print(f"{name}: {tuple(v.shape)} range [{v.min():.3f}, {v.max():.3f}], "
              f"{(v.abs() >= 1).float().mean():.1%} at the clamp")
    save_file({k: v.contiguous() for k, v in out.items()}, str(FIXTURES / "decoder.safetensors"))
    print(f"wrote {FIXTURES / 'decoder.safetensors'}")


if __name__ == "__main__":
    main()

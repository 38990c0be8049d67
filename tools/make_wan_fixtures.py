#!/usr/bin/env python3
"""Writes tests/fixtures/wan/: reference outputs of the WAN2.1 text-to-video stack computed by the
reference implementations (diffusers' WanTransformer3DModel and AutoencoderKLWan, transformers'
UMT5EncoderModel) in SMALL seeded random configurations, so the C++ port is checked against code
it shares nothing with.

Files (all fp32):
  dit_diffusers.safetensors  transformer weights, diffusers layout (blocks.0.attn1.to_q.weight, ...)
  dit_original.safetensors   the same weights under the original Wan-Video key names
                             (blocks.0.self_attn.q.weight, head.head.weight, ...); the renaming is
                             checked here against diffusers' own converter
  vae_diffusers.safetensors  full VAE (encoder, decoder, quant convs), diffusers layout
  vae_original.safetensors   encoder + quant conv under the original WanVAE key names (checked against
                             diffusers' converter)
  umt5.safetensors           UMT5EncoderModel weights (transformers layout)
  reference.safetensors      inputs and outputs:
      clip            (9, 3, 32, 48) video in [0, 1]
      latent_mean     (1, 16, 3, 4, 6) VAE posterior mean (un-normalised)
      latents         (1, 16, 3, 4, 6) (mean - latents_mean) / latents_std
      latents_first5  (1, 16, 2, 4, 6) normalised latents of the clip's first 5 frames
      token_ids       (20,) int64 umT5 input ids (the last is EOS = 1)
      umt5_hidden     (20, 32) umT5 last_hidden_state of those ids (computed padded to 24 with a mask)
      context         (1, 512, 32) umt5_hidden padded with zeros to 512 tokens as the pipeline does
      noise           (1, 16, 3, 4, 6) torch.randn with torch.Generator().manual_seed(1234)
      t{T}_noisy      x_t = (1 - T / 1000) * latents + T / 1000 * noise, for T in 250, 700
      t{T}_block{i}   hidden states after block i, (1, tokens, dim)
      t{T}_output     the transformer's prediction (1, 16, 3, 4, 6)
  configs.json               the small configurations, for the C++ side
  param_counts.json          parameter counts of the REAL-size models built on the meta device

Rerun: python3 tools/make_wan_fixtures.py   (CPU, a few seconds)
"""
import json
import pathlib

import torch
from diffusers import AutoencoderKLWan, WanTransformer3DModel
from diffusers.loaders.single_file_utils import (
    convert_wan_transformer_to_diffusers,
    convert_wan_vae_to_diffusers,
)
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/wan"

DIT = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=20, in_channels=16,
           out_channels=16, text_dim=32, freq_dim=32, ffn_dim=64, num_layers=3, cross_attn_norm=True,
           qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
VAE = dict(base_dim=4, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
           temperal_downsample=[False, True, True], dropout=0.0)
UMT5 = dict(vocab_size=64, d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2,
            relative_attention_num_buckets=32, relative_attention_max_distance=16,
            feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, dropout_rate=0.0,
            is_encoder_decoder=False, use_cache=False)
TIMESTEPS = (250, 700)
NOISE_SEED = 1234


def perturb(model, seed, scale):
    """Default inits leave norms at 1 and biases at 0, which would hide weight/bias mix-ups."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(scale * torch.randn(p.shape, generator=generator))


def contiguous(state):
    return {k: v.detach().contiguous().clone() for k, v in state.items()}


# ---- transformer key names: diffusers -> original Wan-Video layout ----------------------------
def dit_key_to_original(key):
    if key == "scale_shift_table":
        return "head.modulation"
    if key.startswith("proj_out."):
        return key.replace("proj_out.", "head.head.")
    for old, new in [
        ("condition_embedder.time_embedder.linear_1.", "time_embedding.0."),
        ("condition_embedder.time_embedder.linear_2.", "time_embedding.2."),
        ("condition_embedder.text_embedder.linear_1.", "text_embedding.0."),
        ("condition_embedder.text_embedder.linear_2.", "text_embedding.2."),
        ("condition_embedder.time_proj.", "time_projection.1."),
    ]:
        if key.startswith(old):
            return key.replace(old, new)
    if key.startswith("blocks."):
        parts = key.split(".")
        rest = ".".join(parts[2:])
        renames = [("attn1.", "self_attn."), ("attn2.", "cross_attn."), ("to_out.0.", "o."),
                   ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."),
                   ("ffn.net.0.proj.", "ffn.0."), ("ffn.net.2.", "ffn.2.")]
        for old, new in renames:
            rest = rest.replace(old, new)
        if rest == "scale_shift_table":
            rest = "modulation"
        # diffusers' norm2 (cross-attention norm) is the original norm3 and vice versa
        if rest.startswith("norm2."):
            rest = "norm3." + rest[len("norm2."):]
        elif rest.startswith("norm3."):
            rest = "norm2." + rest[len("norm3."):]
        return f"blocks.{parts[1]}.{rest}"
    return key


# ---- VAE encoder key names: diffusers -> original WanVAE layout --------------------------------
def vae_key_to_original(key):
    resnet = {"norm1.gamma": "residual.0.gamma", "conv1.weight": "residual.2.weight",
              "conv1.bias": "residual.2.bias", "norm2.gamma": "residual.3.gamma",
              "conv2.weight": "residual.6.weight", "conv2.bias": "residual.6.bias",
              "conv_shortcut.weight": "shortcut.weight", "conv_shortcut.bias": "shortcut.bias"}
    if key.startswith("quant_conv."):
        return key.replace("quant_conv.", "conv1.")
    if key.startswith("encoder.conv_in."):
        return key.replace("encoder.conv_in.", "encoder.conv1.")
    if key.startswith("encoder.norm_out."):
        return key.replace("encoder.norm_out.", "encoder.head.0.")
    if key.startswith("encoder.conv_out."):
        return key.replace("encoder.conv_out.", "encoder.head.2.")
    if key.startswith("encoder.down_blocks."):
        parts = key.split(".")
        rest = ".".join(parts[3:])
        return f"encoder.downsamples.{parts[2]}." + resnet.get(rest, rest)
    if key.startswith("encoder.mid_block.resnets."):
        parts = key.split(".")
        index = {"0": "0", "1": "2"}[parts[3]]
        return f"encoder.middle.{index}." + resnet[".".join(parts[4:])]
    if key.startswith("encoder.mid_block.attentions.0."):
        return key.replace("encoder.mid_block.attentions.0.", "encoder.middle.1.")
    raise KeyError(key)


def param_counts():
    """Parameter counts of the real configurations, built without allocating memory."""
    from transformers import UMT5Config, UMT5EncoderModel

    counts = {}
    real_dit = {
        "wan2.1-t2v-1.3b": dict(num_attention_heads=12, attention_head_dim=128, ffn_dim=8960,
                                num_layers=30),
        "wan2.1-t2v-14b": dict(num_attention_heads=40, attention_head_dim=128, ffn_dim=13824,
                               num_layers=40),
    }
    with torch.device("meta"):
        for name, cfg in real_dit.items():
            model = WanTransformer3DModel(patch_size=(1, 2, 2), in_channels=16, out_channels=16,
                                          text_dim=4096, freq_dim=256, cross_attn_norm=True,
                                          qk_norm="rms_norm_across_heads", eps=1e-6, **cfg)
            counts[name + "/transformer"] = sum(p.numel() for p in model.parameters())
        vae = AutoencoderKLWan()
        counts["vae/encoder+quant_conv"] = sum(p.numel() for p in vae.encoder.parameters()) + sum(
            p.numel() for p in vae.quant_conv.parameters())
        counts["vae/all"] = sum(p.numel() for p in vae.parameters())
        t5 = UMT5EncoderModel(UMT5Config(vocab_size=256384, d_model=4096, d_kv=64, num_heads=64,
                                         d_ff=10240, num_layers=24, feed_forward_proj="gated-gelu",
                                         relative_attention_num_buckets=32,
                                         relative_attention_max_distance=128,
                                         is_encoder_decoder=False, use_cache=False))
        counts["umt5-xxl/encoder"] = sum(p.numel() for p in t5.parameters())
    return counts


def main():
    from transformers import UMT5Config, UMT5EncoderModel

    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    ref = {}

    # ---- VAE --------------------------------------------------------------------------------
    vae = AutoencoderKLWan(**VAE).eval()
    perturb(vae, seed=11, scale=0.05)
    vae_state = contiguous(vae.state_dict())
    save_file(vae_state, str(OUT / "vae_diffusers.safetensors"))
    enc_state = {k: v for k, v in vae_state.items() if k.startswith(("encoder.", "quant_conv."))}
    original_vae = {vae_key_to_original(k): v for k, v in enc_state.items()}
    back = convert_wan_vae_to_diffusers(dict(original_vae))
    assert set(back) == set(enc_state), sorted(set(back) ^ set(enc_state))
    save_file(original_vae, str(OUT / "vae_original.safetensors"))

    generator = torch.Generator().manual_seed(5)
    clip = torch.rand(9, 3, 32, 48, generator=generator)
    mean = torch.tensor(vae.config.latents_mean).view(1, 16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, 16, 1, 1, 1)
    with torch.no_grad():
        video = (clip * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0)  # (1, 3, T, H, W) in [-1, 1]
        latent_mean = vae.encode(video).latent_dist.mean
        first5 = vae.encode(video[:, :, :5]).latent_dist.mean
    latents = (latent_mean - mean) / std
    ref.update(clip=clip, latent_mean=latent_mean, latents=latents,
               latents_first5=(first5 - mean) / std)

    # ---- umT5 -------------------------------------------------------------------------------
    t5 = UMT5EncoderModel(UMT5Config(**UMT5)).eval()
    perturb(t5, seed=12, scale=0.05)
    save_file(contiguous(t5.state_dict()), str(OUT / "umt5.safetensors"))
    ids = torch.randint(2, UMT5["vocab_size"], (20,), generator=generator)
    ids[-1] = 1  # EOS, as the tokenizer appends
    padded = torch.zeros(1, 24, dtype=torch.long)
    padded[0, :20] = ids
    mask = (torch.arange(24) < 20).long().unsqueeze(0)
    with torch.no_grad():
        hidden = t5(input_ids=padded, attention_mask=mask).last_hidden_state[0, :20]
    context = torch.zeros(1, 512, UMT5["d_model"])
    context[0, :20] = hidden
    ref.update(token_ids=ids, umt5_hidden=hidden, context=context)

    # ---- transformer --------------------------------------------------------------------------
    dit = WanTransformer3DModel(**DIT).eval()
    perturb(dit, seed=13, scale=0.1)
    dit_state = contiguous(dit.state_dict())
    save_file(dit_state, str(OUT / "dit_diffusers.safetensors"))
    original = {dit_key_to_original(k): v for k, v in dit_state.items()}
    back = convert_wan_transformer_to_diffusers(dict(original))
    assert set(back) == set(dit_state), sorted(set(back) ^ set(dit_state))
    for k in dit_state:
        assert torch.equal(back[k], dit_state[k]), k
    save_file(original, str(OUT / "dit_original.safetensors"))

    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(NOISE_SEED))
    ref["noise"] = noise
    captured = {}
    hooks = [block.register_forward_hook(
        lambda _m, _i, out, i=i: captured.__setitem__(i, out.detach().clone()))
        for i, block in enumerate(dit.blocks)]
    for t in TIMESTEPS:
        sigma = t / 1000.0
        noisy = (1.0 - sigma) * latents + sigma * noise
        with torch.no_grad():
            out = dit(noisy, torch.tensor([float(t)]), context, return_dict=False)[0]
        ref[f"t{t}_noisy"] = noisy
        ref[f"t{t}_output"] = out
        for i, h in captured.items():
            ref[f"t{t}_block{i}"] = h
    for h in hooks:
        h.remove()

    save_file(contiguous(ref), str(OUT / "reference.safetensors"))
    configs = {"dit": {**DIT, "patch_size": list(DIT["patch_size"])}, "vae": VAE, "umt5": UMT5,
               "timesteps": list(TIMESTEPS), "noise_seed": NOISE_SEED,
               "latents_mean": vae.config.latents_mean, "latents_std": vae.config.latents_std}
    (OUT / "configs.json").write_text(json.dumps(configs, indent=2) + "\n")
    (OUT / "param_counts.json").write_text(json.dumps(param_counts(), indent=2) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

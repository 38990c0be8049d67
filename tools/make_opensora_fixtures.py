#!/usr/bin/env python3
"""Writes tests/fixtures/opensora/: reference hidden states of Open-Sora 2.0's MMDiT
(opensora/models/mmdit, hpcaitech/Open-Sora v2.0) in a SMALL seeded random configuration, so the
C++ port is checked against the official code it shares nothing with.

The official modules need CUDA-only kernels; the script puts stand-ins for exactly those in front
of them and changes none of Open-Sora's own code:
  flash_attn.flash_attn_func(q, k, v)   -> torch SDPA over (B, L, H, D) (softmax(q k^T / sqrt(D)) v,
                                           the kernel's definition)
  liger_kernel LigerRopeFunction.apply   -> transformers' Llama apply_rotary_pos_emb (q cos +
                                           rotate_half(q) sin), the function Liger's rope kernel is
                                           tested against
  FusedRMSNorm.forward (Liger rms_norm)  -> Open-Sora's own RMSNorm.forward (same "llama" casting)
  colossalai / mmengine / tensornvme     -> empty modules (registry and checkpoint plumbing only)
torch.compile of timestep_embedding is disabled (TORCHDYNAMO_DISABLE=1): eager, same math.

Configuration: the 256px / 768px inference config (fused_qkv=False, use_liger_rope=True,
qkv_bias=True, cond_embed=True, guidance_embed=False) with small widths.

Files (weights fp16-exact and stored as fp16, everything else fp32):
  mmdit.safetensors      the model's state_dict (official key names)
  reference.safetensors  inputs as the sampler packs them and per-block outputs:
      latents (B, C, T, H, W), cond (B, C + 1, T, H, W) [mask channel, masked latents],
      txt (B, L, context_in_dim), y_vec (B, vec_in_dim), timesteps (B,),
      img (packed latents), img_ids, rope_cos, rope_sin (LigerEmbedND output),
      double{i}_img, double{i}_txt, single{i} (B, L + N, hidden), output (B, N, 4 * C)
  config.json            the small configuration (official MMDiTConfig field names)
  param_counts.json      parameter count of the REAL-size model (configs/diffusion/inference/256px.py),
                         built on the meta device, and its state_dict key count

Versions used: torch 2.11.0 (vidprobe venv), einops 0.8.2, transformers 4.49.0.
Rerun (CPU, seconds):
  /root/.cache/vidprobe/venv-torch-2.11.0/bin/python -m pip install --target /tmp/osref/site \\
      einops transformers==4.49.0 diffusers==0.32.2
  PYTHONPATH=/tmp/osref/site /root/.cache/vidprobe/venv-torch-2.11.0/bin/python \\
      tools/make_opensora_fixtures.py /path/to/Open-Sora
"""
import json
import os
import pathlib
import sys

os.environ["TORCHDYNAMO_DISABLE"] = "1"

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import opensora_reference as ref  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/opensora"

SMALL = dict(in_channels=16, vec_in_dim=12, context_in_dim=20, hidden_size=32, mlp_ratio=2.0,
             num_heads=2, depth=2, depth_single_blocks=3, axes_dim=[4, 6, 6], theta=10_000,
             qkv_bias=True, guidance_embed=False, cond_embed=True, fused_qkv=False,
             use_liger_rope=True, patch_size=2)
REAL = dict(in_channels=64, vec_in_dim=768, context_in_dim=4096, hidden_size=3072, mlp_ratio=4.0,
            num_heads=24, depth=19, depth_single_blocks=38, axes_dim=[16, 56, 56], theta=10_000,
            qkv_bias=True, guidance_embed=False, cond_embed=True, fused_qkv=False,
            use_liger_rope=True, patch_size=2)


def perturb(model, seed):
    """Default inits zero cond_in and leave norm scales at 1; noise everywhere hides nothing.
    The weights are then rounded to fp16 values, so the checkpoints are stored in fp16 (half the
    size) and the reference runs with exactly the stored values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=generator))
            p.copy_(p.half().float())


VAE_SMALL = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
                 norm_num_groups=4, block_out_channels=(4, 8, 8, 8), sample_size=32,
                 sample_tsize=64, tile_overlap_factor=0.5, scale_factor=0.476986, shift_factor=0.0,
                 time_compression_ratio=4, spatial_compression_ratio=8)


def vae_fixtures():
    """The Hunyuan causal VAE's encoder (opensora/models/hunyuan_vae) in a small configuration:
    moments of a 9-frame clip small enough for one tile, of a larger one through the official
    spatial tiling (overlapping tiles, linear blends), and of its first frame alone."""
    from opensora.models.hunyuan_vae.autoencoder_kl_causal_3d import (AutoEncoder3DConfig,
                                                                      AutoencoderKLCausal3D)
    torch.manual_seed(3)
    config = AutoEncoder3DConfig(from_pretrained=None, use_spatial_tiling=True, **VAE_SMALL)
    vae = AutoencoderKLCausal3D(config).eval()
    perturb(vae, 4)
    g = torch.Generator().manual_seed(5)
    # fp16-exact values, stored as fp16
    small = (torch.rand(1, 3, 9, 24, 32, generator=g) * 2 - 1).half().float()
    large = (torch.rand(1, 3, 5, 48, 64, generator=g) * 2 - 1).half().float()
    out = dict(small_video=small, large_video=large)
    with torch.no_grad():
        for name, video in (("small", small), ("large", large), ("first", large[:, :, :1])):
            z, posterior = vae.encode(video, sample_posterior=False, return_posterior=True)
            out[name + "_moments"] = posterior.parameters
            out[name + "_latents"] = z
    out = {k: v.half() if k.endswith("_video") else v.float() for k, v in out.items()}
    save_file({k: v.contiguous() for k, v in out.items()}, OUT / "vae_reference.safetensors")
    # The published file also holds the decoder (dropped on loading); the fixture keeps the encoder.
    state = {k: v.contiguous().half() for k, v in vae.state_dict().items()
             if k.startswith(("encoder.", "quant_conv."))}
    save_file(state, OUT / "hunyuan_vae.safetensors")
    (OUT / "vae_config.json").write_text(json.dumps(VAE_SMALL, indent=2) + "\n")
    with torch.device("meta"):
        real = AutoencoderKLCausal3D(AutoEncoder3DConfig(from_pretrained=None))
    encoder = {k: v for k, v in real.state_dict().items() if k.startswith(("encoder.", "quant_conv."))}
    return dict(encoder_parameters=sum(v.numel() for v in encoder.values()),
                encoder_keys=len(encoder), all_keys=len(real.state_dict()))


def schedule_fixture():
    """The extraction's timestep: get_res_lin_function and time_shift of opensora/utils/sampling.py
    as VidFM3D's opensora_features.py combines them, in float32 and in bf16 (the authors' dtype)."""
    import math
    from opensora.utils.sampling import get_res_lin_function, time_shift
    cases = []
    for frames, height, width, t in ((33, 60, 106, 0.25), (21, 60, 106, 0.25), (3, 4, 6, 0.6),
                                     (1, 32, 32, 0.9)):
        alpha = get_res_lin_function()((width * height) // 4) * math.sqrt(frames)
        case = dict(latent_grid=[frames, height, width], t=t, alpha=alpha)
        for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
            case["shifted_" + name] = time_shift(alpha, torch.tensor([t], dtype=dtype)).float().item()
        cases.append(case)
    (OUT / "schedule.json").write_text(json.dumps(cases, indent=2) + "\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_opensora_fixtures.py OPEN_SORA_CHECKOUT")
    ref.install(sys.argv[1])
    from opensora.models.mmdit.model import MMDiTConfig, MMDiTModel
    from opensora.utils.sampling import pack

    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    cfg = MMDiTConfig(from_pretrained=None, cache_dir=None, **SMALL)
    model = MMDiTModel(cfg).eval()
    perturb(model, 1)

    B, C, T, H, W, L = 2, 4, 3, 4, 6, 5
    g = torch.Generator().manual_seed(2)
    latents = torch.randn(B, C, T, H, W, generator=g)
    cond = torch.cat([torch.zeros(B, 1, T, H, W), torch.zeros(B, C, T, H, W)], 1)
    cond[:, 0, 0] = 1.0  # the first latent frame is given (i2v head), as VidFM3D's extractor
    cond[:, 1:, 0] = torch.randn(B, C, H, W, generator=g)
    txt = torch.randn(B, L, SMALL["context_in_dim"], generator=g)
    y_vec = torch.randn(B, SMALL["vec_in_dim"], generator=g)
    timesteps = torch.tensor([0.764, 0.3])

    p = SMALL["patch_size"]
    img = pack(latents, patch_size=p)
    cond_packed = pack(cond, patch_size=p)
    img_ids = torch.zeros(T, H // p, W // p, 3)
    img_ids[..., 0] += torch.arange(T)[:, None, None]
    img_ids[..., 1] += torch.arange(H // p)[None, :, None]
    img_ids[..., 2] += torch.arange(W // p)[None, None, :]
    img_ids = img_ids.reshape(1, -1, 3).repeat(B, 1, 1)
    txt_ids = torch.zeros(B, L, 3)

    captured = {}

    def keep(name):
        def hook(_module, _inputs, output):
            if isinstance(output, tuple):
                captured[name + "_img"], captured[name + "_txt"] = output
            else:
                captured[name] = output
        return hook

    for i, block in enumerate(model.double_blocks):
        block.register_forward_hook(keep(f"double{i}"))
    for i, block in enumerate(model.single_blocks):
        block.register_forward_hook(keep(f"single{i}"))

    with torch.no_grad():
        cos, sin = model.pe_embedder(torch.cat((txt_ids, img_ids), 1))
        output = model(img=img, img_ids=img_ids, txt=txt, txt_ids=txt_ids, timesteps=timesteps,
                       y_vec=y_vec, cond=cond_packed)

    tensors = dict(latents=latents, cond=cond, txt=txt, y_vec=y_vec, timesteps=timesteps,
                   img=img, img_ids=img_ids, rope_cos=cos, rope_sin=sin, output=output)
    tensors.update(captured)
    save_file({k: v.contiguous().float() for k, v in tensors.items()},
              OUT / "reference.safetensors")
    save_file({k: v.contiguous().half() for k, v in model.state_dict().items()},
              OUT / "mmdit.safetensors")
    (OUT / "config.json").write_text(json.dumps(SMALL, indent=2) + "\n")

    with torch.device("meta"):
        real = MMDiTModel(MMDiTConfig(from_pretrained=None, cache_dir=None, **REAL))
    counts = {"opensora-v2": dict(parameters=sum(p.numel() for p in real.parameters()),
                                  state_dict_keys=len(real.state_dict()))}
    counts["hunyuan-vae"] = vae_fixtures()
    schedule_fixture()
    (OUT / "param_counts.json").write_text(json.dumps(counts, indent=2) + "\n")
    print(json.dumps(counts), {k: tuple(v.shape) for k, v in tensors.items()})


if __name__ == "__main__":
    main()

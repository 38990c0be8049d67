#!/usr/bin/env python3
"""Writes tests/fixtures/fast3r/: reference outputs of Fast3R's encoder and decoder
(facebookresearch/fast3r, fast3r/models/fast3r.py: CroCoEncoder, Fast3RDecoder) in a SMALL seeded
random configuration, so the C++ port is checked against the official code it shares nothing with.

The official modules are imported from a checkout and run unchanged. Stand-ins, for plumbing only:
  fast3r.dust3r.datasets.base.base_stereo_view_dataset.view_name -> a no-op (imported by
      fast3r.py for a debug print; the dataset package needs torchvision, cv2, ...)
  fast3r.utils.pylogger.RankedLogger -> a plain logging.Logger (fast3r.utils pulls in hydra,
      lightning)
cuRoPE2D (a CUDA extension) is not built, so pos_embed.py falls back to its own PyTorch RoPE2D,
the same function. attn_implementation is "pytorch_naive" (softmax(q k^T * scale) v, what the
released config's "flash_attention" SDPA kernel computes; its bf16 autocast is a CUDA-only
context and does nothing on the CPU).

Configuration (the published config.json's field names and choices: PatchEmbedDust3R, RoPE100,
decoder_type fast3r), small widths:
  encoder: patch 8, width 32, 2 heads, 2 blocks;  decoder: width 48, 2 heads, 2 blocks.

Files (weights fp16-exact and stored as fp16, everything else fp32):
  model.safetensors      encoder.* and decoder.* of the model's state_dict (official key names,
                         as Fast3R.state_dict() has them; the published file also holds the DPT
                         heads downstream_head.* / downstream_head_local.*, far too large here)
  config.json            {"encoder_args", "decoder_args", "head_args"} as the hub config.json
  reference.safetensors  per case <case>.input (S, 3, H, W) uint8 (the model sees x / 255,
                         normalised (x - 0.5) / 0.5 as dust3r's ImgNorm), <case>.image_ids (S,) int64,
                         <case>.map<i> (1, S * h * w, C) the decoder's returned list
                         [encoder output, block 0, ..., dec_norm(last block)],
                         <case>.enc_block<i> (S, h * w, 32) each encoder block's output;
                         image_idx_emb (R, 48) rows image_idx_rows (0, 9, ..., 999) of the
                         decoder's non-persistent index table (1000, 48)
  cases.json             per case: frames, size, attn_bias_for_inference_enabled,
                         random_image_idx_embedding, and the seed of the randperm generator
  image_ids.json         the official _get_random_image_pos draws for longer clips (seed, S, ids)
  param_counts.json      the REAL size (jedyang97/Fast3R_ViT_Large_512's config) built on the meta
                         device: encoder + decoder parameters and keys, head keys

Cases: "random" 3 frames 32 x 48, random image indices (the released setting), attention scale
with the inference bias; "sequential" the same weights and input with
random_image_idx_embedding = False and attn_bias_for_inference_enabled = False (what the published
config.json sets); "portrait" 2 frames 48 x 32 (PatchEmbedDust3R keeps them upright).

Versions used: torch 2.11.0, numpy 2.4.6, omegaconf 2.4.0, einops 0.8.2, huggingface_hub 2.4.0,
facebookresearch/fast3r at 33104d4.
Rerun (CPU, seconds; a Python with torch, numpy, safetensors, einops, huggingface_hub):
  python -m pip install omegaconf==2.4.0
  git clone https://github.com/facebookresearch/fast3r /tmp/fast3r
  python tools/make_fast3r_fixtures.py /tmp/fast3r
"""
import copy
import json
import logging
import pathlib
import sys
import types

import torch
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/fast3r"

SMALL_ENCODER = dict(encoder_type="croco", img_size=512, patch_size=8,
                     patch_embed_cls="PatchEmbedDust3R", embed_dim=32, num_heads=2, depth=2,
                     mlp_ratio=4, pos_embed="RoPE100", attn_implementation="pytorch_naive")
SMALL_DECODER = dict(decoder_type="fast3r", random_image_idx_embedding=True, enc_embed_dim=32,
                     embed_dim=48, num_heads=2, depth=2, mlp_ratio=4.0, qkv_bias=True, drop=0.0,
                     attn_drop=0.0, attn_implementation="pytorch_naive",
                     attn_bias_for_inference_enabled=True)
# The published config.json (the fields convert_checkpoint_to_hf_checkpoint saves; values as the
# hub file has them, copied verbatim into public third-party code).
REAL_ENCODER = dict(encoder_type="croco", img_size=512, patch_size=16,
                    patch_embed_cls="PatchEmbedDust3R", embed_dim=1024, num_heads=16, depth=24,
                    mlp_ratio=4, pos_embed="RoPE100", attn_implementation="flash_attention")
REAL_DECODER = dict(decoder_type="fast3r", random_image_idx_embedding=True, enc_embed_dim=1024,
                    embed_dim=1024, num_heads=16, depth=24, mlp_ratio=4.0, qkv_bias=True,
                    drop=0.0, attn_drop=0.0, attn_implementation="flash_attention",
                    attn_bias_for_inference_enabled=False)
REAL_HEAD = dict(head_type="dpt", output_mode="pts3d", landscape_only=False,
                 depth_mode=["exp", float("-inf"), float("inf")],
                 conf_mode=["exp", 1, float("inf")], patch_size=16, with_local_head=True)


def stub(name, **attrs):
    module = types.ModuleType(name)
    module.__path__ = []
    module.__dict__.update(attrs)
    sys.modules[name] = module


class PlainLogger:
    def __init__(self, *args, **kwargs):
        self.logger = logging.getLogger("fast3r")

    def __getattr__(self, name):
        return getattr(self.logger, name)


def import_official(checkout):
    sys.path.insert(0, str(checkout))
    stub("fast3r.dust3r.datasets")
    stub("fast3r.dust3r.datasets.base")
    stub("fast3r.dust3r.datasets.base.base_stereo_view_dataset", view_name=lambda *a, **k: "")
    stub("fast3r.utils")
    stub("fast3r.utils.pylogger", RankedLogger=PlainLogger)
    import fast3r.models.fast3r as official
    return official


def randomise(module, seed):
    """Every parameter moved away from its init (LayerNorms included), then rounded to fp16
    values so the checkpoint is stored in fp16 and the reference runs on exactly those values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * noise)
            elif name.endswith("bias"):
                p.copy_(0.1 * noise)
            else:
                p.copy_(0.15 * noise)
            p.copy_(p.half().float())


def encoder_args(d):
    d = copy.deepcopy(d)
    d.pop("encoder_type")
    return d


def decoder_args(d):
    d = copy.deepcopy(d)
    d.pop("decoder_type")
    return d


def run_case(encoder, decoder, images, case, out):
    """Fast3R.forward's path to the decoder for one clip of S frames (batch 1), as
    _encode_images (all views in one encoder batch) and forward build it."""
    views = images.shape[0]
    normalised = (images - 0.5) / 0.5
    true_shape = torch.tensor(images.shape[-2:])[None].repeat(views, 1)
    block_outputs = []
    hooks = [blk.register_forward_hook(lambda m, i, o: block_outputs.append(o.detach().clone()))
             for blk in encoder.enc_blocks]
    with torch.no_grad():
        feats, pos = encoder(normalised, true_shape)
    for h in hooks:
        h.remove()
    encoded = list(torch.split(feats, 1, dim=0))
    positions = list(torch.split(pos, 1, dim=0))
    tokens = encoded[0].shape[1]
    image_ids = torch.tensor([i for i in range(views) for _ in range(tokens)])[None]

    seed = None
    if decoder.random_image_idx_embedding:
        # The official per-forward seed: torch.randint(0, 2**32) of the global generator (rank 0).
        torch.manual_seed(case["global_seed"])
        seed = torch.randint(0, 2**32, (1,)).item()
        torch.manual_seed(case["global_seed"])
    drawn = []
    original = decoder._get_random_image_pos

    def recording(*args, **kwargs):
        image_pos = original(*args, **kwargs)
        drawn.append(image_pos)
        return image_pos

    decoder._get_random_image_pos = recording
    with torch.no_grad():
        maps = decoder(encoded, positions, image_ids)
    decoder._get_random_image_pos = original
    if drawn:
        per_view = drawn[0][0].view(views, tokens, -1)[:, 0]
        ids = [int(torch.nonzero((decoder.image_idx_emb == row).all(-1))[0]) for row in per_view]
    else:
        ids = list(range(views))
    name = case["name"]
    out[f"{name}.input"] = (images * 255).round().to(torch.uint8)
    out[f"{name}.image_ids"] = torch.tensor(ids, dtype=torch.int64)
    for i, m in enumerate(maps):
        out[f"{name}.map{i}"] = m
    for i, b in enumerate(block_outputs):
        out[f"{name}.enc_block{i}"] = b
    return dict(name=name, frames=views, height=images.shape[2], width=images.shape[3],
                random_image_idx_embedding=decoder.random_image_idx_embedding,
                attn_bias_for_inference_enabled=decoder.dec_blocks[0].attn.attn_bias_for_inference_enabled,
                image_index_seed=seed, image_ids=ids, maps=len(maps))


def set_attn_bias(decoder, enabled):
    for blk in decoder.dec_blocks:
        blk.attn.attn_bias_for_inference_enabled = enabled


def long_clip_ids(official, seeds_and_views):
    """The decoder's own draw (_get_random_image_pos) for longer clips, read back from the
    embedding rows it returns."""
    decoder = official.Fast3RDecoder(**decoder_args(SMALL_DECODER)).eval()
    result = []
    for seed, views in seeds_and_views:
        torch.manual_seed(seed)
        per_forward = torch.randint(0, 2**32, (1,)).item()
        torch.manual_seed(seed)
        feats = [torch.zeros(1, 1, 48) for _ in range(views)]
        with torch.no_grad():
            pos = decoder._get_random_image_pos(feats, 1, views, 999, torch.device("cpu"))[0]
        ids = [int(torch.nonzero((decoder.image_idx_emb == row).all(-1))[0]) for row in pos]
        result.append(dict(image_index_seed=per_forward, frames=views, image_ids=ids))
    return result


def real_counts(official):
    with torch.device("meta"):
        model = official.Fast3R(copy.deepcopy(REAL_ENCODER), copy.deepcopy(REAL_DECODER),
                                copy.deepcopy(REAL_HEAD))
    state = model.state_dict()
    backbone = {k: v for k, v in state.items() if k.startswith(("encoder.", "decoder."))}
    heads = [k for k in state if not k.startswith(("encoder.", "decoder."))]
    prefixes = sorted({k.split(".")[0] for k in heads})
    return {"fast3r-vitl16-512": dict(
        backbone_parameters=sum(v.numel() for v in backbone.values()),
        backbone_keys=len(backbone), head_keys=len(heads), head_prefixes=prefixes,
        all_parameters=sum(v.numel() for v in state.values()), all_keys=len(state),
        shapes={k: list(backbone[k].shape) for k in (
            "encoder.patch_embed.proj.weight", "encoder.enc_blocks.23.attn.qkv.weight",
            "encoder.enc_norm.weight", "decoder.decoder_embed.weight",
            "decoder.dec_blocks.23.mlp.fc1.weight", "decoder.dec_norm.bias")})}


def main():
    checkout = pathlib.Path(sys.argv[1]).resolve()
    official = import_official(checkout)
    OUT.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(0)
    encoder = official.CroCoEncoder(**encoder_args(SMALL_ENCODER)).eval()
    decoder = official.Fast3RDecoder(**decoder_args(SMALL_DECODER)).eval()
    randomise(encoder, 1)
    randomise(decoder, 2)

    g = torch.Generator().manual_seed(3)
    landscape = torch.randint(0, 256, (3, 3, 32, 48), generator=g).float() / 255
    portrait = torch.randint(0, 256, (2, 3, 48, 32), generator=g).float() / 255

    out = {}
    cases = []
    cases.append(run_case(encoder, decoder, landscape, dict(name="random", global_seed=11), out))
    decoder.random_image_idx_embedding = False
    set_attn_bias(decoder, False)
    cases.append(run_case(encoder, decoder, landscape, dict(name="sequential"), out))
    decoder.random_image_idx_embedding = True
    set_attn_bias(decoder, True)
    cases.append(run_case(encoder, decoder, portrait, dict(name="portrait", global_seed=12), out))
    out["image_idx_rows"] = torch.cat([torch.arange(0, 1000, 9), torch.tensor([999])])
    out["image_idx_emb"] = decoder.image_idx_emb[out["image_idx_rows"]]

    state = {"encoder." + k: v for k, v in encoder.state_dict().items()}
    state.update({"decoder." + k: v for k, v in decoder.state_dict().items()})
    save_file({k: v.contiguous().half() for k, v in state.items()}, OUT / "model.safetensors")
    save_file({k: (v if v.dtype in (torch.int64, torch.uint8) else v.float()).contiguous()
               for k, v in out.items()}, OUT / "reference.safetensors")

    head = dict(REAL_HEAD, depth_mode=["exp", "-Infinity", "Infinity"],
                conf_mode=["exp", 1, "Infinity"])
    config = dict(encoder_args=SMALL_ENCODER, decoder_args=SMALL_DECODER, head_args=head)
    (OUT / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    (OUT / "cases.json").write_text(json.dumps(cases, indent=2) + "\n")
    ids = long_clip_ids(official, [(5, 81), (6, 2), (7, 1000)])
    (OUT / "image_ids.json").write_text(json.dumps(ids) + "\n")
    (OUT / "param_counts.json").write_text(json.dumps(real_counts(official), indent=2) + "\n")
    print("wrote", sorted(p.name for p in OUT.iterdir()))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the VGGT parity fixtures under tests/fixtures/backbones/vggt/ with the reference
implementation (facebookresearch/vggt), so the C++ VGGT is checked against independent code.

Usage: python3 tools/make_vggt_fixtures.py PATH_TO_VGGT_CHECKOUT
PATH_TO_VGGT_CHECKOUT is a checkout (or `git archive` export) of github.com/facebookresearch/vggt:
the directory that holds the `vggt/` package. It is put on sys.path; none of its code is copied
here. Needs torch, safetensors and einops (imported by the reference's track head).

Written files:
  * small.safetensors: a small random VGGT (every parameter randomised, not left at its init
    value) with the key names of the released checkpoint (aggregator.*, camera_head.*,
    depth_head.*, point_head.*). The reference `VGGT` class hard-codes the 1B sizes, so the small
    model is assembled from the reference's own modules (Aggregator, DinoVisionTransformer as the
    patch embed, CameraHead, DPTHead) under the same attribute names;
  * small_io.safetensors: the input `images` (B, S, 3, H, W) in [0, 1] (stored as uint8 / 255),
    the aggregator output of every block (`tokens.<i>`, (B, S, P, 2 D), frame and global outputs
    concatenated), and the heads' float32 outputs `pose_enc` (last iteration), `pose_enc.<k>` (every
    iteration), `depth`, `depth_conf`, `world_points`, `world_points_conf`;
  * meta.json: the small configuration, and for the real VGGT-1B the reference parameter counts
    (per top-level module, track head included and excluded) and the full key -> shape layout.
"""
import argparse
import json
import pathlib
import sys
from functools import partial

import torch
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/backbones/vggt"

SMALL = {
    "image_size": 56,  # position embedding trained on a 4 x 4 grid
    "patch_size": 14,
    "width": 32,
    "depth": 4,
    "heads": 2,
    "mlp_ratio": 4.0,
    "register_tokens": 4,
    "rope_frequency": 100,
    "layer_scale_init": 0.01,
    "patch_embed": {"width": 32, "depth": 2, "heads": 2, "mlp_ratio": 4.0},
    "dpt_layers": [0, 1, 3, 3],
    "dpt_features": 16,
    "dpt_out_channels": [8, 16, 24, 24],
    "camera_trunk_depth": 2,
    "camera_heads": 4,
    "camera_iterations": 4,
    "input": {"batch": 1, "frames": 3, "height": 42, "width": 70},  # 3 x 5 grid: non-square, resampled
}


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Moves every parameter away from its initial value so each checkpoint key matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if name.endswith("gamma"):
                p.copy_(0.5 + 0.25 * noise)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * noise)
            elif name.endswith("bias"):
                p.copy_(0.05 * noise)
            elif "token" in name or "pos_embed" in name:
                p.copy_(0.5 * noise)
            else:
                p.add_(0.02 * noise)


def build_small(vggt_modules):
    Aggregator, DinoVisionTransformer, Block, MemEffAttention, CameraHead, DPTHead = vggt_modules
    c = SMALL
    pe = c["patch_embed"]

    class SmallVGGT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.aggregator = Aggregator(
                img_size=c["image_size"], patch_size=c["patch_size"], embed_dim=c["width"],
                depth=c["depth"], num_heads=c["heads"], mlp_ratio=c["mlp_ratio"],
                num_register_tokens=c["register_tokens"], patch_embed="conv",
                rope_freq=c["rope_frequency"], init_values=c["layer_scale_init"])
            # The same construction as the aggregator's dinov2_vit*14_reg patch embed, at a tiny size.
            self.aggregator.patch_embed = DinoVisionTransformer(
                img_size=c["image_size"], patch_size=c["patch_size"], embed_dim=pe["width"],
                depth=pe["depth"], num_heads=pe["heads"], mlp_ratio=pe["mlp_ratio"],
                block_fn=partial(Block, attn_class=MemEffAttention),
                num_register_tokens=c["register_tokens"], interpolate_antialias=True,
                interpolate_offset=0.0, block_chunks=0, init_values=1.0)
            dim_in = 2 * c["width"]
            self.camera_head = CameraHead(dim_in=dim_in, trunk_depth=c["camera_trunk_depth"],
                                          num_heads=c["camera_heads"])
            dpt = dict(dim_in=dim_in, patch_size=c["patch_size"], features=c["dpt_features"],
                       out_channels=c["dpt_out_channels"], intermediate_layer_idx=c["dpt_layers"])
            self.point_head = DPTHead(output_dim=4, activation="inv_log", conf_activation="expp1", **dpt)
            self.depth_head = DPTHead(output_dim=2, activation="exp", conf_activation="expp1", **dpt)

        def forward(self, images):  # as the reference VGGT.forward, without the track head
            tokens, patch_start = self.aggregator(images)
            out = {}
            pose_list = self.camera_head(tokens, num_iterations=c["camera_iterations"])
            out["pose_enc"] = pose_list[-1]
            for k, pose in enumerate(pose_list):
                out[f"pose_enc.{k}"] = pose
            out["depth"], out["depth_conf"] = self.depth_head(tokens, images=images, patch_start_idx=patch_start)
            out["world_points"], out["world_points_conf"] = self.point_head(
                tokens, images=images, patch_start_idx=patch_start)
            for i, t in enumerate(tokens):
                out[f"tokens.{i}"] = t
            return out

    return SmallVGGT()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("vggt_checkout", help="directory holding the reference `vggt/` package")
    args = parser.parse_args()
    sys.path.insert(0, str(pathlib.Path(args.vggt_checkout).resolve()))
    from vggt.heads.camera_head import CameraHead
    from vggt.heads.dpt_head import DPTHead
    from vggt.layers import MemEffAttention, NestedTensorBlock
    from vggt.layers.vision_transformer import DinoVisionTransformer
    from vggt.models.aggregator import Aggregator
    from vggt.models.vggt import VGGT

    ROOT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = build_small((Aggregator, DinoVisionTransformer, NestedTensorBlock, MemEffAttention,
                         CameraHead, DPTHead))
    randomise(model, seed=1)
    model.eval()
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(ROOT / "small.safetensors"))

    shape = SMALL["input"]
    g = torch.Generator().manual_seed(2)
    pixels = torch.randint(0, 256, (shape["batch"], shape["frames"], 3, shape["height"], shape["width"]),
                           generator=g, dtype=torch.uint8)
    with torch.no_grad():
        out = model(pixels.float() / 255.0)
    io = {"images_u8": pixels}
    io.update({k: v.float().clone().contiguous() for k, v in out.items()})
    save_file(io, str(ROOT / "small_io.safetensors"))

    # Real size: the released VGGT-1B (built on the CPU; the reference calls .item() in __init__,
    # which rules out the meta device).
    real = VGGT()
    sd = real.state_dict()
    per_module = {}
    for k, v in sd.items():
        per_module[k.split(".")[0]] = per_module.get(k.split(".")[0], 0) + v.numel()
    meta = {
        "small": SMALL,
        "small_parameters": sum(v.numel() for v in weights.values()),
        "vggt_1b": {
            "parameters_total": sum(p.numel() for p in real.parameters()),
            "parameters_without_track_head": sum(
                p.numel() for n, p in real.named_parameters() if not n.startswith("track_head.")),
            "parameters_per_module": per_module,
            "layout": {k: list(v.shape) for k, v in sd.items() if not k.startswith("track_head.")},
            "track_head_keys": sum(1 for k in sd if k.startswith("track_head.")),
        },
        "versions": {"torch": torch.__version__},
    }
    (ROOT / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    print("wrote", ROOT)


if __name__ == "__main__":
    main()

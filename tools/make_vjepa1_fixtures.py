#!/usr/bin/env python3
"""Writes the V-JEPA (v1) parity fixtures under tests/fixtures/backbones/vjepa1/ with the official
code (github facebookresearch/jepa, src/models/vision_transformer.py), so the C++ backbone is
checked against independent code.

  * tiny.pth.tar: a small random VisionTransformer (every parameter randomised, the stored 3D
    sin-cos position table included) saved with torch.save in the layout of the published
    pre-training checkpoints (app/vjepa/train.py save_checkpoint): a dict with `encoder`,
    `predictor`, `target_encoder`, `opt`, `scaler`, `epoch`, `loss`, `batch_size`, `world_size`,
    `lr`; encoder keys under `module.backbone.` (DistributedDataParallel around MultiMaskWrapper);
  * inputs.safetensors: uint8 clips (T, 3, H, W); the model sees value / 255, ImageNet-normalised;
  * tiny_reference.safetensors: `<input>.hidden_states.<i>` (1, N, C): i = 0 the embedded tokens
    (patch embedding + interpolated position table), i = k + 1 the output of block k (the last one
    without the final norm, as VidFM3D's features/vjepa reads it);
  * real_sizes.json: parameter count and a few shapes of each registered size, from the official
    constructors (vit_large / vit_huge with the published configs) built on the meta device.

Rerun: python3 tools/make_vjepa1_fixtures.py /path/to/facebookresearch/jepa
"""
import json
import pathlib
import sys

import torch
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/backbones/vjepa1"
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1, 1)

# configs/pretrain/vit{l,h}16*.yaml: model_name, crop_size, num_frames (tubelet 2, patch 16).
REAL_SIZES = {
    "vjepa1-vitl16": ("vit_large", 224),
    "vjepa1-vith16": ("vit_huge", 224),
    "vjepa1-vith16-384": ("vit_huge", 384),
}


def randomise(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * noise)
            elif name.endswith("bias"):
                p.copy_(0.05 * noise)
            elif name == "pos_embed":
                p.add_(0.5 * noise)  # large enough that interpolation errors show
            else:
                p.add_(0.02 * noise)


def checkpoint(model: torch.nn.Module) -> dict:
    """A pre-training checkpoint as app/vjepa/train.py writes it, at a tiny size."""
    encoder = {"module.backbone." + k: v.clone() for k, v in model.state_dict().items()}
    predictor = torch.nn.Linear(4, 4)
    opt = torch.optim.AdamW(predictor.parameters(), lr=1e-3, betas=(0.9, 0.999))
    predictor(torch.ones(1, 4)).sum().backward()
    opt.step()
    return {
        "encoder": encoder,
        "predictor": {"module." + k: v for k, v in predictor.state_dict().items()},
        "opt": opt.state_dict(),
        "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                   "growth_interval": 2000, "_growth_tracker": 7},
        # The published files hold the whole EMA target encoder; one of its tensors stands for it.
        "target_encoder": {"module.backbone.norm.weight": model.norm.weight.detach().clone() + 1},
        "epoch": 3,
        "loss": 0.4375,
        "batch_size": 24,
        "world_size": 8,
        "lr": 0.000625,
    }


def hidden_states(model, x: torch.Tensor, prefix: str) -> dict:
    states = {}
    hooks = []
    for k, block in enumerate(model.blocks):
        hooks.append(block.register_forward_pre_hook(
            lambda m, args, k=k: states.setdefault(0, args[0].clone()) if k == 0 else None))
        hooks.append(block.register_forward_hook(
            lambda m, args, out, k=k: states.__setitem__(k + 1, out.clone())))
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    # The official forward ends with the final norm: the last hidden state is the block's output.
    assert torch.equal(out, model.norm(states[len(model.blocks)]))
    return {f"{prefix}.hidden_states.{i}": states[i].contiguous() for i in sorted(states)}


def main() -> None:
    repo = pathlib.Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(repo))
    import src.models.vision_transformer as vit

    OUT.mkdir(parents=True, exist_ok=True)
    # The forward of the official VisionTransformer applies the final norm; VidFM3D's copy
    # (features/vjepa/vjepa.py) returns the last block without it. The reference hidden states
    # are read with hooks, so the official forward is used unchanged.
    torch.manual_seed(0)
    model = vit.VisionTransformer(img_size=24, patch_size=8, num_frames=4, tubelet_size=2,
                                  embed_dim=32, depth=3, num_heads=2, mlp_ratio=2.0, qkv_bias=True,
                                  norm_layer=lambda d: torch.nn.LayerNorm(d, eps=1e-6)).eval()
    randomise(model, 31)
    torch.save(checkpoint(model), str(OUT / "tiny.pth.tar"))
    # 4 frames at the native 24 x 24 (no interpolation), 6 frames (temporal x 1.5) and 4 frames
    # at 16 x 40 (rows x 2/3, columns x 5/3).
    g = torch.Generator().manual_seed(1234)
    shapes = {"clip": (4, 3, 24, 24), "long": (6, 3, 24, 24), "small": (4, 3, 16, 40)}
    frames = {k: torch.randint(0, 256, s, generator=g, dtype=torch.uint8) for k, s in shapes.items()}
    save_file(frames, str(OUT / "inputs.safetensors"))
    reference = {}
    for name, f in frames.items():
        x = (f.float() / 255).permute(1, 0, 2, 3).unsqueeze(0)  # (1, 3, T, H, W)
        reference.update(hidden_states(model, (x - IMAGENET_MEAN) / IMAGENET_STD, name))
    save_file(reference, str(OUT / "tiny_reference.safetensors"))

    real = {}
    keys = ["pos_embed", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "blocks.0.mlp.fc1.weight"]
    for name, (builder, crop) in REAL_SIZES.items():
        with torch.device("meta"):
            m = getattr(vit, builder)(img_size=crop, num_frames=16, tubelet_size=2)
        state = m.state_dict()
        real[name] = {"parameters": int(sum(p.numel() for p in m.parameters())),
                      "keys": len(state),
                      "shapes": {k: list(state[k].shape) for k in keys}}
    (OUT / "real_sizes.json").write_text(json.dumps(real, indent=1) + "\n")
    commit = (repo / ".commit").read_text().strip() if (repo / ".commit").exists() else "unknown"
    (OUT / "versions.json").write_text(json.dumps({"torch": torch.__version__, "jepa": commit}, indent=1) + "\n")


if __name__ == "__main__":
    main()

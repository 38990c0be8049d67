#!/usr/bin/env python3
"""Writes the backbone parity fixtures under tests/fixtures/backbones/<family>/ with the reference
implementations (PyPI `transformers`), so the C++ backbones are checked against independent code.

For each family:
  * a few SMALL random configurations (every parameter randomised, not left at its init value, so
    each checkpoint key matters), saved with `save_pretrained` — i.e. with the key names of the
    published hub checkpoints — as <case>.safetensors;
  * inputs.safetensors: the input clips as uint8 (T, 3, H, W); the models see value / 255;
  * <case>_reference.safetensors: the reference hidden state of every block for each input
    (`<input>.hidden_states.<i>`, i = 0 embeddings, i = k + 1 block k, exactly transformers'
    `hidden_states`), computed in float32;
  * real_sizes.json: for each registered real-size name, the reference parameter count and the
    shapes of a few keys, from the transformers model built on the meta device (nothing allocated).

Rerun: python3 tools/make_backbone_fixtures.py [--family dinov2|videomae|vjepa2|videomaev2|all]
      [--videomaev2-repo CHECKOUT]
Versions used are recorded in each family's versions.json.
"""
import argparse
import json
import pathlib
import sys
import tempfile

import torch
import transformers
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/backbones"
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Moves every parameter away from its initial value (LayerNorm weights around 1, biases and
    LayerScale non-trivial, position embeddings large enough that interpolation errors show)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if name.endswith("lambda1") or name.endswith("lambda2"):
                p.copy_(0.5 + 0.25 * noise)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * noise)
            elif name.endswith("bias"):
                p.copy_(0.05 * noise)
            elif "position_embeddings" in name or "token" in name:
                p.copy_(0.5 * noise)
            else:
                p.add_(0.02 * noise)


def hub_state_dict(model) -> dict:
    """The state dict as `save_pretrained` writes it (transformers renames its internal module
    names back to the hub checkpoints' key names on save)."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        return {k: v.contiguous() for k, v in load_file(str(pathlib.Path(tmp) / "model.safetensors")).items()}


def reference_hidden_states(model, pixel_values, prefix: str) -> dict:
    with torch.no_grad():
        out = model(pixel_values, output_hidden_states=True)
    return {f"{prefix}.hidden_states.{i}": h.contiguous() for i, h in enumerate(out.hidden_states)}


def meta_reference(model_class, config, keys) -> dict:
    with torch.device("meta"):
        model = model_class(config)
    state = model.state_dict()
    return {
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "shapes": {k: list(state[k].shape) for k in keys},
    }


def write_inputs(out: pathlib.Path, shapes: dict) -> dict:
    """Random 8-bit clips (as decoded video frames are), saved as uint8 in inputs.safetensors; the
    models see value / 255 in float32, which the C++ side reproduces bit for bit."""
    g = torch.Generator().manual_seed(1234)
    frames = {name: torch.randint(0, 256, shape, generator=g, dtype=torch.uint8) for name, shape in shapes.items()}
    save_file(frames, str(out / "inputs.safetensors"))
    return {name: f.float() / 255 for name, f in frames.items()}


def write_versions(out: pathlib.Path) -> None:
    (out / "versions.json").write_text(
        json.dumps({"torch": torch.__version__, "transformers": transformers.__version__}, indent=1) + "\n")


# ----------------------------------------------------------------------------------------------
# DINOv2 (Dinov2Model, Dinov2WithRegistersModel)

DINOV2_SIZES = {  # hub configs of facebook/dinov2-{small,base,large,giant}
    "vits14": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6),
    "vitb14": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12),
    "vitl14": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16),
    "vitg14": dict(hidden_size=1536, num_hidden_layers=40, num_attention_heads=24, use_swiglu_ffn=True),
}


def dinov2_original_layout(hub: dict, layers: int, swiglu: bool) -> dict:
    """facebookresearch/dinov2 torch.hub key names, converted independently of the C++ mapping."""
    out = {
        "cls_token": hub["embeddings.cls_token"],
        "pos_embed": hub["embeddings.position_embeddings"],
        "mask_token": hub["embeddings.mask_token"],
        "patch_embed.proj.weight": hub["embeddings.patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": hub["embeddings.patch_embeddings.projection.bias"],
        "norm.weight": hub["layernorm.weight"],
        "norm.bias": hub["layernorm.bias"],
    }
    if "embeddings.register_tokens" in hub:
        out["register_tokens"] = hub["embeddings.register_tokens"]
    for i in range(layers):
        h, o = f"encoder.layer.{i}.", f"blocks.{i}."
        for part in ("weight", "bias"):
            out[o + f"attn.qkv.{part}"] = torch.cat(
                [hub[h + f"attention.attention.{n}.{part}"] for n in ("query", "key", "value")], 0)
            out[o + f"attn.proj.{part}"] = hub[h + f"attention.output.dense.{part}"]
            out[o + f"norm1.{part}"] = hub[h + f"norm1.{part}"]
            out[o + f"norm2.{part}"] = hub[h + f"norm2.{part}"]
            if swiglu:
                out[o + f"mlp.w12.{part}"] = hub[h + f"mlp.weights_in.{part}"]
                out[o + f"mlp.w3.{part}"] = hub[h + f"mlp.weights_out.{part}"]
            else:
                out[o + f"mlp.fc1.{part}"] = hub[h + f"mlp.fc1.{part}"]
                out[o + f"mlp.fc2.{part}"] = hub[h + f"mlp.fc2.{part}"]
        out[o + "ls1.gamma"] = hub[h + "layer_scale1.lambda1"]
        out[o + "ls2.gamma"] = hub[h + "layer_scale2.lambda1"]
    return {k: v.contiguous() for k, v in out.items()}


def make_dinov2(out: pathlib.Path) -> None:
    from transformers import (Dinov2Config, Dinov2Model, Dinov2WithRegistersConfig,
                              Dinov2WithRegistersModel)
    out.mkdir(parents=True, exist_ok=True)
    # 4 frames at the native 42 x 42 (3 x 3 grid), 2 frames at 28 x 56 (2 x 4 grid, non-square:
    # the position embedding is interpolated down on one axis and up on the other) and 1 frame at
    # 70 x 28 (5 x 2 grid).
    inputs = write_inputs(out, {"clip": (4, 3, 42, 42), "wide": (2, 3, 28, 56), "tall": (1, 3, 70, 28)})
    cases = {
        "tiny": (Dinov2Model, Dinov2Config(hidden_size=24, num_hidden_layers=3, num_attention_heads=2,
                                           image_size=42, patch_size=14, mlp_ratio=2)),
        "tiny_reg_swiglu": (Dinov2WithRegistersModel, Dinov2WithRegistersConfig(
            hidden_size=24, num_hidden_layers=2, num_attention_heads=3, image_size=42, patch_size=14,
            num_register_tokens=2, use_swiglu_ffn=True)),
    }
    for seed, (case, (model_class, config)) in enumerate(cases.items()):
        model = model_class(config).eval()
        randomise(model, seed + 1)
        hub = hub_state_dict(model)
        save_file(hub, str(out / f"{case}.safetensors"))
        reference = {}
        for name, x in inputs.items():
            reference.update(reference_hidden_states(model, (x - IMAGENET_MEAN) / IMAGENET_STD, name))
        save_file(reference, str(out / f"{case}_reference.safetensors"))
        if case == "tiny":
            save_file(dinov2_original_layout(hub, config.num_hidden_layers, False),
                      str(out / f"{case}_original_layout.safetensors"))
    real = {}
    for size, dims in DINOV2_SIZES.items():
        for registers in (False, True):
            common = dict(image_size=518, patch_size=14, mlp_ratio=4, **dims)
            keys = ["embeddings.position_embeddings", "embeddings.patch_embeddings.projection.weight",
                    "encoder.layer.0.attention.attention.query.weight",
                    "encoder.layer.0.mlp.weights_in.weight" if dims.get("use_swiglu_ffn")
                    else "encoder.layer.0.mlp.fc1.weight"]
            if registers:
                model_class, config = Dinov2WithRegistersModel, Dinov2WithRegistersConfig(
                    num_register_tokens=4, **common)
                keys.append("embeddings.register_tokens")
            else:
                model_class, config = Dinov2Model, Dinov2Config(**common)
            # Shapes of the meta model's internal names equal the hub names' except the fused/split
            # SwiGLU and attention projections; ask the hub-named state dict of a tiny twin instead.
            ref = meta_reference(model_class, config, [])
            ref["shapes"] = hub_shapes_at_size(model_class, config, keys)
            real[f"dinov2-{size}{'-reg' if registers else ''}"] = ref
    (out / "real_sizes.json").write_text(json.dumps(real, indent=1) + "\n")
    write_versions(out)


def hub_shapes_at_size(model_class, config, keys) -> dict:
    """Hub-named shapes of a real-size model without allocating it: the meta model's state dict
    converted with transformers' own reverse (save-time) key mapping."""
    with torch.device("meta"):
        model = model_class(config)
    from transformers.core_model_loading import revert_weight_conversion
    state = revert_weight_conversion(model, model.state_dict())
    return {k: list(state[k].shape) for k in keys}


# ----------------------------------------------------------------------------------------------
# Video families: the same weights are run by one reference model per input size (VideoMAE's
# sinusoid table and V-JEPA 2's rotary grid are fixed by the config, not by the weights).

def video_references(model_class, config, inputs: dict, seed: int, out: pathlib.Path, case: str,
                     size_fields) -> None:
    base = model_class(config).eval()
    randomise(base, seed)
    hub = hub_state_dict(base)
    save_file(hub, str(out / f"{case}.safetensors"))
    reference = {}
    for name, x in inputs.items():
        frames, _, height, width = x.shape
        sized = config.__class__(**{**config.to_dict(), **size_fields(frames, height, width)})
        model = model_class(sized).eval()
        model.load_state_dict(base.state_dict())
        video = ((x - IMAGENET_MEAN) / IMAGENET_STD).unsqueeze(0)  # (1, T, 3, H, W)
        reference.update(reference_hidden_states(model, video, name))
    save_file(reference, str(out / f"{case}_reference.safetensors"))


VIDEOMAE_SIZES = {  # MCG-NJU/videomae-{base,large,huge}
    "videomae-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "videomae-large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
    "videomae-huge": dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, intermediate_size=5120),
}


def make_videomae(out: pathlib.Path) -> None:
    from transformers import VideoMAEConfig, VideoMAEModel
    out.mkdir(parents=True, exist_ok=True)
    # 4 frames at the native 24 x 24 (2 x 3 x 3 tokens), 6 frames (3 temporal tokens), 16 x 16.
    inputs = write_inputs(out, {"clip": (4, 3, 24, 24), "long": (6, 3, 24, 24), "small": (4, 3, 16, 16)})
    config = VideoMAEConfig(hidden_size=24, num_hidden_layers=3, num_attention_heads=2, intermediate_size=48,
                            image_size=24, patch_size=8, num_frames=4, tubelet_size=2, use_mean_pooling=False)
    video_references(VideoMAEModel, config, inputs, 11, out, "tiny",
                     lambda t, h, w: dict(num_frames=t, image_size=h))
    real = {}
    for name, dims in VIDEOMAE_SIZES.items():
        config = VideoMAEConfig(image_size=224, patch_size=16, num_frames=16, tubelet_size=2, **dims)
        keys = ["embeddings.patch_embeddings.projection.weight", "encoder.layer.0.attention.attention.q_bias",
                "encoder.layer.0.attention.attention.key.weight", "encoder.layer.0.intermediate.dense.weight"]
        ref = meta_reference(VideoMAEModel, config, [])
        ref["shapes"] = hub_shapes_at_size(VideoMAEModel, config, keys)
        real[name] = ref
    (out / "real_sizes.json").write_text(json.dumps(real, indent=1) + "\n")
    write_versions(out)


VJEPA2_SIZES = {  # facebook/vjepa2-*: hidden, depth, heads, mlp ratio, crop
    "vjepa2-vitl-fpc64-256": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, mlp_ratio=4.0, crop_size=256),
    "vjepa2-vith-fpc64-256": dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, mlp_ratio=4.0, crop_size=256),
    "vjepa2-vitg-fpc64-256": dict(hidden_size=1408, num_hidden_layers=40, num_attention_heads=22,
                                  mlp_ratio=4.363636363636363, crop_size=256),
    "vjepa2-vitg-fpc64-384": dict(hidden_size=1408, num_hidden_layers=40, num_attention_heads=22,
                                  mlp_ratio=4.363636363636363, crop_size=384),
}


def make_vjepa2(out: pathlib.Path) -> None:
    from transformers import VJEPA2Config, VJEPA2Model
    out.mkdir(parents=True, exist_ok=True)
    inputs = write_inputs(out, {"clip": (4, 3, 24, 24), "long": (6, 3, 24, 24), "small": (4, 3, 16, 16)})
    # head_dim 16: three rotary segments of 4 dims (frame, row, column) and 4 dims not rotated.
    config = VJEPA2Config(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, mlp_ratio=2.0,
                          patch_size=8, crop_size=24, frames_per_clip=4, tubelet_size=2,
                          pred_hidden_size=16, pred_num_attention_heads=2, pred_num_hidden_layers=1,
                          pred_num_mask_tokens=2)
    video_references(VJEPA2Model, config, inputs, 21, out, "tiny",
                     lambda t, h, w: dict(frames_per_clip=t, crop_size=h))
    real = {}
    for name, dims in VJEPA2_SIZES.items():
        config = VJEPA2Config(patch_size=16, frames_per_clip=64, tubelet_size=2, **dims)
        with torch.device("meta"):
            model = VJEPA2Model(config)
        state = model.state_dict()
        keys = ["encoder.embeddings.patch_embeddings.proj.weight", "encoder.layer.0.attention.query.weight",
                "encoder.layer.0.mlp.fc1.weight", "encoder.layernorm.weight"]
        # The encoder only: the predictor (pre-training) is not part of the backbone.
        real[name] = {"parameters": int(sum(p.numel() for p in model.encoder.parameters())),
                      "shapes": {k: list(state[k].shape) for k in keys}}
    (out / "real_sizes.json").write_text(json.dumps(real, indent=1) + "\n")
    write_versions(out)


# ----------------------------------------------------------------------------------------------
# VideoMAE V2 against the official code (OpenGVLab/VideoMAEv2, models/modeling_finetune.py),
# imported from a checkout given with --videomaev2-repo (not vendored here).

VIDEOMAEV2_SIZES = {  # modeling_finetune.py's vit_{base,large,huge}_patch16_224, vit_giant_patch14_224
    "videomaev2-base": "vit_base_patch16_224",
    "videomaev2-large": "vit_large_patch16_224",
    "videomaev2-huge": "vit_huge_patch16_224",
    "videomaev2-giant": "vit_giant_patch14_224",
}


def official_videomaev2(repo: pathlib.Path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("videomaev2_finetune", repo / "models/modeling_finetune.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # timm's @register_model looks the module up there
    spec.loader.exec_module(module)
    return module


def make_videomaev2(out: pathlib.Path, repo: pathlib.Path) -> None:
    from functools import partial
    official = official_videomaev2(repo)
    out.mkdir(parents=True, exist_ok=True)
    inputs = write_inputs(out, {"clip": (4, 3, 24, 24), "long": (6, 3, 24, 24), "small": (4, 3, 16, 16)})
    # MLP ratio 48/11 as the giant's: the hidden width is int(32 * 48 / 11) = 139.
    tiny = dict(patch_size=8, embed_dim=32, depth=3, num_heads=2, mlp_ratio=48 / 11, qkv_bias=True,
                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), init_values=0.0, num_classes=5,
                tubelet_size=2)
    base = official.VisionTransformer(img_size=24, all_frames=4, **tiny).eval()
    randomise(base, 31)
    # fc_norm / head are the classifier's; the checkpoint keeps them to test that they are dropped.
    save_file({k: v.contiguous() for k, v in base.state_dict().items()}, str(out / "tiny.safetensors"))
    reference = {}
    for name, x in inputs.items():
        frames, _, height, _ = x.shape
        model = official.VisionTransformer(img_size=height, all_frames=frames, **tiny).eval()
        model.load_state_dict(base.state_dict())
        video = ((x - IMAGENET_MEAN) / IMAGENET_STD).unsqueeze(0).transpose(1, 2)  # (1, 3, T, H, W)
        with torch.no_grad():
            tokens = model.pos_drop(model.patch_embed(video) + model.pos_embed.type_as(video))
            reference[f"{name}.hidden_states.0"] = tokens.contiguous()
            for i, block in enumerate(model.blocks):
                tokens = block(tokens)
                reference[f"{name}.hidden_states.{i + 1}"] = tokens.contiguous()
    save_file(reference, str(out / "tiny_reference.safetensors"))
    real = {}
    for name, builder in VIDEOMAEV2_SIZES.items():
        # Built on the meta device (no allocation); the official stochastic-depth schedule calls
        # .item() on a linspace, which only a CPU linspace allows.
        linspace = torch.linspace
        torch.linspace = lambda *a, **k: linspace(*a, **{**k, "device": "cpu"})
        try:
            with torch.device("meta"):
                model = getattr(official, builder)(all_frames=16, tubelet_size=2)
        finally:
            torch.linspace = linspace
        state = model.state_dict()
        # The encoder only (patch embedding and blocks): fc_norm and head are not the backbone.
        encoder = {k: v for k, v in state.items() if k.startswith(("patch_embed.", "blocks."))}
        keys = ["patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.q_bias", "blocks.0.mlp.fc1.weight"]
        real[name] = {"parameters": int(sum(v.numel() for v in encoder.values())),
                      "shapes": {k: list(state[k].shape) for k in keys}}
    (out / "real_sizes.json").write_text(json.dumps(real, indent=1) + "\n")
    write_versions(out)


FAMILIES = {"dinov2": make_dinov2, "videomae": make_videomae, "vjepa2": make_vjepa2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="all", choices=["all", *FAMILIES, "videomaev2"])
    parser.add_argument("--videomaev2-repo", type=pathlib.Path,
                        help="checkout of github.com/OpenGVLab/VideoMAEv2 (for --family videomaev2)")
    args = parser.parse_args()
    makers = dict(FAMILIES)
    if args.videomaev2_repo is not None:
        makers["videomaev2"] = lambda out: make_videomaev2(out, args.videomaev2_repo)
    elif args.family == "videomaev2":
        parser.error("--family videomaev2 needs --videomaev2-repo")
    for family, make in makers.items():
        if args.family in ("all", family):
            make(ROOT / family)
            size = sum(f.stat().st_size for f in (ROOT / family).iterdir())
            print(f"wrote {ROOT / family} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()

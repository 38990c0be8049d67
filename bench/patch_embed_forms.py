#!/usr/bin/env python3
"""The video patch embedding before and after it became one GEMM, at each video ViT's clip.

Until 2026-12-06 vidprobe's video ViTs (VideoMAE, V-JEPA, V-JEPA 2) embedded their tubelets with
cuDNN's 3D convolution (stride = kernel), then copied the transposed (B, C, N) output into token
order; since then `nn::embed_patches` gathers the tubelets into token order (views, one copy) and
runs one linear layer. The H100 call that measured V-JEPA v1 before and after could not show the
change for the short clips of VideoMAE and V-JEPA 2, which waited on that machine's host. This
script times the two forms alone, on the GPU, from the same normalised (B, 3, T, H, W) clip, and
reports how far apart their outputs are.

Forms (the same aten operators as the C++ code before and after):
  conv3d  F.conv3d(x, w, b, stride=kernel), then flatten(2).transpose(1, 2).contiguous()
  gemm    x split into (B, 3, T/t, t, H/p, p, W/p, p), permuted to token order and reshaped (one
          copy), then F.linear with the weight viewed as (D, 3 t p p)

Prints one JSON line per (clip, dtype, form): bench "patch_embed_forms", clip, dtype, form, ms
(median of CUDA-event times over --reps calls), tokens, max_abs_difference (gemm against conv3d;
0 for conv3d), reps.
Usage: python3 bench/patch_embed_forms.py [--reps 50] [--clips videomae-l-224,vjepa2-l-256,vjepa1-l-480x832]
"""
import argparse
import json

import torch
import torch.nn.functional as F

from forms_support import checked_args, median_ms, names_from

# name: (clips a call, frames, height, width, tubelet, patch, width of the model)
CLIPS = {
    "videomae-l-224": (1, 16, 224, 224, 2, 16, 1024),
    "vjepa2-l-256": (1, 16, 256, 256, 2, 16, 1024),
    # V-JEPA v1 ViT-L/16 at 480 x 832: the 76-frame clip as 5 spaced windows of 16 frames.
    "vjepa1-l-480x832": (5, 16, 480, 832, 2, 16, 1024),
}


def conv3d_form(x, weight, bias):
    return F.conv3d(x, weight, bias, stride=weight.shape[2:]).flatten(2).transpose(1, 2).contiguous()


def gemm_form(x, weight, bias):
    b, c, t, h, w = x.shape
    kt, kh, kw = weight.shape[2:]
    split = x.view(b, c, t // kt, kt, h // kh, kh, w // kw, kw)
    tokens = split.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(b, -1, c * kt * kh * kw)
    return F.linear(tokens, weight.reshape(weight.shape[0], -1), bias)


FORMS = {"conv3d": conv3d_form, "gemm": gemm_form}


def bench_clip(name, dtype, reps):
    clips, frames, height, width, tubelet, patch, dim = CLIPS[name]
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(clips, 3, frames, height, width, device="cuda", generator=gen).to(dtype)
    weight = (0.02 * torch.randn(dim, 3, tubelet, patch, patch, device="cuda",
                                 generator=gen)).to(dtype)
    bias = (0.02 * torch.randn(dim, device="cuda", generator=gen)).to(dtype)
    with torch.no_grad():
        reference = conv3d_form(x, weight, bias).float()
        for form, fn in FORMS.items():
            out = fn(x, weight, bias)
            assert out.shape == reference.shape, (form, out.shape, reference.shape)
            print(json.dumps({
                "bench": "patch_embed_forms", "clip": name, "dtype": str(dtype)[6:], "form": form,
                "ms": round(median_ms(lambda: fn(x, weight, bias), reps, warmup=5), 4),
                "tokens": out.shape[1] * clips,
                "max_abs_difference": (out.float() - reference).abs().max().item(), "reps": reps,
            }), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--dtypes", default="bfloat16,float32")
    args = checked_args(parser, "patch_embed_forms")
    clips = names_from(args.clips, CLIPS, "patch_embed_forms", "--clips")
    dtypes = names_from(args.dtypes, ("bfloat16", "float32"), "patch_embed_forms", "--dtypes")
    for name in clips:
        for dtype in dtypes:
            bench_clip(name, getattr(torch, dtype), args.reps)


if __name__ == "__main__":
    main()

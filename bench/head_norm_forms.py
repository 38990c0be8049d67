#!/usr/bin/env python3
"""How fast are the ways of writing a LayerNorm over each attention head (qk-norm) and RoPE?

The paper's probe (VGGT's blocks), CogVideoX and Aether normalise every head's queries and keys
over the head width (64). In the probe step's kernel profile (docs/perf.md) these calls took
1.5 ms each on the H100 where a LayerNorm over 1,024 channels of as many values took 0.2 ms:
PyTorch's LayerNorm kernel spends one thread block on each row, and a 64-value row leaves most of
it idle. Both the authors' step and vidprobe's ran them alike (62 ms of the 913 ms step with the
recomputation and the backward pass). This script times other ways of computing the same values
at the probe's and CogVideoX's shapes, forward alone and forward with backward, and reports how
far each lands from a float64 LayerNorm of the same input.

Forms of the norm (input: the query slice of one packed (B, N, 3, H, D) bf16 projection, as both
sides have it):
  layer_norm   F.layer_norm on the strided slice (float32 under autocast: what runs today)
  group_norm   F.group_norm with one group on (B N H, D) rows: its row statistics use one warp a
               row, and its normalisation is one element-wise pass with the affine folded in
  var_mean     torch.var_mean, then (x - mean) * rsqrt(var + eps) * w + b
Forms of RoPE (float32 input, VGGT's 2D RoPE: two axes, each rotating its two halves):
  flip         x * cos + flip(x) * signed_sin (what vidprobe runs: flip, two products, a sum)
  addcmul      the same with the last product and the sum in one addcmul
  cat          x * cos + cat(-x2, x1) * sin (the authors' rotate_half)

Prints one JSON line per (shape, form, pass): bench "head_norm_forms", shape, dtype, form, pass
("forward" or "forward+backward"), ms (median of CUDA-event times), max_abs_error (of the
forward output against float64, for RoPE against the float64 of the flip form; the same on a
forward+backward line: gradients are not compared), reps.
Usage: python3 bench/head_norm_forms.py [--reps 30] [--shapes probe-frame,probe-global,cogvideox-5b]
"""
import argparse
import json

import torch
import torch.nn.functional as F

from forms_support import checked_args, median_ms, names_from

# name: (batch, tokens, heads, head width, dtype of the norm's output, training?)
SHAPES = {
    # The paper's probe at batch 10: 4 frames of 30 x 52 tokens and 5 camera/register tokens.
    "probe-frame": (40, 1565, 16, 64, torch.float32, True),
    "probe-global": (10, 6260, 16, 64, torch.float32, True),
    # CogVideoX-5B-I2V at 49 frames of 480 x 720: 13 x 30 x 45 video and 226 text tokens, bf16.
    "cogvideox-5b": (1, 17776, 48, 64, torch.bfloat16, False),
}
EPS = 1e-5


def query_slice(packed):
    return packed.permute(2, 0, 3, 1, 4)[0]  # (B, H, N, D), strided


def norm_layer_norm(q, w, b, dtype):
    return F.layer_norm(q.to(dtype), (q.size(-1),), w, b, EPS)


def norm_group_norm(q, w, b, dtype):
    x = q.to(dtype).transpose(1, 2)  # (B, N, H, D), dense for the packed slice
    rows = x.reshape(-1, q.size(-1))
    return F.group_norm(rows, 1, w, b, EPS).view(x.shape).transpose(1, 2)


def norm_var_mean(q, w, b, dtype):
    x = q.to(dtype)
    var, mean = torch.var_mean(x.float(), -1, keepdim=True, correction=0)
    return ((x - mean) * torch.rsqrt(var + EPS) * w + b).to(dtype)


NORMS = {"layer_norm": norm_layer_norm, "group_norm": norm_group_norm, "var_mean": norm_var_mean}


def swap_halves(x):
    return x.unflatten(-1, (2, 2, -1)).flip(-2).flatten(-3)


def rope_flip(x, cos, sin, signed_sin):
    return x * cos + swap_halves(x) * signed_sin


def rope_addcmul(x, cos, sin, signed_sin):
    return torch.addcmul(x * cos, swap_halves(x), signed_sin)


def rope_cat(x, cos, sin, signed_sin):
    halves = x.unflatten(-1, (2, 2, -1))
    turned = torch.cat((-halves[..., 1:, :], halves[..., :1, :]), -2).flatten(-3)
    return x * cos + turned * sin


ROPES = {"flip": rope_flip, "addcmul": rope_addcmul, "cat": rope_cat}


def rope_tables(batch, tokens, width, device):
    positions = torch.randint(0, 64, (batch, tokens, 2), device=device).float()
    inv_freq = 1.0 / 100.0 ** (torch.arange(0, width // 2, 2, device=device) / (width // 2))
    half = (positions.unsqueeze(-1) * inv_freq).flatten(-2)  # (B, N, D/2): axis 0 then axis 1
    angles = torch.cat((half.view(batch, tokens, 2, -1), half.view(batch, tokens, 2, -1)),
                       -1).flatten(-2).unsqueeze(1)
    sign = torch.ones(width, device=device)
    sign.view(2, 2, -1)[:, 0] = -1
    return angles.cos(), angles.sin(), angles.sin() * sign


def run_pass(fn, inputs, train, reps):
    if not train:
        with torch.no_grad():
            return median_ms(lambda: fn(*inputs), reps)
    grad = None

    def step():
        nonlocal grad
        out = fn(*inputs)
        if grad is None:
            grad = torch.randn_like(out)
        out.backward(grad)
    return median_ms(step, reps)


def emit(shape, dtype, form, passname, ms, error, reps):
    print(json.dumps({"bench": "head_norm_forms", "shape": shape, "dtype": str(dtype)[6:],
                      "form": form, "pass": passname, "ms": round(ms, 4),
                      "max_abs_error": error, "reps": reps}), flush=True)


def bench_shape(name, reps):
    batch, tokens, heads, width, dtype, train = SHAPES[name]
    device = "cuda"
    packed = torch.randn(batch, tokens, 3, heads, width, device=device, dtype=torch.bfloat16)
    param_dtype = torch.float32 if dtype == torch.float32 else dtype
    w = (1 + 0.1 * torch.randn(width, device=device)).to(param_dtype)
    b = (0.1 * torch.randn(width, device=device)).to(param_dtype)
    q64 = query_slice(packed).double()
    expect = F.layer_norm(q64, (width,), w.double(), b.double(), EPS)
    for form, fn in NORMS.items():
        with torch.no_grad():
            error = (fn(query_slice(packed), w, b, dtype).double() - expect).abs().max().item()
        emit(name, dtype, form, "forward", run_pass(
            lambda: fn(query_slice(packed), w, b, dtype), (), False, reps), error, reps)
        if train:
            leaf = packed.clone().requires_grad_()
            wl, bl = w.clone().requires_grad_(), b.clone().requires_grad_()
            emit(name, dtype, form, "forward+backward", run_pass(
                lambda: fn(query_slice(leaf), wl, bl, dtype), (), True, reps), error, reps)
    if dtype != torch.float32:
        return
    x = F.layer_norm(query_slice(packed).float(), (width,), None, None, EPS)
    cos, sin, signed_sin = rope_tables(batch, tokens, width, device)
    expect = rope_flip(x.double(), cos.double(), sin.double(), signed_sin.double())
    for form, fn in ROPES.items():
        with torch.no_grad():
            error = (fn(x, cos, sin, signed_sin).double() - expect).abs().max().item()
        emit(name, dtype, "rope-" + form, "forward",
             run_pass(fn, (x, cos, sin, signed_sin), False, reps), error, reps)
        leaf = x.clone().requires_grad_()
        emit(name, dtype, "rope-" + form, "forward+backward",
             run_pass(fn, (leaf, cos, sin, signed_sin), True, reps), error, reps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    args = checked_args(parser, "head_norm_forms")
    for name in names_from(args.shapes, SHAPES, "head_norm_forms", "--shapes"):
        bench_shape(name, args.reps)


if __name__ == "__main__":
    main()

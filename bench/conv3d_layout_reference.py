#!/usr/bin/env python3
"""Would a channels-last WAN VAE be faster? (issue #14; docs/perf.md, WAN section)

diffusers' AutoencoderKLWan (random init, float32, cuDNN's default TF32 convolutions) encodes an
81 x 480 x 832 clip once converted to channels_last_3d (model and input), compared with the
contiguous encode; then one 3x3x3 float32 conv3d at three of the VAE's sizes (6 frames: a
4-frame chunk and its 2 cached frames), contiguous against channels_last_3d. Prints JSON lines.
Needs a GPU and diffusers (the carried wheel, see bench/wan_reference.py).
Usage: python3 bench/conv3d_layout_reference.py
"""
import json
import time

import torch
from diffusers import AutoencoderKLWan

dev = torch.device("cuda")
torch.manual_seed(0)
with torch.device(dev):
    vae = AutoencoderKLWan().eval()
video = torch.rand(1, 3, 81, 480, 832, device=dev) * 2 - 1
def timeit(fn, n=3):
    fn(); torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n): fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / n * 1000
with torch.no_grad():
    ref = vae.encode(video).latent_dist.mean
    ms = timeit(lambda: vae.encode(video).latent_dist.mean)
    print(json.dumps({"exp": "wan_vae_encode", "layout": "contiguous", "ms": ms}), flush=True)
    try:
        vae_cl = vae.to(memory_format=torch.channels_last_3d)
        v_cl = video.contiguous(memory_format=torch.channels_last_3d)
        out = vae_cl.encode(v_cl).latent_dist.mean
        ms = timeit(lambda: vae_cl.encode(v_cl).latent_dist.mean)
        err = ((out - ref).norm() / ref.norm()).item()
        print(json.dumps({"exp": "wan_vae_encode", "layout": "channels_last_3d", "ms": ms, "rel_diff_vs_contiguous": err}), flush=True)
    except Exception as e:
        print(json.dumps({"exp": "wan_vae_encode", "layout": "channels_last_3d", "error": repr(e)[:300]}), flush=True)
    del vae
    torch.cuda.empty_cache()
    for cin, cout, t, h, w in [(96, 96, 6, 480, 832), (192, 192, 6, 240, 416), (384, 384, 6, 120, 208)]:
        conv = torch.nn.Conv3d(cin, cout, 3).to(dev)
        x = torch.randn(1, cin, t, h + 2, w + 2, device=dev)
        a = timeit(lambda: conv(x), 5)
        conv_cl = conv.to(memory_format=torch.channels_last_3d); x_cl = x.contiguous(memory_format=torch.channels_last_3d)
        b = timeit(lambda: conv_cl(x_cl), 5)
        print(json.dumps({"exp": "conv3d_3x3x3_fp32_tf32", "shape": [cin, cout, t, h, w], "contiguous_ms": a, "channels_last_3d_ms": b}), flush=True)

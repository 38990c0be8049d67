#!/usr/bin/env python3
"""Writes tests/fixtures/io/reference.safetensors with the official `safetensors` package, so the
C++ reader is checked against files produced by the reference writer (not only by itself).

Values follow simple closed forms that the C++ test recomputes:
  f32[i, j]  = i * 10 + j - 0.5         shape (3, 4)
  f16[i]     = i / 4                   shape (5,)
  bf16[i]    = -i * 2                  shape (2, 2) flattened index i
  i64[i]     = i ** 3 - 7              shape (4,)
  u8[i]      = 255 - i                 shape (6,)
Rerun: python3 tools/make_safetensors_fixture.py
"""
import pathlib

import torch
from safetensors.torch import save_file

out = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/io/reference.safetensors"
out.parent.mkdir(parents=True, exist_ok=True)
tensors = {
    "f32": (torch.arange(3).view(3, 1) * 10 + torch.arange(4).view(1, 4) - 0.5).float(),
    "f16": (torch.arange(5) / 4).half(),
    "bf16": (-torch.arange(4) * 2).bfloat16().view(2, 2),
    "i64": torch.arange(4) ** 3 - 7,
    "u8": (255 - torch.arange(6)).to(torch.uint8),
}
save_file(tensors, str(out), metadata={"producer": "safetensors-python", "purpose": "vidprobe fixture"})
print(f"wrote {out}")

#!/usr/bin/env python3
"""Writes tests/fixtures/opensora/text/: Open-Sora 2.0's text conditioning for the empty prompt as
its HFEmbedder pair computes it (opensora/models/text/conditioner.py, configs/diffusion/inference/
256px.py), from SMALL seeded random encoders saved in the published folder layouts, so vidprobe's
T5 (wan::TextEncoder) and CLIP text model (backbones/text/clip_text.h) are checked against
transformers' own modules.

What HFEmbedder does, reproduced here with transformers' classes (no tokenizer files are needed
for the empty prompt, whose ids are fixed):
  t5   T5EncoderModel.from_pretrained(folder) (a T5ForConditionalGeneration checkpoint, as
       google/t5-v1_1-xxl: decoder and lm_head dropped), input_ids = T5Tokenizer("" , padding=
       "max_length", max_length=512) = [EOS 1, pad 0 x 511], attention_mask=None ->
       last_hidden_state
  clip CLIPTextModel.from_pretrained(folder) (a CLIPModel checkpoint, as
       openai/clip-vit-large-patch14: vision tower and projections dropped), input_ids =
       CLIPTokenizer("", padding="max_length", max_length=77) = [BOS 49406, EOS 49407, pad
       49407 x 75], attention_mask=None -> pooler_output. The config keeps the legacy
       eos_token_id 2 of openai's config.json (pooling at the argmax of the ids).

The CLIP model has the real vocabulary size (49408, so the real BOS/EOS ids exist) at width 4;
its token embedding is zero except rows 0..63 and 49400..49407 (the file stays small in git).

Files:
  t5/config.json, t5/model.safetensors      T5ForConditionalGeneration (T5 v1.1 layout), fp32
  clip/config.json, clip/model.safetensors  CLIPModel, fp16-exact values stored as fp16
  reference.safetensors (fp32 unless said)
      t5_empty            (1, 512, 16) the t5 embedder's output for ""
      clip_empty          (1, 4) the clip embedder's output for ""
      clip_ids            (2, 77) int64 other id sequences
      clip_hidden         (2, 77, 4) last_hidden_state for clip_ids
      clip_pooled         (2, 4) pooler_output for clip_ids (eos_token_id 2: argmax of the ids)
      clip_pooled_eos9    (2, 4) pooler_output with eos_token_id 9 (the first 9 of each row)

Versions: torch 2.11.0, transformers 5.24.0, safetensors (the fixtures venv).
Rerun (CPU, seconds):
  /work/.venv-fixtures/bin/python tools/make_opensora_text_fixtures.py
"""
import json
import pathlib

import torch
from safetensors.torch import save_file
from transformers import (CLIPConfig, CLIPModel, CLIPTextModel, T5Config,
                          T5EncoderModel, T5ForConditionalGeneration)

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/opensora/text"
T5_TOKENS, CLIP_TOKENS = 512, 77
BOS, EOS = 49406, 49407


def perturb(model, seed, fp16):
    """Norm gains start at 1 and biases at 0: noise everywhere so that mix-ups show."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(0.3 * torch.randn(p.shape, generator=generator))
            if fp16:
                p.copy_(p.half().float())


def t5_fixtures():
    torch.manual_seed(0)
    config = T5Config(vocab_size=32, d_model=16, d_kv=4, num_heads=4, d_ff=24, num_layers=2,
                      num_decoder_layers=1, relative_attention_num_buckets=32,
                      relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
                      layer_norm_epsilon=1e-6, tie_word_embeddings=False)
    model = T5ForConditionalGeneration(config).eval()
    perturb(model, 11, fp16=False)
    folder = OUT / "t5"
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    for extra in folder.iterdir():
        if extra.name not in ("config.json", "model.safetensors"):
            extra.unlink()
    encoder = T5EncoderModel.from_pretrained(folder).eval()
    ids = torch.zeros(1, T5_TOKENS, dtype=torch.long)
    ids[0, 0] = 1
    with torch.no_grad():
        return encoder(input_ids=ids, attention_mask=None).last_hidden_state


def clip_fixtures():
    torch.manual_seed(1)
    text = dict(vocab_size=49408, hidden_size=4, intermediate_size=8, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=CLIP_TOKENS, hidden_act="quick_gelu",
                layer_norm_eps=1e-5, projection_dim=4, bos_token_id=0, eos_token_id=2,
                pad_token_id=1)
    vision = dict(hidden_size=4, intermediate_size=8, num_hidden_layers=1, num_attention_heads=2,
                  image_size=8, patch_size=4, projection_dim=4)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=4)).eval()
    perturb(model, 12, fp16=True)
    with torch.no_grad():
        table = model.text_model.embeddings.token_embedding.weight
        keep = torch.zeros(table.shape[0], dtype=torch.bool)
        keep[:64] = True
        keep[49400:] = True
        table[~keep] = 0
    folder = OUT / "clip"
    folder.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(folder, safe_serialization=True)
    for extra in folder.iterdir():
        if extra.name not in ("config.json", "model.safetensors"):
            extra.unlink()
    text_model = CLIPTextModel.from_pretrained(folder, dtype=torch.float32).eval()
    empty = torch.full((1, CLIP_TOKENS), EOS, dtype=torch.long)
    empty[0, 0] = BOS
    ids = torch.randint(0, 64, (2, CLIP_TOKENS), generator=torch.Generator().manual_seed(13))
    ids[:, 0] = BOS
    ids[0, 5], ids[0, 3], ids[0, 6:] = EOS, 9, EOS  # the first 9 before the first EOS
    ids[1, 9], ids[1, 4], ids[1, 10:] = EOS, 9, 0
    out = {}
    with torch.no_grad():
        out["clip_empty"] = text_model(input_ids=empty, attention_mask=None).pooler_output
        result = text_model(input_ids=ids, attention_mask=None)
        out["clip_ids"] = ids
        out["clip_hidden"] = result.last_hidden_state
        out["clip_pooled"] = result.pooler_output
        text_model.eos_token_id = 9
        out["clip_pooled_eos9"] = text_model(input_ids=ids, attention_mask=None).pooler_output
    return out


def main():
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    reference = {"t5_empty": t5_fixtures(), **clip_fixtures()}
    save_file({k: v.contiguous() for k, v in reference.items()}, OUT / "reference.safetensors")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(json.dumps({k: list(v.shape) for k, v in reference.items()}), f"{total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()

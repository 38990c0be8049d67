#!/usr/bin/env python3
"""Writes tests/fixtures/cogvideox/t5_*: reference outputs of transformers' T5EncoderModel (T5 v1.1,
the text encoder of CogVideoX: gated-gelu feed-forward, one relative-position bias table in the
first layer shared by all layers) in a SMALL seeded configuration whose width (20) is the text
width of the CogVideoX transformer fixtures.

Files (fp32):
  t5_encoder.safetensors   the model's state_dict (transformers key names)
  t5_config.json           its config.json (model_type t5)
  t5_reference.safetensors
      ids_empty      (5,) int64: the empty prompt as CogVideoX's pipeline feeds it: EOS (1) then
                     pad (0) up to max_text_seq_length (5 in the fixtures), no attention mask
      hidden_empty   (5, 20) last_hidden_state for ids_empty
      ids_random     (9,) int64 random ids; hidden_random (9, 20)

Versions: torch 2.11.0 (vidprobe venv), transformers 5.24.0.
Rerun (CPU, seconds; reference install: see tools/make_cogvideox_fixtures.py):
  PYTHONPATH=/tmp/cogref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python tools/make_cogvideox_t5_fixtures.py
"""
import json
import pathlib

import torch
from safetensors.torch import save_file
from transformers import T5Config, T5EncoderModel

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/cogvideox"


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = T5Config(vocab_size=64, d_model=20, d_kv=8, num_heads=2, d_ff=24, num_layers=3,
                      relative_attention_num_buckets=32, relative_attention_max_distance=128,
                      feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6,
                      is_encoder_decoder=False, use_cache=False, tie_word_embeddings=False)
    model = T5EncoderModel(config).eval()
    generator = torch.Generator().manual_seed(31)
    with torch.no_grad():  # norms start at 1: perturb every tensor so mix-ups show
        for _, p in sorted(model.named_parameters()):
            p.add_(0.2 * torch.randn(p.shape, generator=generator))
    state = {k: v.contiguous().clone() for k, v in model.state_dict().items()
             if k != "encoder.embed_tokens.weight"}  # tied to shared.weight
    save_file(state, str(OUT / "t5_encoder.safetensors"))
    (OUT / "t5_config.json").write_text(json.dumps(config.to_dict(), indent=2, default=str) + "\n")
    ids_empty = torch.tensor([1, 0, 0, 0, 0])
    ids_random = torch.randint(0, 64, (9,), generator=generator)
    with torch.no_grad():
        ref = {"ids_empty": ids_empty, "ids_random": ids_random}
        for name, ids in (("empty", ids_empty), ("random", ids_random)):
            ref[f"hidden_{name}"] = model(input_ids=ids[None]).last_hidden_state[0]
    save_file({k: v.contiguous() for k, v in ref.items()}, str(OUT / "t5_reference.safetensors"))
    print(sorted(state)[:6], ref["hidden_empty"].shape)


if __name__ == "__main__":
    main()

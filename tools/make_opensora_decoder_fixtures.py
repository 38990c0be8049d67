"""Writes tests/fixtures/opensora/decoder*.safetensors: the official decode() of Open-Sora 2.0's
Hunyuan causal 3D VAE (opensora/models/hunyuan_vae, AutoencoderKLCausal3D) in the small
configuration of make_opensora_fixtures.py (VAE_SMALL, same seeds, so its encoder equals the one of
hunyuan_vae.safetensors), so the C++ decoder is checked against the official code it shares
nothing with.

Files:
  decoder_vae.safetensors        the whole state_dict (encoder, quant_conv, decoder,
                                 post_quant_conv; official key names), fp16-exact values in fp16
  decoder_reference.safetensors  latents and AutoencoderKLCausal3D.decode() of them (float32):
      video_latents (1, 4, 2, 4, 4)  one tile, time upsampling (5 frames out)
      first_latents (1, 4, 1, 4, 4)  the first-frame-only case (1 frame out)
      tiled_latents (1, 4, 2, 5, 6)  taller and wider than a tile: the official
                                     spatial_tiled_decode with its blends (5 x 40 x 48 out)
      *_decoded                      decode() of each, in [-1, 1] up to the decoder's range

Rerun (CPU, seconds), with the packages make_opensora_fixtures.py names:
  PYTHONPATH=/tmp/osref/site /root/.cache/vidprobe/venv-torch-2.11.0/bin/python \\
      tools/make_opensora_decoder_fixtures.py /path/to/Open-Sora
"""
import os
import pathlib
import sys

os.environ["TORCHDYNAMO_DISABLE"] = "1"

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import opensora_reference as ref  # noqa: E402
from make_opensora_fixtures import OUT, VAE_SMALL, perturb  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_opensora_decoder_fixtures.py OPEN_SORA_CHECKOUT")
    ref.install(sys.argv[1])
    from opensora.models.hunyuan_vae.autoencoder_kl_causal_3d import (AutoEncoder3DConfig,
                                                                      AutoencoderKLCausal3D)
    # The seeds of make_opensora_fixtures.vae_fixtures: the same weights.
    torch.manual_seed(3)
    config = AutoEncoder3DConfig(from_pretrained=None, use_spatial_tiling=True, **VAE_SMALL)
    vae = AutoencoderKLCausal3D(config).eval()
    perturb(vae, 4)
    g = torch.Generator().manual_seed(6)
    out = {}
    with torch.no_grad():
        for name, shape in (("video", (1, 4, 2, 4, 4)), ("first", (1, 4, 1, 4, 4)),
                            ("tiled", (1, 4, 2, 5, 6))):
            z = torch.randn(*shape, generator=g)
            out[name + "_latents"] = z
            out[name + "_decoded"] = vae.decode(z.clone())
    save_file({k: v.float().contiguous() for k, v in out.items()},
              OUT / "decoder_reference.safetensors")
    save_file({k: v.contiguous().half() for k, v in vae.state_dict().items()},
              OUT / "decoder_vae.safetensors")
    for k, v in out.items():
        print(k, tuple(v.shape))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes tests/fixtures/vidfm3d/interleaved_clips.json: which video frames the authors' CogVideoX
and Aether extractions feed as each clip and in which order their two clips' features are stored,
by RUNNING their own functions (VidFM3D features/cogvideox/extract_features.py::forward_cogvideox
and features/aether/extract_features.py::forward_aether).

Their functions index the window's frames and call model.forward(video=clip, t=...,
output_layer_indices=...) once per clip, then concatenate the returned features along dim 0. Here
the frames are the integers 0 .. window - 1 (so the clips come back as frame numbers) and the model
is a recorder: it keeps each clip's frame list and returns, per layer, a (1, latents, 1) tensor
holding 1000 * call + latent, so the merged tensor shows the stored order (clip 0's latents first).
latents = (len(clip) - 1) // 4 + 1, the VAE's temporal compression (CogVideoX 49 -> 13,
Aether 41 -> 11).

The modules their extract_features imports for the real models (cogvideox_feature*.py,
aether_feature.py: diffusers pipelines and weights) are replaced by empty stand-ins before the
import: forward_cogvideox / forward_aether use only the model object they are handed.

The map their dataset reads for each frame (VideoProbeDataset) is in views.json ("index_maps",
tools/make_vidfm3d_fixtures.py); tests/features/vidfm3d_import_test.cpp composes the two.

Usage (python with torch, Pillow and safetensors, which their module imports; no diffusers
needed; e.g. the pip --target dir of tools/make_cogvideox_fixtures.py on PYTHONPATH):
  git -C /work/.mirror/zxhuang1698+VidFM3D/repo archive HEAD features | tar x -C /tmp/vidfm3d_src
  PYTHONPATH=/tmp/cogref /root/.cache/vidprobe/venv-torch-2.11.0/bin/python \\
      tools/make_interleaved_clip_fixtures.py \\
      /tmp/vidfm3d_src
"""
import argparse
import json
import pathlib
import sys
import types

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "vidfm3d"


class Recorder:
    """Stands in for their featurizer: records the clips it is fed."""

    def __init__(self):
        self.clips = []

    def forward(self, video, t, output_layer_indices):
        call = len(self.clips)
        self.clips.append([int(f) for f in video])
        latents = (len(video) - 1) // 4 + 1
        value = torch.arange(latents, dtype=torch.float64) + 1000 * call
        return {layer: value.view(1, latents, 1) for layer in output_layer_indices}


def stub(name, **attributes):
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    sys.modules[name] = module


def run(forward, window):
    model = Recorder()
    merged = forward(model, list(range(window)), t=749, layer_ids=[20])
    order = merged[20].reshape(-1).to(torch.int64).tolist()
    return {"window": window, "clips": model.clips, "stored": order,
            "stored_shape": list(merged[20].shape)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkout", type=pathlib.Path, help="VidFM3D checkout (holds features/)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout))
    never = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("model stand-in"))  # noqa: E731
    stub("features.cogvideox.cogvideox_feature", CogVideoXFeaturizer=object,
         get_cogvideox_featurizer=never)
    stub("features.cogvideox.cogvideox_feature_i2v", get_cogvideox_featurizer_i2v=never)
    stub("features.aether.aether_feature", AetherFeaturizer=object, get_aether_featurizer=never)
    from features.aether.extract_features import forward_aether
    from features.cogvideox.extract_features import forward_cogvideox

    fixture = {"cogvideox": run(forward_cogvideox, 2 * 49 - 1),
               "aether": run(forward_aether, 2 * 41 - 1)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "interleaved_clips.json").write_text(json.dumps(fixture) + "\n")
    for name, entry in fixture.items():
        print(name, entry["window"], [c[:5] for c in entry["clips"]], entry["stored_shape"])


if __name__ == "__main__":
    main()

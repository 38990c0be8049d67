#!/usr/bin/env python3
"""Writes tests/fixtures/aether/backbone_*: the Aether feature extraction as the paper's authors run
it (VidFM3D features/aether/aether_feature.py, OneStepAetherPipeline, a subclass of the official
AetherV1PipelineCogVideoX of github OpenRobotLab/Aether that VidFM3D vendors under
features/aether/aether/), on a SMALL seeded random model, with the noise vidprobe draws injected:

  reconstruct(task="reconstruction", video=clip, fps=8): the clip's VAE posterior SAMPLE x scaling
  (16) | zero camera (24) as the condition, randn (1, F', 56, h, w) x init_noise_sigma, 4 steps of
  CogVideoXDPMScheduler (guidance 1) -> geometry latents = channels 16: (40);
  then __call__'s feature pass: frame 0 encoded alone (posterior sample) x scaling, zero-padded,
  | zero camera as the condition; the clip's posterior MEAN x scaling | geometry latents noised by
  scheduler.add_noise at timesteps[749] (= 250 of 1000 trailing steps); the transformer
  (their TransformerCogVideoXWithFeatureOutput) on [noisy 56 | condition 40] with the RoPE of
  _prepare_rotary_positional_embeddings(..., fps=8) (time positions x 1.5); every block's video
  states (1, F', h/2, w/2, dim).

Their __call__ is run as it is, except for three constants: it hard-codes height = 480,
width = 720 and num_frames = 41, which are replaced (in its source text, each asserted to occur
once) by the fixture's 32, 48 and 17 before it is executed in its own module's namespace.

Noise: every random draw of the pipeline (randn_tensor in the pipeline module, in diffusers'
DiagonalGaussianDistribution.sample and in CogVideoXDPMScheduler.step, and the feature pass's
torch.randn_like) is taken, in the pipeline's order, from ONE torch.Generator seeded with SEED, the
way vidprobe's Aether path draws them (cogvideox/backbone.cpp, NoiseStream): the clip's posterior
eps (1, 16, F', h, w), the initial latents (1, F', 56, h, w), the DPM steps' draws (one on the
first and the last step, two on the others, as the scheduler draws them), the first frame's
posterior eps (1, 16, 1, h, w), then the feature pass's add_noise noise (1, F', 56, h, w). The
feature pass's prepare_latents also draws initial latents that it discards: that call gets zeros
and is not drawn (vidprobe does not make it). So the C++ test reproduces everything from SEED.

Stand-ins and precision (the numbers are not changed by them):
  * tokenizer: the empty prompt's ids as T5's tokenizer gives them (EOS = 1, then pad 0 up to
    max_length; [[1]] for padding="longest"); text_encoder: the small T5 v1.1 of
    tests/fixtures/cogvideox/t5_* (tools/make_cogvideox_t5_fixtures.py);
  * float32 throughout: the pipeline keeps empty_prompt_embeds in bfloat16 and casts pixels to
    bfloat16 / float16 (their GPU precision); here empty_prompt_embeds is re-encoded in float32,
    the VAE's encode casts its input to float32, and the clip's pixels are 0 or 255 only, so the
    pixels (-1 or 1) are exact in every one of those dtypes;
  * the VAE's tiling (enable_tiling in their AetherFeaturizer) is not enabled: at this size it
    would not split the input anyway (tile minimum 240 x 360 px);
  * imageio, matplotlib and plyfile (visualisation imports of their files) as empty modules.

Small configuration: VAE as tools/make_cogvideox_vae_fixtures.py but 16 latent channels (Aether
needs 16: its pipeline hard-codes 56 = 16 + 16 + 24 and 24 camera channels), scaling 0.7; the
transformer: 2 heads x 16, 2 blocks, input 96, output 56, text width 20 (the T5's), 226 text
tokens, learned positions (5B-I2V's) at the sample size 4 x 6 latents, 17 frames (so the table is
used); the scheduler: THUDM/CogVideoX-5b-I2V's scheduler_config.json values. Clip: 17 frames of
32 x 48 (5 latent frames), SEED 3; features at DDIM index 749 (timestep 250).

Files (tests/fixtures/aether/):
  backbone_transformer.safetensors, backbone_transformer_config.json   diffusers keys
  backbone_vae_encoder.safetensors, backbone_vae_config.json           encoder.* only
  backbone_scheduler_config.json
  backbone_reference.safetensors: clip (T, 3, H, W) uint8; context (1, 226, 20); geometry
    (1, F', 40, h, w); block{i} (F', h/2, w/2, dim) float32; timestep (1,) int64
  backbone_meta.json: {"seed", "index", "timestep", "steps", "fps"}
  backbone_param_counts.json: the state_dict (elements, keys) and parameters of the real-size
    AetherV1 transformer (5B-I2V's config with in_channels 96, out_channels 56) built by
    diffusers on the meta device

Versions: torch 2.11.0, diffusers 0.42.1, transformers 5.24.0, einops 0.8.2, pillow 13.0.0
(/work/.venv-fixtures). VidFM3D at commit 84ea53707f4c19179cb0b6bf71a8119ba7accf51.
Rerun (CPU, seconds):
  git --git-dir=<VidFM3D mirror> archive HEAD features/aether | tar x -C /tmp/vidfm3d_src
  /work/.venv-fixtures/bin/python tools/make_aether_backbone_fixtures.py /tmp/vidfm3d_src
"""
import argparse
import importlib
import inspect
import json
import pathlib
import sys
import textwrap
import types

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "tests/fixtures/aether"
COG = ROOT / "tests/fixtures/cogvideox"

FRAMES, HEIGHT, WIDTH = 17, 32, 48
SEED, INDEX, FPS, STEPS = 3, 749, 8, 4
VAE = dict(in_channels=3, out_channels=3, down_block_types=["CogVideoXDownBlock3D"] * 4,
           up_block_types=["CogVideoXUpBlock3D"] * 4, block_out_channels=[4, 8, 8, 8],
           latent_channels=16, layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
           sample_height=480, sample_width=720, scaling_factor=0.7, invert_scale_latents=False)
TRANSFORMER = dict(num_attention_heads=2, attention_head_dim=16, in_channels=96, out_channels=56,
                   time_embed_dim=16, text_embed_dim=20, num_layers=2, sample_width=6,
                   sample_height=4, sample_frames=17, patch_size=2, temporal_compression_ratio=4,
                   max_text_seq_length=226, spatial_interpolation_scale=1.875,
                   temporal_interpolation_scale=1.0, norm_eps=1e-5, flip_sin_to_cos=True,
                   freq_shift=0, use_rotary_positional_embeddings=True,
                   use_learned_positional_embeddings=True)
# THUDM/CogVideoX-5b-I2V scheduler/scheduler_config.json (AetherFeaturizer loads it as
# CogVideoXDPMScheduler).
SCHEDULER = dict(beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085,
                 clip_sample=False, clip_sample_range=1.0, num_train_timesteps=1000,
                 prediction_type="v_prediction", rescale_betas_zero_snr=True, sample_max_value=1.0,
                 set_alpha_to_one=True, snr_shift_scale=1.0, steps_offset=0,
                 timestep_spacing="trailing", trained_betas=None)
# THUDM/CogVideoX-5b-I2V transformer/config.json with AetherV1's channels.
REAL = dict(num_attention_heads=48, attention_head_dim=64, in_channels=96, out_channels=56,
            time_embed_dim=512, text_embed_dim=4096, num_layers=42, sample_width=90,
            sample_height=60, sample_frames=49, patch_size=2, temporal_compression_ratio=4,
            max_text_seq_length=226, use_rotary_positional_embeddings=True,
            use_learned_positional_embeddings=True)


def stub_visualisation_modules():
    for name in ("imageio", "imageio.v3", "matplotlib"):
        sys.modules.setdefault(name, types.ModuleType(name))
    plyfile = types.ModuleType("plyfile")
    plyfile.PlyData = plyfile.PlyElement = object
    sys.modules.setdefault("plyfile", plyfile)


class EmptyPromptTokenizer:
    """T5's tokenizer on "" (the only prompt the pipeline encodes): EOS then pad ids."""
    model_max_length = 226

    def __call__(self, prompt, padding="longest", max_length=None, **_):
        assert prompt in ("", [""]), prompt
        length = max_length if padding == "max_length" else 1
        ids = torch.zeros(1, length, dtype=torch.long)
        ids[0, 0] = 1
        return types.SimpleNamespace(input_ids=ids, attention_mask=torch.ones_like(ids))

    def batch_decode(self, *_args, **_kwargs):
        return [""]


class NoiseProvider:
    """The pipeline's random draws, in order, from one generator (labels say which is which)."""

    def __init__(self, seed, labels):
        self.generator = torch.Generator().manual_seed(seed)
        self.labels = list(labels)
        self.drawn = []

    def __call__(self, shape, *args, **kwargs):
        label = self.labels.pop(0)
        shape = tuple(shape.shape) if torch.is_tensor(shape) else tuple(shape)
        self.drawn.append((label, shape))
        if label == "discarded":
            return torch.zeros(shape)
        return torch.randn(shape, generator=self.generator)


def perturb(module, seed, scale):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, tensor in sorted(list(module.named_parameters()) + list(module.named_buffers())):
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=generator) * scale)


def build_pipeline(feature_module):
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDPMScheduler
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(**VAE).eval()
    perturb(vae, seed=21, scale=0.1)
    transformer = feature_module.TransformerCogVideoXWithFeatureOutput(**TRANSFORMER).eval()
    perturb(transformer, seed=11, scale=0.1)
    t5_config = {k: v for k, v in json.loads((COG / "t5_config.json").read_text()).items()
                 if k not in ("transformers_version", "architectures", "dtype")}
    text_encoder = T5EncoderModel(T5Config(**t5_config)).eval()
    missing, unexpected = text_encoder.load_state_dict(
        load_file(str(COG / "t5_encoder.safetensors")), strict=False)
    assert not unexpected and missing == ["encoder.embed_tokens.weight"]  # tied to shared.weight
    pipe = feature_module.OneStepAetherPipeline(
        tokenizer=EmptyPromptTokenizer(), text_encoder=text_encoder, vae=vae,
        scheduler=CogVideoXDPMScheduler(**SCHEDULER), transformer=transformer)
    # float32 (their run: bfloat16 on the GPU; see the docstring).
    pipe.empty_prompt_embeds = pipe.encode_prompt(prompt="", do_classifier_free_guidance=False)[0]
    encode = vae.encode
    vae.encode = lambda x, *a, **k: encode(x.float(), *a, **k)
    return pipe


def run_call_at_fixture_size(pipe, feature_module, image, video):
    """OneStepAetherPipeline.__call__ with its 480 x 720 x 41 constants set to the fixture's."""
    source = textwrap.dedent(inspect.getsource(feature_module.OneStepAetherPipeline.__call__))
    for old, new in ((" = 480", f" = {HEIGHT}"), (" = 720", f" = {WIDTH}"),
                     ("num_frames = 41", f"num_frames = {FRAMES}")):
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    source = source.replace("@torch.no_grad()\n", "")
    namespace = dict(vars(feature_module))
    exec(compile(source, feature_module.__file__, "exec"), namespace)
    with torch.no_grad():
        return namespace["__call__"](pipe, image, video, t=INDEX, output_layers=[0, 1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkout", type=pathlib.Path,
                        help="VidFM3D checkout (holds features/aether/)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    import diffusers  # noqa: F401  (before the stand-ins: it probes matplotlib's spec)
    import transformers  # noqa: F401
    stub_visualisation_modules()
    sys.path.insert(0, str(args.checkout))
    feature_module = importlib.import_module("features.aether.aether_feature")
    pipeline_module = importlib.import_module(
        "features.aether.aether.pipelines.aetherv1_pipeline_cogvideox")
    from diffusers import CogVideoXTransformer3DModel
    from diffusers.models.autoencoders import vae as vae_module
    from diffusers.schedulers import scheduling_dpm_cogvideox as dpm_module

    pipe = build_pipeline(feature_module)
    generator = torch.Generator().manual_seed(5)
    clip = (torch.rand(FRAMES, 3, HEIGHT, WIDTH, generator=generator) > 0.5).to(torch.uint8) * 255
    frames = [Image.fromarray(f.permute(1, 2, 0).numpy()) for f in clip]
    assert np.array_equal(np.asarray(frames[3]), clip[3].permute(1, 2, 0).numpy())

    latent_frames = (FRAMES - 1) // 4 + 1
    dpm_draws = ["dpm"] * (2 * STEPS - 2)
    labels = ["video_sample", "init", *dpm_draws, "image_sample", "discarded", "add_noise"]
    noise = NoiseProvider(SEED, labels)
    captured = {}
    reconstruct = pipe.reconstruct

    def capture_reconstruct(*a, **k):
        captured["geometry"] = reconstruct(*a, **k)
        return captured["geometry"]

    pipe.reconstruct = capture_reconstruct
    saved = (pipeline_module.randn_tensor, vae_module.randn_tensor, dpm_module.randn_tensor,
             torch.randn_like)
    pipeline_module.randn_tensor = vae_module.randn_tensor = dpm_module.randn_tensor = noise
    torch.randn_like = lambda t, *a, **k: noise(t.shape)
    try:
        states = run_call_at_fixture_size(pipe, feature_module, frames[0], frames)
    finally:
        (pipeline_module.randn_tensor, vae_module.randn_tensor, dpm_module.randn_tensor,
         torch.randn_like) = saved
    assert not noise.labels, noise.labels
    print(noise.drawn)
    assert noise.drawn[0][1] == (1, 16, latent_frames, HEIGHT // 8, WIDTH // 8)
    assert noise.drawn[-1][1] == (1, latent_frames, 56, HEIGHT // 8, WIDTH // 8)

    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in pipe.transformer.state_dict().items()},
              str(OUT / "backbone_transformer.safetensors"))
    config = {k: v for k, v in pipe.transformer.config.items() if not k.startswith("_")}
    (OUT / "backbone_transformer_config.json").write_text(json.dumps(config, indent=1) + "\n")
    save_file({k: v.contiguous() for k, v in pipe.vae.state_dict().items()
               if k.startswith("encoder.")}, str(OUT / "backbone_vae_encoder.safetensors"))
    config = {k: v for k, v in pipe.vae.config.items() if not k.startswith("_")}
    (OUT / "backbone_vae_config.json").write_text(json.dumps(config, indent=1) + "\n")
    (OUT / "backbone_scheduler_config.json").write_text(json.dumps(SCHEDULER, indent=1) + "\n")
    timestep = int(pipe.scheduler.timesteps[INDEX])
    ref = {"clip": clip, "context": pipe.empty_prompt_embeds.float(),
           "geometry": captured["geometry"].float(), "timestep": torch.tensor([timestep])}
    for layer, video in states.items():
        ref[f"block{layer}"] = video[0].float()
    save_file({k: v.contiguous() for k, v in ref.items()},
              str(OUT / "backbone_reference.safetensors"))
    meta = dict(seed=SEED, index=INDEX, timestep=timestep, steps=STEPS, fps=FPS)
    (OUT / "backbone_meta.json").write_text(json.dumps(meta) + "\n")

    with torch.device("meta"):
        real = CogVideoXTransformer3DModel(**REAL)
    state = real.state_dict()
    counts = dict(aether=dict(state_dict_elements=sum(v.numel() for v in state.values()),
                              state_dict_keys=len(state),
                              parameters=sum(p.numel() for p in real.parameters())))
    (OUT / "backbone_param_counts.json").write_text(json.dumps(counts) + "\n")
    print(meta, counts, {k: tuple(v.shape) for k, v in ref.items()})


if __name__ == "__main__":
    main()

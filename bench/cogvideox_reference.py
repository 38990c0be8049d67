#!/usr/bin/env python3
"""CogVideoX (2B, 5B, 5B-I2V) and AetherV1 at real size on the GPU, the reference side, for
scripts/gpu-cogvideox.sh (--variant 5b-i2v, the default, 5b, 2b or aether):

  make DIR   a random model at the published size in the diffusers layout (transformer/ in bf16,
             vae/ in fp32, scheduler/, an empty-prompt stand-in context of 226 x 4096 in
             DIR/context.safetensors) plus DIR/parity.safetensors, the reference's float32 view
             of one clip at the authors' point, block 20 at index 749 of 1000 trailing scheduler
             steps (timestep 250), TF32 off:
               5b-i2v, 5b, 2b  (diffusers) one 49-frame 480 x 720 clip, its scaled posterior-mean
                  latents, the seeded DDIM noise, for 5b-i2v the first-frame latents (posterior
                  MEAN: vidprobe's image_latents=mean, so no sampling noise has to be shared), the
                  transformer input and block 20's video hidden states, as
                  tools/make_cogvideox_backbone_fixtures.py computes them at fixture size;
               aether  (the official Aether pipeline) the authors' videogen protocol on one
                  41-frame 480 x 720 clip (VidFM3D's OneStepAetherPipeline, which vidprobe's
                  aether backbone implements): the 4-step DPM reconstruction of the geometry
                  latents, then the feature pass on [noised clip latents | geometry] with the
                  fps-8 RoPE; every random draw from one CPU generator seeded SEED in the
                  pipeline's order (vidprobe's NoiseStream); stored: clip, latents, geometry,
                  input, block 20, seed.
             tests/backbones/cogvideox/real_size_test.cpp compares vidprobe against it
             (VIDPROBE_COGVIDEOX_PARITY_DIR=DIR for 5b-i2v, VIDPROBE_COGVIDEOX_5B_PARITY_DIR,
             VIDPROBE_COGVIDEOX_2B_PARITY_DIR, VIDPROBE_AETHER_PARITY_DIR).
  bench DIR  clips/s of the same extraction in the reference on the same GPU: VAE encode(s), the
             noising, the transformer with the pipeline's RoPE tables (Aether: the official
             pipeline's 4-step reconstruction first). Two transformer variants are timed: all
             blocks (what the authors' TransformerCogVideoXWithFeatureOutput runs) and stopping
             after block 20 (a forward hook raises: the fastest a diffusers user gets). VAE in
             float32 (vidprobe's choice) and in the transformer dtype (the authors' fp16/bf16
             pipeline). One JSON line each. --vae-dtypes and --blocks pick a subset (default:
             all four); --vae-tiling calls vae.enable_tiling() first, as the authors'
             AetherFeaturizer does (every line says vae_tiling).
  tiled DIR  the VAE of DIR (vae/, made by make) encoding DIR's parity clip after
             vae.enable_tiling() without arguments (240 x 360 pixel tiles at 480 x 720, the
             authors' Aether setting), float32 with TF32 off, and the same VAE cast to bf16:
             DIR/tiled.safetensors with clip, moments_fp32, moments_bf16 (diffusers' posterior
             parameters, mean | logvar, (1, 32, T', H / 8, W / 8)) and untiled_fp32 (the same
             VAE untiled, the negative control). tests/backbones/cogvideox/
             real_size_tiling_test.cpp reads it (VIDPROBE_COGVIDEOX_TILED_DIR=DIR).

Models. Each transformer is built by the reference's own constructor, diffusers'
CogVideoXTransformer3DModel, random-initialised, from the published config values
(transformer/config.json of THUDM/CogVideoX-2b, -5b, -5b-I2V; the same values are vidprobe's
registry sizes, src/vidprobe/backbones/cogvideox/config.cpp, checked on the meta device by
tools/make_cogvideox_fixtures.py's param_counts.json): 2B 30 heads x 64, 30 layers, 3D sin-cos
positions, no RoPE; 5B 48 x 64, 42 layers, RoPE; 5B-I2V as 5B with in_channels 32 and learned
positions. AetherV1 (AetherWorldModel/AetherV1's transformer/, loaded by the official code as a
stock CogVideoXTransformer3DModel) is 5B-I2V's configuration with Aether's channels, in 96 /
out 56 (its hub config.json is not mirrored here: the channels are the ones the official
pipeline hard-codes, the rest is 5B-I2V's, as vidprobe's aether_transformer_config). The VAE
is AutoencoderKLCogVideoX's defaults (the published vae/config.json) with scaling_factor
1.15258426 (2B) or 0.7 (5B, 5B-I2V, Aether, which loads 5B-I2V's VAE). Schedulers: the published
scheduler_config.json values (scaled_linear 0.00085..0.012, v_prediction, zero-terminal-SNR
rescale, trailing spacing) with snr_shift_scale 3.0 (2B; also diffusers' and vidprobe's default)
or 1.0 (5B, 5B-I2V). Sources: the VAE scaling factors as vidprobe's cogvideox/config.h records
them and diffusers' convert_cogvideox_to_diffusers.py documents them; the snr_shift_scale per
size is that script's help text as remembered, not re-read from the hub files here (both sides
read the same scheduler_config.json, so parity does not depend on it; only alphas_cumprod and,
for Aether, the DPM steps matter). Aether runs them as CogVideoXDPMScheduler (VidFM3D's
AetherFeaturizer loads 5B-I2V's scheduler config so).

Aether's reference: the official package (github OpenRobotLab/Aether, aether/pipelines/
aetherv1_pipeline_cogvideox.py; .ref/Aether/ by scripts/gpu-official-ref.sh, or --aether-src).
Built by its own constructor AetherV1PipelineCogVideoX(tokenizer, text_encoder, vae, scheduler,
transformer). The reconstruction is its own __call__(task="reconstruction", video=frames,
fps=8, 41 frames at 480 x 720): VidFM3D's OneStepAetherPipeline.reconstruct is that __call__
up to the end of its denoising loop (checked by diff at VidFM3D 84ea537), so the latents are
taken from the scheduler's last step and the call is stopped when it starts decoding. The
feature pass is VidFM3D's OneStepAetherPipeline.__call__ (videogen) made of the official
pipeline's own methods: video_processor.preprocess(_video), prepare_latents(image=frame 0)
(the condition: frame 0's posterior sample x scaling, zero-padded, | zero camera), the clip's
posterior mean x scaling | geometry, scheduler.set_timesteps(1000) and add_noise at
timesteps[749], _prepare_rotary_positional_embeddings(..., fps=8), the transformer on
[noisy | condition]. Stand-ins (the numbers do not depend on them): the tokenizer
(tools/make_aether_backbone_fixtures.py's EmptyPromptTokenizer) and a text encoder that returns
the stored random context (a random T5-XXL would be 4.7 B parameters for one prompt); the
pipeline's bf16 empty_prompt_embeds replaced by that context in float32 for make (in the model
dtype for bench); vae.encode casts its input to the VAE's dtype (the pipeline hands it bf16 /
fp16 pixels; the authors run under autocast); the clip's pixels are 0 or 255 only, so -1 / 1
are exact in every one of those dtypes (asserted). Import-time dependencies of the official
module: numpy, PIL, torch, diffusers, transformers, einops (.ref/site/) and aether.utils.
preprocess_utils (numpy only); nothing is stubbed.
Checked on CPU: this path, given the weights, context, clip and seed of
tests/fixtures/aether/backbone_* (made by tools/make_aether_backbone_fixtures.py with VidFM3D's
own OneStepAetherPipeline), reproduces their geometry latents and block-1 states exactly
(max difference 0).

--tiny: the same code at a few-second CPU size for a dry run of scripts/gpu-cogvideox.sh
(VIDPROBE_COGVIDEOX_TINY=1): 2 heads x 16, 2 blocks (the feature block is then 1), a 4/8-channel
VAE, 9 (Aether 17) frames of 32 x 48. Its figures mean nothing.

Versions: torch 2.11.0, diffusers 0.42.1 (carried as a wheel: see scripts/gpu-cogvideox.sh),
transformers 5.x, einops 0.8.2; Aether at the commit in .ref/Aether/.commit.
Rerun: bash scripts/gpu-cogvideox.sh OUT (VIDPROBE_COGVIDEOX_VARIANTS picks the variants), or
  python3 bench/cogvideox_reference.py make DIR --variant aether
  python3 bench/cogvideox_reference.py bench DIR --variant aether --iterations 3
"""
import argparse
import dataclasses
import json
import pathlib
import sys
import time
import types

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]

TRANSFORMER_5B_I2V = dict(
    num_attention_heads=48, attention_head_dim=64, in_channels=32, out_channels=16,
    flip_sin_to_cos=True, freq_shift=0, time_embed_dim=512, text_embed_dim=4096, num_layers=42,
    dropout=0.0, attention_bias=True, sample_width=90, sample_height=60, sample_frames=49,
    patch_size=2, temporal_compression_ratio=4, max_text_seq_length=226,
    activation_fn="gelu-approximate", timestep_activation_fn="silu", norm_elementwise_affine=True,
    norm_eps=1e-5, spatial_interpolation_scale=1.875, temporal_interpolation_scale=1.0,
    use_rotary_positional_embeddings=True, use_learned_positional_embeddings=True)
TRANSFORMER_5B = dict(TRANSFORMER_5B_I2V, in_channels=16, use_learned_positional_embeddings=False)
TRANSFORMER_2B = dict(TRANSFORMER_5B, num_attention_heads=30, num_layers=30,
                      use_rotary_positional_embeddings=False)
# Hard-coded by AetherV1PipelineCogVideoX.prepare_latents: latents 16 | 16 | 24 = 56, condition
# 16 + 24; the transformer reads both.
AETHER_LATENTS, AETHER_CONDITION = 56, 16 + 24
TRANSFORMER_AETHER = dict(TRANSFORMER_5B_I2V, in_channels=AETHER_LATENTS + AETHER_CONDITION,
                          out_channels=AETHER_LATENTS)
VAE_SCALING_5B, VAE_SCALING_2B = 0.7, 1.15258426
SCHEDULER_5B = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                    num_train_timesteps=1000, prediction_type="v_prediction",
                    rescale_betas_zero_snr=True, snr_shift_scale=1.0, timestep_spacing="trailing",
                    set_alpha_to_one=True, steps_offset=0, clip_sample=False)
SCHEDULER_2B = dict(SCHEDULER_5B, snr_shift_scale=3.0)
HEIGHT, WIDTH, LAYER, INDEX, NOISE_SEED = 480, 720, 20, 749, 1234
AETHER_FPS, AETHER_STEPS, AETHER_SEED = 8, 4, 3  # VidFM3D's fps; the reconstruction's 4 steps

# --tiny: transformer and VAE overrides, clip size.
TINY_TRANSFORMER = dict(num_attention_heads=2, attention_head_dim=16, num_layers=2,
                        time_embed_dim=16, text_embed_dim=20, sample_height=4, sample_width=6,
                        sample_frames=9)
TINY_VAE = dict(block_out_channels=(4, 8, 8, 8), layers_per_block=1, norm_num_groups=2)
TINY_HEIGHT, TINY_WIDTH = 32, 48


@dataclasses.dataclass(frozen=True)
class Variant:
    backbone: str      # vidprobe's registry name
    hub: str           # the published repository whose config values are used
    transformer: dict
    vae_scaling: float
    scheduler: dict
    frames: int
    tiny_frames: int
    image: bool        # image-to-video: the first frame's latents in the input
    aether: bool = False


VARIANTS = {
    "5b-i2v": Variant("cogvideox-5b-i2v", "THUDM/CogVideoX-5b-I2V", TRANSFORMER_5B_I2V,
                      VAE_SCALING_5B, SCHEDULER_5B, 49, 9, image=True),
    "5b": Variant("cogvideox-5b", "THUDM/CogVideoX-5b", TRANSFORMER_5B, VAE_SCALING_5B,
                  SCHEDULER_5B, 49, 9, image=False),
    "2b": Variant("cogvideox-2b", "THUDM/CogVideoX-2b", TRANSFORMER_2B, VAE_SCALING_2B,
                  SCHEDULER_2B, 49, 9, image=False),
    "aether": Variant("aether", "AetherWorldModel/AetherV1 (+ THUDM/CogVideoX-5b-I2V vae, "
                      "scheduler)", TRANSFORMER_AETHER, VAE_SCALING_5B, SCHEDULER_5B, 41, 17,
                      image=True, aether=True),
}


@dataclasses.dataclass(frozen=True)
class Setup:
    """A variant at the size of this run (real, or --tiny)."""
    variant: Variant
    name: str
    device: torch.device
    tiny: bool

    @property
    def transformer(self):
        config = dict(self.variant.transformer)
        return dict(config, **TINY_TRANSFORMER) if self.tiny else config

    @property
    def vae(self):
        return dict(TINY_VAE if self.tiny else {}, scaling_factor=self.variant.vae_scaling)

    @property
    def frames(self):
        return self.variant.tiny_frames if self.tiny else self.variant.frames

    @property
    def height(self):
        return TINY_HEIGHT if self.tiny else HEIGHT

    @property
    def width(self):
        return TINY_WIDTH if self.tiny else WIDTH

    @property
    def layer(self):
        return min(LAYER, self.transformer["num_layers"] - 1)


class StopAfterBlock(Exception):
    pass


class StopBeforeDecoding(Exception):
    pass


def emit(**fields):
    print(json.dumps(fields), flush=True)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_gb(device):
    return torch.cuda.max_memory_allocated() / 1e9 if device.type == "cuda" else None


def scheduler_and_timestep(setup):
    from diffusers.schedulers.scheduling_ddim_cogvideox import CogVideoXDDIMScheduler
    scheduler = CogVideoXDDIMScheduler(**setup.variant.scheduler)
    scheduler.set_timesteps(1000)
    return scheduler, scheduler.timesteps[torch.tensor([INDEX])]


def pipeline_class(setup):
    if setup.variant.image:
        from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import (
            CogVideoXImageToVideoPipeline)
        return CogVideoXImageToVideoPipeline
    from diffusers.pipelines.cogvideo.pipeline_cogvideox import CogVideoXPipeline
    return CogVideoXPipeline


def rope(setup, model, latents, device):
    """The pipeline's own RoPE tables (None without RoPE: 2B), called on a stand-in exactly as
    the fixtures do."""
    if not model.config.use_rotary_positional_embeddings:
        return None
    stand_in = types.SimpleNamespace(vae_scale_factor_spatial=8, transformer=model)
    _, frames, _, h, w = latents.shape
    return pipeline_class(setup)._prepare_rotary_positional_embeddings(
        stand_in, h * 8, w * 8, frames, device)


def encode(vae, clip, dtype, image):
    """clip (T, 3, H, W) in [0, 1] -> scaled posterior means of the clip and (I2V) of frame 0
    alone, zero-padded in time (else None)."""
    video = (clip * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0).to(dtype)
    scale = vae.config.scaling_factor
    latents = vae.encode(video).latent_dist.mean.permute(0, 2, 1, 3, 4) * scale
    if not image:
        return latents.float(), None
    first = vae.encode(video[:, :, :1]).latent_dist.mean.permute(0, 2, 1, 3, 4) * scale
    padding = torch.zeros(1, latents.shape[1] - 1, *first.shape[2:], device=first.device,
                          dtype=first.dtype)
    return latents.float(), torch.cat([first, padding], dim=1).float()


def transformer_input(latents, image_latents, noise, scheduler, t):
    noisy = scheduler.add_noise(latents, noise, t.to(latents.device))
    return noisy if image_latents is None else torch.cat([noisy, image_latents], dim=2)


def block_states(model, layer, model_input, context, t, rotary, stop):
    captured = {}

    def hook(_module, _inputs, out):
        captured["states"] = out[0]
        if stop:
            raise StopAfterBlock

    handle = model.transformer_blocks[layer].register_forward_hook(hook)
    try:
        model(hidden_states=model_input, encoder_hidden_states=context,
              timestep=t.expand(1).to(model_input.device), image_rotary_emb=rotary,
              return_dict=False)
    except StopAfterBlock:
        pass
    finally:
        handle.remove()
    return captured["states"]


def random_clip(setup, generator):
    clip = torch.rand(setup.frames, 3, setup.height, setup.width, generator=generator)
    if setup.variant.aether:  # 0 or 1: pixels exact in the pipeline's bf16 / fp16 casts
        clip = (clip > 0.5).float()
    return clip


def build(setup, root):
    """The random model, saved in the diffusers layout; returns (transformer bf16, VAE fp32,
    context, clip)."""
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel
    from safetensors.torch import save_file
    torch.manual_seed(0)
    with setup.device:  # initialising 5.6 B parameters on the CPU takes minutes
        model = CogVideoXTransformer3DModel(**setup.transformer).to(torch.bfloat16).eval()
        vae = AutoencoderKLCogVideoX(**setup.vae).eval()
    model.save_pretrained(root / "transformer", safe_serialization=True, max_shard_size="5GB")
    vae.save_pretrained(root / "vae", safe_serialization=True)
    (root / "scheduler").mkdir(parents=True, exist_ok=True)
    name = "CogVideoXDPMScheduler" if setup.variant.aether else "CogVideoXDDIMScheduler"
    scheduler_config = dict(setup.variant.scheduler, _class_name=name)
    (root / "scheduler" / "scheduler_config.json").write_text(
        json.dumps(scheduler_config, indent=2))
    generator = torch.Generator().manual_seed(99)
    clip = random_clip(setup, generator)
    config = setup.transformer
    context = torch.randn(1, config["max_text_seq_length"], config["text_embed_dim"],
                          generator=generator)
    save_file({"context": context}, str(root / "context.safetensors"))
    (root / "variant.json").write_text(json.dumps(
        {"variant": setup.name, "backbone": setup.variant.backbone, "hub": setup.variant.hub,
         "tiny": setup.tiny, "frames": setup.frames, "height": setup.height,
         "width": setup.width, "layer": setup.layer}) + "\n")
    return model, vae, context, clip


def make(setup, directory):
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    root = pathlib.Path(directory)
    start = time.time()
    model, vae, context, clip = build(setup, root)
    # The float32 reference reads the saved bf16 weights back, as vidprobe does: buffers that are
    # not saved (2B's sin-cos position table) are then made in float32 by the constructor, not
    # bf16-rounded by the cast above.
    from diffusers import CogVideoXTransformer3DModel
    del model
    model = CogVideoXTransformer3DModel.from_pretrained(root / "transformer",
                                                       torch_dtype=torch.float32).eval()
    made = time.time() - start
    if setup.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if setup.variant.aether:
        saved = make_aether(setup, model, vae, context, clip)
    else:
        saved = make_cogvideox(setup, model, vae, context, clip)
    saved.update(clip=clip, layer=torch.tensor([setup.layer]))
    from safetensors.torch import save_file
    save_file({k: v.cpu().contiguous() for k, v in saved.items()},
              str(root / "parity.safetensors"))
    block = saved[f"block{setup.layer}"]
    emit(benchmark="cogvideox_make_random_weights", variant=setup.name,
         backbone=setup.variant.backbone, tiny=setup.tiny, seconds=made,
         reference_seconds=time.time() - start - made, timestep=int(saved["timestep"].item()),
         frames=setup.frames, latents=list(saved["latents"].shape), layer=setup.layer,
         block=list(block.shape), reference_peak_allocated_gb=peak_gb(setup.device))


def make_cogvideox(setup, model, vae, context, clip):
    device = setup.device
    scheduler, t = scheduler_and_timestep(setup)
    with torch.no_grad():
        vae = vae.to(device)
        latents, image_latents = encode(vae, clip.to(device), torch.float32, setup.variant.image)
        vae.cpu()
        noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(NOISE_SEED))
        model = model.to(device)
        model_input = transformer_input(latents, image_latents, noise.to(device), scheduler, t)
        rotary = rope(setup, model, latents, device)
        states = block_states(model, setup.layer, model_input, context.to(device), t, rotary,
                              stop=True)
    _, f, _, h, w = latents.shape
    saved = {"latents": latents, "noise": noise, "input": model_input,
             "timestep": t.to(torch.int64),
             f"block{setup.layer}": states.reshape(f, h // 2, w // 2, -1)}
    if image_latents is not None:
        saved["image_latents"] = image_latents
    return saved


# ---- Aether: the official pipeline ----

def import_aether(source):
    """The official pipeline module from a checkout holding aether/ (.ref/Aether by default);
    .ref/site (einops) is appended to sys.path, never ahead of the image's own packages."""
    source = pathlib.Path(source)
    if not (source / "aether" / "pipelines" / "aetherv1_pipeline_cogvideox.py").is_file():
        sys.exit(f"cogvideox_reference.py: no aether/pipelines/ under {source} "
                 "(run scripts/gpu-official-ref.sh, or give --aether-src)")
    sys.path.insert(0, str(source))
    site = ROOT / ".ref" / "site"
    if site.is_dir():
        sys.path.append(str(site))
    from aether.pipelines import aetherv1_pipeline_cogvideox
    return aetherv1_pipeline_cogvideox


class ContextEncoder(torch.nn.Module):
    """Stands in for T5 in the pipeline's constructor: returns the stored context for the empty
    prompt (the only prompt the pipeline encodes)."""

    def __init__(self, context):
        super().__init__()
        self.register_buffer("context", context)

    @property
    def device(self):
        return self.context.device

    @property
    def dtype(self):
        return self.context.dtype

    def forward(self, input_ids):
        return (self.context.to(input_ids.device),)


class SeededDraws:
    """The pipeline's random draws (diffusers' randn_tensor) in order from one CPU generator, as
    vidprobe's NoiseStream makes them; a 'discarded' draw (the feature pass's prepare_latents
    initial latents, which it throws away and vidprobe does not make) gets zeros and takes
    nothing from the generator."""

    def __init__(self, seed, labels):
        self.generator = torch.Generator().manual_seed(seed)
        self.labels = list(labels)
        self.drawn = []

    def __call__(self, shape, generator=None, device=None, dtype=None, layout=None):
        label = self.labels.pop(0)
        shape = tuple(shape)
        self.drawn.append((label, shape))
        draw = torch.zeros(shape) if label == "discarded" else torch.randn(
            shape, generator=self.generator)
        return draw.to(device=device or "cpu", dtype=dtype or torch.float32)


def aether_pipeline(module, model, vae, scheduler_config, context, dtype, record=False):
    """AetherV1PipelineCogVideoX by its own constructor; vae.encode reads the VAE's dtype (and,
    with record, keeps its inputs in pipe.encoded_inputs)."""
    from diffusers import CogVideoXDPMScheduler
    sys.path.insert(0, str(ROOT / "tools"))
    from make_aether_backbone_fixtures import EmptyPromptTokenizer
    pipe = module.AetherV1PipelineCogVideoX(
        tokenizer=EmptyPromptTokenizer(), text_encoder=ContextEncoder(context.float()),
        vae=vae, scheduler=CogVideoXDPMScheduler(**scheduler_config), transformer=model)
    pipe.empty_prompt_embeds = context.to(model.device, dtype)
    encode = getattr(vae, "reference_encode", vae.encode)  # the VAE's own, once wrapped
    vae.reference_encode = encode
    pipe.encoded_inputs = []

    def encode_in_vae_dtype(x, *args, **kwargs):
        if record:
            pipe.encoded_inputs.append(x)
        return encode(x.to(vae.dtype), *args, **kwargs)

    vae.encode = encode_in_vae_dtype
    return pipe


def aether_frames(clip):
    from PIL import Image
    pixels = (clip * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return [Image.fromarray(frame) for frame in pixels]


def aether_reconstruct(setup, pipe, frames):
    """The official __call__(task="reconstruction") up to its decoding: the geometry latents."""
    steps = []
    step = pipe.scheduler.step

    def recording_step(*args, **kwargs):
        out = step(*args, **kwargs)
        steps.append(out[0])
        return out

    def stop(*_args, **_kwargs):
        raise StopBeforeDecoding

    pipe.scheduler.step = recording_step
    pipe.decode_latents = stop
    try:
        pipe(task="reconstruction", video=frames, height=setup.height, width=setup.width,
             num_frames=setup.frames, fps=AETHER_FPS)
    except StopBeforeDecoding:
        pass
    finally:
        del pipe.scheduler.step
        del pipe.decode_latents
    assert len(steps) == AETHER_STEPS, len(steps)
    latents = steps[-1].to(pipe.empty_prompt_embeds.dtype)
    return latents[:, :, pipe.vae.config.latent_channels:]


def aether_feature_pass(setup, pipe, frames, geometry, draw, stop):
    """VidFM3D's OneStepAetherPipeline.__call__ (videogen) with the official pipeline's methods:
    (transformer input, clip latents, block states)."""
    device = pipe.transformer.device
    height, width = setup.height, setup.width
    image = pipe.video_processor.preprocess(frames[0], height=height, width=width).to(
        device, dtype=torch.float16)
    video = pipe.video_processor.preprocess_video(frames, height=height, width=width).to(
        device, dtype=torch.bfloat16)
    embeds = pipe.empty_prompt_embeds.to(device)
    _, condition = pipe.prepare_latents(image, None, None, None, 1, setup.frames, height, width,
                                        embeds.dtype, device, None)
    pipe.scheduler.set_timesteps(1000, device=device)
    latents = pipe.vae.encode(video).latent_dist.mean.permute(0, 2, 1, 3, 4)
    latents = pipe.vae_scaling_factor_image * latents
    clip_latents = latents
    latents = torch.cat([latents, geometry], dim=2)
    rotary = pipe._prepare_rotary_positional_embeddings(height, width, latents.size(1), device,
                                                        fps=AETHER_FPS)
    t = pipe.scheduler.timesteps[torch.tensor([INDEX], device=device)]
    noisy = pipe.scheduler.add_noise(latents, draw(latents.shape, device=device,
                                                   dtype=latents.dtype), t)
    model_input = torch.cat([noisy, condition], dim=2)
    # In the transformer's dtype, as the authors' autocast runs it (a no-op in float32).
    states = block_states(pipe.transformer, setup.layer, model_input.to(pipe.transformer.dtype),
                          embeds, t, rotary, stop)
    return model_input, clip_latents, states, t


def make_aether(setup, model, vae, context, clip):
    from diffusers.models.autoencoders import vae as vae_module
    from diffusers.schedulers import scheduling_dpm_cogvideox as dpm_module
    module = import_aether(ARGS.aether_src)
    device = setup.device
    model = model.to(device)
    pipe = aether_pipeline(module, model, vae.to(device), setup.variant.scheduler, context,
                           torch.float32, record=True)
    frames = aether_frames(clip)
    dpm_draws = ["dpm"] * (2 * AETHER_STEPS - 2)
    draws = SeededDraws(AETHER_SEED, ["video_sample", "init", *dpm_draws, "image_sample",
                                      "discarded", "add_noise"])
    saved_draws = module.randn_tensor, vae_module.randn_tensor, dpm_module.randn_tensor
    module.randn_tensor = vae_module.randn_tensor = dpm_module.randn_tensor = draws
    try:
        with torch.no_grad():
            geometry = aether_reconstruct(setup, pipe, frames)
            model_input, latents, states, t = aether_feature_pass(setup, pipe, frames, geometry,
                                                                  draws, stop=True)
    finally:
        module.randn_tensor, vae_module.randn_tensor, dpm_module.randn_tensor = saved_draws
    assert not draws.labels, draws.labels
    pixels = (clip * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0)
    for x in pipe.encoded_inputs:  # the pipeline's preprocessing left the pixels as they were
        assert torch.equal(x.float().cpu(), pixels[:, :, :x.shape[2]]), "pixels changed"
    _, f, _, h, w = latents.shape
    return {"latents": latents.float(), "geometry": geometry.float(), "input": model_input.float(),
            "timestep": t.cpu().to(torch.int64), "seed": torch.tensor([AETHER_SEED]),
            f"block{setup.layer}": states.float().reshape(f, h // 2, w // 2, -1)}


# ---- bench ----

def bench(setup, directory, iterations, dtype_name):
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel
    from safetensors.torch import load_file
    root = pathlib.Path(directory)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    device = setup.device
    model = CogVideoXTransformer3DModel.from_pretrained(root / "transformer",
                                                       torch_dtype=dtype).to(device).eval()
    context = load_file(str(root / "context.safetensors"))["context"].to(device, dtype)
    clip = load_file(str(root / "parity.safetensors"))["clip"].to(device)
    blocks_to = setup.layer + 1
    passes = AETHER_STEPS if setup.variant.aether else 0  # full passes before the feature pass
    flops = transformer_flops(model.config, setup, blocks_to, passes)

    if setup.variant.aether:
        module = import_aether(ARGS.aether_src)
        frames = aether_frames(clip.cpu())  # the authors' dataloader hands the pipeline PIL frames

        def pipeline(vae):
            pipe = aether_pipeline(module, model, vae, setup.variant.scheduler, context, dtype)
            from diffusers.utils.torch_utils import randn_tensor

            def one(stop):
                geometry = aether_reconstruct(setup, pipe, frames)
                return aether_feature_pass(setup, pipe, frames, geometry, randn_tensor, stop)[2]
            return one
    else:
        scheduler, t = scheduler_and_timestep(setup)

        def pipeline(vae):
            def one(stop):
                latents, image_latents = encode(vae, clip, vae.dtype, setup.variant.image)
                noise = torch.randn(latents.shape, device=device)
                model_input = transformer_input(latents, image_latents, noise, scheduler,
                                                t).to(dtype)
                rotary = rope(setup, model, latents, device)
                return block_states(model, setup.layer, model_input, context, t, rotary, stop)
            return one

    vae_names = ARGS.vae_dtypes.split(",") if ARGS.vae_dtypes else ["fp32", dtype_name]
    if len(set(vae_names)) != len(vae_names) or not set(vae_names) <= {"fp32", dtype_name}:
        sys.exit(f"cogvideox_reference.py: --vae-dtypes takes fp32 and {dtype_name}, each once, "
                 f"not {ARGS.vae_dtypes!r}")
    stops = {"stop": [True], "all": [False], "both": [True, False]}[ARGS.blocks]
    for vae_name in vae_names:  # a VAE of its own each: Module.to casts in place
        vae = AutoencoderKLCogVideoX.from_pretrained(root / "vae").to(device).eval()
        if vae_name != "fp32":
            vae = vae.to(dtype)
        if ARGS.vae_tiling:
            vae.enable_tiling()
        one = pipeline(vae)
        for stop in stops:
            with torch.inference_mode():
                one(stop)  # warm-up (cuDNN autotuning, allocator)
                synchronize(device)
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                start = time.perf_counter()
                for _ in range(iterations):
                    one(stop)
                synchronize(device)
                seconds = (time.perf_counter() - start) / iterations
            emit(benchmark="cogvideox_extract_reference",
                 implementation="aether" if setup.variant.aether else "diffusers",
                 variant=setup.name, backbone=setup.variant.backbone, tiny=setup.tiny,
                 frames=setup.frames, height=setup.height, width=setup.width, layer=setup.layer,
                 dtype=dtype_name, vae_dtype=vae_name, vae_tiling=bool(ARGS.vae_tiling),
                 blocks_run=blocks_to if stop else model.config.num_layers,
                 reconstruction_passes=passes, iterations=iterations,
                 ms_per_clip=1000 * seconds, clips_per_s=1 / seconds,
                 peak_allocated_gb=peak_gb(device),
                 transformer_tflop_to_block=flops / 1e12)


def tiled(setup, directory):
    """DIR/tiled.safetensors: diffusers' tiled encode of the parity clip (see the docstring)."""
    from diffusers import AutoencoderKLCogVideoX
    from safetensors.torch import load_file, save_file
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    root = pathlib.Path(directory)
    clip = load_file(str(root / "parity.safetensors"))["clip"]
    video = (clip * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0).to(setup.device)
    vae = AutoencoderKLCogVideoX.from_pretrained(root / "vae").to(setup.device).eval()
    saved = {"clip": clip}
    with torch.no_grad():
        saved["untiled_fp32"] = vae.encode(video).latent_dist.parameters.float()
        vae.enable_tiling()
        synchronize(setup.device)  # the untiled encode's last kernels are not the tiled one's
        start = time.perf_counter()
        saved["moments_fp32"] = vae.encode(video).latent_dist.parameters.float()
        synchronize(setup.device)
        seconds = time.perf_counter() - start
        vae = vae.to(torch.bfloat16)
        saved["moments_bf16"] = vae.encode(video.to(torch.bfloat16)).latent_dist.parameters.float()
    save_file({k: v.cpu().contiguous() for k, v in saved.items()}, str(root / "tiled.safetensors"))
    scale = saved["moments_fp32"].abs().max()
    emit(benchmark="cogvideox_tiled_reference", variant=setup.name, frames=clip.shape[0],
         height=clip.shape[2], width=clip.shape[3],
         tile=[vae.tile_sample_min_height, vae.tile_sample_min_width],
         moments=list(saved["moments_fp32"].shape), tiled_fp32_seconds_no_warmup=seconds,
         untiled_vs_tiled_max_rel=float((saved["untiled_fp32"] - saved["moments_fp32"]).abs().max()
                                        / scale),
         bf16_vs_fp32_max_rel=float((saved["moments_bf16"] - saved["moments_fp32"]).abs().max()
                                    / scale),
         bf16_vs_fp32_norm_rel=float((saved["moments_bf16"] - saved["moments_fp32"]).norm()
                                     / saved["moments_fp32"].norm()))


def transformer_flops(config, setup, blocks, full_passes=0):
    """Matmul FLOPs (2 per MAC) of `blocks` expert blocks on the clip, plus `full_passes` passes
    through all of them (Aether's reconstruction)."""
    tokens_video = (setup.frames - 1) // 4 + 1
    tokens_video *= (setup.height // 16) * (setup.width // 16)
    tokens = tokens_video + config.max_text_seq_length
    d = config.num_attention_heads * config.attention_head_dim
    per_block = 2 * tokens * (4 * d * d + 2 * 4 * d * d) + 2 * 2 * tokens * tokens * d
    return (blocks + full_passes * config.num_layers) * per_block


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["make", "bench", "tiled"])
    parser.add_argument("dir")
    parser.add_argument("--variant", default="5b-i2v", choices=sorted(VARIANTS))
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp16"])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="CPU dry-run size (see the docstring)")
    parser.add_argument("--aether-src", default=str(ROOT / ".ref" / "Aether"),
                        help="a checkout holding the official aether/ package")
    parser.add_argument("--vae-dtypes", default="",
                        help="bench: comma-separated subset of fp32 and --dtype (default both)")
    parser.add_argument("--blocks", default="both", choices=["stop", "all", "both"],
                        help="bench: stop after block 20, run all blocks, or time both")
    parser.add_argument("--vae-tiling", action="store_true",
                        help="bench: vae.enable_tiling() as the authors' AetherFeaturizer")
    ARGS = parser.parse_args()
    setup = Setup(VARIANTS[ARGS.variant], ARGS.variant, torch.device(ARGS.device), ARGS.tiny)
    if ARGS.command == "make":
        make(setup, ARGS.dir)
    elif ARGS.command == "tiled":
        tiled(setup, ARGS.dir)
    else:
        bench(setup, ARGS.dir, ARGS.iterations, ARGS.dtype)


ARGS = None

if __name__ == "__main__":
    sys.exit(main())

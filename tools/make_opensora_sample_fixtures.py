"""Writes tests/fixtures/opensora/sample_reference.safetensors and sample.json: a short generation
by Open-Sora 2.0's OFFICIAL inference function (opensora/utils/sampling.py prepare_api's api_fn:
get_noise, get_schedule with its resolution- and frames-dependent time shift, prepare,
prepare_inference_condition, I2VDenoiser.denoise's Euler rectified-flow steps with its guidance,
unpack, the i2v_head replacement of latent frame 0 and model_ae.decode) on the small random
weights of the other Open-Sora fixtures (mmdit.safetensors, decoder_vae.safetensors), so
vidprobe's sampler (src/vidprobe/backbones/opensora/sampling.h) is checked against the official
loop it shares nothing with.

What stands in for what (nothing of api_fn's own arithmetic is replaced):
  model_t5, model_clip             callables returning reference.safetensors' txt[0] and y_vec[0]
                                   for every prompt: the empty prompt's conditioning the check's
                                   weights directory holds (empty_prompt.safetensors)
  collect_references_batch         returns a fixed first-frame latent instead of reading an image
                                   file and encoding it (the check uses the extraction's own
                                   first-frame latent there)
The generation is cond_type "i2v_head" with the 256px config's sampling options except the two
guidance scales, which are 1 as in `vidprobe check` (docs/backbones.md says why): guidance=1
(config 7.5), guidance_img=1 (config 3.0); text_osci, image_osci and scale_temporal_osci stay on
as in the config (with scales of 1 they change nothing). A second run at the config's text
guidance 7.5 shows that, with the empty prompt as both the prompt and the negative prompt, the
text guidance term is exactly zero (sample.json text_guidance_7_5_max_abs_diff).

Files:
  sample_reference.safetensors (float32)
      noise     (1, 4, 3, 4, 6)   get_noise(seed) as api_fn draws it: the initial x at t = 1
      cond      (1, 5, 3, 4, 6)   [mask | masked reference] of prepare_inference_condition
      reference (4, 1, 4, 6)      the first-frame latent given to the i2v_head condition
      timesteps (steps + 1,)      get_schedule's shifted times (t = 1 .. 0)
      model_timesteps (steps,)    the timesteps the MMDiT was called with, step by step
      denoised  (1, 4, 3, 4, 6)   the latents after the last Euler step (before the replacement)
      latents   (1, 4, 3, 4, 6)   what model_ae.decode was given (latent frame 0 replaced)
      decoded   (1, 3, 9, 32, 48) api_fn's output (the decode, first num_frames frames)
  sample.json  the options (steps, seed, size, frames, guidance scales) and the text-guidance
               check

Rerun (CPU, seconds), after make_opensora_fixtures.py and make_opensora_decoder_fixtures.py, with
the packages make_opensora_fixtures.py names:
  PYTHONPATH=/tmp/osref/site /root/.cache/vidprobe/venv-torch-2.11.0/bin/python \\
      tools/make_opensora_sample_fixtures.py /path/to/Open-Sora
"""
import json
import os
import pathlib
import sys

os.environ["TORCHDYNAMO_DISABLE"] = "1"

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import opensora_reference as ref  # noqa: E402
from make_opensora_fixtures import OUT, SMALL, VAE_SMALL  # noqa: E402

HEIGHT, WIDTH, FRAMES, STEPS, SEED = 32, 48, 9, 4, 7


def load_models():
    from opensora.models.hunyuan_vae.autoencoder_kl_causal_3d import (AutoEncoder3DConfig,
                                                                      AutoencoderKLCausal3D)
    from opensora.models.mmdit.model import MMDiTConfig, MMDiTModel
    model = MMDiTModel(MMDiTConfig(from_pretrained=None, cache_dir=None, **SMALL)).eval()
    model.load_state_dict({k: v.float() for k, v in load_file(OUT / "mmdit.safetensors").items()})
    vae = AutoencoderKLCausal3D(
        AutoEncoder3DConfig(from_pretrained=None, use_spatial_tiling=True, **VAE_SMALL)).eval()
    vae.load_state_dict(
        {k: v.float() for k, v in load_file(OUT / "decoder_vae.safetensors").items()})
    return model, vae


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_opensora_sample_fixtures.py OPEN_SORA_CHECKOUT")
    ref.install(sys.argv[1])
    from opensora.utils import sampling
    from opensora.utils.inference import prepare_inference_condition

    model, vae = load_models()
    golden = load_file(OUT / "reference.safetensors")
    txt, y_vec = golden["txt"][:1].float(), golden["y_vec"][:1].float()

    def t5(prompt, added_tokens=None, seq_align=1):
        assert all(p == "" for p in prompt), prompt
        return txt.repeat(len(prompt), 1, 1)

    def clip(prompt):
        assert all(p == "" for p in prompt), prompt
        return y_vec.repeat(len(prompt), 1)

    latent_frames = (FRAMES - 1) // 4 + 1
    channels = VAE_SMALL["latent_channels"]
    reference = torch.randn(channels, 1, HEIGHT // 8, WIDTH // 8,
                            generator=torch.Generator().manual_seed(8))
    sampling.collect_references_batch = lambda *args, **kwargs: [[reference.clone()]]

    captured = {"model_timesteps": []}
    get_schedule, unpack = sampling.get_schedule, sampling.unpack

    def recording_schedule(*args, **kwargs):
        captured["timesteps"] = get_schedule(*args, **kwargs)
        return captured["timesteps"]

    def recording_unpack(*args, **kwargs):
        captured["denoised"] = unpack(*args, **kwargs).clone()
        return captured["denoised"].clone()

    sampling.get_schedule, sampling.unpack = recording_schedule, recording_unpack
    def record_call(_module, _args, kwargs):
        captured["model_timesteps"].append(kwargs["timesteps"][0].item())
        if len(captured["model_timesteps"]) == 1:
            captured["first_img"], captured["first_cond"] = kwargs["img"][:1], kwargs["cond"][:1]

    model.register_forward_pre_hook(record_call, with_kwargs=True)
    decode = vae.decode

    def recording_decode(z):
        captured["latents"] = z.clone()
        return decode(z)

    vae.decode = recording_decode

    api_fn = sampling.prepare_api(model, vae, t5, clip, {})

    def generate(guidance, guidance_img):
        option = sampling.sanitize_sampling_option(sampling.SamplingOption(
            height=HEIGHT, width=WIDTH, num_frames=FRAMES, num_steps=STEPS, shift=True,
            temporal_reduction=4, is_causal_vae=True, guidance=guidance,
            guidance_img=guidance_img, text_osci=True, image_osci=True,
            scale_temporal_osci=True, method="i2v"))
        captured["model_timesteps"] = []
        return api_fn(option, cond_type="i2v_head", seed=SEED, text=[""], ref=["first frame"],
                      patch_size=SMALL["patch_size"], channel=channels * SMALL["patch_size"] ** 2)

    decoded = generate(1.0, 1.0)
    out = dict(decoded=decoded, latents=captured["latents"], denoised=captured["denoised"],
               timesteps=torch.tensor(captured["timesteps"], dtype=torch.float64),
               model_timesteps=torch.tensor(captured["model_timesteps"], dtype=torch.float64),
               reference=reference)
    # api_fn's own draw and condition, by the same official calls with the same arguments.
    out["noise"] = sampling.get_noise(1, HEIGHT, WIDTH, latent_frames, torch.device("cpu"),
                                      torch.float32, SEED, patch_size=SMALL["patch_size"],
                                      channel=channels)
    masks, masked_ref = prepare_inference_condition(out["noise"], "i2v_head",
                                                    ref_list=[[reference]], causal=True)
    out["cond"] = torch.cat((masks, masked_ref), 1)
    # They are what the denoiser's first model call was given.
    assert torch.equal(sampling.pack(out["noise"]), captured["first_img"])
    assert torch.equal(sampling.pack(out["cond"]), captured["first_cond"])

    first_latents = out["latents"].clone()
    generate(7.5, 1.0)
    text_guidance_diff = (captured["latents"] - first_latents).abs().max().item()

    save_file({k: v.float().contiguous() for k, v in out.items()},
              OUT / "sample_reference.safetensors")
    info = dict(height=HEIGHT, width=WIDTH, frames=FRAMES, steps=STEPS, seed=SEED,
                cond_type="i2v_head", guidance=1.0, guidance_img=1.0,
                config_guidance=7.5, config_guidance_img=3.0,
                text_guidance_7_5_max_abs_diff=text_guidance_diff,
                timesteps=captured["timesteps"])
    (OUT / "sample.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info), {k: tuple(v.shape) for k, v in out.items()})


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The authors' own WAN2.1-1.3B feature extraction (github.com/zxhuang1698/VidFM3D,
features/wan/extract_features.py + wan_feature.py), timed on one 81-frame 480x832 clip with
real-size random weights, for the comparison with `vidprobe extract --preset vidfm3d` that
scripts/gpu-wan81.sh makes on the same GPU. Their modules are imported from a checkout (or
`git archive` export) holding features/wan/ and features/run_dl3dv.py; none of their code is copied.

Subcommands (each one process, so that one's allocations do not count in another's peak):

  make     --model-dir DIR
      A random WAN2.1-T2V-1.3B at real size (diffusers WanTransformer3DModel with the published
      config: 12 heads x 128 = 1536 wide, 30 blocks, FFN 8960, text dim 4096, freq dim 256 --
      1,418,996,800 parameters, checked against tests/fixtures/wan/param_counts.json -- and
      AutoencoderKLWan with its defaults = the Wan2.1 VAE), seeded (torch.manual_seed), every
      weight then perturbed by 0.02 N(0, 1) so that norms and biases are not at their
      initial values (as bench/wan_reference.py --make-parity), float32. Written in the diffusers
      layout that both sides read: DIR/transformer/, DIR/vae/ (config.json + safetensors),
      DIR/scheduler/scheduler_config.json (the published Wan2.1-T2V scheduler config,
      tools/make_wan_schedule_fixtures.py), DIR/model_index.json, and
      DIR/empty_prompt_context.safetensors: {"context": (1, 4096)}, a seeded N(0, 1) row standing
      for the umT5 output of the empty prompt (see "text encoder" below). DIR's name must contain
      "T2V": their extract_features.py picks the T2V featurizer by that substring (L173).

  bench    --checkout DIR --model-dir DIR --clip CLIPDIR --work DIR [--iters 3]
           [--precisions highest,high] [--noise-seed 0] [--clip-id ID]
      Times their extraction of the clip CLIPDIR (a `vidprobe render` clip: rgb/000000.png ...,
      81 frames of 480x832) exactly as their wrapper runs it: features/run_dl3dv.py's
      call_extractor(extract_features.main, argv) with the argv it builds (--scene-dir, --data-sft,
      --out-dir, --image-ext png) plus the paper's extractor flags from its quick-start
      (--model-id DIR --prompt "" --output-layers 20 --t 749). main() reads the frames through
      their list_frames/load_frames (a folder of frame_00001.png ... links to the clip's PNGs, and
      a data .sft with start_idx 0), runs get_wan_featurizer (lru-cached: the first call loads
      the model) and forward_wan (their OneStepWanPipeline: VideoProcessor at 480x832, the VAE
      in float32, UniPC with flow shift 3 over 1000 steps, index 749, add_noise, their
      TransformerWanWithFeatureOutput through all 30 blocks and the head, float32), reshapes and
      saves the fp16 .sft. Per precision: one untimed warm-up call (the first call of the process
      also loads the model; its time is reported as first_call_s), then --iters timed calls, each
      into a fresh --out-dir (main() skips layers whose file exists), with
      torch.cuda.synchronize() around it. The peak is torch.cuda.max_memory_allocated() over a
      timed call (reset before each).
        precisions: "highest" = torch's default float32 matmuls, which is what the paper's
          extraction ran with: run_dl3dv.py / run_co3d.py (the quick-start commands with
          --output-layers 20 --t 749) import extract_features and call main() in-process, so the
          `torch.set_float32_matmul_precision("high")` under extract_features.py's
          `if __name__ == "__main__"` (L216-218) never runs; "high" = TF32 matmuls, as when
          extract_features.py is run as a script (its docstring's "typical wrapper call").
      Then, per precision, one more (untimed) call with the noise made identical to vidprobe's:
      during that call torch.randn_like -- their only random draw, wan_feature.py L218
      `noise = torch.randn_like(latents)` -- returns torch.randn(shape,
      generator=torch.Generator().manual_seed(S)) (vidprobe's seeded_noise, draw 0) with S the
      seed vidprobe's --noise-per-clip gives this clip: SplitMix64(noise_seed ^ FNV-1a(clip id))
      (src/vidprobe/features/extractor.cpp); their code is not changed, the global function is
      swapped for the duration of the call. Their reshape_to_t_h_w_c is wrapped to keep the
      float32 block-20 features (their file holds them in fp16), saved as
      WORK/features_<precision>.safetensors {"features": (21, 1536, 30, 52)} -- vidprobe's cache
      layout (latent frame, channel, h, w) -- with the timestep and sigma their scheduler applied.

  compare  --vidprobe-cache DIR --work DIR [--clip-id ID]
      vidprobe's shard DIR/clips/<id>.safetensors against WORK/features_<precision>.safetensors:
      max |a - b|, that over max |b|, ||a - b|| / ||b|| (overall and worst latent frame), and the
      timestep / sigma in the cache's identity against those their scheduler applied.

Text encoder: their WanFeaturizer.__init__ loads the pipeline with umT5-XXL and encodes the empty
prompt once (wan_feature.py L278-296). No checkpoint can be had here and a random 5.7 B-parameter
umT5 would not change what is timed (it runs once, before the first clip), so two class
attributes of THEIR OneStepWanPipeline are replaced from outside: from_pretrained gets
text_encoder=None, tokenizer=None added, and _get_t5_prompt_embeds (what diffusers'
encode_prompt calls) returns DIR/empty_prompt_context.safetensors' row followed by zero rows up to
max_sequence_length (226 in their call) -- the layout diffusers' own code gives for "" (one umT5
row, then u.new_zeros padding; tests/fixtures/wan/schedule.json) -- on their device, float32.
vidprobe gets the same file (--backbone-opt text_context=...). Their real run keeps the float32
umT5-XXL on the GPU (pipe.to("cuda") moves every component): 5,680,910,336 parameters = 22.72 GB
that this run does not hold; it is reported beside the measured peak, never added silently.

--tiny (make and bench) is a CPU dry run of the same code paths with a tiny DiT (1 head of 12,
2 blocks) and VAE (base 4), layer 1 instead of 20 (the block must exist), one precision, one
timed call; "cuda" in their code is mapped to the CPU (their pipe.to("cuda") and the stand-in's
device). Nothing it prints is a measurement.

Packages: torch, diffusers (0.42.1 was the one checked; the GPU image lacks it: carry the wheel),
transformers (their modules import it), safetensors, Pillow. Every result is one JSON line on
stdout; their logging goes to stderr.
"""
import time

_PROCESS_START = time.perf_counter()  # before the heavy imports: "process start to first clip"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
MASK64 = (1 << 64) - 1
FRAMES, HEIGHT, WIDTH = 81, 480, 832  # their window (extract_features.py L157) and size (wan_feature.py L193-194)
T_INDEX = 749  # --t of the paper's configs
LAYER = 20  # --output-layers of the paper's configs
UMT5_XXL_ENCODER_PARAMS = 5_680_910_336  # tests/fixtures/wan/param_counts.json
DIT_1_3B = dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16,
                out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30,
                cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=None,
                added_kv_proj_dim=None, rope_max_seq_len=1024)
DIT_TINY = dict(DIT_1_3B, num_attention_heads=1, attention_head_dim=12, ffn_dim=16, num_layers=2)
VAE_TINY = dict(base_dim=4)
MODEL_INDEX = {  # Wan-AI/Wan2.1-T2V-1.3B-Diffusers/model_index.json (text encoder never loaded here)
    "_class_name": "WanPipeline",
    "_diffusers_version": "0.33.0.dev0",
    "scheduler": ["diffusers", "UniPCMultistepScheduler"],
    "text_encoder": ["transformers", "UMT5EncoderModel"],
    "tokenizer": ["transformers", "T5TokenizerFast"],
    "transformer": ["diffusers", "WanTransformer3DModel"],
    "vae": ["diffusers", "AutoencoderKLWan"],
}
CONTEXT_FILE = "empty_prompt_context.safetensors"
COMPLETE_MARK = ".wan81-complete"


def emit(record):
    print(json.dumps(record), flush=True)


def log(msg):
    print(f"[vidfm3d_wan_extract_reference] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- noise seed (vidprobe)
def fnv1a64(text: str) -> int:
    """vidprobe::stable_hash (src/vidprobe/data/clip_sampling.cpp)."""
    h = 14695981039346656037
    for byte in text.encode():
        h ^= byte
        h = (h * 1099511628211) & MASK64
    return h


def splitmix64_next(state: int) -> int:
    """vidprobe::SplitMix64(state).next()."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def per_clip_noise_seed(noise_seed: int, clip_id: str) -> int:
    """The seed `vidprobe extract --noise-per-clip` (on in --preset vidfm3d) draws a clip's noise with."""
    return splitmix64_next((noise_seed ^ fnv1a64(clip_id)) & MASK64)


# --------------------------------------------------------------------------- helpers
def versions():
    import torch

    out = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("diffusers", "transformers", "safetensors", "PIL"):
        try:
            out[name if name != "PIL" else "pillow"] = importlib.import_module(name).__version__
        except Exception:  # noqa: BLE001 - reported, not fatal
            out[name] = None
    return out


def device_name():
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu"


def vidprobe_timestep_spec(diffusers_version: str) -> str:
    """The --timestep that makes vidprobe use the schedule formula of this diffusers release."""
    from packaging.version import Version

    spec = f"unipc:shift=3,steps=1000,index={T_INDEX}"
    return spec + (",diffusers=0.36" if Version(diffusers_version) < Version("0.37") else "")


def sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


# --------------------------------------------------------------------------- make
def cmd_make(args):
    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from safetensors.torch import save_file

    sys.path.insert(0, str(ROOT / "tools"))
    from make_wan_schedule_fixtures import WAN_SCHEDULER_CONFIG

    out = pathlib.Path(args.model_dir)
    if "T2V" not in str(out):
        raise SystemExit(f"--model-dir must contain 'T2V' (their extract_features.py L173 picks the "
                         f"featurizer by it): {out}")
    if (out / COMPLETE_MARK).exists() and not args.force:
        log(f"{out} is complete already (--force rewrites it)")
        emit({"benchmark": "wan81_make_random_weights", "model_dir": str(out), "reused": True,
              "vidprobe_timestep_spec": vidprobe_timestep_spec(versions()["diffusers"])})
        return
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    device = torch.device("cpu" if args.tiny else "cuda")
    if not args.tiny and not torch.cuda.is_available():
        raise SystemExit("make: no CUDA device (use --tiny for the CPU dry run)")
    torch.manual_seed(args.seed)
    with torch.device(device):
        vae = AutoencoderKLWan(**(VAE_TINY if args.tiny else {})).eval()
        dit = WanTransformer3DModel(**(DIT_TINY if args.tiny else DIT_1_3B)).eval()
    with torch.no_grad():  # away from the initial values, so that norms, biases and tables matter
        for module in (vae, dit):
            for p in module.parameters():
                p.add_(0.02 * torch.randn_like(p))
    dit_params = sum(p.numel() for p in dit.parameters())
    vae_params = sum(p.numel() for p in vae.parameters())
    if not args.tiny:
        expected = json.loads((ROOT / "tests/fixtures/wan/param_counts.json").read_text())
        if dit_params != expected["wan2.1-t2v-1.3b/transformer"] or vae_params != expected["vae/all"]:
            raise SystemExit(f"make: {dit_params} / {vae_params} parameters, expected "
                             f"{expected['wan2.1-t2v-1.3b/transformer']} / {expected['vae/all']}")
    built = time.perf_counter()
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    dit.save_pretrained(tmp / "transformer")
    vae.save_pretrained(tmp / "vae")
    (tmp / "scheduler").mkdir(parents=True, exist_ok=True)
    (tmp / "scheduler" / "scheduler_config.json").write_text(json.dumps(WAN_SCHEDULER_CONFIG, indent=2))
    (tmp / "model_index.json").write_text(json.dumps(MODEL_INDEX, indent=2))
    row = torch.randn(1, 4096, generator=torch.Generator().manual_seed(args.seed + 2))
    save_file({"context": row.contiguous()}, str(tmp / CONTEXT_FILE))
    (tmp / "wan81_random_weights.json").write_text(json.dumps({
        "what": "random weights at the real WAN2.1-T2V-1.3B size, never for results",
        "seed": args.seed, "perturbation": "p += 0.02 * randn_like(p) after diffusers' init",
        "transformer_params": dit_params, "vae_params": vae_params, "tiny": args.tiny,
        "context": f"{CONTEXT_FILE}: torch.randn(1, 4096, generator=manual_seed({args.seed + 2}))",
        "versions": versions()}, indent=2))
    (tmp / COMPLETE_MARK).write_text("ok\n")
    tmp.rename(out)
    sync()
    emit({"benchmark": "wan81_make_random_weights", "model_dir": str(out), "tiny": args.tiny,
          "transformer_params": dit_params, "vae_params": vae_params, "dtype": "fp32",
          "build_s": built - start, "save_s": time.perf_counter() - built,
          "vidprobe_timestep_spec": vidprobe_timestep_spec(versions()["diffusers"]),
          "device": device_name(), **versions()})


# --------------------------------------------------------------------------- their code, imported
def import_theirs(checkout: pathlib.Path):
    for rel in ("features/wan/extract_features.py", "features/wan/wan_feature.py", "features/run_dl3dv.py"):
        if not (checkout / rel).is_file():
            raise SystemExit(f"{checkout} has no {rel}: export it from zxhuang1698/VidFM3D "
                             f"(git archive HEAD features/wan features/run_dl3dv.py)")
    sys.path.insert(0, str(checkout))
    # features/ and features/wan/ have no __init__.py: namespace packages, as `python -m
    # features.run_dl3dv` imports them from the checkout's root.
    ef = importlib.import_module("features.wan.extract_features")
    wf = importlib.import_module("features.wan.wan_feature")
    rd = importlib.import_module("features.run_dl3dv")
    return ef, wf, rd


def install_text_encoder_stand_in(wf, context_row, tiny):
    """Replaces umT5 in THEIR pipeline class from outside (module docstring: "Text encoder")."""
    import torch

    pipe_cls = wf.OneStepWanPipeline
    original_from_pretrained = pipe_cls.from_pretrained.__func__

    def from_pretrained(cls, *a, **kw):
        kw.setdefault("text_encoder", None)
        kw.setdefault("tokenizer", None)
        return original_from_pretrained(cls, *a, **kw)

    calls = []

    def get_t5_prompt_embeds(self, prompt=None, num_videos_per_prompt=1, max_sequence_length=226,
                             device=None, dtype=None):
        prompt = [prompt] if isinstance(prompt, str) else prompt
        if any(p != "" for p in prompt):
            raise RuntimeError(f"the umT5 stand-in only knows the empty prompt, got {prompt!r}")
        device = torch.device("cpu") if tiny else (device or self._execution_device)
        rows = torch.zeros(len(prompt) * num_videos_per_prompt, max_sequence_length, context_row.shape[-1])
        rows[:, : context_row.shape[0]] = context_row
        calls.append({"prompt": prompt, "max_sequence_length": max_sequence_length})
        return rows.to(device=device, dtype=dtype or torch.float32)

    pipe_cls.from_pretrained = classmethod(from_pretrained)
    pipe_cls._get_t5_prompt_embeds = get_t5_prompt_embeds
    if tiny:  # their pipe.to("cuda") (wan_feature.py L288) on a machine without one
        original_to = pipe_cls.to

        def to_cpu(self, *a, **kw):
            a = tuple("cpu" if x == "cuda" else x for x in a)
            if kw.get("device") == "cuda":
                kw["device"] = "cpu"
            return original_to(self, *a, **kw)

        pipe_cls.to = to_cpu
    return calls


@contextlib.contextmanager
def seeded_randn_like(seed):
    """torch.randn_like -> vidprobe's seeded_noise for the one 5-D draw of their __call__."""
    import torch

    original = torch.randn_like
    used = []

    def randn_like(input, *a, **kw):  # noqa: A002 - torch's own parameter name
        if a or kw or input.dim() != 5:
            return original(input, *a, **kw)
        used.append(tuple(input.shape))
        noise = torch.randn(tuple(input.shape), generator=torch.Generator().manual_seed(seed),
                            dtype=torch.float32)
        return noise.to(device=input.device, dtype=input.dtype)

    torch.randn_like = randn_like
    try:
        yield used
    finally:
        torch.randn_like = original


@contextlib.contextmanager
def capture_features(ef):
    """Keeps what their reshape_to_t_h_w_c returns (T, H, W, C) in float32, before their .half()."""
    original = ef.reshape_to_t_h_w_c
    kept = []

    def wrapper(raw):
        out = original(raw)
        kept.append(out.detach().float().cpu())
        return out

    ef.reshape_to_t_h_w_c = wrapper
    try:
        yield kept
    finally:
        ef.reshape_to_t_h_w_c = original


def prepare_scene(clip: pathlib.Path, work: pathlib.Path, frames: int):
    """Their input layout: <scene>/frame_00001.png ... and a data .sft holding start_idx."""
    import torch
    from safetensors.torch import save_file

    pngs = sorted((clip / "rgb").glob("*.png"))
    if len(pngs) < frames:
        raise SystemExit(f"{clip}/rgb holds {len(pngs)} PNGs; their window needs {frames}")
    scene = work / "scene"
    if scene.exists():
        shutil.rmtree(scene)
    scene.mkdir(parents=True)
    for i, png in enumerate(pngs):
        (scene / f"frame_{i + 1:05d}.png").symlink_to(png.resolve())
    data_sft = work / "scene.sft"
    save_file({"start_idx": torch.tensor([0])}, str(data_sft))
    return scene, data_sft


def cmd_bench(args):
    import torch
    from safetensors.torch import load_file, save_file

    if not args.tiny and not torch.cuda.is_available():
        raise SystemExit("bench: no CUDA device (use --tiny for the CPU dry run)")
    checkout = pathlib.Path(args.checkout).resolve()
    model_dir = pathlib.Path(args.model_dir).resolve()
    clip = pathlib.Path(args.clip).resolve()
    work = pathlib.Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if not (model_dir / COMPLETE_MARK).exists():
        raise SystemExit(f"{model_dir} is not a finished `make` output")
    made = json.loads((model_dir / "wan81_random_weights.json").read_text())
    if made["tiny"] != args.tiny:
        raise SystemExit(f"{model_dir} was made with tiny={made['tiny']}, bench runs with tiny={args.tiny}")
    clip_id = args.clip_id or clip.name
    noise_seed = per_clip_noise_seed(args.noise_seed, clip_id)
    layer = 1 if args.tiny else LAYER
    precisions = ["highest"] if args.tiny else [p for p in args.precisions.split(",") if p]
    iters = 1 if args.tiny else args.iters

    ef, wf, rd = import_theirs(checkout)
    context_row = load_file(str(model_dir / CONTEXT_FILE))["context"].float()
    prompt_calls = install_text_encoder_stand_in(wf, context_row, args.tiny)
    scene, data_sft = prepare_scene(clip, work, FRAMES)
    runs = work / "their_out"
    if runs.exists():
        shutil.rmtree(runs)

    def argv(out_dir):
        # run_dl3dv.py L245-255 builds these four, then appends the quick-start's flags (L5-12).
        return ["--scene-dir", str(scene), "--data-sft", str(data_sft), "--out-dir", str(out_dir),
                "--image-ext", "png", "--model-id", str(model_dir), "--prompt", "",
                "--output-layers", str(layer), "--t", str(T_INDEX)]

    def their_file(out_dir):
        return out_dir / f"feature_t{T_INDEX}_layer{layer}.sft"

    cuda = torch.cuda.is_available() and not args.tiny
    if cuda:
        torch.cuda.init()  # the allocator's peak counters exist only after this
    common = {"frames": FRAMES, "height": HEIGHT, "width": WIDTH, "layer": layer, "t_index": T_INDEX,
              "clip_id": clip_id, "tiny": args.tiny, "device": device_name(), **versions()}

    def one_call(tag):
        out_dir = runs / tag
        sync()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        elapsed, ok = rd.call_extractor(ef.main, argv(out_dir))
        sync()
        seconds = time.perf_counter() - start
        if not ok or not their_file(out_dir).is_file():
            raise SystemExit(f"their extractor failed for {tag} (traceback above, on stderr)")
        size = their_file(out_dir).stat().st_size
        shutil.rmtree(out_dir)
        return {"seconds": seconds, "their_elapsed_s": elapsed, "file_bytes": size,
                "peak_allocated_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else None,
                "peak_reserved_gb": torch.cuda.max_memory_reserved() / 1e9 if cuda else None}

    first = None
    for precision in precisions:
        torch.set_float32_matmul_precision(precision)
        warm = one_call(f"{precision}_warmup")
        if first is None:
            first = warm
            first["process_start_to_first_clip_s"] = time.perf_counter() - _PROCESS_START
        timed = [one_call(f"{precision}_{i}") for i in range(iters)]
        seconds = [c["seconds"] for c in timed]
        peak = max(c["peak_allocated_gb"] or 0.0 for c in timed) if cuda else None
        emit({"benchmark": "wan81_authors_extract", **common,
              "impl": "their features/wan: run_dl3dv.call_extractor(extract_features.main, argv)",
              "matmul_precision": precision,
              "as_in": ("run_dl3dv.py / run_co3d.py (the paper's quick-start; main() in-process, "
                        "default float32 matmuls)") if precision == "highest" else
                       ("python -m features.wan.extract_features (extract_features.py L216-218: "
                        "set_float32_matmul_precision('high'), TF32 matmuls)") if precision == "high"
                       else "neither of their entry points",
              "dit_dtype": "fp32", "vae_dtype": "fp32", "blocks_run": "30 + head",
              "text_context": "precomputed (1, 4096) row + 225 zero rows; umT5 not loaded",
              "warmup": 1, "iterations": iters,
              "seconds_per_clip": sum(seconds) / len(seconds), "seconds_min": min(seconds),
              "seconds_all": seconds, "their_elapsed_s_all": [c["their_elapsed_s"] for c in timed],
              "clips_per_s": len(seconds) / sum(seconds),
              "peak_allocated_gb": peak,
              "peak_reserved_gb": max(c["peak_reserved_gb"] or 0.0 for c in timed) if cuda else None,
              "umt5_fp32_gb_not_resident": UMT5_XXL_ENCODER_PARAMS * 4 / 1e9,
              "peak_allocated_gb_with_umt5": peak + UMT5_XXL_ENCODER_PARAMS * 4 / 1e9 if cuda else None,
              "first_call_of_process": first if warm is first else None})

    # The scheduler their pipeline used: the timestep it fed and the sigma add_noise applied.
    featurizer = wf.get_wan_featurizer(model_id=str(model_dir))  # lru-cached: the same object
    scheduler = featurizer.pipe.scheduler
    device = featurizer.pipe._execution_device
    scheduler.set_timesteps(1000, device=device)
    t_input = scheduler.timesteps[torch.tensor([T_INDEX], device=device)]
    sigma = float(scheduler.add_noise(torch.zeros(1, device=device), torch.ones(1, device=device), t_input)[0])
    alpha = float(scheduler.add_noise(torch.ones(1, device=device), torch.zeros(1, device=device), t_input)[0])

    for precision in precisions:
        torch.set_float32_matmul_precision(precision)
        out_dir = runs / f"{precision}_parity"
        with seeded_randn_like(noise_seed) as draws, capture_features(ef) as kept:
            elapsed, ok = rd.call_extractor(ef.main, argv(out_dir))
        if not ok or len(kept) != 1 or len(draws) != 1:
            raise SystemExit(f"parity call ({precision}): ok={ok}, {len(kept)} feature tensors, "
                             f"{len(draws)} seeded noise draws (expected 1 and 1)")
        shutil.rmtree(out_dir)
        feats = kept[0].permute(0, 3, 1, 2).contiguous()  # (T', H', W', C) -> vidprobe's (T', C, H', W')
        meta = {"clip_id": clip_id, "noise_seed_arg": str(args.noise_seed), "noise_seed": str(noise_seed),
                "noise_shape": json.dumps(draws[0]), "timestep_fed": str(int(t_input[0])),
                "sigma_applied": repr(sigma), "alpha_applied": repr(alpha), "layer": str(layer),
                "matmul_precision": precision}
        path = work / f"features_{precision}.safetensors"
        save_file({"features": feats}, str(path), metadata=meta)
        emit({"benchmark": "wan81_authors_features", **common, "matmul_precision": precision,
              "file": str(path), "shape": list(feats.shape), "abs_max": float(feats.abs().max()),
              "rms": float(feats.pow(2).mean().sqrt()), "finite": bool(torch.isfinite(feats).all()),
              "noise": ("torch.randn(shape, generator=torch.Generator().manual_seed(S)): vidprobe's "
                        "--noise-per-clip draw for this clip id (their randn_like swapped for the call)"),
              "noise_seed": str(noise_seed), "noise_shape": list(draws[0]),
              "timestep_fed": int(t_input[0]), "sigma_applied": sigma, "alpha_applied": alpha,
              "vidprobe_timestep_spec": vidprobe_timestep_spec(versions()["diffusers"]),
              "umt5_stand_in_calls": prompt_calls})


# --------------------------------------------------------------------------- compare
def cmd_compare(args):
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    cache = pathlib.Path(args.vidprobe_cache)
    work = pathlib.Path(args.work)
    refs = sorted(work.glob("features_*.safetensors"))
    if not refs:
        raise SystemExit(f"{work} holds no features_*.safetensors (run bench first)")
    manifest = json.loads((cache / "manifest.json").read_text())
    identity = manifest.get("identity", {})
    clip_id = args.clip_id or (manifest.get("clips") or [None])[0]
    shard = load_file(str(cache / "clips" / f"{clip_id}.safetensors"))
    ours = shard["features"].float()
    index = shard.get("feature_index")
    expected_index = torch.tensor([0 if t == 0 else (t - 1) // 4 + 1 for t in range(FRAMES)])
    for ref_path in refs:
        with safe_open(str(ref_path), "pt") as f:
            meta = f.metadata()
            theirs = f.get_tensor("features").float()
        record = {"benchmark": "wan81_feature_parity", "vidprobe_shard": str(cache / "clips" / f"{clip_id}.safetensors"),
                  "reference": str(ref_path), "matmul_precision_reference": meta.get("matmul_precision"),
                  "vidprobe_shape": list(ours.shape), "reference_shape": list(theirs.shape),
                  "vidprobe_dtype_in_cache": str(shard["features"].dtype),
                  "feature_index_as_expected": index is not None and torch.equal(index.long(), expected_index),
                  "noise_seed_reference": meta.get("noise_seed"),
                  "timestep_vidprobe": identity.get("timestep"), "timestep_reference": int(meta["timestep_fed"]),
                  "sigma_vidprobe": identity.get("sigma"), "sigma_reference": float(meta["sigma_applied"]),
                  "vidprobe_identity": {k: identity.get(k) for k in (
                      "backbone", "layer", "compute_dtype", "noise_seed", "noise_per_clip", "frames",
                      "sampling", "resize", "input_size", "backbone_options")}}
        if ours.shape != theirs.shape:
            record["error"] = "shapes differ"
        else:
            diff = (ours - theirs).abs()
            per_frame = ((ours - theirs).flatten(1).norm(dim=1) / theirs.flatten(1).norm(dim=1))
            record.update({
                "max_abs_diff": float(diff.max()), "reference_abs_max": float(theirs.abs().max()),
                "max_abs_diff_over_ref_abs_max": float(diff.max() / theirs.abs().max()),
                "rel_fro": float((ours - theirs).norm() / theirs.norm()),
                "rel_fro_worst_latent_frame": float(per_frame.max()),
                "rel_fro_per_latent_frame": [round(float(x), 9) for x in per_frame],
                "cosine_mean_per_token": float(torch.nn.functional.cosine_similarity(
                    ours.permute(0, 2, 3, 1).flatten(0, 2), theirs.permute(0, 2, 3, 1).flatten(0, 2), dim=1).mean())})
        emit(record)


# --------------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    make = sub.add_parser("make", help="random real-size WAN2.1-T2V-1.3B in the diffusers layout")
    make.add_argument("--model-dir", required=True)
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--force", action="store_true")
    make.add_argument("--tiny", action="store_true")
    bench = sub.add_parser("bench", help="time their extraction, save their features")
    bench.add_argument("--checkout", default=str(ROOT / ".ref" / "VidFM3D"))
    bench.add_argument("--model-dir", required=True)
    bench.add_argument("--clip", required=True, help="a vidprobe clip directory (rgb/000000.png ...)")
    bench.add_argument("--clip-id", default=None, help="vidprobe's clip id (default: the clip folder's name)")
    bench.add_argument("--work", required=True)
    bench.add_argument("--iters", type=int, default=3)
    bench.add_argument("--precisions", default="highest,high")
    bench.add_argument("--noise-seed", type=int, default=0, help="vidprobe extract --noise-seed")
    bench.add_argument("--tiny", action="store_true")
    compare = sub.add_parser("compare", help="vidprobe's cached features against theirs")
    compare.add_argument("--vidprobe-cache", required=True)
    compare.add_argument("--work", required=True)
    compare.add_argument("--clip-id", default=None)
    args = parser.parse_args()
    {"make": cmd_make, "bench": cmd_bench, "compare": cmd_compare}[args.cmd](args)


if __name__ == "__main__":
    main()

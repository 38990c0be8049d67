#!/usr/bin/env python3
"""Times the authors' own probe training step (github.com/zxhuang1698/VidFM3D, the code of "How Much
3D Do Video Foundation Models Encode?") in PyTorch, so `vidprobe bench probe --preset vidfm3d
--reference --checkout DIR` prints the C++/PyTorch ratio measured in the same run on the same device.

Usage:
    python3 bench/vidfm3d_reference.py --checkout DIR [--device cpu|cuda[:i]] [--batch 10]
        [--frames 4] [--feature-dim 1536] [--grid 30x52] [--size 294x518] [--warmup 3] [--steps 10]
        [--threads 0] [--checkpointing on|off] [--embed-dim 1024] [--dpt-dim 256]
        [--dpt-channels 256,512,1024,1024] [--depth 4] [--profile DIR]

--profile DIR: one more step under torch.profiler, DIR/kernels.json in the format of `vidprobe bench
probe --profile` (bench/backbones_reference.py's writer), for tools/compare_kernel_profiles.py.

DIR is a checkout (or `git archive` export) of zxhuang1698/VidFM3D: the directory that holds
`vidfm3d/`. Their modules are imported from there (through tools/vidfm3d_imports.py); none of their
code is copied here. The defaults are the paper's WAN-1.3B configuration
(configs/experiment/co3d/wan.yaml over configs/model/probe.yaml): 383,859,224 parameters.

Packages needed: torch and numpy only, plus the checkout. Nothing is downloaded. On this path their
code imports huggingface_hub (ProbeModelPA's PyTorchModelHubMixin: an empty stand-in when it is not
installed) and, through vidfm3d/models/components/patchify.py -> vidfm3d/utils/typing.py,
jaxtyping + omegaconf + typeguard, which only provide type annotations there (stand-ins when they
are not installed; see tools/vidfm3d_imports.py; the H200 image here lacks omegaconf and typeguard).
roma, safetensors, Lightning, Hydra, PyTorch3D, pl_bolts are not imported (vidfm3d.utils.eval_utils
and the dataset module are not on this path). The stand-ins used are listed on stderr.

What one timed step is -- VideoProbeLitModule.training_step's compute with the paper config, as a
call sequence of their imported pieces (their video_probe_module.py needs Lightning, so its
forward L105-136 and model_step L178-250 are re-created as calls, as in
tools/make_vidfm3d_fixtures.py):
  * their ProbeModelPA(video_channels=--feature-dim, embed_dim, backbone_depth=--depth, dpt_dim,
    dpt_stage_channels, dpt_intermediate_layer_idx=[0,1,2,3] for depth 4 (else
    round-half-up(level*(depth-1)/3), as vidprobe's dpt_layer_indices), gradient_checkpointing,
    active_heads=["depth","point","camera"]), their defaults otherwise, in .train() mode;
  * CUDA: torch.autocast("cuda", dtype=torch.bfloat16) around forward + losses (Lightning's
    precision "bf16-mixed", no grad scaler); CPU: float32, no autocast;
  * forward: probe(vfm_feat.permute(0,1,4,2,3), image.shape); losses: cmaps.pow(1.0), their
    point_loss(normalize_pred=True, normalize_gt=True, gradient_loss="grad"), depth_loss(
    gradient_loss="grad"), camera_loss(loss_type="huber", return_metrics=False), weights 1/1/1
    (grad-loss weights 0: computed by their functions, not added);
  * loss.backward(), optimizer.step(), optimizer.zero_grad() (set_to_none); the optimiser is
    torch.optim.AdamW(all parameters, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05), as their
    configure_optimizers (the LR scheduler's per-step update is left out: it is a few scalar ops);
  * then float(loss) (Lightning's progress bar reads the logged loss every step; vidprobe's
    bench reads its loss every step too). Lightning's own bookkeeping (self.log of ~20 values,
    the sample counter metric) and the data loader are not timed.
Inputs, like src/vidprobe/probe/probe_bench.cpp: torch.manual_seed(0); features randn (B,S,C,h,w)
rounded to fp16, stored channel-last on the device as their dataset's `vfm_feat` (B,S,h,w,C), in
fp16 on CUDA (as their dataset yields it) and as float32 on the CPU (without autocast their
input_proj Linear rejects a Half input: their code only ever runs under bf16 autocast); GT in their
dataset's layout on the device: dmaps 2 + rand (B,S,1,H,W), cmaps 1 + rand (B,S,1,H,W),
intrinsics fx = 0.9 W, fy = 0.9 H, cx = W/2, cy = H/2 (B,S,3,3), extrinsics (B,S,3,4)
camera-from-world, frame 0 identity, frame s translated by 0.1 s along x, pmaps (B,S,3,H,W) =
their unproject_depth_map_to_point_map(dmaps, E, K); `image` is a stride-0 zero tensor of shape
(B,S,3,H,W) (only its shape is read). The targets are not re-normalised (timing does not depend
on it).

Timing: --warmup untimed steps, then --steps timed steps between torch.cuda.synchronize() calls.
The CUDA peak (torch.cuda.max_memory_allocated) restarts after the model, the optimiser (no state
yet) and the inputs are on the device, as probe_bench.cpp does. Prints ONE JSON line:
{"benchmark": "probe_train_step_vidfm3d_reference", "device", "steps_per_s", "ms_per_step",
 "parameters", "batch", "frames", "feature_dim", "grid": [h, w], "size": [H, W], "checkpointing",
 "bf16", "peak_gb" (CUDA, else null), "torch", "vidfm3d_commit" (git rev-parse HEAD when DIR is the
 top of a git work tree, else null), "threads", "last_loss"}.

Measured on one H200 (torch 2.11.0+cu130, defaults, 3 + 10 steps): 1.106 steps/s and 59.6 GB peak
with checkpointing, 1.229 steps/s and 86.1 GB without; 40x40 grid / 392x392 GT with checkpointing
1.055 steps/s, 60.8 GB.
"""
import argparse
import contextlib
import json
import math
import pathlib
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))
from vidfm3d_imports import install_shims  # noqa: E402

# configs/experiment/co3d/wan.yaml merged over configs/model/probe.yaml
CMAP_POWER = 1.0
LOSS_WEIGHTS = {"pmap": 1.0, "dmap": 1.0, "pmap_grad": 0.0, "dmap_grad": 0.0, "camera": 1.0}
NORMALIZE_PRED = NORMALIZE_GT = True


def parse_hw(text: str, option: str):
    """'HxW' or 'N' (square)."""
    try:
        parts = [int(x) for x in text.lower().split("x")]
        if len(parts) == 1:
            parts = parts * 2
        if len(parts) != 2 or min(parts) < 1:
            raise ValueError
        return parts
    except ValueError:
        raise argparse.ArgumentTypeError(f"{option} must be HxW or N with positive integers, got '{text}'")


def dpt_layer_indices(depth: int):
    if depth == 4:
        return [0, 1, 2, 3]
    return [int(math.floor(level * (depth - 1) / 3.0 + 0.5)) for level in range(4)]


def git_commit(checkout: pathlib.Path):
    try:
        top = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--show-toplevel"], check=True,
                             capture_output=True, text=True).stdout.strip()
        if pathlib.Path(top).resolve() != checkout:
            return None  # an export inside some other repository
        return subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def import_theirs():
    from vidfm3d.models.components.probe_pixalign import ProbeModelPA
    from vidfm3d.utils.loss import camera_loss, depth_loss, point_loss
    from vidfm3d.vggt.utils.geometry import unproject_depth_map_to_point_map

    return ProbeModelPA, point_loss, depth_loss, camera_loss, unproject_depth_map_to_point_map


def build_probe(ProbeModelPA, a):
    """Their ProbeModelPA from the parsed arguments (their defaults for everything else)."""
    return ProbeModelPA(video_channels=a.feature_dim, embed_dim=a.embed_dim, backbone_depth=a.depth,
                        gradient_checkpointing=a.checkpointing == "on", dpt_dim=a.dpt_dim,
                        dpt_stage_channels=[int(x) for x in a.dpt_channels.split(",")],
                        dpt_intermediate_layer_idx=dpt_layer_indices(a.depth),
                        active_heads=["depth", "point", "camera"])


def make_batch(unproject, b, s, c, h, w, H, W, device):
    """Random features + a GT batch in their dataset's output layout (see the module docstring)."""
    feats = torch.randn(b, s, c, h, w).to(torch.float16)
    depth = 2 + torch.rand(b, s, H, W)
    extr = torch.eye(4)[:3].repeat(b, s, 1, 1)
    for i in range(s):
        extr[:, i, 0, 3] = 0.1 * i
    intr = torch.tensor([[0.9 * W, 0.0, W / 2.0], [0.0, 0.9 * H, H / 2.0], [0.0, 0.0, 1.0]]).repeat(b, s, 1, 1)
    conf = 1 + torch.rand(b, s, H, W)
    pmaps = np.stack([unproject(depth[i][..., None], extr[i], intr[i]) for i in range(b)]).astype(np.float32)
    if device.type != "cuda":  # without autocast their input_proj cannot take fp16 (Half x Float)
        feats = feats.float()
    batch = {
        "vfm_feat": feats.permute(0, 1, 3, 4, 2).contiguous(),  # their dataset: (S,h,w,C) per clip
        "image": torch.zeros(1, 1, 1, 1, 1).expand(b, s, 3, H, W),  # only the shape is read
        "pmaps": torch.from_numpy(pmaps).permute(0, 1, 4, 2, 3).contiguous(),
        "dmaps": depth[:, :, None].contiguous(),
        "cmaps": conf[:, :, None].contiguous(),
        "intrinsics": intr,
        "extrinsics": extr,
    }
    return {k: v.to(device) for k, v in batch.items()}


def training_step(probe, optimizer, batch, losses, autocast):
    """VideoProbeLitModule.forward + model_step (paper config) under Lightning's precision
    context, then Lightning's automatic optimisation: backward, optimizer step, zero_grad."""
    point_loss, depth_loss, camera_loss = losses
    batch = dict(batch)  # model_step rebinds batch["cmaps"]
    with autocast():
        # forward (L105-136, probe_type "pixalign")
        output = probe(batch["vfm_feat"].permute(0, 1, 4, 2, 3), batch["image"].shape, fg_mask=None)
        preds = {"pmaps": output["world_points"].permute(0, 1, 4, 2, 3),
                 "dmaps": output["depth"].permute(0, 1, 4, 2, 3),
                 "pose_list": output["pose_enc_list"], "pose": output["pose_enc"]}
        # model_step (L178-250): no masks in the batch
        loss = 0.0
        batch["cmaps"] = batch["cmaps"].pow(CMAP_POWER)
        fg_mask = None
        if LOSS_WEIGHTS["pmap"] > 0:
            d = point_loss(preds["pmaps"].permute(0, 1, 3, 4, 2), batch["cmaps"].squeeze(2),
                           batch["pmaps"].permute(0, 1, 3, 4, 2), mask=fg_mask,
                           normalize_pred=NORMALIZE_PRED, normalize_gt=NORMALIZE_GT, gradient_loss="grad")
            loss += LOSS_WEIGHTS["pmap"] * d["loss_point"]
            if LOSS_WEIGHTS["pmap_grad"] > 0:
                loss += LOSS_WEIGHTS["pmap_grad"] * d["loss_grad_point"]
        if LOSS_WEIGHTS["dmap"] > 0:
            d = depth_loss(preds["dmaps"].permute(0, 1, 3, 4, 2), batch["cmaps"].squeeze(2),
                           batch["dmaps"].permute(0, 1, 3, 4, 2), mask=fg_mask, gradient_loss="grad")
            loss += LOSS_WEIGHTS["dmap"] * d["loss_depth"]
            if LOSS_WEIGHTS["dmap_grad"] > 0:
                loss += LOSS_WEIGHTS["dmap_grad"] * d["loss_grad_depth"]
        if LOSS_WEIGHTS["camera"] > 0:
            d = camera_loss(preds["pose_list"], batch["intrinsics"], batch["extrinsics"], batch["image"].shape[-2:],
                            loss_type="huber", return_metrics=False)
            loss += LOSS_WEIGHTS["camera"] * d["loss_camera"]
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return float(loss.detach())


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkout", type=pathlib.Path, required=True, help="VidFM3D checkout (holds vidfm3d/)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:i")
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--feature-dim", type=int, default=1536)
    p.add_argument("--grid", type=lambda t: parse_hw(t, "--grid"), default=[30, 52], help="feature map h x w")
    p.add_argument("--size", type=lambda t: parse_hw(t, "--size"), default=[294, 518], help="GT H x W")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch's default)")
    p.add_argument("--checkpointing", choices=["on", "off"], default="on",
                   help="gradient checkpointing of the trunk blocks (on in the paper's config)")
    p.add_argument("--embed-dim", type=int, default=1024)
    p.add_argument("--dpt-dim", type=int, default=256)
    p.add_argument("--dpt-channels", default="256,512,1024,1024")
    p.add_argument("--depth", type=int, default=4, help="trunk depth (frame + global block pairs)")
    p.add_argument("--profile", default="", help="write DIR/kernels.json of one more step")
    return p


def main() -> None:
    p = make_parser()
    a = p.parse_args()
    if a.steps < 1 or a.warmup < 0 or min(a.batch, a.frames, a.feature_dim, a.depth) < 1:
        p.error("steps must be >= 1, warmup >= 0, batch / frames / feature-dim / depth >= 1")
    try:
        channels = [int(x) for x in a.dpt_channels.split(",")]
    except ValueError:
        channels = []
    if len(channels) != 4 or min(channels) < 1:
        p.error("--dpt-channels takes 4 comma-separated positive integers")
    checkout = a.checkout.resolve()
    if not (checkout / "vidfm3d" / "models" / "components" / "probe_pixalign.py").is_file():
        sys.exit(f"{checkout}: not a VidFM3D checkout (vidfm3d/models/components/probe_pixalign.py missing)")

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    if cuda and device.index is not None:
        torch.cuda.set_device(device)  # (set_device refuses a bare "cuda")

    shims = install_shims(checkout, eval_utils=False, typing_fallbacks=True)
    ProbeModelPA, point_loss, depth_loss, camera_loss, unproject = import_theirs()

    torch.manual_seed(0)
    probe = build_probe(ProbeModelPA, a)
    probe.to(device)
    probe.train()
    optimizer = torch.optim.AdamW(probe.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05)
    (h, w), (H, W) = a.grid, a.size
    batch = make_batch(unproject, a.batch, a.frames, a.feature_dim, h, w, H, W, device)
    if cuda:
        autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
    else:
        autocast = contextlib.nullcontext

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    if cuda:
        sync()
        torch.cuda.reset_peak_memory_stats(device)
    losses = (point_loss, depth_loss, camera_loss)
    for _ in range(a.warmup):
        training_step(probe, optimizer, batch, losses, autocast)
    sync()
    start = time.perf_counter()
    last_loss = None
    for _ in range(a.steps):
        last_loss = training_step(probe, optimizer, batch, losses, autocast)
    sync()
    seconds = time.perf_counter() - start
    peak_gb = torch.cuda.max_memory_allocated(device) / 1e9 if cuda else None
    profiled = None
    if a.profile:
        from backbones_reference import write_kernel_profile  # bench/ is the script's directory
        profiled = write_kernel_profile(lambda: training_step(probe, optimizer, batch, losses, autocast),
                                        sync, device, a.profile)

    print(f"vidfm3d_reference: import stand-ins {shims['stubs']}", file=sys.stderr)
    print(json.dumps({
        "benchmark": "probe_train_step_vidfm3d_reference",
        "device": a.device,
        "steps_per_s": a.steps / seconds,
        "ms_per_step": 1000.0 * seconds / a.steps,
        "parameters": sum(q.numel() for q in probe.parameters()),
        "batch": a.batch,
        "frames": a.frames,
        "feature_dim": a.feature_dim,
        "grid": [h, w],
        "size": [H, W],
        "checkpointing": a.checkpointing == "on",
        "bf16": cuda,
        "peak_gb": peak_gb,
        "torch": torch.__version__,
        "vidfm3d_commit": git_commit(checkout),
        "threads": torch.get_num_threads(),
        "last_loss": last_loss,
        **({"profile": profiled} if profiled else {}),
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""V-JEPA (v1) ViT-L/16, Fast3R ViT-L, Open-Sora 2.0 and VGGT-1B at real size on the GPU, the
reference side (the official code of each), for scripts/gpu-official.sh; the CogVideoX
counterpart is bench/cogvideox_reference.py.

  make FAMILY DIR   a random model built by the official constructor at the published size,
                    saved in the published checkpoint format under the published key names,
                    plus DIR/parity.safetensors: one clip and the official forward's features
                    at the paper's layer in float32 (TF32 off). The C++ side reads both
                    (tests/backbones/*/real_size_test.cpp, VIDPROBE_<FAMILY>_PARITY_DIR=DIR).
  bench FAMILY DIR  clips/s and allocator peak of the same extraction with the official code on
                    the same GPU at the paper's clip size, one JSON line per variant.

Families:
  vjepa1    facebookresearch/jepa src/models/vision_transformer.py vit_large (img_size 224,
            16 frames, tubelet 2, uniform_power and SDPA as configs/pretrain/vitl16.yaml), saved
            as vitl16.pth.tar ({"encoder": {"module.backbone.<key>": ...}}, torch.save, the
            pre-training checkpoint layout). Features: the last block without the final norm
            (VidFM3D features/vjepa). Parity: one 16-frame clip at 480 x 832. Speed: the paper's
            window, 76 frames at 480 x 832 as 5 spaced clips of 16 sharing frame 0 (VidFM3D
            extract_features.py --partition spaced: one batch of 5), fp32 (VidFM3D's) and bf16.
  fast3r    facebookresearch/fast3r fast3r/models/fast3r.py Fast3R with the published config of
            jedyang97/Fast3R_ViT_Large_512 (CroCo ViT-L/16 encoder, 24-block decoder, DPT heads),
            saved as the hub layout (model.safetensors with every key incl. the heads, config.json).
            Features: the decoder's returned map 24 (dec_norm of the last block). Parity and
            speed: 81 frames at 288 x 512 (dust3r load_images(size=512) of 16:9 frames) through
            the model at once, random image indices seeded as the official decoder draws them.
            The official attention always runs in bf16 on CUDA (an autocast inside
            croco/models/blocks.py); the float32 reference swaps only that autocast for a no-op
            and uses the file's own "pytorch_auto" SDPA path (stand-in, parity only). Speed: the
            published "flash_attention" setting under bf16 autocast (the authors'
            inference_multiview).
  opensora  hpcaitech/Open-Sora v2 opensora/models/mmdit MMDiTModel with the published 256px /
            768px inference config (hidden 3072, 24 heads, 19 double blocks, axes 16/56/56) but
            only the single blocks up to the feature layer: depth_single_blocks = 21 by default
            (single_blocks[20] is the paper's layer; blocks after it do not touch the feature).
            Weights random, rounded to bf16 and saved in bf16 (Open_Sora_v2.safetensors,
            ~15.6 GB at 19 + 21 blocks; the float32 reference upcasts the same values), with
            config.json {"model": ..., "ae": ...} saying the depth, and the Hunyuan causal VAE
            (opensora/models/hunyuan_vae AutoencoderKLCausal3D, published defaults, spatial
            tiling as the inference config) in fp32 (hunyuan_vae.safetensors), and a random
            stand-in for the empty prompt's T5 / CLIP conditioning (empty_prompt.safetensors).
            Parity: the VAE moments of a 33-frame 480 x 848 clip and of its first frame
            (posterior mean), and single_blocks[20]'s image tokens for the transformer input
            VidFM3D's opensora_features.extract_feature builds (i2v condition, t = 0.25 shifted,
            x_t = (1 - t) x0 + (1 - (1 - 1e-5)(1 - t)) noise). Speed: 129 frames at 480 x 848,
            everything in bf16 as the authors (VAE of the clip and of its first frame, the MMDiT
            stopped after single_blocks[20] by a hook: the authors' run continues through all
            blocks). CUDA-only kernels stand in as tools/opensora_reference.py documents
            (flash_attn -> SDPA, Liger RoPE / RMSNorm -> eager PyTorch): the reference's speed
            is that of the official code without its fused kernels.

  vggt      VGGT-1B as the authors' pseudo-GT runs it: zxhuang1698/VidFM3D's copy of
            facebookresearch/vggt (vidfm3d/vggt, the code their data/processing/{co3d,dl3dv}/
            extract_points.py imports; .ref/VidFM3D, as scripts/gpu-vidfm3d.sh), VGGT() at its
            published size, saved as model.safetensors under the released key names (track head
            included, as facebook/VGGT-1B). Parity: an 8-frame clip at 294 x 518 (their crop of
            960 x 540) through VGGT.forward in float32 (pose_enc, depth, depth_conf) and, on a
            GPU, as they run it, under bf16 autocast over the float32 weights (the same three,
            suffixed _autocast). Speed: their extract_points.py step on the CO3D window, 81 frames
            at 294 x 518 from host memory to host memory under torch.no_grad (the preprocessed
            float images moved to the GPU, VGGT under bf16 autocast with float32 weights, the
            predictions moved back), two variants: `authors` (VGGT.forward as they call it: the
            point head too, whose output they do not keep, and every returned tensor, the images
            too, moved back) and `depth_cameras` (point head removed, only pose_enc, depth and
            depth_conf moved back: the outputs `vidprobe annotate` computes). Not in their timed
            region: the uint8 -> float conversion and the decoding of the pose encoding, which
            vidprobe's timed region holds. Backbone name `vggt-1b-annotate`; vidprobe's side is
            `vidprobe annotate` (gpu-official.sh), bf16 weights in the aggregator (not autocast).
            VGGT() has no small form: --tiny keeps the 1B model (5 GB on disk) on a tiny clip.

--tiny (CPU dry run of this script only, seconds): small clips, and for opensora a tiny width.
Imports come from .ref/ (scripts/gpu-official-ref.sh fills it); --ref names another folder.
Versions: torch 2.11.0; jepa 51c59d5, fast3r 33104d4, Open-Sora 7ad6a96, VidFM3D 84ea537
(.ref/*/.commit);
einops 0.8.2, omegaconf 2.4.0; diffusers 0.42.1 (Hunyuan VAE base classes; carried as a wheel).
"""
import argparse
import contextlib
import json
import math
import os
import pathlib
import sys
import time
import types

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # Open-Sora compiles timestep_embedding

import torch  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def emit(**fields):
    print(json.dumps(fields), flush=True)


def use_ref(ref, repo):
    """The official checkout ahead of everything, the carried packages after the image's own."""
    sys.path.insert(0, str(ref / repo))
    site = str(ref / "site")
    if site not in sys.path:
        sys.path.append(site)


def commit(ref, repo):
    path = ref / repo / ".commit"
    return path.read_text().strip()[:7] if path.exists() else "unknown"


def exact_fp32():
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def random_clip(frames, height, width, seed):
    """(T, 3, H, W) in [0, 1], values k / 255 so a uint8 copy would be exact."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (frames, 3, height, width), generator=g).float() / 255


def perturb_constants(model, seed, scale=0.02):
    """Parameters the constructor leaves constant (zero-initialised projections, norm scales of
    one, zero biases) get noise, so a swapped or missing one shows in the parity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            flat = p.detach().reshape(-1)
            if flat.numel() and bool((flat == flat[0]).all()):
                noise = torch.randn(p.shape, generator=g).to(p.device, p.dtype)
                p.add_(scale * noise if float(flat[0]) == 0 else 0.1 * noise)


def timed(run, iterations, device, grad_mode=torch.inference_mode):
    """(seconds per call, allocator peak in GB) over `iterations` calls after one warm-up."""
    with grad_mode():
        run()
        synchronize(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(iterations):
            run()
        synchronize(device)
        seconds = (time.perf_counter() - start) / iterations
    peak = torch.cuda.max_memory_allocated() / 1e9 if device.type == "cuda" else None
    return seconds, peak


def profiled(run, device, root, family, dtype_name):
    """{"profile": path} of one more call under torch.profiler, as `vidprobe bench --profile`
    (ROOT/<family>-<dtype>/kernels.json and trace.json); {} without --profile."""
    if root is None:
        return {}
    from backbones_reference import write_kernel_profile  # bench/: the script's directory
    with torch.inference_mode():
        return {"profile": write_kernel_profile(run, lambda: synchronize(device), device,
                                                str(root / f"{family}-{dtype_name}"))}


def autocast_for(device, dtype_name):
    """Autocast to `dtype_name` over float32 weights (the authors' mixed precision); none for
    fp32."""
    if dtype_name == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[dtype_name])


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def save(tensors, path):
    from safetensors.torch import save_file
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path))


# --------------------------------------------------------------------------------------------
# V-JEPA (v1) ViT-L/16


class VJepa1:
    name, backbone, repo = "vjepa1", "vjepa1-vitl16", "jepa"
    checkpoint = "vitl16.pth.tar"

    def __init__(self, args):
        self.tiny = args.tiny
        self.profile = args.profile
        self.parity_clip = (2, 32, 48) if args.tiny else (16, 480, 832)
        self.window = (2, 4, 32, 48) if args.tiny else (5, 16, 480, 832)  # clips, frames, H, W
        use_ref(args.ref, self.repo)

    def build(self, device):
        import src.models.vision_transformer as vit
        with torch.device(device):
            return vit.vit_large(img_size=224, num_frames=16, tubelet_size=2, uniform_power=True,
                                 use_sdpa=True).eval()

    def load(self, root, device):
        model = self.build(device)
        state = torch.load(root / self.checkpoint, map_location=device, weights_only=True)
        prefix = "module.backbone."
        model.load_state_dict({k[len(prefix):]: v for k, v in state["encoder"].items()})
        return model

    @staticmethod
    def normalise(clips):
        """(N, T, 3, H, W) in [0, 1] -> the model's (N, 3, T, H, W), ImageNet-normalised."""
        mean = torch.tensor(IMAGENET_MEAN, device=clips.device).view(1, 3, 1, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=clips.device).view(1, 3, 1, 1, 1)
        return (clips.permute(0, 2, 1, 3, 4) - mean) / std

    def last_block(self, model, x):
        captured = {}
        handle = model.blocks[-1].register_forward_hook(
            lambda _m, _i, out: captured.__setitem__("out", out))
        try:
            model(x)
        finally:
            handle.remove()
        return captured["out"]

    def make(self, root, device):
        torch.manual_seed(0)
        model = self.build(device)
        perturb_constants(model, 1)
        encoder = {"module.backbone." + k: v.cpu() for k, v in model.state_dict().items()}
        torch.save({"encoder": encoder, "epoch": 0}, root / self.checkpoint)
        frames, height, width = self.parity_clip
        clip = random_clip(frames, height, width, 7)
        with torch.no_grad():
            tokens = self.last_block(model, self.normalise(clip[None].to(device)))
        t, h, w = frames // 2, height // 16, width // 16
        save({"clip": clip, "last_block": tokens.reshape(t, h, w, -1)}, root / "parity.safetensors")
        return dict(layer=len(model.blocks) - 1, tokens=[t, h, w, tokens.shape[-1]])

    def bench(self, root, device, iterations, dtypes):
        model = self.load(root, device)
        clips, frames, height, width = self.window
        # The spaced partition's 5 clips of 16 frames (76 distinct frames: they share frame 0).
        window = torch.rand(clips, frames, 3, height, width, device=device)
        for dtype_name in dtypes:
            dtype = DTYPES[dtype_name]
            model.to(dtype)
            def run():
                return self.last_block(model, self.normalise(window).to(dtype))
            seconds, peak = timed(run, iterations, device)
            emit(benchmark="official_reference", family=self.name, backbone=self.backbone,
                 implementation="facebookresearch/jepa", dtype=dtype_name,
                 frames=clips * (frames - 1) + 1, clips=clips, height=height, width=width,
                 iterations=iterations, ms_per_clip=1000 * seconds, clips_per_s=1 / seconds,
                 peak_allocated_gb=peak,
                 **profiled(run, device, self.profile, self.name, dtype_name))


# --------------------------------------------------------------------------------------------
# Fast3R ViT-L/16, 512


class TorchWithoutAutocast(types.ModuleType):
    """torch for croco/models/blocks.py with autocast a no-op (the float32 reference only)."""

    def __init__(self):
        super().__init__("torch")

    def __getattr__(self, name):
        if name == "autocast":
            return lambda *args, **kwargs: contextlib.nullcontext()
        return getattr(torch, name)


class Fast3r:
    name, backbone, repo = "fast3r", "fast3r-vitl16-512", "fast3r"
    # jedyang97/Fast3R_ViT_Large_512 config.json (as tools/make_fast3r_fixtures.py).
    encoder_args = dict(encoder_type="croco", img_size=512, patch_size=16,
                        patch_embed_cls="PatchEmbedDust3R", embed_dim=1024, num_heads=16, depth=24,
                        mlp_ratio=4, pos_embed="RoPE100", attn_implementation="flash_attention")
    decoder_args = dict(decoder_type="fast3r", random_image_idx_embedding=True,
                        enc_embed_dim=1024, embed_dim=1024, num_heads=16, depth=24, mlp_ratio=4.0,
                        qkv_bias=True, drop=0.0, attn_drop=0.0,
                        attn_implementation="flash_attention",
                        attn_bias_for_inference_enabled=False)
    head_args = dict(head_type="dpt", output_mode="pts3d", landscape_only=False,
                     depth_mode=["exp", float("-inf"), float("inf")],
                     conf_mode=["exp", 1, float("inf")], patch_size=16, with_local_head=True)
    global_seed = 11

    def __init__(self, args):
        self.tiny = args.tiny
        self.profile = args.profile
        self.clip = (2, 32, 48) if args.tiny else (81, 288, 512)
        use_ref(args.ref, self.repo)
        self.ref_checkout = args.ref / self.repo
        self.official = self.import_official()

    def import_official(self):
        # The fixture script's stand-ins for the official plumbing (a debug-print helper and a
        # logger), so that both import the official model the same way.
        sys.path.insert(0, str(ROOT / "tools"))
        import make_fast3r_fixtures
        return make_fast3r_fixtures.import_official(self.ref_checkout)

    def build(self, device):
        import copy
        # .to(device) after the device context: the decoder's image_idx_emb buffer comes from
        # torch.from_numpy, which the context does not place.
        with torch.device(device):
            return self.official.Fast3R(copy.deepcopy(self.encoder_args),
                                        copy.deepcopy(self.decoder_args),
                                        copy.deepcopy(self.head_args)).eval().to(device)

    def config_json(self):
        head = dict(self.head_args, depth_mode=["exp", "-Infinity", "Infinity"],
                    conf_mode=["exp", 1, "Infinity"])
        return dict(encoder_args=self.encoder_args, decoder_args=self.decoder_args, head_args=head)

    def load(self, root, device):
        from safetensors.torch import load_model
        model = self.build(device)
        load_model(model, str(root / "model.safetensors"), device=str(device))
        return model

    def set_attention(self, model, implementation):
        for module in model.modules():
            if hasattr(module, "attn_implementation"):
                module.attn_implementation = implementation

    def decoder_maps(self, model, clip):
        """Fast3R.forward's path to the decoder (tools/make_fast3r_fixtures.py run_case): all
        views in one encoder batch, then the decoder over the clip; its returned list."""
        views = clip.shape[0]
        normalised = (clip - 0.5) / 0.5
        true_shape = torch.tensor(clip.shape[-2:], device=clip.device)[None].repeat(views, 1)
        feats, pos = model.encoder(normalised, true_shape)
        encoded = list(torch.split(feats, 1, dim=0))
        positions = list(torch.split(pos, 1, dim=0))
        tokens = encoded[0].shape[1]
        image_ids = torch.arange(views, device=clip.device).repeat_interleave(tokens)[None]
        return model.decoder(encoded, positions, image_ids)

    def make(self, root, device):
        torch.manual_seed(0)
        model = self.build(device)
        perturb_constants(model, 2)
        # As the hub mixin's save_pretrained: the DPT heads alias some weights (layer_rn.i and
        # layerN_rn), which save_model stores once.
        from safetensors.torch import save_model
        save_model(model, str(root / "model.safetensors"))
        (root / "config.json").write_text(json.dumps(self.config_json(), indent=2) + "\n")
        frames, height, width = self.clip
        clip = random_clip(frames, height, width, 8).to(device)
        # The float32 reference: the blocks' internal bf16 autocast off, SDPA (efficient kernel).
        import fast3r.croco.models.blocks as blocks
        original = blocks.torch
        blocks.torch = TorchWithoutAutocast()
        self.set_attention(model, "pytorch_auto" if device.type == "cuda" else "pytorch_naive")
        torch.manual_seed(self.global_seed)
        seed = torch.randint(0, 2**32, (1,)).item()  # the decoder's own per-forward draw
        torch.manual_seed(self.global_seed)
        drawn = []
        decoder = model.decoder
        draw = decoder._get_random_image_pos
        decoder._get_random_image_pos = lambda *a, **k: drawn.append(draw(*a, **k)) or drawn[-1]
        try:
            with torch.no_grad():
                maps = self.decoder_maps(model, clip)
        finally:
            blocks.torch = original
            decoder._get_random_image_pos = draw
        tokens = (height // 16) * (width // 16)
        per_view = drawn[0][0].view(frames, tokens, -1)[:, 0]
        ids = [int(torch.nonzero((decoder.image_idx_emb == row).all(-1))[0]) for row in per_view]
        h, w = height // 16, width // 16
        save({"clip": clip, "map24": maps[-1].reshape(frames, h, w, -1),
              "image_ids": torch.tensor(ids, dtype=torch.int64),
              "image_index_seed": torch.tensor([seed], dtype=torch.int64)},
             root / "parity.safetensors")
        return dict(layer=len(maps) - 1, image_index_seed=seed, maps=list(maps[-1].shape))

    def bench(self, root, device, iterations, dtypes):
        model = self.load(root, device)
        frames, height, width = self.clip
        clip = torch.rand(frames, 3, height, width, device=device)
        for dtype_name in dtypes:
            autocast = autocast_for(device, dtype_name)

            def run():
                with autocast:
                    return self.decoder_maps(model, clip)[-1]

            seconds, peak = timed(run, iterations, device)
            emit(benchmark="official_reference", family=self.name, backbone=self.backbone,
                 implementation="facebookresearch/fast3r", dtype=dtype_name,
                 attention=self.encoder_args["attn_implementation"], frames=frames,
                 height=height, width=width, iterations=iterations, ms_per_clip=1000 * seconds,
                 clips_per_s=1 / seconds, peak_allocated_gb=peak,
                 **profiled(run, device, self.profile, self.name, dtype_name))


# --------------------------------------------------------------------------------------------
# VGGT-1B, as the authors' pseudo-GT step runs it


class Vggt:
    name, backbone, repo = "vggt", "vggt-1b-annotate", "VidFM3D"
    checkpoint = "model.safetensors"

    def __init__(self, args):
        self.profile = args.profile
        self.parity_clip = (2, 42, 56) if args.tiny else (8, 294, 518)
        self.window = (3, 42, 56) if args.tiny else (81, 294, 518)
        use_ref(args.ref, self.repo)
        # The hub mixin VGGT derives from: the real huggingface_hub where installed (the GPU
        # image has it), else an empty stand-in (it adds no parameters).
        sys.path.insert(0, str(ROOT / "tools"))
        from vidfm3d_imports import install_shims
        self.stubs = install_shims(args.ref / self.repo, eval_utils=False)["stubs"]

    def build(self, device):
        from vidfm3d.vggt.models.vggt import VGGT
        # .to(device) after the context: the aggregator's ImageNet mean and std buffers come
        # from torch.FloatTensor, which the context does not place.
        with torch.device(device):
            return VGGT().eval().to(device)

    def load(self, root, device):
        from safetensors.torch import load_model
        model = self.build(device)
        load_model(model, str(root / self.checkpoint), device=str(device))
        return model

    def make(self, root, device):
        torch.manual_seed(0)
        model = self.build(device)
        perturb_constants(model, 3)
        from safetensors.torch import save_model
        save_model(model, str(root / self.checkpoint))
        frames, height, width = self.parity_clip
        clip = random_clip(frames, height, width, 9)
        keys = ("pose_enc", "depth", "depth_conf")
        with torch.no_grad():
            out = model(clip.to(device))
            tensors = {"clip": clip, **{k: out[k][0] for k in keys}}
            if device.type == "cuda":  # extract_points.py's precision
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    mixed = model(clip.to(device))
                tensors.update({k + "_autocast": mixed[k][0].float() for k in keys})
        save(tensors, root / "parity.safetensors")
        return dict(parameters=sum(p.numel() for p in model.parameters()),
                    frames=frames, height=height, width=width, stubs=self.stubs)

    @staticmethod
    def to_host(predictions, keys=None):
        """extract_points.py's `.cpu()` of every tensor the forward returns (or of `keys`)."""
        return {k: v.cpu() for k, v in predictions.items()
                if isinstance(v, torch.Tensor) and (keys is None or k in keys)}

    def bench(self, root, device, iterations, dtypes):
        model = self.load(root, device)
        frames, height, width = self.window
        # extract_points.py: load_and_preprocess_images gives a pageable host tensor, moved with
        # .to("cuda") before the forward.
        images = torch.rand(frames, 3, height, width)
        point_head = model.point_head
        for variant in ("authors", "depth_cameras"):
            model.point_head = point_head if variant == "authors" else None
            keys = None if variant == "authors" else ("pose_enc", "depth", "depth_conf")
            for dtype_name in dtypes:
                autocast = autocast_for(device, dtype_name)

                def run():
                    with autocast:
                        return self.to_host(model(images.to(device)), keys)

                seconds, peak = timed(run, iterations, device, grad_mode=torch.no_grad)
                emit(benchmark="official_reference", family=self.name, backbone=self.backbone,
                     implementation="zxhuang1698/VidFM3D vidfm3d/vggt", variant=variant,
                     dtype=dtype_name, frames=frames, height=height, width=width,
                     iterations=iterations, ms_per_clip=1000 * seconds,
                     clips_per_s=1 / seconds, peak_allocated_gb=peak,
                     **profiled(run, device, self.profile, f"{self.name}-{variant}", dtype_name))
        model.point_head = point_head


# --------------------------------------------------------------------------------------------
# Open-Sora 2.0


class OpenSora:
    name, backbone, repo = "opensora", "opensora-v2", "Open-Sora"
    model_args = dict(in_channels=64, vec_in_dim=768, context_in_dim=4096, hidden_size=3072,
                      mlp_ratio=4.0, num_heads=24, depth=19, depth_single_blocks=38,
                      axes_dim=[16, 56, 56], theta=10_000, qkv_bias=True, guidance_embed=False,
                      cond_embed=True, fused_qkv=False, use_liger_rope=True, patch_size=2)
    ae_args = dict(in_channels=3, out_channels=3, layers_per_block=2, latent_channels=16,
                   use_spatial_tiling=True, use_temporal_tiling=False)
    layer, timestep, text_length, sigma_min = 20, 0.25, 512, 1e-5

    def __init__(self, args):
        self.tiny = args.tiny
        self.profile = args.profile
        self.model_args = dict(self.model_args, depth=args.opensora_double,
                               depth_single_blocks=args.opensora_single)
        self.parity_clip = (5, 32, 48) if args.tiny else (args.opensora_parity_frames, 480, 848)
        self.speed_clip = (9, 32, 48) if args.tiny else (129, 480, 848)
        if args.tiny:
            self.model_args.update(hidden_size=48, num_heads=2, axes_dim=[4, 10, 10],
                                   context_in_dim=32, vec_in_dim=16)
            self.ae_args = dict(self.ae_args, block_out_channels=(8, 16, 16, 16),
                                norm_num_groups=4, sample_size=32, tile_overlap_factor=0.25)
            self.text_length = 7
        assert self.model_args["depth_single_blocks"] > self.layer
        # Imported before the stand-ins are installed: tools/opensora_reference.py stubs
        # torchvision, which newer transformers (reached through diffusers' loaders) would then
        # take for an installed torchvision of version "N/A".
        import diffusers.loaders.single_file_model  # noqa: F401
        import transformers.models.llama.modeling_llama  # noqa: F401
        sys.path.insert(0, str(ROOT / "tools"))
        import opensora_reference
        opensora_reference.install(args.ref / self.repo)
        site = str(args.ref / "site")
        if site not in sys.path:
            sys.path.append(site)

    def build(self, device):
        from opensora.models.hunyuan_vae.autoencoder_kl_causal_3d import (AutoEncoder3DConfig,
                                                                          AutoencoderKLCausal3D)
        from opensora.models.mmdit.model import MMDiTConfig, MMDiTModel
        with torch.device(device):
            model = MMDiTModel(MMDiTConfig(from_pretrained=None, cache_dir=None,
                                           **self.model_args)).eval()
            vae = AutoencoderKLCausal3D(AutoEncoder3DConfig(from_pretrained=None,
                                                            **self.ae_args)).eval()
        return model, vae

    def config_json(self):
        """{"model": ..., "ae": ...} with the official config field names (vidprobe reads them)."""
        from opensora.models.hunyuan_vae.autoencoder_kl_causal_3d import AutoEncoder3DConfig
        vae = AutoEncoder3DConfig(from_pretrained=None, **self.ae_args)
        ae = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.ae_args.items()}
        for field in ("scale_factor", "shift_factor", "sample_size", "tile_overlap_factor",
                      "block_out_channels", "norm_num_groups"):
            value = getattr(vae, field)
            ae.setdefault(field, list(value) if isinstance(value, tuple) else value)
        return dict(model=self.model_args, ae=ae)

    def load(self, root, device, dtype):
        from safetensors.torch import load_file
        model, vae = self.build("meta")
        model.load_state_dict(load_file(str(root / "Open_Sora_v2.safetensors")), assign=True)
        vae.load_state_dict(load_file(str(root / "hunyuan_vae.safetensors")), assign=True)
        model.to(device, dtype)
        vae.to(device, dtype)
        self.fill_buffers(model, vae, device)
        text = load_file(str(root / "empty_prompt.safetensors"), device=str(device))
        return model, vae, text["t5"][None].to(dtype), text["clip"][None].to(dtype)

    def fill_buffers(self, model, vae, device):
        """Non-persistent buffers of the meta-built modules (none in the versions used, checked
        here), recomputed by their constructors on the device."""
        def missing(module):
            persistent = set(module.state_dict())
            return [n for n, _ in module.named_buffers() if n not in persistent]
        if not missing(model) and not missing(vae):
            return
        rebuilt_model, rebuilt_vae = self.build(device)
        for target, source in ((model, rebuilt_model), (vae, rebuilt_vae)):
            for name in missing(source):
                module_name, _, leaf = name.rpartition(".")
                owner = target.get_submodule(module_name) if module_name else target
                owner.register_buffer(leaf, source.get_buffer(name), persistent=False)

    def encode(self, vae, video):
        """The official encode, posterior mean (sample_posterior=False): the latents x0 and the
        moments of the clip and of its first frame alone (prepare_visual_condition_causal)."""
        z, posterior = vae.encode(video, sample_posterior=False, return_posterior=True)
        first, first_posterior = vae.encode(video[:, :, :1], sample_posterior=False,
                                            return_posterior=True)
        return z, first, posterior.parameters, first_posterior.parameters

    def model_input(self, z, first, noise, dtype):
        from opensora.utils.sampling import get_res_lin_function, time_shift
        b, c, t, h, w = z.shape
        mask = torch.zeros(b, 1, t, h, w, device=z.device, dtype=z.dtype)
        mask[:, :, 0] = 1
        latent = torch.zeros_like(z)
        latent[:, :, :1] = first
        cond = torch.cat((mask, mask * latent), dim=1)
        alpha = get_res_lin_function()((w * h) // 4) * math.sqrt(t)
        shifted = time_shift(alpha, torch.tensor([self.timestep], device=z.device, dtype=dtype))
        shifted = shifted.to(dtype)
        rev = (1 - shifted).view(-1, 1, 1, 1, 1)
        x_t = rev * z.to(dtype) + (1 - (1 - self.sigma_min) * rev) * noise.to(dtype)
        return x_t, cond.to(dtype), shifted

    def single_block_tokens(self, model, x_t, cond, timesteps, txt, y_vec):
        """single_blocks[20]'s output with the text tokens dropped (VidFM3D's hook); the forward
        stops there (a raised exception), as vidprobe's run stops at the requested layer."""
        from opensora.utils.sampling import pack
        p = self.model_args["patch_size"]
        b, _, t, h, w = x_t.shape
        img_ids = torch.zeros(t, h // p, w // p, 3, device=x_t.device)
        img_ids[..., 0] += torch.arange(t, device=x_t.device)[:, None, None]
        img_ids[..., 1] += torch.arange(h // p, device=x_t.device)[None, :, None]
        img_ids[..., 2] += torch.arange(w // p, device=x_t.device)[None, None, :]
        img_ids = img_ids.reshape(1, -1, 3).repeat(b, 1, 1)
        txt_ids = torch.zeros(b, txt.shape[1], 3, device=x_t.device)
        captured = {}

        class Stop(Exception):
            pass

        def hook(_module, _inputs, output):
            captured["tokens"] = output[:, txt.shape[1]:]
            raise Stop

        handle = model.single_blocks[self.layer].register_forward_hook(hook)
        try:
            model(img=pack(x_t, patch_size=p), img_ids=img_ids, txt=txt, txt_ids=txt_ids,
                  timesteps=timesteps, y_vec=y_vec, cond=pack(cond, patch_size=p), guidance=None)
        except Stop:
            pass
        finally:
            handle.remove()
        return captured["tokens"]

    def make(self, root, device):
        torch.manual_seed(0)
        model, vae = self.build(device)
        perturb_constants(model, 3)
        perturb_constants(vae, 4)
        model.to(torch.bfloat16)  # the published file's dtype; the reference upcasts these values
        save(model.state_dict(), root / "Open_Sora_v2.safetensors")
        save(vae.state_dict(), root / "hunyuan_vae.safetensors")
        (root / "config.json").write_text(json.dumps(self.config_json(), indent=2) + "\n")
        g = torch.Generator().manual_seed(9)
        txt = torch.randn(self.text_length, self.model_args["context_in_dim"], generator=g)
        y_vec = torch.randn(self.model_args["vec_in_dim"], generator=g)
        save({"t5": txt, "clip": y_vec}, root / "empty_prompt.safetensors")
        frames, height, width = self.parity_clip
        clip = random_clip(frames, height, width, 10)
        model.float()
        with torch.no_grad():
            video = (clip * 2 - 1).permute(1, 0, 2, 3)[None].to(device)
            z, first, moments, first_moments = self.encode(vae, video)
            noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(42)).to(device)
            x_t, cond, shifted = self.model_input(z, first, noise, torch.float32)
            tokens = self.single_block_tokens(model, x_t, cond, shifted, txt[None].to(device),
                                              y_vec[None].to(device))
            # The official model's own bf16 drift on the same input: the yardstick for vidprobe's.
            model.to(torch.bfloat16)
            bf16 = torch.bfloat16
            tokens_bf16 = self.single_block_tokens(model, x_t.to(bf16), cond.to(bf16),
                                                   shifted.to(bf16), txt[None].to(device, bf16),
                                                   y_vec[None].to(device, bf16))
        _, _, t, h, w = z.shape
        p = self.model_args["patch_size"]
        save({"clip": clip, "moments": moments, "first_moments": first_moments, "latents": x_t,
              "cond": cond, "txt": txt[None], "y_vec": y_vec[None], "timesteps": shifted,
              "noise": noise, "single20_img": tokens.reshape(t, h // p, w // p, -1),
              "single20_img_official_bf16": tokens_bf16.float().reshape(t, h // p, w // p, -1)},
             root / "parity.safetensors")
        return dict(layer=self.model_args["depth"] + self.layer, latents=list(z.shape),
                    blocks=[self.model_args["depth"], self.model_args["depth_single_blocks"]],
                    shifted_t=float(shifted))

    def bench(self, root, device, iterations, dtypes):
        frames, height, width = self.speed_clip
        clip = torch.rand(frames, 3, height, width, device=device)
        for dtype_name in dtypes:
            dtype = DTYPES[dtype_name]
            model, vae, txt, y_vec = self.load(root, device, dtype)

            def run():
                video = (clip * 2 - 1).permute(1, 0, 2, 3)[None].to(dtype)
                z, first, _, _ = self.encode(vae, video)
                x_t, cond, shifted = self.model_input(z, first, torch.randn_like(z), dtype)
                return self.single_block_tokens(model, x_t, cond, shifted, txt, y_vec)

            seconds, peak = timed(run, iterations, device)
            emit(benchmark="official_reference", family=self.name, backbone=self.backbone,
                 implementation="hpcaitech/Open-Sora (flash_attn, Liger stand-ins)",
                 dtype=dtype_name, vae_dtype=dtype_name, frames=frames, height=height,
                 width=width, blocks=[self.model_args["depth"], self.layer + 1],
                 iterations=iterations, ms_per_clip=1000 * seconds, clips_per_s=1 / seconds,
                 peak_allocated_gb=peak,
                 **profiled(run, device, self.profile, self.name, dtype_name))
            del model, vae


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
FAMILIES = {"vjepa1": VJepa1, "fast3r": Fast3r, "opensora": OpenSora, "vggt": Vggt}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["make", "bench"])
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--dtypes", default="bf16", help="comma-separated: fp32,bf16,fp16")
    parser.add_argument("--ref", type=pathlib.Path, default=ROOT / ".ref")
    parser.add_argument("--tiny", action="store_true", help="CPU dry run at a tiny size")
    parser.add_argument("--opensora-double", type=int, default=19)
    parser.add_argument("--opensora-single", type=int, default=21)
    parser.add_argument("--opensora-parity-frames", type=int, default=33)
    parser.add_argument("--profile", type=pathlib.Path, default=None,
                        help="bench: DIR/<family>-<dtype>/{kernels,trace}.json of one more clip")
    args = parser.parse_args()
    args.ref = args.ref.resolve()
    if not (args.ref / FAMILIES[args.family].repo).is_dir():
        sys.exit(f"official_reference.py: {args.ref / FAMILIES[args.family].repo} is missing: "
                 "run scripts/gpu-official-ref.sh first (VidFM3D, for vggt: a checkout of "
                 "zxhuang1698/VidFM3D, as scripts/gpu-vidfm3d.sh uses)")
    device = torch.device(args.device)
    family = FAMILIES[args.family](args)
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.command == "make":
        exact_fp32()
        start = time.time()
        facts = family.make(args.dir, device)
        emit(benchmark="official_reference_make", family=args.family, backbone=family.backbone,
             official_commit=commit(args.ref, family.repo), seconds=time.time() - start, **facts)
    else:
        family.bench(args.dir, device, args.iterations, args.dtypes.split(","))


if __name__ == "__main__":
    sys.exit(main())

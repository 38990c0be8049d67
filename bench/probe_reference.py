#!/usr/bin/env python3
"""The vidprobe probe written in PyTorch Python, to time its training step against the C++ one.

Same architecture, losses, optimiser and input as src/vidprobe/probe/probe_bench.cpp (see
src/vidprobe/probe/*.h for the design), independently written. Prints one JSON object:
{"steps_per_s", "ms_per_step", "parameters", ...}; compare "parameters" with `vidprobe bench probe`
to confirm both sides build the same network, then the ratio of steps_per_s.

    python3 bench/probe_reference.py --threads 2
    python3 bench/probe_reference.py --device cuda --batch 8
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULTS = {
    "model": dict(width=384, num_blocks=4, num_heads=6, mlp_ratio=4.0, qk_norm=True,
                  layer_scale_init=0.01, rope_frequency=100.0, num_register_tokens=4,
                  input_norm=True, global_attention=True),
    "heads": dict(dense=dict(features=128, out_channels=[64, 128, 256, 256], pos_embed=True),
                  camera=dict(trunk_depth=2, iterations=1), point_activation="inv_log",
                  depth_activation="exp", conf_activation="expp1"),
    "loss": dict(depth=dict(weight=1.0, gamma=1.0, alpha=0.2, reg_weight=1.0, gradient="grad", gradient_scales=3),
                 point=dict(weight=1.0, gamma=1.0, alpha=0.2, reg_weight=1.0, gradient="normal", gradient_scales=3),
                 camera=dict(weight=5.0, type="l1", weight_translation=1.0, weight_rotation=1.0, weight_fov=0.5, gamma=0.6)),
    "train": dict(lr=2e-4, weight_decay=0.05, beta1=0.9, beta2=0.95, grad_clip=1.0, bf16=True),
}


def hw(text):
    """'HxW' or 'N' -> (H, W)."""
    h, _, w = text.partition("x")
    return int(h), int(w or h)


def merged(defaults, given):
    out = dict(defaults)
    for key, value in (given or {}).items():
        out[key] = merged(defaults[key], value) if isinstance(defaults.get(key), dict) else value
    return out


# ----------------------------------------------------------------------------- layers
def rope_1d(x, pos, base):
    d = x.shape[-1]
    inv = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    ang = pos.float()[..., None] * inv
    ang = torch.cat([ang, ang], -1)[:, None]
    a, b = x.chunk(2, -1)
    return x * ang.cos().to(x.dtype) + torch.cat([-b, a], -1) * ang.sin().to(x.dtype)


def rope_2d(x, pos, base):
    a, b = x.chunk(2, -1)
    return torch.cat([rope_1d(a, pos[..., 0], base), rope_1d(b, pos[..., 1], base)], -1)


class Attention(nn.Module):
    def __init__(self, dim, heads, qk_norm, rope):
        super().__init__()
        self.heads, self.rope = heads, rope
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        hd = dim // heads
        self.q_norm = nn.LayerNorm(hd) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(hd) if qk_norm else nn.Identity()

    def forward(self, x, pos):
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k = self.q_norm(q), self.k_norm(k)
        if self.rope > 0 and pos is not None:
            q, k = rope_2d(q, pos, self.rope), rope_2d(k, pos, self.rope)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class LayerScale(nn.Module):
    def __init__(self, dim, init):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init)) if init > 0 else None

    def forward(self, x):
        return x if self.gamma is None else x * self.gamma


class Mlp(nn.Module):
    def __init__(self, i, h, o):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(i, h), nn.Linear(h, o)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, qk_norm, rope, ls):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, qk_norm, rope)
        self.ls1, self.ls2 = LayerScale(dim, ls), LayerScale(dim, ls)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dim)

    def forward(self, x, pos=None):
        x = x + self.ls1(self.attn(self.norm1(x), pos))
        return x + self.ls2(self.mlp(self.norm2(x)))


def init_weights(module):
    for m in module.modules():
        if isinstance(m, nn.Linear):
            with torch.no_grad():
                m.weight.normal_(0, 0.02).clamp_(-0.04, 0.04)
                m.bias.zero_()


def first_and_rest(pair, b, s):
    return torch.cat([pair[:, :1].expand(b, 1, *pair.shape[2:]), pair[:, 1:].expand(b, s - 1, *pair.shape[2:])],
                     1).reshape(b * s, *pair.shape[2:])


class Aggregator(nn.Module):
    def __init__(self, m, c):
        super().__init__()
        self.m = m
        d = m["width"]
        self.input_norm = nn.LayerNorm(c, eps=1e-6) if m["input_norm"] else nn.Identity()
        self.input_proj = nn.Linear(c, d)
        self.camera_token = nn.Parameter(torch.randn(1, 2, 1, d) * 1e-6)
        r = m["num_register_tokens"]
        self.register_token = nn.Parameter(torch.randn(1, 2, r, d) * 1e-6) if r > 0 else None
        mk = lambda: Block(d, m["num_heads"], m["mlp_ratio"], m["qk_norm"], m["rope_frequency"], m["layer_scale_init"])
        self.frame_blocks = nn.ModuleList([mk() for _ in range(m["num_blocks"])])
        self.global_blocks = nn.ModuleList([mk() for _ in range(m["num_blocks"])])
        init_weights(self)

    def forward(self, feats):
        b, s, c, h, w = feats.shape
        x = self.input_proj(self.input_norm(feats.float().permute(0, 1, 3, 4, 2).reshape(b * s, h * w, c)))
        parts = [first_and_rest(self.camera_token, b, s)]
        if self.register_token is not None:
            parts.append(first_and_rest(self.register_token, b, s))
        start = 1 + self.m["num_register_tokens"]
        x = torch.cat(parts + [x], 1)
        p, d = x.shape[1], x.shape[2]
        ys, xs = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
        grid = torch.stack([ys, xs], -1).reshape(h * w, 2) + 1
        pos = torch.cat([torch.zeros(start, 2, dtype=torch.long, device=x.device), grid])[None].expand(b * s, p, 2)
        out = []
        for fb, gb in zip(self.frame_blocks, self.global_blocks):
            x = fb(x.reshape(b * s, p, d), pos)
            f = x.view(b, s, p, d)
            if self.m["global_attention"]:
                x = gb(x.reshape(b, s * p, d), pos.reshape(b, s * p, 2))
            else:
                x = gb(x, pos)
            out.append(torch.cat([f, x.view(b, s, p, d)], -1))
        return out, start


# ----------------------------------------------------------------------------- heads
def uv_embed(c, h, w, aspect, like):
    diag = math.sqrt(aspect * aspect + 1)
    sx, sy = aspect / diag, 1 / diag
    xs = torch.linspace(-sx * (w - 1) / w, sx * (w - 1) / w, w, device=like.device)
    ys = torch.linspace(-sy * (h - 1) / h, sy * (h - 1) / h, h, device=like.device)
    padded = (c + 3) // 4 * 4
    half = padded // 4

    def sincos(pos):
        om = 100.0 ** (-torch.arange(half, device=like.device, dtype=torch.float32) / half)
        a = pos[:, None] * om
        return torch.cat([a.sin(), a.cos()], -1)

    ex, ey = sincos(xs), sincos(ys)
    g = torch.cat([ex[None].expand(h, w, -1), ey[:, None].expand(h, w, -1)], -1)
    return g[..., :c].permute(2, 0, 1).to(like.dtype)


class Rcu(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(f, f, 3, padding=1), nn.Conv2d(f, f, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class Fusion(nn.Module):
    def __init__(self, f, residual):
        super().__init__()
        self.unit1 = Rcu(f) if residual else None
        self.unit2 = Rcu(f)
        self.out_conv = nn.Conv2d(f, f, 1)

    def forward(self, x, skip=None, size=None):
        if self.unit1 is not None:
            x = x + self.unit1(skip)
        x = self.unit2(x)
        size = size or (x.shape[2] * 2, x.shape[3] * 2)
        return self.out_conv(F.interpolate(x, size=size, mode="bilinear", align_corners=True))


def activate(raw, act, conf_act):
    m = raw.permute(0, 2, 3, 1)
    v, c = m[..., :-1], m[..., -1]
    if act == "inv_log":
        v = torch.sign(v) * torch.expm1(v.abs())
    elif act == "exp":
        v = v.exp()
    elif act == "norm_exp":
        n = v.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        v = v / n * torch.expm1(n)
    c = {"expp1": lambda t: 1 + t.exp(), "expp0": torch.exp, "sigmoid": torch.sigmoid}[conf_act](c)
    return v, c


class Dpt(nn.Module):
    def __init__(self, cfg, dim_in, out_dim, blocks, act, conf_act):
        super().__init__()
        oc, f = cfg["out_channels"], cfg["features"]
        self.cfg, self.act, self.conf_act = cfg, act, conf_act
        self.idx = [round(i * (blocks - 1) / 3) for i in range(4)]
        self.norm = nn.LayerNorm(dim_in)
        self.projects = nn.ModuleList([nn.Conv2d(dim_in, o, 1) for o in oc])
        self.resize_layers = nn.ModuleList([nn.ConvTranspose2d(oc[0], oc[0], 4, 4), nn.ConvTranspose2d(oc[1], oc[1], 2, 2),
                                            nn.Identity(), nn.Conv2d(oc[3], oc[3], 3, 2, 1)])
        self.level_convs = nn.ModuleList([nn.Conv2d(o, f, 3, padding=1, bias=False) for o in oc])
        self.refine = nn.ModuleList([Fusion(f, i != 3) for i in range(4)])
        self.output_conv1 = nn.Conv2d(f, f // 2, 3, padding=1)
        self.output_conv2 = nn.Sequential(nn.Conv2d(f // 2, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, out_dim, 1))

    def forward(self, tokens, start, h, w, H, W):
        b, s = tokens[0].shape[:2]
        aspect = W / H
        lv = []
        for i in range(4):
            t = tokens[self.idx[i]][:, :, start:].reshape(b * s, h * w, -1)
            x = self.norm(t).permute(0, 2, 1).reshape(b * s, -1, h, w)
            x = self.projects[i](x)
            if self.cfg["pos_embed"]:
                x = x + 0.1 * uv_embed(x.shape[1], h, w, aspect, x)[None]
            lv.append(self.level_convs[i](self.resize_layers[i](x)))
        y = self.refine[3](lv[3], None, lv[2].shape[2:])
        y = self.refine[2](y, lv[2], lv[1].shape[2:])
        y = self.refine[1](y, lv[1], lv[0].shape[2:])
        y = self.refine[0](y, lv[0])
        y = F.interpolate(self.output_conv1(y), size=(H, W), mode="bilinear", align_corners=True)
        if self.cfg["pos_embed"]:
            y = y + 0.1 * uv_embed(y.shape[1], H, W, aspect, y)[None]
        v, c = activate(self.output_conv2(y), self.act, self.conf_act)
        return v.reshape(b, s, H, W, -1), c.reshape(b, s, H, W)


class CameraHead(nn.Module):
    def __init__(self, cfg, dim, heads, mlp_ratio, qk_norm, across):
        super().__init__()
        self.cfg, self.across = cfg, across
        self.token_norm, self.trunk_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.adaln_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.trunk = nn.ModuleList([Block(dim, heads, mlp_ratio, qk_norm, 0, 0) for _ in range(cfg["trunk_depth"])])
        self.empty_pose = nn.Parameter(torch.zeros(1, 1, 9))
        self.embed_pose, self.modulation = nn.Linear(9, dim), nn.Linear(dim, 3 * dim)
        self.pose_branch = Mlp(dim, dim // 2, 9)
        init_weights(self)

    def forward(self, tok):
        b, s, c = tok.shape
        tok = self.token_norm(tok)
        est, outs = None, []
        for _ in range(self.cfg["iterations"]):
            cond = self.embed_pose(self.empty_pose.expand(b, s, 9) if est is None else est.detach())
            shift, scale, gate = self.modulation(F.silu(cond)).chunk(3, -1)
            x = gate * (self.adaln_norm(tok) * (1 + scale) + shift) + tok
            x = x if self.across else x.reshape(b * s, 1, c)
            for blk in self.trunk:
                x = blk(x)
            delta = self.pose_branch(self.trunk_norm(x.reshape(b, s, c)))
            est = delta if est is None else est + delta
            outs.append(torch.cat([est[..., :7], F.relu(est[..., 7:])], -1))
        return outs


class Probe(nn.Module):
    def __init__(self, cfg, c):
        super().__init__()
        m, hd = cfg["model"], cfg["heads"]
        self.aggregator = Aggregator(m, c)
        d2 = 2 * m["width"]
        self.point_head = Dpt(hd["dense"], d2, 4, m["num_blocks"], hd["point_activation"], hd["conf_activation"])
        self.depth_head = Dpt(hd["dense"], d2, 2, m["num_blocks"], hd["depth_activation"], hd["conf_activation"])
        self.camera_head = CameraHead(hd["camera"], d2, m["num_heads"], m["mlp_ratio"], m["qk_norm"], m["global_attention"])

    def forward(self, feats, H, W):
        toks, start = self.aggregator(feats)
        h, w = feats.shape[3:]
        with torch.autocast("cuda", enabled=False):  # heads in fp32, as vidprobe and VGGT
            return self.heads([t.float() for t in toks], start, h, w, H, W)

    def heads(self, toks, start, h, w, H, W):
        pts, pconf = self.point_head(toks, start, h, w, H, W)
        dep, dconf = self.depth_head(toks, start, h, w, H, W)
        return dict(points=pts, points_conf=pconf, depth=dep[..., 0], depth_conf=dconf,
                    poses=self.camera_head(toks[-1][:, :, 0]))


# ----------------------------------------------------------------------------- losses
def gradient_loss(p, g, m, conf, gamma, alpha):
    mm = m[..., None].expand_as(p).float()
    diff = (p - g) * mm
    mx, my = mm[:, :, 1:] * mm[:, :, :-1], mm[:, 1:] * mm[:, :-1]
    gx = (diff[:, :, 1:] - diff[:, :, :-1]).abs().clamp(max=100) * mx
    gy = (diff[:, 1:] - diff[:, :-1]).abs().clamp(max=100) * my
    c = conf[..., None].expand_as(p)
    gx = gamma * gx * c[:, :, 1:] - alpha * c[:, :, 1:].log() * mx
    gy = gamma * gy * c[:, 1:] - alpha * c[:, 1:].log() * my
    return (gx.sum() + gy.sum()) / mm.sum().clamp_min(1)


def normals(pts, m):
    pm = F.pad(m.float(), (1, 1, 1, 1)) > 0.5
    pp = F.pad(pts.permute(0, 3, 1, 2), (1, 1, 1, 1)).permute(0, 2, 3, 1)
    H, W = m.shape[1:]
    c = pp[:, 1:-1, 1:-1]
    up, left, down, right = pp[:, :-2, 1:-1] - c, pp[:, 1:-1, :-2] - c, pp[:, 2:, 1:-1] - c, pp[:, 1:-1, 2:] - c
    sl = lambda y, x: pm[:, y:y + H, x:x + W]
    mc, mu, ml, md, mr = sl(1, 1), sl(0, 1), sl(1, 0), sl(2, 1), sl(1, 2)
    n = torch.stack([torch.cross(up, left, -1), torch.cross(left, down, -1), torch.cross(down, right, -1),
                     torch.cross(right, up, -1)])
    v = torch.stack([mu & mc & ml, ml & mc & md, md & mc & mr, mr & mc & mu])
    return F.normalize(n, dim=-1, eps=1e-8), v


def normal_loss(p, g, m, conf, gamma, alpha):
    pn, pv = normals(p, m)
    gn, gv = normals(g, m)
    v = pv & gv
    loss = 1 - (pn[v] * gn[v]).sum(-1).clamp(-1 + 1e-8, 1 - 1e-8)
    c = conf[None].expand(4, -1, -1, -1)[v]
    return (gamma * loss * c - alpha * c.log()).mean()


def regression(pred, gt, mask, conf, cfg):
    pred, conf = pred.float(), conf.float()
    dist = (gt[mask] - pred[mask]).norm(dim=-1)
    c = conf[mask]
    lconf = (cfg["gamma"] * dist * c - cfg["alpha"] * c.log()).mean()
    b, s, H, W, C = pred.shape
    p, g, m, cf = pred.reshape(b * s, H, W, C), gt.reshape(b * s, H, W, C), mask.reshape(b * s, H, W), conf.reshape(b * s, H, W)
    fn = normal_loss if cfg["gradient"] == "normal" else gradient_loss
    grad = sum(fn(p[:, ::2 ** k, ::2 ** k], g[:, ::2 ** k, ::2 ** k], m[:, ::2 ** k, ::2 ** k],
                  cf[:, ::2 ** k, ::2 ** k], cfg["gamma"], cfg["alpha"]) for k in range(cfg["gradient_scales"]))
    return cfg["weight"] * (lconf + cfg["reg_weight"] * dist.mean() + grad / cfg["gradient_scales"])


def probe_loss(out, t, cfg):
    depth = regression(out["depth"][..., None], t["depth"][..., None], t["valid"], out["depth_conf"], cfg["depth"])
    point = regression(out["points"], t["points"], t["valid"], out["points_conf"], cfg["point"])
    cc, n = cfg["camera"], len(out["poses"])
    cam = 0
    for k, pe in enumerate(out["poses"]):
        d = (pe.float() - t["pose"]).abs()
        wk = cc["gamma"] ** (n - 1 - k)
        cam = cam + wk * (cc["weight_translation"] * d[..., :3].clamp(max=100).mean()
                          + cc["weight_rotation"] * d[..., 3:7].mean() + cc["weight_fov"] * d[..., 7:].mean())
    return depth + point + cc["weight"] * cam / n


# ----------------------------------------------------------------------------- data
def targets(b, s, H, W, device):
    """A plane at depth 2..3 seen by cameras sliding sideways; GT normalised like VGGT."""
    depth = 2 + torch.rand(b, s, H, W)
    K = torch.tensor([[0.9 * W, 0, (W - 1) / 2], [0, 0.9 * H, (H - 1) / 2], [0, 0, 1.0]])
    tx = 0.1 * torch.arange(s, dtype=torch.float32)
    v, u = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    cam = torch.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], torch.ones_like(u)], -1) * depth[..., None]
    world = cam - torch.stack([tx, torch.zeros(s), torch.zeros(s)], -1)[None, :, None, None]  # R = I, t = (tx, 0, 0)
    scale = world.norm(dim=-1).mean(dim=(1, 2, 3))  # first camera at the origin with identity rotation
    pose = torch.zeros(b, s, 9)
    pose[..., 0] = tx / scale[:, None]
    pose[..., 6] = 1
    pose[..., 7] = 2 * math.atan(H / (2 * K[1, 1]))
    pose[..., 8] = 2 * math.atan(W / (2 * K[0, 0]))
    return dict(depth=(depth / scale[:, None, None, None]).to(device),
                points=(world / scale[:, None, None, None, None]).to(device),
                valid=torch.ones(b, s, H, W, dtype=torch.bool, device=device), pose=pose.to(device))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="probe config JSON (vidprobe's keys); default: vidprobe's defaults")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--feature-dim", type=int, default=1024)
    ap.add_argument("--grid", type=hw, default=(16, 16), help="h x w of the features (or one side)")
    ap.add_argument("--size", type=hw, default=(112, 112), help="H x W of the GT (or one side)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    given = json.load(open(a.config)) if a.config else {}
    # The reference builds vidprobe's preset "vidprobe" network; the views and the preset name do
    # not change one training step on given frames.
    for key in ("preset", "views"):
        given.pop(key, None)
    cfg = merged(DEFAULTS, given)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = Probe(cfg, a.feature_dim).to(dev).train()
    tr = cfg["train"]
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "token" not in n and "empty_pose" not in n]
    plain = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "token" not in n and "empty_pose" not in n)]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=tr["weight_decay"]), dict(params=plain, weight_decay=0.0)],
                            lr=tr["lr"], betas=(tr["beta1"], tr["beta2"]))
    feats = torch.randn(a.batch, a.frames, a.feature_dim, *a.grid).half().to(dev)
    t = targets(a.batch, a.frames, *a.size, dev)
    autocast = dev.type == "cuda" and tr["bf16"]

    def step():
        opt.zero_grad()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            loss = probe_loss(model(feats, *a.size), t, cfg["loss"])
        loss.backward()
        if tr["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tr["grad_clip"])
        opt.step()
        return loss.item()

    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    for _ in range(a.warmup):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(a.steps):
        last = step()
    sync()
    sec = time.perf_counter() - start
    print(json.dumps(dict(benchmark="probe_train_step_pytorch", device=a.device, steps_per_s=a.steps / sec,
                          ms_per_step=1000 * sec / a.steps, parameters=sum(p.numel() for p in model.parameters()),
                          batch=a.batch, frames=a.frames, feature_dim=a.feature_dim, grid=a.grid, size=a.size,
                          threads=torch.get_num_threads(), last_loss=last, torch=torch.__version__)))


if __name__ == "__main__":
    main()

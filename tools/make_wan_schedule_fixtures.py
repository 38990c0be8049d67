#!/usr/bin/env python3
"""Writes tests/fixtures/wan/schedule.json: how the VidFM3D authors' WAN2.1 feature extraction
(github zxhuang1698/VidFM3D, features/wan/wan_feature.py) picks the noise level and the text
context, computed by diffusers' OWN code for two diffusers releases.

What the authors' code does (wan_feature.py):
    scheduler = UniPCMultistepScheduler.from_config(<Wan2.1-T2V scheduler config>, flow_shift=3.0)
    scheduler.set_timesteps(1000)
    t_input = scheduler.timesteps[torch.tensor([t])]          # t = 749 in the paper's configs
    latents_noisy = scheduler.add_noise(latents, noise, t_input)
    transformer(latents_noisy, timestep=t_input, encoder_hidden_states=pipe.encode_prompt("")[0])

add_noise does NOT use sigmas[t]: it looks t_input up again with index_for_timestep, which takes
the SECOND match when an integer timestep occurs more than once in scheduler.timesteps. So both
`sigma_at_index` (= scheduler.sigmas[index]) and `sigma_applied` (measured by calling add_noise
with original_samples = 0, noise = 1; `alpha_applied` with original = 1, noise = 0) are recorded.

The two flow-sigma formulas (copied verbatim from each version's set_timesteps into the JSON under
"formula" / "formula_lines"):
  * "old" (read in 0.32.2, 0.33.1, 0.34.0, 0.35.2, 0.36.0; 0.34.0 is the one recorded, the others
    can be checked with --check): the "flip formula"
        alphas = np.linspace(1, 1/N, steps+1); sigmas = 1 - alphas
        sigmas = np.flip(shift*sigmas / (1 + (shift-1)*sigmas))[:-1]
    i.e. with d = (1 - 1/N)/steps: sigma_i = f((steps - i) d), f(s) = shift s / (1 + (shift-1) s),
    so for steps = N = 1000 the first sigma is f(0.999), the last f(0.000999) (never 1.0).
  * "new" (diffusers 0.37.0 and later; 0.42.1 is the one run):
        sigmas = np.linspace(1, 1/N, steps+1)[:-1]
        sigmas = shift*sigmas / (1 + (shift-1)*sigmas)
    i.e. sigma_i = f(1 - i d): first f(1) = 1, then sigmas[0] -= 1e-6 (it is within 1e-6 of 1);
    last (steps = 1000) f(0.001999). Checked by hand: 0.37.0 gives results identical to 0.42.1.
  Both: timesteps = (sigmas * N) in float64 cast to int64 (truncation), sigmas stored float32 with
  a final 0 appended (final_sigmas_type "zero"); add_noise: x = (1 - sigma) x0 + sigma eps.

Text context: diffusers' WanPipeline._get_t5_prompt_embeds (NEW version) is run for prompt "" at
the encode_prompt default max_sequence_length (226) with a tiny random UMT5EncoderModel built from a
config (transformers) and a tokenizer stand-in that returns what the umT5 tokenizer returns for ""
(the EOS id 1, then pad id 0, mask 1 then 0s). Nothing is downloaded.

Config: the scheduler/scheduler_config.json of Wan-AI/Wan2.1-T2V-1.3B-Diffusers (written out below
as a dict; flow_shift there is 3.0 and the authors override it with 3.0 anyway).

How to run (CPU, seconds). Install each diffusers into a throwaway target dir (not into a venv):
    PY=/root/.cache/vidprobe/venv-torch-2.11.0/bin/python        # any python with torch + numpy
    $PY -m pip install --target /tmp/diffusers-new diffusers==0.42.1 transformers
    $PY -m pip install --target /tmp/diffusers-old diffusers==0.34.0 "huggingface_hub<1.0"
    # optional: more flip-formula releases, checked against the old one (same for 0.33.1)
    $PY -m pip install --no-deps --target /tmp/dcheck-0.35.2 diffusers==0.35.2
    $PY -m pip install --no-deps --target /tmp/dcheck-0.36.0 diffusers==0.36.0
    $PY tools/make_wan_schedule_fixtures.py --new /tmp/diffusers-new --old /tmp/diffusers-old \
        [--check /tmp/dcheck-0.35.2 --check /tmp/dcheck-0.36.0]
The script re-runs itself once per version (subprocess, PYTHONPATH = that target dir; a --check
dir is put in front of the old dir, whose dependencies it borrows) and merges the results.
Versions used for the committed file: new = 0.42.1 (with transformers 5.24.0 for the text context),
old = 0.34.0; --check 0.33.1, 0.35.2, 0.36.0 gave results identical to 0.34.0.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/wan/schedule.json"

# Wan-AI/Wan2.1-T2V-1.3B-Diffusers scheduler/scheduler_config.json
WAN_SCHEDULER_CONFIG = {
    "_class_name": "UniPCMultistepScheduler",
    "_diffusers_version": "0.33.0.dev0",
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "disable_corrector": [],
    "dynamic_thresholding_ratio": 0.995,
    "final_sigmas_type": "zero",
    "flow_shift": 3.0,
    "lower_order_final": True,
    "num_train_timesteps": 1000,
    "predict_x0": True,
    "prediction_type": "flow_prediction",
    "rescale_betas_zero_snr": False,
    "sample_max_value": 1.0,
    "solver_order": 2,
    "solver_p": None,
    "solver_type": "bh2",
    "steps_offset": 0,
    "thresholding": False,
    "timestep_spacing": "linspace",
    "trained_betas": None,
    "use_beta_sigmas": False,
    "use_exponential_sigmas": False,
    "use_flow_sigmas": True,
    "use_karras_sigmas": False,
}

# (flow_shift, steps, probe indices)
CASES = [
    (3.0, 1000, [0, 1, 100, 249, 250, 499, 500, 748, 749, 750, 900, 999]),
    (5.0, 50, [0, 1, 10, 24, 25, 37, 40, 48, 49]),
]


def _f(x):
    """float32 tensor element -> Python float (repr round-trips: <= 17 significant digits)."""
    return float(x)


def _formula_lines(scheduler_cls):
    """The flow-sigma branch of set_timesteps, verbatim (stripped lines)."""
    import inspect

    src = inspect.getsource(scheduler_cls.set_timesteps).splitlines()
    start = next(i for i, l in enumerate(src) if l.strip() == "elif self.config.use_flow_sigmas:")
    lines = []
    for l in src[start + 1:]:
        s = l.strip()
        lines.append(s)
        if s.startswith("timesteps = (sigmas * self.config.num_train_timesteps)"):
            break
    shift_line = next(s for s in lines if "self.config.flow_shift * sigmas" in s)
    return shift_line, lines


def _schedule_case(shift, steps, probe_indices):
    import torch
    from diffusers import UniPCMultistepScheduler

    sch = UniPCMultistepScheduler.from_config(WAN_SCHEDULER_CONFIG, flow_shift=shift)
    sch.set_timesteps(steps)
    assert sch.begin_index is None and sch.step_index is None
    timesteps = sch.timesteps
    sigmas = sch.sigmas
    assert timesteps.dtype == torch.int64 and sigmas.dtype == torch.float32

    def applied(index):
        t_input = sch.timesteps[torch.tensor([index], dtype=torch.long)]  # as wan_feature.py
        shape = (1, 2, 1, 1, 1)
        z, o = torch.zeros(shape), torch.ones(shape)
        s = sch.add_noise(z, o, t_input)  # (1 - sigma) * 0 + sigma * 1
        a = sch.add_noise(o, z, t_input)  # (1 - sigma) * 1 + sigma * 0
        assert torch.all(s == s.flatten()[0]) and torch.all(a == a.flatten()[0])
        return int(t_input.item()), _f(s.flatten()[0]), _f(a.flatten()[0])

    probes = []
    for i in probe_indices:
        t_input, s, a = applied(i)
        probes.append({"index": i, "t_input": t_input, "sigma_applied": s, "alpha_applied": a,
                       "sigma_at_index": _f(sigmas[i])})
    differs = []
    for i in range(len(timesteps)):
        _, s, _ = applied(i)
        if s != _f(sigmas[i]):
            differs.append(i)
    counts = torch.bincount(timesteps)
    return {
        "flow_shift": shift,
        "steps": steps,
        "effective_config": {k: sch.config[k] for k in (
            "num_train_timesteps", "flow_shift", "use_flow_sigmas", "prediction_type", "final_sigmas_type",
            "timestep_spacing", "solver_order", "use_karras_sigmas", "use_exponential_sigmas",
            "use_beta_sigmas")},
        "timesteps": [int(t) for t in timesteps.tolist()],
        "sigmas": [_f(s) for s in sigmas],
        "num_distinct_timesteps": int((counts > 0).sum()),
        "indices_where_applied_differs": differs,
        "probes": probes,
    }


def _text_context():
    import inspect
    import types

    import torch
    from diffusers import WanPipeline
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    cfg = UMT5Config(vocab_size=64, d_model=16, d_kv=4, num_heads=2, num_layers=2, d_ff=32,
                     relative_attention_num_buckets=8, relative_attention_max_distance=16,
                     pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    enc = UMT5EncoderModel(cfg).eval()
    calls = []

    class EosOnlyTokenizer:
        """Stand-in for the umT5 tokenizer: "" -> [EOS=1] padded with PAD=0 to max_length."""

        def __call__(self, prompt, **kw):
            calls.append({k: v for k, v in kw.items()})
            assert kw["padding"] == "max_length" and all(p == "" for p in prompt)
            n = kw["max_length"]
            ids = torch.zeros(len(prompt), n, dtype=torch.long)
            ids[:, 0] = 1
            return types.SimpleNamespace(input_ids=ids, attention_mask=(ids != 0).long())

    class Stub:
        _get_t5_prompt_embeds = WanPipeline._get_t5_prompt_embeds
        encode_prompt = WanPipeline.encode_prompt
        _execution_device = torch.device("cpu")

        def __init__(self):
            self.tokenizer = EosOnlyTokenizer()
            self.text_encoder = enc

    stub = Stub()
    with torch.no_grad():
        # as wan_feature.py: encode_prompt(prompt=null_prompt, do_classifier_free_guidance=False, device=...)
        embeds, neg = stub.encode_prompt(prompt="", do_classifier_free_guidance=False,
                                         device=torch.device("cpu"))
        ids = torch.zeros(1, 226, dtype=torch.long)
        ids[0, 0] = 1
        padded = enc(ids, (ids != 0).long()).last_hidden_state
        alone = enc(ids[:, :1], torch.ones(1, 1, dtype=torch.long)).last_hidden_state
    nonzero_rows = [i for i in range(embeds.shape[1]) if bool(embeds[0, i].abs().sum() > 0)]
    enc_sig = inspect.signature(WanPipeline.encode_prompt).parameters["max_sequence_length"].default
    call_sig = inspect.signature(WanPipeline.__call__).parameters["max_sequence_length"].default
    return {
        "source": "diffusers WanPipeline._get_t5_prompt_embeds via encode_prompt (new version)",
        "prompt": "",
        "encode_prompt_default_max_sequence_length": enc_sig,
        "pipeline_call_default_max_sequence_length": call_sig,
        "tokenizer_kwargs": {k: v for k, v in calls[0].items() if k != "return_tensors"},
        "tokenizer_stand_in": "input_ids [1 (EOS), 0 x 225], attention_mask [1, 0 x 225]",
        "negative_prompt_embeds": None if neg is None else list(neg.shape),
        "shape": list(embeds.shape),
        "rows_with_encoder_output": len(nonzero_rows),
        "nonzero_row_indices": nonzero_rows,
        "zero_rows": int(embeds.shape[1] - len(nonzero_rows)),
        "rows_after_first_exactly_zero": bool(torch.all(embeds[0, 1:] == 0)),
        "row0_equals_masked_padded_run": bool(torch.equal(embeds[0, 0], padded[0, 0])),
        "row0_max_abs_diff_vs_eos_alone_run": float((embeds[0, 0] - alone[0, 0]).abs().max()),
        "layout": "row 0 = umT5 last_hidden_state of the EOS token (encoder run on 226 ids with "
                  "mask [1, 0...]); rows 1..225 = exact zeros (u.new_zeros padding); "
                  "shape (1, 226, 4096) for the real umT5-xxl",
    }


def worker(args):
    import diffusers
    from diffusers import UniPCMultistepScheduler

    shift_line, lines = _formula_lines(UniPCMultistepScheduler)
    res = {"version": diffusers.__version__, "file": diffusers.__file__, "formula": shift_line,
           "formula_lines": lines, "cases": [_schedule_case(*c) for c in CASES]}
    if args.text_context:
        res["text_context"] = _text_context()
    json.dump(res, sys.stdout)


def _run(pythonpath, text_context=False):
    env = dict(os.environ, PYTHONPATH=pythonpath)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker"] + (["--text-context"] if text_context else [])
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd="/")
    return json.loads(out.stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--new", help="pip --target dir holding the current diffusers (+ transformers)")
    p.add_argument("--old", help="pip --target dir holding a flip-formula diffusers (0.34.0)")
    p.add_argument("--check", action="append", default=[],
                   help="dir with another flip-formula diffusers; must give the old results")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--text-context", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if not (args.new and args.old):
        p.error("--new and --old are required")

    new = _run(args.new, text_context=True)
    old = _run(args.old)
    checked = {}
    for d in args.check:
        r = _run(d + os.pathsep + args.old)
        same = r["cases"] == old["cases"] and r["formula"] == old["formula"]
        checked[r["version"]] = same
        print(f"check diffusers {r['version']}: {'identical to' if same else 'DIFFERS from'} {old['version']}")

    cases = []
    for label, r in (("new", new), ("old", old)):
        for c in r["cases"]:
            cases.append({"diffusers": label, **c})
    doc = {
        "description": "UniPCMultistepScheduler (WAN2.1 T2V config) timesteps/sigmas after set_timesteps, "
                       "and the sigma add_noise applies for t_input = timesteps[index], per diffusers "
                       "version; plus WanPipeline's text context for prompt ''. "
                       "Written by tools/make_wan_schedule_fixtures.py.",
        "versions": {"new": new["version"], "old": old["version"]},
        "old_formula_also_checked": checked,
        "config": WAN_SCHEDULER_CONFIG,
        "from_config_override": "flow_shift (per case)",
        "formula": {"new": new["formula"], "old": old["formula"]},
        "formula_lines": {"new": new["formula_lines"], "old": old["formula_lines"]},
        "add_noise": "x = (1 - sigma) * x0 + sigma * noise, sigma = sigmas[index_for_timestep(t_input)] "
                     "(second match when t_input occurs more than once; begin_index is None)",
        "cases": cases,
        "text_context": new["text_context"],
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    for c in cases:
        for pr in c["probes"]:
            if c["steps"] == 1000 and pr["index"] == 749:
                print(c["diffusers"], pr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Converts a trained probe checkpoint of the authors' code (github.com/zxhuang1698/VidFM3D: a
Lightning `.ckpt` of VideoProbeLitModule) into a safetensors file holding their ProbeModelPA state
dict, with ProbeModelPA's own key names (backbone.*, camera_head.*, point_head.*, depth_head.*).

Usage: python3 tools/convert_vidfm3d_checkpoint.py [--trust-pickle] CKPT OUT.safetensors

* Reads checkpoint["state_dict"] (a bare state dict of tensors is accepted too). Keys under
  `probe.` are kept with the prefix stripped, as their _load_pretrained_weights does
  (video_probe_module.py: filter "probe.", strip it, load_state_dict strict); a further
  `_orig_mod.` (a torch.compile'd probe, model.compile=true; the paper configs have false) is
  stripped as well. Everything else (the LitModule's epoch_fraction / train_total_samples
  buffers, metric states, ...) is dropped and listed on stderr. Tensors keep their dtype.
* Loading: torch.load(CKPT, map_location="cpu", weights_only=True) first. A Lightning checkpoint
  usually also pickles its hyper-parameters (Hydra's functools.partial optimiser / scheduler,
  omegaconf containers), which the weights-only loader refuses; then the tool stops and names
  --trust-pickle, which reloads with weights_only=False. That runs arbitrary code from the file:
  use it only on checkpoints you trust. It also needs whatever the pickle references to be
  importable (omegaconf for Hydra configs, the classes of any pickled objects).
* Writes OUT atomically (a temporary file in the same directory, then rename) with metadata
  {"source": CKPT's file name, "tensors": count, "format": "pt"} and, when the checkpoint has
  them, "epoch" and "global_step".

Needs torch and safetensors.
"""
import argparse
import os
import pathlib
import pickle
import sys
import tempfile

import torch
from safetensors.torch import save_file

PREFIX = "probe."
COMPILED = "_orig_mod."


def load_checkpoint(path: pathlib.Path, trust_pickle: bool):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # what the weights-only unpickler raises on other globals
        if not trust_pickle:
            lines = [ln.strip() for ln in str(err).splitlines() if "Unsupported global" in ln]
            reason = lines[0] if lines else "it holds objects other than tensors and plain containers"
            sys.exit(f"{path}: the weights-only loader refused it ({reason}).\n"
                     "The checkpoint pickles more than tensors (a Lightning .ckpt usually stores its "
                     "hyper-parameters: Hydra partials, omegaconf configs). If you trust the file, rerun "
                     "with --trust-pickle (torch.load weights_only=False: it can execute code stored in "
                     "the file).")
    except Exception as err:  # noqa: BLE001 -- not a torch checkpoint at all
        sys.exit(f"{path}: cannot read it as a torch checkpoint ({type(err).__name__}: {err})")
    print(f"{path}: loading with weights_only=False (--trust-pickle): the file's pickled objects are "
          "executed as Python code", file=sys.stderr)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as err:
        sys.exit(f"{path}: the pickle references module '{err.name}', which is not installed here "
                 "(omegaconf for Hydra configs); install it or convert on a machine that has it")


def probe_state_dict(checkpoint):
    """(probe tensors with ProbeModelPA names, dropped key names, notes)."""
    notes = []
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        state = checkpoint["state_dict"]
    elif isinstance(checkpoint, dict) and checkpoint and all(torch.is_tensor(v) for v in checkpoint.values()):
        state = checkpoint
        notes.append("no 'state_dict' entry: read the file as a bare state dict")
    else:
        keys = list(checkpoint)[:10] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise SystemExit(f"not a Lightning checkpoint: no 'state_dict' dict (top level: {keys})")
    out, dropped, compiled = {}, [], False
    for key, value in state.items():
        if not key.startswith(PREFIX):
            dropped.append(key)
            continue
        name = key[len(PREFIX):]
        if name.startswith(COMPILED):
            name, compiled = name[len(COMPILED):], True
        if not torch.is_tensor(value):
            dropped.append(key)
            continue
        if name in out:
            raise SystemExit(f"two checkpoint entries map to '{name}'")
        out[name] = value
    if compiled:
        notes.append(f"stripped '{COMPILED}' (torch.compile'd probe)")
    if not out:
        raise SystemExit(f"no '{PREFIX}*' tensors in the state dict ({len(state)} keys)")
    return out, dropped, notes


def writable(tensors):
    """Contiguous tensors that share no storage (safetensors refuses shared or strided ones)."""
    seen, out = set(), {}
    for name, t in tensors.items():
        t = t.detach().contiguous()
        ptr = (t.untyped_storage().data_ptr(), t.device.type) if t.numel() else None
        if ptr is not None and ptr in seen:
            t = t.clone()
        elif ptr is not None:
            seen.add(ptr)
        out[name] = t
    return out


def write_atomic(tensors, metadata, out: pathlib.Path):
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would have made it (mkstemp: 0600)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ckpt", type=pathlib.Path, help="the authors' Lightning checkpoint (.ckpt)")
    p.add_argument("out", type=pathlib.Path, help="output .safetensors")
    p.add_argument("--trust-pickle", action="store_true",
                   help="if the weights-only load fails, load with weights_only=False (runs code from the file)")
    a = p.parse_args()
    if not a.ckpt.is_file():
        sys.exit(f"{a.ckpt}: no such file")

    checkpoint = load_checkpoint(a.ckpt, a.trust_pickle)
    tensors, dropped, notes = probe_state_dict(checkpoint)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if dropped:
        print(f"dropped {len(dropped)} state-dict entries (not '{PREFIX}*' tensors):", file=sys.stderr)
        for key in dropped:
            print(f"  {key}", file=sys.stderr)
    metadata = {"source": a.ckpt.name, "tensors": str(len(tensors)), "format": "pt"}
    for key in ("epoch", "global_step"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), int):
            metadata[key] = str(checkpoint[key])
    write_atomic(writable(tensors), metadata, a.out)
    count = sum(t.numel() for t in tensors.values())
    print(f"wrote {a.out}: {len(tensors)} tensors, {count:,} values", file=sys.stderr)


if __name__ == "__main__":
    main()

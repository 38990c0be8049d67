#!/usr/bin/env python3
"""The performance goals of the project, as one Markdown table read from benchmark JSON lines.

Reads the lines that scripts/gpu-bench.sh (and the scripts it calls) write, pairs each vidprobe
measurement with its reference of the same configuration in the same file (one device call: a
ratio across two calls is never formed; several runs of one configuration in a file pair in
order, the k-th line of ours with the k-th reference), and prints one row per measurement with
its ratio, the goal of the performance issue that applies, and whether it is met:

  backbone_extract  vidprobe_bench BackboneExtract / bench/backbones_reference.py: clips/s ratio
                    >= 1.2; MFU (the transformer's FLOPs over the whole forward's time) >= 0.5
                    where a clip gives the transformer >= 16 x 256 = 4096 tokens (after tubelets)
  wan_extract       vidprobe_bench WanExtract / bench/wan_reference.py: ratio >= 1.2 (>= 1.3 for
                    WAN2.1-14B at 81 frames); DiT MFU >= 0.6 at 81 frames
  wan_sweep         `vidprobe sweep --extract-only` against the same layers x timesteps as separate
                    diffusers runs (reference lines tagged "role": "sweep_reference"): >= 1.0
  probe step        `vidprobe bench probe --reference` (its own ratio line): >= 1.2 for the paper's
                    probe (the vidfm3d preset) at batch 10; other sizes are shown without a goal
  extract_busy      scripts/gpu-extract-busy.sh: backbone busy >= 90 % of the loop
  backbone MFU      `vidprobe bench backbone` (lines with transformer_mfu): >= 0.6 for the
                    diffusion transformers, >= 0.5 for the others, in bf16 (a float32 run is
                    shown without a goal); a WAN line also pairs with a diffusers wan_extract
                    line of the same clip, block and VAE precision
  official code     scripts/gpu-official.sh's official_speed_ratio lines (vidprobe against the
                    model's official repository, same clip and dtype): ratio >= 1.2
  CogVideoX         scripts/gpu-cogvideox.sh's cogvideox_speed_ratio lines (vidprobe against
                    diffusers or Aether's official pipeline, same clip, VAE precision and tiling;
                    the row names how many blocks the reference ran): ratio >= 1.2

Lines of other kinds and "comment" lines are skipped (counted on stderr).

Usage:
  bench_table.py FILE.jsonl [FILE.jsonl ...]   print the table of these files
  bench_table.py --check README.md             exit 1 when README's generated block differs from
                                               what its named files give now
  bench_table.py --update README.md            rewrite that block (temporary file + rename)
The block in a Markdown file is
  <!-- bench_table: FILE.jsonl [FILE.jsonl ...] -->
  ...
  <!-- bench_table end -->
with the files relative to the repository root (the Markdown file's folder).
"""
import argparse
import json
import os
import re
import sys

# Patch side and frames per tubelet of the encoders whose MFU goal depends on their token count.
ENCODER_TOKENS = {"dinov2": (14, 1), "videomae": (16, 2), "vjepa2": (16, 2)}
DIFFUSION_TRANSFORMERS = ("wan", "opensora", "cogvideox", "aether")
BLOCK = re.compile(r"<!-- bench_table: (?P<files>[^>]*?) -->\n.*?<!-- bench_table end -->\n?",
                   re.DOTALL)


def read_lines(path):
    """(kind, record) for each JSON line of the file, in order."""
    records = []
    with open(path, encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            text = text.strip()
            if not text:
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise SystemExit(f"{path}:{number}: not a JSON line ({error.msg})")
            if not isinstance(record, dict):
                raise SystemExit(f"{path}:{number}: a JSON line must be an object")
            records.append((kind_of(record), record))
    return records


def kind_of(record):
    if "comment" in record:
        return "comment"
    if "transformer_mfu" in record:
        return "backbone_mfu"
    return record.get("bench") or record.get("benchmark") or "unknown"


def fmt(value, digits=3):
    """A figure with `digits` significant digits (no exponent), or an em dash when absent."""
    if value is None:
        return "—"
    return f"{value:.{digits}g}" if abs(value) < 10 ** (digits - 1) else f"{value:.0f}"


def verdict(value, goal):
    if value is None:
        return "—"
    return "**met**" if value >= goal else "not met"


def against(value, goal):
    """fmt(value), with more digits where three would read as reaching a goal it misses."""
    digits = 3
    while value is not None and value < goal and digits < 6 and float(fmt(value, digits)) >= goal:
        digits += 1
    return fmt(value, digits)


def row(what, ours, reference, ratio, goal_text, met):
    return f"| {what} | {ours} | {reference} | {ratio} | {goal_text} | {met} |"


def tokens_per_clip(record):
    """Tokens a clip gives the encoder, or None for a backbone outside ENCODER_TOKENS."""
    family = record["backbone"].split("-")[0]
    if family not in ENCODER_TOKENS:
        return None
    patch, tubelet = ENCODER_TOKENS[family]
    per_frame = (record["height"] // patch) * (record["width"] // patch)
    return record["frames"] // tubelet * per_frame


def pair(records, kind, key, ours="vidprobe"):
    """[(ours, reference or None)] for the lines of `kind` without a "role": the k-th line of ours
    of a configuration with the k-th reference of that configuration, in file order; a reference
    left over becomes (None, reference)."""
    lines = [r for k, r in records if k == kind and "role" not in r]
    unused = [r for r in lines if r.get("impl") != ours]
    pairs = []
    for mine in (r for r in lines if r.get("impl") == ours):
        theirs = next((t for t in unused if key(t) == key(mine)), None)
        if theirs is not None:
            unused.remove(theirs)
        pairs.append((mine, theirs))
    return pairs + [(None, t) for t in unused]


def backbone_rows(records):
    key = lambda r: (r["backbone"], r["frames"], r["height"], r["width"], r["dtype"])
    rows = []
    for mine, theirs in pair(records, "backbone_extract", key):
        any_side = mine or theirs
        what = (f"{any_side['backbone']}, {any_side['frames']} frames "
                f"{any_side['height']}x{any_side['width']}, {any_side['dtype']}")
        ratio = mine["clips_per_s"] / theirs["clips_per_s"] if mine and theirs else None
        rows.append(row(what + ": clips/s", fmt(mine and mine["clips_per_s"]),
                        f"transformers {fmt(theirs and theirs['clips_per_s'])}", against(ratio, 1.2),
                        "ratio ≥ 1.2", verdict(ratio, 1.2)))
        if mine:
            rows.append(mfu_row(what + ": MFU (whole forward)", mine["mfu"], tokens_per_clip(mine)))
    return rows


def mfu_row(what, mfu, tokens, shown=None):
    """The encoder MFU goal's row; `shown` replaces the bare MFU in the vidprobe column."""
    shown = shown or against(mfu, 0.5)
    if tokens is not None and tokens < 4096:
        return row(what, shown, "", "", f"MFU ≥ 0.5 (n/a: {tokens} tokens < 4096)", "—")
    return row(what, shown, "", "", "MFU ≥ 0.5", verdict(mfu, 0.5))


def wan_key(record):
    """What a WAN measurement ran, from a wan_extract line of either side or a `vidprobe bench
    backbone` line of a WAN model (which times the same VAE + DiT work per clip)."""
    if "transformer_mfu" in record:
        # WAN's VAE runs in float32 unless --backbone-opt vae_dtype says otherwise (docs/wan.md);
        # lines from before backbone_opts was written carry vae_dtype themselves.
        vae = record.get("vae_dtype") or record.get("backbone_opts", {}).get("vae_dtype", "fp32")
        return (record["backbone"], record["frames"], record["height"], record["width"],
                record["layer"], record["dtype"], vae)
    return (record["variant"], record["frames"], record["height"], record["width"], record["layer"],
            record["dit_dtype"], record["vae_dtype"])


def wan_goal(variant, frames):
    return 1.3 if "14b" in variant and frames == 81 else 1.2


def wan_rows(records):
    # A diffusers line that a `bench backbone` line of ours matches is shown with that line.
    ours_elsewhere = {wan_key(r) for k, r in records if k == "backbone_mfu" and "wan" in r["backbone"]}
    rows = []
    for mine, theirs in pair(records, "wan_extract", wan_key):
        if mine is None and wan_key(theirs) in ours_elsewhere:
            continue
        s = mine or theirs
        what = (f"{s['variant']}, {s['frames']} frames {s['height']}x{s['width']}, block {s['layer']}, "
                f"DiT {s['dit_dtype']} + VAE {s['vae_dtype']}")
        goal = wan_goal(s["variant"], s["frames"])
        ratio = mine["clips_per_s"] / theirs["clips_per_s"] if mine and theirs else None
        rows.append(row(what + ": clips/s (VAE + DiT ms; peak GB)", wan_side(mine, "peak_allocated_gb"),
                        "diffusers " + wan_side(theirs, "peak_memory_gb"), against(ratio, goal),
                        f"ratio ≥ {goal}", verdict(ratio, goal)))
        if mine and s["frames"] == 81:
            rows.append(row(what + ": DiT MFU", against(mine["dit_mfu"], 0.6),
                            fmt(theirs and theirs["dit_mfu"]), "", "MFU ≥ 0.6",
                            verdict(mine["dit_mfu"], 0.6)))
    return rows


def wan_side(record, peak_field):
    if record is None:
        return "—"
    return (f"{fmt(record['clips_per_s'])} ({fmt(record['vae_ms'])} + {fmt(record['dit_ms'])} ms; "
            f"{fmt(record.get(peak_field))} GB)")


def sweep_rows(records):
    references = [r for k, r in records if k == "wan_extract" and r.get("role") == "sweep_reference"]
    rows = []
    for _, sweep in (item for item in records if item[0] == "wan_sweep"):
        same_clip = [r for r in references if all(r.get(field) == sweep[field] for field in
                     ("variant", "frames", "height", "width", "dit_dtype", "vae_dtype") if field in sweep)]
        per_clip = [next((r["ms_per_clip"] for r in same_clip if r["layer"] == layer), None)
                    for layer in sweep["layers"]]
        separate = (None if None in per_clip else
                    sweep["clips"] * len(sweep["timesteps"]) * sum(per_clip) / 1000)
        ratio = separate / sweep["seconds"] if separate else None
        what = (f"{sweep['variant']} sweep, {len(sweep['layers'])} layers x "
                f"{len(sweep['timesteps'])} timesteps, {sweep['clips']} clips of {sweep['frames']} "
                f"frames: seconds (reference: separate diffusers runs, no I/O)")
        rows.append(row(what, fmt(sweep["seconds"]), f"diffusers {fmt(separate)}", against(ratio, 1.0),
                        "ratio ≥ 1.0", verdict(ratio, 1.0)))
    return rows


def probe_rows(records):
    """A row per `bench probe` step line, with the ratio line that the same command printed after
    it (the one whose C++ steps/s is that line's), or without a reference."""
    rows, step = [], None
    for kind, record in records + [("end", None)]:
        if kind not in ("probe_train_step", "probe_train_step_ratio", "end"):
            continue
        ratio_line = record if kind == "probe_train_step_ratio" else None
        if ratio_line and (step is None or ratio_line["cpp_steps_per_s"] != step["steps_per_s"]):
            if step is not None:
                rows.append(probe_row(step, None))
            rows.append(row("probe step, its step line missing (configuration unknown): steps/s",
                            fmt(ratio_line["cpp_steps_per_s"]), fmt(ratio_line["pytorch_steps_per_s"]),
                            fmt(ratio_line["cpp_over_pytorch"]), "—", "—"))
        elif step is not None:
            rows.append(probe_row(step, ratio_line))
        step = record if kind == "probe_train_step" else None
    return rows


def probe_row(step, ratio_line):
    preset = step.get("preset", "vidprobe")
    what = (f"probe step ({preset} preset), {step['device']}, batch {step['batch']}, "
            f"{step['feature_dim']} ch {dims(step['grid'])}, GT {dims(step['size'])}")
    if "gradient_checkpointing" in step:  # both sides' setting; older lines lack the key (off)
        what += f", gradient checkpointing {'on' if step['gradient_checkpointing'] else 'off'}"
        blocks = step.get("checkpoint_blocks", -1)
        if step["gradient_checkpointing"] and blocks == 0:  # vidprobe's side only
            what += " (vidprobe: none of its trunk blocks)"
        elif step["gradient_checkpointing"] and blocks > 0:
            first = "its first trunk block" if blocks == 1 else f"its first {blocks} trunk blocks"
            what += f" (vidprobe: {first} only)"
    what += ": steps/s (peak GB)"
    if ratio_line and "warning" in ratio_line:
        what += f" (warning: {ratio_line['warning']})"
    ours = f"{fmt(step['steps_per_s'])} ({fmt(step.get('peak_gb'))})"
    theirs = ratio = None
    if ratio_line:
        theirs = f"{fmt(ratio_line['pytorch_steps_per_s'])} ({fmt(ratio_line.get('pytorch_peak_gb'))})"
        ratio = ratio_line["cpp_over_pytorch"]
    if preset != "vidfm3d" or step["batch"] != 10:
        return row(what, ours, theirs or "—", fmt(ratio), "— (the goal is the paper's probe at batch 10)", "—")
    return row(what, ours, theirs or "—", against(ratio, 1.2), "ratio ≥ 1.2", verdict(ratio, 1.2))


def dims(value):
    return "x".join(str(v) for v in value) if isinstance(value, list) else f"{value}x{value}"


def busy_rows(records):
    rows = []
    for _, r in (item for item in records if item[0] == "extract_busy"):
        what = (f"extract {r['clips_written']} clips, {r['backbone']} {r['frames']} frames "
                f"(row {r['row']}, {r['loader_threads']} loader threads): clips/s (busy)")
        rows.append(row(what, f"{fmt(r['clips_per_second'])} ({100 * r['busy_fraction']:.1f} %)", "", "",
                        "busy ≥ 90 %", verdict(r["busy_fraction"], 0.9)))
    return rows


def backbone_mfu_rows(records):
    references = [r for k, r in records if k == "wan_extract" and r.get("impl") != "vidprobe"
                  and "role" not in r]
    rows = []
    for _, r in (item for item in records if item[0] == "backbone_mfu"):
        what = f"{r['backbone']}, {r['frames']} frames {r['height']}x{r['width']}, {r['dtype']}"
        what += "".join(f", {field} {r[field]}" for field in ("vae_dtype", "vae_tiling") if field in r)
        ours = f"{fmt(r['transformer_mfu'])} ({fmt(r['clips_per_s'])})"
        if r["dtype"] not in ("bf16", "fp16"):  # the MFU's peak is the bf16 tensor cores'
            rows.append(row(what + ": transformer MFU (clips/s)", ours, "", "",
                            "— (the MFU goals are for bf16)", "—"))
        elif not r["backbone"].startswith(DIFFUSION_TRANSFORMERS):
            rows.append(mfu_row(what + ": transformer MFU (clips/s)", r["transformer_mfu"],
                                tokens_per_clip(r), ours))
            continue
        else:
            rows.append(row(what + ": transformer MFU (clips/s)", ours, "", "", "MFU ≥ 0.6",
                            verdict(r["transformer_mfu"], 0.6)))
        theirs = next((t for t in references if "wan" in r["backbone"] and wan_key(t) == wan_key(r)), None)
        if theirs:
            ratio, goal = r["clips_per_s"] / theirs["clips_per_s"], wan_goal(r["backbone"], r["frames"])
            rows.append(row(what + ", block " + str(r["layer"]) + ": clips/s (peak GB)",
                            f"{fmt(r['clips_per_s'])} ({fmt(r['peak_allocated_gb'])})",
                            f"diffusers {fmt(theirs['clips_per_s'])} ({fmt(theirs.get('peak_memory_gb'))})",
                            against(ratio, goal), f"ratio ≥ {goal}", verdict(ratio, goal)))
    return rows


def official_rows(records):
    rows = []
    for _, r in (item for item in records if item[0] == "official_speed_ratio"):
        variant = f", official side {r['official_variant']}" if r.get("official_variant") else ""
        what = f"{r['backbone']}, {r['frames']} frames, {r['dtype']}{variant}: clips/s (peak GB)"
        rows.append(row(what, f"{fmt(r['vidprobe_clips_per_s'])} ({fmt(r.get('vidprobe_peak_gb'))})",
                        f"official code {fmt(r['official_clips_per_s'])} ({fmt(r.get('official_peak_gb'))})",
                        against(r["ratio"], 1.2), "ratio ≥ 1.2", verdict(r["ratio"], 1.2)))
    return rows


def cogvideox_side(r, records):
    """(VAE dtype, tiled, blocks) of vidprobe's side of a cogvideox_speed_ratio line; blocks is
    None when neither the line nor a vidprobe line of the file's backbone names its layer."""
    dtype = r.get("vae_dtype", "fp32")  # a configuration's label: both sides ran it
    tiled = r.get("vae_tiling") in (True, "on")
    blocks = r.get("vidprobe_blocks_run")
    if blocks is None:
        layers = {m["layer"] for k, m in records if k == "backbone_mfu" and "layer" in m
                  and m.get("backbone") == r.get("backbone")}
        blocks = layers.pop() + 1 if len(layers) == 1 else None
    return dtype, tiled, blocks


def cogvideox_rows(records):
    """Each pair's ratio; the goal applies only where both sides ran the same VAE precision and
    tiling and the same blocks (gpu-cogvideox.sh also times the reference's other settings)."""
    rows = []
    for _, r in (item for item in records if item[0] == "cogvideox_speed_ratio"):
        reference_dtype = r.get("reference_vae_dtype", r.get("vae_dtype", "fp32"))
        reference_tiled = r.get("reference_vae_tiling", r.get("vae_tiling")) in (True, "on")
        reference_blocks = r.get("reference_blocks_run")
        same = cogvideox_side(r, records) == (reference_dtype, reference_tiled, reference_blocks)
        tiling = ", tiled" if reference_tiled else ""
        what = (f"{r.get('backbone', r.get('variant', 'cogvideox'))}, {r.get('frames', '?')} frames, "
                f"reference VAE {reference_dtype}{tiling}, {reference_blocks} blocks: clips/s (peak GB)")
        reference = (f"{r.get('reference_implementation', 'reference')} "
                     f"{fmt(r['reference_clips_per_s'])} ({fmt(r.get('reference_peak_gb'))})")
        goal, met = ("ratio ≥ 1.2", verdict(r["ratio"], 1.2)) if same else (
            "— (the two sides ran different settings)", "—")
        rows.append(row(what, f"{fmt(r['vidprobe_clips_per_s'])} ({fmt(r.get('vidprobe_peak_gb'))})",
                        reference, against(r["ratio"], 1.2) if same else fmt(r["ratio"]), goal, met))
    return rows


ROW_BUILDERS = (backbone_rows, wan_rows, sweep_rows, probe_rows, busy_rows, backbone_mfu_rows,
                official_rows, cogvideox_rows)
TABULATED = {"backbone_extract", "wan_extract", "wan_sweep", "probe_train_step",
             "probe_train_step_ratio", "extract_busy", "backbone_mfu", "official_speed_ratio",
             "cogvideox_speed_ratio", "comment",
             # shown through the ratio line that follows them
             "probe_train_step_pytorch", "probe_train_step_vidfm3d_reference", "official_reference",
             "cogvideox_extract_reference"}


def table(paths, root="."):
    """The Markdown of every file's rows, one table per file."""
    parts = []
    for path in paths:
        records = read_lines(os.path.join(root, path))
        skipped = sorted({k for k, _ in records if k not in TABULATED})
        if skipped:
            print(f"{path}: not tabulated: {', '.join(skipped)}", file=sys.stderr)
        rows = [line for build in ROW_BUILDERS for line in build(records)]
        parts.append(f"From `{path}`:\n\n| what | vidprobe | reference | ratio | goal | met |\n"
                     "|---|---|---|---:|---|---|\n" + "".join(r + "\n" for r in rows))
    return "\n".join(parts)


def regenerate(markdown, root):
    """The Markdown with every bench_table block rebuilt from its files."""
    def rebuild(match):
        files = match.group("files").split()
        return (f"<!-- bench_table: {' '.join(files)} -->\n{table(files, root)}"
                "<!-- bench_table end -->\n")
    if not BLOCK.search(markdown):
        raise SystemExit("no '<!-- bench_table: FILES -->' ... '<!-- bench_table end -->' block")
    return BLOCK.sub(rebuild, markdown)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="benchmark JSON lines")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", metavar="MARKDOWN")
    mode.add_argument("--update", metavar="MARKDOWN")
    args = parser.parse_args()
    target = args.check or args.update
    if not target:
        if not args.files:
            parser.error("give JSON line files, --check MARKDOWN or --update MARKDOWN")
        sys.stdout.write(table(args.files))
        return 0
    if args.files:
        parser.error("--check and --update read the files their Markdown names; give no others")
    with open(target, encoding="utf-8") as f:
        markdown = f.read()
    fresh = regenerate(markdown, os.path.dirname(os.path.abspath(target)))
    if args.check:
        if fresh != markdown:
            print(f"{target}: the bench_table block differs from its files; run "
                  f"tools/bench_table.py --update {target}", file=sys.stderr)
            return 1
        return 0
    with open(target + ".tmp", "w", encoding="utf-8") as f:
        f.write(fresh)
    os.replace(target + ".tmp", target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

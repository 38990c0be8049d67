#!/usr/bin/env python3
"""The scenes `vidprobe annotate --format vidfm3d` writes (one .sft a clip under DEST/<category>/),
read without numpy: the one reader of their safetensors header and annotator metadata that the GPU
scripts share (scripts/gpu-official.sh, scripts/gpu-annotate-window.sh).

  annotated_scenes.py timing DEST [--extra JSON]...
      One JSON line: each clip's VGGT forward seconds in the order the clips were written (file
      modification time: the names are hashes), and the median of those after the first, which
      pays the CUDA warm-up, as ms_per_clip / clips_per_s; the shape and settings of the first.
      Each --extra object is merged into the line. Needs at least two clips.
  annotated_scenes.py check DEST --window N
      A JSON line a scene (its forward seconds, whether its tensors have the window's shapes and
      dtypes, the smallest confidence and whether every confidence is finite), then one with the
      sizes of train.json and val.json.
Exits non-zero, naming the file, when a scene is not a readable .sft.
"""
import argparse
import array
import json
import math
import pathlib
import statistics
import struct
import sys


class SceneError(Exception):
    pass


TENSORS = ("images", "depthmaps", "confmaps", "pointmaps")
ANNOTATOR_KEYS = ("vggt_seconds", "compute_dtype", "frame_chunk", "input_size")


def read_header(path):
    """(tensor entries, vidprobe metadata, offset of the data) of one .sft file."""
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) != 8:
            raise SceneError(f"{path}: shorter than a safetensors header length")
        size = struct.unpack("<Q", prefix)[0]
        raw = f.read(size)
    if len(raw) != size:
        raise SceneError(f"{path}: header of {size} bytes, file ends after {len(raw)}")
    try:
        header = json.loads(raw)
        metadata = json.loads(header.pop("__metadata__")["vidprobe"])
    except (ValueError, KeyError, TypeError) as error:
        raise SceneError(f"{path}: no vidprobe metadata in the header ({error!r})") from error
    missing = [f"tensor {name}" for name in TENSORS if name not in header]
    missing += [f"annotator.{key}" for key in ANNOTATOR_KEYS
                if key not in metadata.get("annotator", {})]
    if missing:
        raise SceneError(f"{path}: not an annotated scene, missing {', '.join(missing)}")
    return header, metadata, 8 + size


def float32_values(path, header, data_offset, name):
    """The F32 tensor `name`, all of it: a file cut short inside it is refused."""
    entry = header[name]
    begin, end = entry["data_offsets"]
    expected = 4 * math.prod(entry["shape"])
    if entry["dtype"] != "F32" or end - begin != expected:
        raise SceneError(f"{path}: {name} is {entry['dtype']} of {end - begin} bytes, "
                         f"expected F32 of {expected}")
    with open(path, "rb") as f:
        f.seek(data_offset + begin)
        data = f.read(end - begin)
    if len(data) != end - begin:
        raise SceneError(f"{path}: {name}: the file ends {len(data)} of {end - begin} bytes into it")
    return array.array("f", data)


def scenes_in_written_order(dest):
    return sorted(pathlib.Path(dest).glob("*/*.sft"), key=lambda p: p.stat().st_mtime_ns)


def timing(dest, extras):
    files = scenes_in_written_order(dest)
    if len(files) < 2:
        raise SceneError(f"{dest}: {len(files)} clip(s) annotated; the timing needs at least 2")
    rows = [read_header(p) for p in files]
    seconds = [metadata["annotator"]["vggt_seconds"] for _, metadata, _ in rows]
    median = statistics.median(seconds[1:])
    header, metadata, _ = rows[0]
    frames, height, width = header["depthmaps"]["shape"][:3]
    line = dict(dtype=metadata["annotator"]["compute_dtype"], frames=frames, height=height,
                width=width, frame_chunk=metadata["annotator"]["frame_chunk"],
                iterations=len(seconds) - 1, seconds_per_clip=seconds, ms_per_clip=1000 * median,
                clips_per_s=1 / median)
    for extra in extras:
        line.update(extra)
    print(json.dumps(line))


def check_scene(path, window):
    header, metadata, data_offset = read_header(path)
    shapes = {k: v["shape"] for k, v in header.items()}
    dtypes = {k: v["dtype"] for k, v in header.items()}
    shapes_ok = (shapes["images"][0] == window and shapes["depthmaps"][:1] == [window]
                 and shapes["pointmaps"][-1] == 3 and dtypes["images"] == "U8"
                 and dtypes["confmaps"] == "F32")
    values = float32_values(path, header, data_offset, "confmaps")
    # A NaN or an infinity makes the sum non-finite; Python sums in float64, which finite float32
    # values cannot overflow at any count a file holds.
    return {"vggt_seconds": round(metadata["annotator"]["vggt_seconds"], 3),
            "input_size": metadata["annotator"]["input_size"], "shapes_ok": shapes_ok,
            "conf_min": round(min(values), 4) if values else None,
            "conf_finite": bool(values) and math.isfinite(sum(values)),
            "depth_shape": shapes["depthmaps"]}


def check(dest, window):
    dest = pathlib.Path(dest)
    for path in sorted(dest.glob("*/*.sft")):
        line = check_scene(path, window)
        print(json.dumps({"what": "clip", "window": window, "file": str(path.relative_to(dest)),
                          **line}))
    splits = [len(json.loads((dest / f).read_text())) for f in ("train.json", "val.json")]
    print(json.dumps({"what": "split", "window": window, "train": splits[0], "val": splits[1]}))


def json_object(text):
    value = json.loads(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"--extra wants a JSON object, got {text!r}")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    timing_parser = commands.add_parser("timing")
    timing_parser.add_argument("dest")
    timing_parser.add_argument("--extra", type=json_object, action="append", default=[])
    check_parser = commands.add_parser("check")
    check_parser.add_argument("dest")
    check_parser.add_argument("--window", type=int, required=True)
    args = parser.parse_args()
    try:
        if args.command == "timing":
            timing(args.dest, args.extra)
        else:
            check(args.dest, args.window)
    except SceneError as error:
        sys.exit(f"annotated_scenes.py: {error}")


if __name__ == "__main__":
    main()

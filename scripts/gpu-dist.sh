#!/usr/bin/env bash
# Run on a GPU machine after scripts/gpu-build.sh: the NCCL path of a job on one GPU, launched by
# torchrun itself (a job of one process joins a process group, docs/distributed.md). Extraction
# under the job must equal extraction without it byte for byte; training and evaluation run
# through NCCL (the run's config.json names the backend). Prints one JSON line per check.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${VIDPROBE_BUILD_DIR:-$ROOT/build-gpu}/bin/vidprobe"
WORK="${1:-$(mktemp -d)}"
torchrun=(python3 -m torch.distributed.run --standalone --nproc-per-node 1 --no-python "$BIN")
extract=(extract --backbone random-vit --data "$WORK/data" --frames 4 --gt-size 16
  --seed 3 --dtype fp32 --device cuda)

"$BIN" -q render --family objects --clips 8 --frames 4 --size 32 --seed 3 --out "$WORK/data"
"$BIN" -q "${extract[@]}" --out "$WORK/alone"
"${torchrun[@]}" -q "${extract[@]}" --out "$WORK/job"
same=true
diff -r "$WORK/alone" "$WORK/job" >/dev/null || same=false
echo "{\"check\": \"extract under torchrun (1 process, NCCL) equals one process\", \"identical\": $same}"

"${torchrun[@]}" -q train --features "$WORK/job" --config "$ROOT/configs/demo-probe.json" \
  --batch 2 --steps 20 --device cuda --out "$WORK/run"
backend=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['job']['backend'])" \
  "$WORK/run/config.json")
echo "{\"check\": \"train under torchrun\", \"backend\": \"$backend\"}"
"${torchrun[@]}" -q eval --run-dir "$WORK/run" --features "$WORK/job" --device cuda --out "$WORK/eval"
python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(json.dumps({'check': 'eval under torchrun', 'num_clips': m['num_clips']}))" \
  "$WORK/eval/metrics.json"
[ "$same" = true ] && [ "$backend" = nccl ]

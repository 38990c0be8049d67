# Sourced by scripts/gpu-official.sh and scripts/gpu-bench.sh: logs GPU 0's SM clock, board
# power, temperature and power limit every 200 ms while the script runs, and which step began
# when, then summarises them per step with tools/gpu_clocks.py (why: see that tool). Files, in
# the directory given to clocks_start: gpu-clocks.csv, steps.tsv, clocks.jsonl. Without
# nvidia-smi (a CPU dry run) only steps.tsv is written. The sampler stops and is summarised when
# the script exits (scripts/exit-hooks.sh: a caller's EXIT trap set before clocks_start is kept);
# a script killed by SIGKILL leaves it running and no summary.
source "$ROOT/scripts/exit-hooks.sh"
CLOCKS_DIR=
CLOCKS_PID=
clocks_start() {  # DIR; a sampler started before is stopped and summarised first
  [ -z "${CLOCKS_PID:-}" ] || clocks_stop
  CLOCKS_DIR="$1"
  : > "$CLOCKS_DIR/steps.tsv"
  command -v nvidia-smi > /dev/null || return 0
  local fields
  fields="$(python3 "$ROOT/tools/gpu_clocks.py" --fields)" ||
    fields=timestamp,clocks.sm,power.draw,temperature.gpu,power.limit
  nvidia-smi --id=0 --query-gpu="$fields" --format=csv,noheader,nounits -lms 200 \
    > "$CLOCKS_DIR/gpu-clocks.csv" 2> /dev/null &
  CLOCKS_PID=$!
  add_exit_hook clocks_stop
}
clocks_mark() {  # STEP NAME...
  [ -n "${CLOCKS_DIR:-}" ] || return 0
  printf '%s\t%s\n' "$(date '+%Y/%m/%d %H:%M:%S.%3N')" "$*" >> "$CLOCKS_DIR/steps.tsv"
}
clocks_stop() {  # idempotent: the EXIT trap calls it again after an explicit call
  [ -n "${CLOCKS_PID:-}" ] || return 0
  kill "$CLOCKS_PID" 2> /dev/null || true
  wait "$CLOCKS_PID" 2> /dev/null || true
  CLOCKS_PID=
  python3 "$ROOT/tools/gpu_clocks.py" "$CLOCKS_DIR/steps.tsv" "$CLOCKS_DIR/gpu-clocks.csv" \
    > "$CLOCKS_DIR/clocks.jsonl" || echo "gpu-clocks.sh: no per-step summary" >&2
}

# Sourced by the scripts/gpu-*.sh that report one process's GPU memory (gpu-wan81.sh,
# gpu-wan-check.sh, gpu-annotate-window.sh): GPU 0's memory.used read before the process and
# every 100 ms while it runs, summarised by tools/gpu_memory.py as a JSON object in GB of 10^9
# bytes (the one unit; the CUDA context and the caching allocator's reserve included), which the
# scripts write under "gpu_mem". Without nvidia-smi, with GPU_MEMORY_OFF=1 (a CPU run), or when
# the first reading is not a number, the GB values are null: a memory figure never stops a run.
# A poll left running stops when the script exits (scripts/exit-hooks.sh: a caller's EXIT trap
# set before gpu_memory_start is kept).
source "$ROOT/scripts/exit-hooks.sh"
GPU_MEMORY_PID=
GPU_MEMORY_BASE_MIB=
gpu_memory_start() {  # POLL_FILE
  : > "$1"
  GPU_MEMORY_BASE_MIB=
  [ "${GPU_MEMORY_OFF:-0}" != 1 ] && command -v nvidia-smi > /dev/null || return 0
  GPU_MEMORY_BASE_MIB="$(nvidia-smi --id=0 --query-gpu=memory.used --format=csv,noheader,nounits \
    2> /dev/null | head -1 | tr -d ' ' || true)"
  [[ "$GPU_MEMORY_BASE_MIB" =~ ^[0-9]+$ ]] || { GPU_MEMORY_BASE_MIB=; return 0; }
  nvidia-smi --id=0 --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$1" 2> /dev/null &
  GPU_MEMORY_PID=$!
  add_exit_hook gpu_memory_abort
}
gpu_memory_abort() {  # stops the poll, if one runs; idempotent
  [ -n "${GPU_MEMORY_PID:-}" ] || return 0
  kill "$GPU_MEMORY_PID" 2> /dev/null || true
  wait "$GPU_MEMORY_PID" 2> /dev/null || true
  GPU_MEMORY_PID=
}
# POLL_FILE VAR: stops the poll and sets VAR to its summary, {"gpu_mem_peak_gb": ...,
# "gpu_mem_baseline_gb": ..., "gpu_mem_samples": N}. Not called in $(...): the poll must be
# stopped (and waited for) by the shell that started it.
gpu_memory_stop() {
  gpu_memory_abort
  local _gpu_memory_summary
  _gpu_memory_summary="$(python3 "$ROOT/tools/gpu_memory.py" "$1" \
    --baseline-mib "$GPU_MEMORY_BASE_MIB")" || {
    echo "gpu-memory.sh: no summary of $1; the GPU memory is reported as null" >&2
    _gpu_memory_summary='{"gpu_mem_peak_gb": null, "gpu_mem_baseline_gb": null, "gpu_mem_samples": 0}'
  }
  printf -v "$2" '%s' "$_gpu_memory_summary"
}

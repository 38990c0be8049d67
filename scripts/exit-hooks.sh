# Sourced by the helpers that leave a background job running until their script ends
# (gpu-clocks.sh, gpu-memory.sh), so that a script sourcing both stops both. One EXIT trap runs
# every hook added, in the order added, then the EXIT trap its script had set before the first
# hook (kept, not replaced). A script that uses these helpers and sets an EXIT trap after them
# replaces theirs: it adds its own work with add_exit_hook instead.
if [ -z "${EXIT_HOOKS_SOURCED:-}" ]; then
  EXIT_HOOKS_SOURCED=1
  EXIT_HOOKS=()
  EXIT_HOOKS_EARLIER_TRAP=
fi
add_exit_hook() {  # COMMAND; a command added before is not added again
  local hook
  for hook in "${EXIT_HOOKS[@]}"; do [ "$hook" != "$1" ] || return 0; done
  [ "${#EXIT_HOOKS[@]}" -gt 0 ] || EXIT_HOOKS_EARLIER_TRAP="$(trap -p EXIT)"
  EXIT_HOOKS+=("$1")
  trap run_exit_hooks EXIT
}
run_exit_hooks() {
  local hook status=$?
  for hook in "${EXIT_HOOKS[@]}"; do eval "$hook" || true; done
  if [ -n "$EXIT_HOOKS_EARLIER_TRAP" ]; then
    # `trap -p` prints "trap -- 'COMMAND' EXIT", quoted for the shell: split it as the shell would.
    eval "local -a earlier=($EXIT_HOOKS_EARLIER_TRAP)"
    eval "${earlier[2]}"
  fi
  return "$status"
}

# Sourced by the helpers that leave a background job running until their script ends
# (gpu-clocks.sh, gpu-memory.sh), so that a script sourcing both stops both. One EXIT trap runs
# every hook added, in the order added, then every EXIT trap its script had set before a hook
# was added (kept, not replaced; they see the script's exit status in $?). A script that uses
# these helpers and sets an EXIT trap after the last of them replaces theirs: it adds its own
# work with add_exit_hook instead.
if [ -z "${EXIT_HOOKS_SOURCED:-}" ]; then
  EXIT_HOOKS_SOURCED=1
  EXIT_HOOKS=()
  EXIT_HOOKS_EARLIER_TRAPS=()
fi
add_exit_hook() {  # COMMAND; a command added before is not added again
  local _exit_hooks_current _exit_hooks_hook
  _exit_hooks_current="$(trap -p EXIT)"
  if [ -n "$_exit_hooks_current" ] && [ "$_exit_hooks_current" != "trap -- 'run_exit_hooks' EXIT" ]; then
    # `trap -p` prints "trap -- 'COMMAND' EXIT", quoted for the shell: split it as the shell would.
    eval "local -a _exit_hooks_words=($_exit_hooks_current)"
    EXIT_HOOKS_EARLIER_TRAPS+=("${_exit_hooks_words[2]}")
  fi
  trap run_exit_hooks EXIT
  for _exit_hooks_hook in "${EXIT_HOOKS[@]}"; do [ "$_exit_hooks_hook" != "$1" ] || return 0; done
  EXIT_HOOKS+=("$1")
}
_exit_hooks_return() { return "$1"; }
run_exit_hooks() {
  local _exit_hooks_status=$? _exit_hooks_command
  for _exit_hooks_command in "${EXIT_HOOKS[@]}"; do eval "$_exit_hooks_command" || true; done
  for _exit_hooks_command in "${EXIT_HOOKS_EARLIER_TRAPS[@]}"; do
    # Either branch starts with $? as the script exited (a condition never trips `set -e`).
    if _exit_hooks_return "$_exit_hooks_status"; then
      eval "$_exit_hooks_command"
    else
      eval "$_exit_hooks_command"
    fi
  done
  return "$_exit_hooks_status"
}

#!/usr/bin/env python3
"""Which operator launched which GPU kernels: reads a Chrome trace of libtorch's (Kineto) profiler
(`vidprobe bench ... --profile DIR` and bench/*_reference.py --profile DIR write DIR/trace.json,
with each operator's input shapes and strides) and groups the kernels whose names match --kernel
by the call that launched them: the operator, its inputs' shapes and strides, and, for a kernel of
the backward pass, the forward operator whose gradient it computes (the autograd node's sequence
number links the two). Prints a Markdown table, the largest groups first, so that a kernel of a
profile (tools/compare_kernel_profiles.py) can be traced to the line of the model behind it.

Usage: python3 tools/trace_kernel_ops.py DIR/trace.json [--kernel REGEX] [--top 20]
"""
import argparse
import collections
import json
import re
import sys

BACKWARD_SCOPE = "autograd::engine::evaluate_function: "


def fail(message):
    sys.exit(f"trace_kernel_ops: error: {message}")


def load_events(path):
    try:
        with open(path) as f:
            trace = json.load(f)
        events = trace["traceEvents"] if isinstance(trace, dict) else trace
        return [e for e in events if isinstance(e, dict) and e.get("ph") == "X"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        fail(f"{path}: not a Chrome trace ({error})")


class Operators:
    """The CPU operators of a trace, each with its enclosing operator on the same thread."""

    def __init__(self, events):
        self.by_id = {}
        self.parent = {}
        self.forward_by_sequence = {}
        threads = collections.defaultdict(list)
        for event in events:
            if event.get("cat") not in ("cpu_op", "user_annotation"):
                continue
            threads[(event.get("pid"), event.get("tid"))].append(event)
            ident = event.get("args", {}).get("External id")
            if ident is not None and event.get("cat") == "cpu_op":
                self.by_id.setdefault(ident, event)
        for ops in threads.values():
            self._link_parents(ops)
        for ops in threads.values():
            for op in ops:
                sequence = op.get("args", {}).get("Sequence number")
                # The forward operator that made the autograd node: the outermost with its number.
                if sequence is not None and not self.in_backward(op) and not op["name"].startswith(
                        BACKWARD_SCOPE):
                    self.forward_by_sequence.setdefault(sequence, op)

    def _link_parents(self, ops):
        ops.sort(key=lambda e: (e["ts"], -e.get("dur", 0)))
        open_ops = []
        for op in ops:
            end = op["ts"] + op.get("dur", 0)
            while open_ops and open_ops[-1]["ts"] + open_ops[-1].get("dur", 0) < end:
                open_ops.pop()
            if open_ops:
                self.parent[id(op)] = open_ops[-1]
            open_ops.append(op)

    def ancestors(self, op):
        while id(op) in self.parent:
            op = self.parent[id(op)]
            yield op

    def in_backward(self, op):
        """Under a backward node; a checkpointed layer's replay of its forward is too."""
        return any(a["name"].startswith(BACKWARD_SCOPE) for a in self.ancestors(op))

    def backward_of(self, op):
        """For an operator of the backward pass: 'AddBackward0 of aten::add [shapes]'."""
        for ancestor in self.ancestors(op):
            if ancestor["name"].startswith(BACKWARD_SCOPE):
                node = ancestor["name"][len(BACKWARD_SCOPE):]
                sequence = ancestor.get("args", {}).get("Sequence number")
                forward = self.forward_by_sequence.get(sequence)
                return f"{node} of {describe(forward)}" if forward else node
        return "forward"


def describe(op):
    args = op.get("args", {})
    dims = [d for d in args.get("Input Dims", []) if d]
    strides = [s for s in args.get("Input Strides", []) if s]
    text = op["name"]
    if dims:
        text += " " + " ".join(str(d) for d in dims)
    flat = all(isinstance(size, int) for d in dims for size in d)  # a tensor list nests deeper
    if strides and (not flat or strides != [contiguous_strides(d) for d in dims]):
        text += " strides " + " ".join(str(s) for s in strides)
    return text


def contiguous_strides(dims):
    strides, step = [], 1
    for size in reversed(dims):
        strides.insert(0, step)
        step *= max(size, 1)
    return strides


def launching_operator(kernel, operators, runtime_ids):
    args = kernel.get("args", {})
    ident = args.get("External id")
    if ident is None:  # older traces: only the launch's correlation id links the two
        ident = runtime_ids.get(args.get("correlation"))
    return operators.by_id.get(ident)


def group_kernels(events, pattern):
    operators = Operators(events)
    runtime_ids = {e["args"]["correlation"]: e["args"].get("External id") for e in events
                   if e.get("cat") == "cuda_runtime" and "correlation" in e.get("args", {})}
    groups = collections.defaultdict(lambda: [0, 0.0])
    matched = 0
    for kernel in events:
        if kernel.get("cat") != "kernel" or not pattern.search(kernel["name"]):
            continue
        matched += 1
        op = launching_operator(kernel, operators, runtime_ids)
        key = ("(no operator)", "") if op is None else (operators.backward_of(op), describe(op))
        groups[key][0] += 1
        groups[key][1] += kernel.get("dur", 0) / 1e3
    return matched, groups


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trace")
    parser.add_argument("--kernel", default=".", help="regular expression over the kernel names")
    parser.add_argument("--top", type=int, default=20, help="groups to print (0: all)")
    args = parser.parse_args()
    try:
        pattern = re.compile(args.kernel)
    except re.error as error:
        fail(f"--kernel {args.kernel!r}: {error}")
    events = load_events(args.trace)
    if not any(e.get("cat") == "kernel" for e in events):
        fail(f"{args.trace}: no GPU kernel in the trace (a CPU profile?)")
    matched, groups = group_kernels(events, pattern)
    if not matched:
        fail(f"{args.trace}: no kernel matches --kernel {args.kernel!r}")
    rows = sorted(groups.items(), key=lambda item: -item[1][1])
    total = sum(ms for _, ms in groups.values())
    print(f"{matched} kernels matching `{args.kernel}`, {total:.2f} ms, in {len(rows)} groups\n")
    print("| pass | launching operator (input shapes, strides where not contiguous) | calls | ms |")
    print("|---|---|---:|---:|")
    for (phase, op), (calls, ms) in rows[: args.top or None]:
        print(f"| {phase} | {op} | {calls} | {ms:.2f} |")


if __name__ == "__main__":
    main()

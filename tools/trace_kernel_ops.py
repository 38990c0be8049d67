#!/usr/bin/env python3
"""Which operator launched which GPU kernels: reads a Chrome trace of libtorch's (Kineto) profiler
(`vidprobe bench ... --profile DIR` and bench/*_reference.py --profile DIR write DIR/trace.json,
with each operator's input shapes and strides) and groups the kernels (and GPU copies and
memsets) whose names match --kernel by the call that launched them: the operator, its inputs'
shapes and strides, and, for a kernel of the backward pass, the forward operator whose gradient
it computes (the autograd node's sequence number links the two). Prints a Markdown table, the largest groups first, so that a kernel of a
profile (tools/compare_kernel_profiles.py) can be traced to the line of the model behind it.

Usage: python3 tools/trace_kernel_ops.py DIR/trace.json [--kernel REGEX] [--top 20]
"""
import argparse
import collections
import json
import re
import sys

BACKWARD_SCOPE = "autograd::engine::evaluate_function: "
# What the GPU runs: kernels, and the copies and memsets a profile lists beside them ("Memcpy HtoD
# (Pageable -> Device)"), each launched by an operator the same way.
GPU_CATEGORIES = ("kernel", "gpu_memcpy", "gpu_memset")


def fail(message):
    sys.exit(f"trace_kernel_ops: error: {message}")


def load_events(path):
    try:
        with open(path) as f:
            trace = json.load(f)
        events = trace["traceEvents"] if isinstance(trace, dict) else trace
        events = [e for e in events if isinstance(e, dict) and e.get("ph") == "X"]
        for event in events:
            event["name"], event["ts"]  # schema check
            # Integer nanoseconds, so that an operator's end compares exactly with its parent's.
            event["start_ns"] = round(float(event["ts"]) * 1000)
            event["end_ns"] = event["start_ns"] + round(float(event.get("dur", 0)) * 1000)
        return events
    except (OSError, ValueError, KeyError, TypeError) as error:
        fail(f"{path}: not a Chrome trace ({error!r})")


class Operators:
    """The CPU operators of a trace, each with its enclosing operator on the same thread.

    libtorch numbers each operator run with gradients by its thread's counter, which the creation
    of an autograd node advances, and the node keeps the number and its thread ("Fwd thread id",
    libtorch's own numbering of threads): the operator that made a node is the last one on that
    thread with the node's number before the node ran (an earlier one with the same number made
    none, e.g. a dropout of probability 0), or the outermost operator holding that one with the
    same number (aten::linear around its aten::t). A checkpointed layer's replay makes its nodes
    on the backward thread; which trace thread a libtorch thread number is, the nodes vote. A node
    whose libtorch thread got no vote is matched on every thread."""

    def __init__(self, events):
        self.by_id = {}
        self.parent = {}
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
        # (thread, sequence number) -> the operators with it, in start order
        self.numbered = collections.defaultdict(list)
        nodes = []
        for (_, tid), ops in threads.items():
            for op in ops:  # sorted by start
                sequence = op.get("args", {}).get("Sequence number")
                if sequence is None:
                    continue
                if op["name"].startswith(BACKWARD_SCOPE):
                    nodes.append(op)
                elif sequence != self._node_number(op):  # not the node's own record in backward
                    self.numbered[(tid, sequence)].append(op)
        self.tids_by_sequence = collections.defaultdict(set)
        for tid, sequence in self.numbered:
            self.tids_by_sequence[sequence].add(tid)
        # A node votes for the trace thread that alone holds its number (numbers shared by two
        # threads' counters say nothing).
        votes = collections.defaultdict(collections.Counter)
        for node in nodes:
            args = node["args"]
            tids = self.tids_by_sequence.get(args["Sequence number"], ())
            if len(tids) == 1:
                votes[args.get("Fwd thread id")][next(iter(tids))] += 1
        self.thread_of = {number: count.most_common(1)[0][0] for number, count in votes.items()}

    def forward_of(self, node):
        """The forward operator that made a backward node, or None."""
        args = node.get("args", {})
        sequence, number = args.get("Sequence number"), args.get("Fwd thread id")
        tids = ([self.thread_of[number]] if number in self.thread_of
                else self.tids_by_sequence.get(sequence, ()))
        made = [op for tid in tids for op in self.numbered.get((tid, sequence), [])
                if op["start_ns"] < node["start_ns"]]
        if not made:
            return None
        return self._outermost_with(sequence, max(made, key=lambda op: op["start_ns"]))

    def _enclosing_node(self, op):
        """The backward node's scope an operator runs in (None: the forward pass)."""
        return next((a for a in self.ancestors(op) if a["name"].startswith(BACKWARD_SCOPE)), None)

    def _node_number(self, op):
        node = self._enclosing_node(op)
        return None if node is None else node.get("args", {}).get("Sequence number")

    def _outermost_with(self, sequence, op):
        for ancestor in self.ancestors(op):
            if ancestor.get("args", {}).get("Sequence number") != sequence:
                break
            op = ancestor
        return op

    def _link_parents(self, ops):
        ops.sort(key=lambda e: (e["start_ns"], -e["end_ns"]))
        open_ops = []
        for op in ops:
            while open_ops and open_ops[-1]["end_ns"] < op["end_ns"]:
                open_ops.pop()
            if open_ops:
                self.parent[id(op)] = open_ops[-1]
            open_ops.append(op)

    def ancestors(self, op):
        while id(op) in self.parent:
            op = self.parent[id(op)]
            yield op

    def backward_of(self, op):
        """For an operator of the backward pass: 'AddBackward0 of aten::add [shapes]'."""
        node = self._enclosing_node(op)
        if node is None:
            return "forward"
        forward = self.forward_of(node)
        name = node["name"][len(BACKWARD_SCOPE):]
        return f"{name} of {describe(forward)}" if forward else name


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
        if kernel.get("cat") not in GPU_CATEGORIES or not pattern.search(kernel["name"]):
            continue
        matched += 1
        op = launching_operator(kernel, operators, runtime_ids)
        key = ("(no operator)", "") if op is None else (operators.backward_of(op), describe(op))
        groups[key][0] += 1
        groups[key][1] += (kernel["end_ns"] - kernel["start_ns"]) / 1e6
    return matched, groups


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trace")
    parser.add_argument("--kernel", default=".", help="regular expression over the kernel names")
    parser.add_argument("--top", type=int, default=20, help="groups to print (0: all)")
    args = parser.parse_args()
    if args.top < 0:
        fail(f"--top {args.top}: must be >= 0")
    try:
        pattern = re.compile(args.kernel)
    except re.error as error:
        fail(f"--kernel {args.kernel!r}: {error}")
    events = load_events(args.trace)
    if not any(e.get("cat") in GPU_CATEGORIES for e in events):
        fail(f"{args.trace}: no GPU kernel or copy in the trace (a CPU profile?)")
    matched, groups = group_kernels(events, pattern)
    if not matched:
        fail(f"{args.trace}: no kernel matches --kernel {args.kernel!r}")
    rows = sorted(groups.items(), key=lambda item: -item[1][1])
    total = sum(ms for _, ms in groups.values())
    print(f"{matched} GPU kernels and copies matching `{args.kernel}`, {total:.2f} ms, "
          f"in {len(rows)} groups\n")
    print("| pass | launching operator (input shapes, strides where not contiguous) | calls | ms |")
    print("|---|---|---:|---:|")
    for (phase, op), (calls, ms) in rows[: args.top or None]:
        print(f"| {phase} | {op} | {calls} | {ms:.2f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tools/trace_kernel_ops.py: kernels grouped by the operator that launched them, forward and
backward, on a trace in the format libtorch's (Kineto) profiler writes."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                    "trace_kernel_ops.py")


def op(name, ts, dur, ident, dims=(), strides=(), sequence=None, tid=1):
    args = {"External id": ident, "Input Dims": [list(d) for d in dims],
            "Input Strides": [list(s) for s in strides]}
    if sequence is not None:
        args["Sequence number"] = sequence
    return {"ph": "X", "cat": "cpu_op", "name": name, "pid": 1, "tid": tid, "ts": ts, "dur": dur,
            "args": args}


def kernel(name, ts, dur_us, ident):
    return {"ph": "X", "cat": "kernel", "name": name, "pid": 0, "tid": 7, "ts": ts, "dur": dur_us,
            "args": {"External id": ident, "correlation": 1000 + ident}}


def trace():
    # Forward: a broadcast add of a channels-last map and an NCHW one, then a contiguous add.
    # Backward (another thread): the first add's node runs a strided add.
    return {"traceEvents": [
        op("aten::add", 0, 10, 1, dims=[(2, 8, 4, 4), (1, 8, 4, 4)],
           strides=[(128, 1, 32, 8), (128, 16, 4, 1)], sequence=5),
        op("aten::add", 20, 10, 2, dims=[(2, 8), (2, 8)], strides=[(8, 1), (8, 1)], sequence=6),
        op("autograd::engine::evaluate_function: AddBackward0", 100, 50, 3,
           sequence=5, tid=2),
        op("aten::add_", 110, 20, 4, dims=[(2, 8, 4, 4), (2, 8, 4, 4)],
           strides=[(128, 1, 32, 8), (128, 16, 4, 1)], tid=2),
        kernel("elementwise_kernel<128, 2, CUDAFunctor_add<float>>", 1, 3000, 1),
        kernel("vectorized_elementwise_kernel<4, CUDAFunctor_add<float>>", 21, 500, 2),
        kernel("elementwise_kernel<128, 2, CUDAFunctor_add<float>>", 111, 2000, 4),
        kernel("elementwise_kernel<128, 2, CUDAFunctor_add<float>>", 120, 500, 4),
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1,
         "ts": 2, "dur": 1, "args": {"correlation": 1001, "External id": 1}},
    ]}


class TraceKernelOpsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "trace.json")

    def tearDown(self):
        self.dir.cleanup()

    def run_tool(self, content, *args):
        with open(self.path, "w") as f:
            json.dump(content, f)
        return subprocess.run([sys.executable, TOOL, self.path, *args], capture_output=True,
                              text=True)

    def test_groups_by_launching_operator_and_links_backward_to_forward(self):
        result = self.run_tool(trace(), "--kernel", r"^elementwise_kernel<128, 2")
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertIn("3 kernels matching", lines[0])
        self.assertIn("5.50 ms, in 2 groups", lines[0])
        rows = [line for line in lines if line.startswith("| ") and "launching" not in line]
        # Largest first: the forward add (3 ms), then the backward's accumulation (2 calls,
        # 2.5 ms), both naming the strides that are not contiguous.
        self.assertEqual(len(rows), 2, result.stdout)
        self.assertIn("| forward | aten::add [2, 8, 4, 4] [1, 8, 4, 4] strides [128, 1, 32, 8] "
                      "[128, 16, 4, 1] | 1 | 3.00 |", rows[0])
        self.assertIn("| AddBackward0 of aten::add [2, 8, 4, 4] [1, 8, 4, 4] strides", rows[1])
        self.assertIn("| aten::add_ [2, 8, 4, 4] [2, 8, 4, 4] strides", rows[1])
        self.assertTrue(rows[1].endswith("| 2 | 2.50 |"), rows[1])

    def test_contiguous_inputs_print_no_strides(self):
        result = self.run_tool(trace(), "--kernel", "vectorized")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("| forward | aten::add [2, 8] [2, 8] | 1 | 0.50 |", result.stdout)

    def test_tensor_list_inputs(self):
        events = trace()["traceEvents"] + [
            op("aten::cat", 40, 5, 9, dims=[[[2, 3], [2, 5]], []], strides=[[[3, 1], [5, 1]], []]),
            kernel("CatArrayBatchedCopy<float>", 41, 700, 9)]
        result = self.run_tool({"traceEvents": events}, "--kernel", "CatArray")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("| forward | aten::cat [[2, 3], [2, 5]] strides [[3, 1], [5, 1]] | 1 | 0.70 |",
                      result.stdout)

    def test_bad_inputs_name_the_fault(self):
        result = self.run_tool(trace(), "--kernel", "no_such_kernel")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no kernel matches --kernel 'no_such_kernel'", result.stderr)
        cpu_only = {"traceEvents": [e for e in trace()["traceEvents"] if e["cat"] != "kernel"]}
        result = self.run_tool(cpu_only)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no GPU kernel in the trace", result.stderr)
        with open(self.path, "w") as f:
            f.write("{not json")
        result = subprocess.run([sys.executable, TOOL, self.path], capture_output=True, text=True)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{self.path}: not a Chrome trace", result.stderr)


if __name__ == "__main__":
    unittest.main()

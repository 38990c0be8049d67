#!/usr/bin/env python3
"""tools/trace_kernel_ops.py: kernels grouped by the operator that launched them, forward and
backward, on a trace in the format libtorch's (Kineto) profiler writes."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

BACKWARD = "autograd::engine::evaluate_function: "  # libtorch's scope of a backward node
TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                    "trace_kernel_ops.py")


def op(name, ts, dur, ident, dims=(), strides=(), sequence=None, tid=1, fwd_thread=None):
    args = {"External id": ident, "Input Dims": [list(d) for d in dims],
            "Input Strides": [list(s) for s in strides]}
    if sequence is not None:
        args["Sequence number"] = sequence
    if fwd_thread is not None:
        args["Fwd thread id"] = fwd_thread
    return {"ph": "X", "cat": "cpu_op", "name": name, "pid": 1, "tid": tid, "ts": ts, "dur": dur,
            "args": args}


def kernel(name, ts, dur_us, ident):
    return {"ph": "X", "cat": "kernel", "name": name, "pid": 0, "tid": 7, "ts": ts, "dur": dur_us,
            "args": {"External id": ident, "correlation": 1000 + ident}}


def trace():
    # Forward: a dropout of probability 0 (no autograd node, so the add after it takes the same
    # sequence number), a broadcast add of a channels-last map and an NCHW one, then a contiguous
    # add. Backward (another thread): the first add's node runs a strided add, which carries
    # the same number too (as under create_graph) and must not be taken for the forward operator.
    return {"traceEvents": [
        op("aten::dropout", -10, 5, 10, dims=[(2, 8, 4, 4)], sequence=5),
        op("aten::add", 0, 10, 1, dims=[(2, 8, 4, 4), (1, 8, 4, 4)],
           strides=[(128, 1, 32, 8), (128, 16, 4, 1)], sequence=5),
        op("aten::add", 20, 10, 2, dims=[(2, 8), (2, 8)], strides=[(8, 1), (8, 1)], sequence=6),
        op(BACKWARD + "AddBackward0", 100, 50, 3,
           sequence=5, tid=2),
        op("aten::add_", 110, 20, 4, dims=[(2, 8, 4, 4), (2, 8, 4, 4)],
           strides=[(128, 1, 32, 8), (128, 16, 4, 1)], sequence=5, tid=2),
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
        self.assertIn("3 GPU kernels and copies matching", lines[0])
        self.assertIn("5.50 ms, in 2 groups", lines[0])
        rows = [line for line in lines if line.startswith("| ") and "launching" not in line]
        # Largest first: the forward add (3 ms), then the backward's accumulation (2 calls,
        # 2.5 ms), both naming the strides that are not contiguous.
        self.assertEqual(len(rows), 2, result.stdout)
        self.assertIn("| forward | aten::add [2, 8, 4, 4] [1, 8, 4, 4] strides [128, 1, 32, 8] "
                      "[128, 16, 4, 1] | 1 | 3.00 |", rows[0])
        self.assertIn("| AddBackward0 of aten::add [2, 8, 4, 4] [1, 8, 4, 4] strides", rows[1])
        self.assertNotIn("dropout", result.stdout)
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

    def test_copies_are_traced_to_their_operator_as_kernels_are(self):
        events = trace()["traceEvents"] + [
            op("aten::_to_copy", 50, 5, 11, dims=[[1]]),
            {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy HtoD (Pageable -> Device)", "pid": 0,
             "tid": 7, "ts": 52, "dur": 4600, "args": {"External id": 11}}]
        result = self.run_tool({"traceEvents": events}, "--kernel", "Memcpy")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("| forward | aten::_to_copy [1] | 1 | 4.60 |", result.stdout)

    def test_a_node_made_inside_an_operator_is_named_by_the_outermost_with_its_number(self):
        # aten::linear (7) holds aten::t (7, makes TBackward0) and aten::addmm (8, AddmmBackward0).
        events = [
            op("aten::linear", 0, 30, 1, dims=[(4, 8), (16, 8)], sequence=7),
            op("aten::t", 1, 2, 2, dims=[(16, 8)], sequence=7),
            op("aten::addmm", 5, 20, 3, dims=[(4, 8), (8, 16)], sequence=8),
            op(BACKWARD + "TBackward0", 100, 10, 4, sequence=7, tid=2),
            op("aten::transpose", 101, 5, 5, dims=[(8, 16)], tid=2),
            op(BACKWARD + "AddmmBackward0", 120, 10, 6, sequence=8,
               tid=2),
            op("aten::mm", 121, 5, 7, dims=[(16, 4), (4, 8)], tid=2),
            kernel("transpose_kernel", 102, 1000, 5), kernel("gemm_kernel", 122, 2000, 7)]
        result = self.run_tool({"traceEvents": events})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("| AddmmBackward0 of aten::addmm [4, 8] [8, 16] | aten::mm [16, 4] [4, 8] |",
                      result.stdout)
        self.assertIn("| TBackward0 of aten::linear [4, 8] [16, 8] | aten::transpose [8, 16] |",
                      result.stdout)

    def test_a_node_is_matched_on_the_thread_that_made_it(self):
        # The backward thread (tid 2) replays a checkpointed layer, numbering its operators with
        # its own counter: its aten::gelu has the number 3 of the forward thread's aten::mul. The
        # MulBackward0 node, made by libtorch thread 1, must find the aten::mul, not the later
        # gelu; the nodes with numbers only one thread holds (7 on tid 1, 4 on tid 2) tell which
        # trace thread each libtorch thread is.
        events = [
            op("aten::mul", 0, 5, 1, dims=[(4, 4), (4,)], sequence=3),
            op("aten::add", 10, 5, 2, dims=[(4, 4), (4, 4)], sequence=7),
            op(BACKWARD + "CheckpointFunction", 100, 50, 3, sequence=9, tid=2, fwd_thread=1),
            op("aten::gelu", 110, 5, 4, dims=[(4, 16)], sequence=3, tid=2),
            op("aten::silu", 120, 5, 10, dims=[(4, 16)], sequence=4, tid=2),
            op(BACKWARD + "SiluBackward0", 190, 5, 11, sequence=4, tid=2, fwd_thread=2),
            op(BACKWARD + "AddBackward0", 200, 10, 5, sequence=7, tid=2, fwd_thread=1),
            op(BACKWARD + "MulBackward0", 300, 10, 6, sequence=3, tid=2, fwd_thread=1),
            op("aten::mul", 301, 5, 7, dims=[(4, 4), (4,)], tid=2),
            op(BACKWARD + "GeluBackward0", 400, 10, 8, sequence=3, tid=2, fwd_thread=2),
            op("aten::gelu_backward", 401, 5, 9, dims=[(4, 16), (4, 16)], tid=2),
            kernel("mul_kernel", 302, 1000, 7), kernel("gelu_backward_kernel", 402, 1000, 9)]
        result = self.run_tool({"traceEvents": events})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("| MulBackward0 of aten::mul [4, 4] [4] | aten::mul [4, 4] [4] |",
                      result.stdout)
        self.assertIn("| GeluBackward0 of aten::gelu [4, 16] | aten::gelu_backward", result.stdout)

    def test_bad_inputs_name_the_fault(self):
        result = self.run_tool(trace(), "--kernel", "no_such_kernel")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no kernel matches --kernel 'no_such_kernel'", result.stderr)
        cpu_only = {"traceEvents": [e for e in trace()["traceEvents"] if e["cat"] != "kernel"]}
        result = self.run_tool(cpu_only)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no GPU kernel or copy in the trace", result.stderr)
        result = self.run_tool(trace(), "--top", "-1")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--top -1: must be >= 0", result.stderr)
        no_start = {"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "dur": 1}]}
        result = self.run_tool(no_start)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{self.path}: not a Chrome trace", result.stderr)
        with open(self.path, "w") as f:
            f.write("{not json")
        result = subprocess.run([sys.executable, TOOL, self.path], capture_output=True, text=True)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{self.path}: not a Chrome trace", result.stderr)


if __name__ == "__main__":
    unittest.main()

"""nn/residual_norm's kernel before and after wip/residual-norm-loads-first, without the C++ build.

Loads the two CUBINs NVRTC made on the CPU machine from the two trees' kernel source (sm_90,
vidprobe's own options), launches each through the driver API on the same inputs as vidprobe's
launch() passes them (grid = rows, block = row_block_threads(width), the NormLayout struct), checks
that both write the same bits, then times each kernel (and libtorch's add + LayerNorm where the
form has one) from the CUDA profiler's kernel records. One JSON line per case.
Usage: python3 rn_experiment.py BASE.cubin NEW.cubin OUT_DIR
"""
import ctypes
import json
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

BASE, NEW, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(OUT, exist_ok=True)
REPEATS = 30
cuda = ctypes.CDLL("libcuda.so.1")
cuda.cuLaunchKernel.argtypes = [ctypes.c_void_p] + [ctypes.c_uint] * 7 + [ctypes.c_void_p] * 3
torch.zeros(1, device="cuda")
torch.cuda.synchronize()


def check(result, what):
    if result != 0:
        raise RuntimeError(f"{what}: CUresult {result}")


def module(path):
    handle = ctypes.c_void_p()
    check(cuda.cuModuleLoadData(ctypes.byref(handle), open(path, "rb").read()), path)
    return handle


def function(mod, name):
    handle = ctypes.c_void_p()
    check(cuda.cuModuleGetFunction(ctypes.byref(handle), mod, name.encode()), name)
    return handle


class Layout(ctypes.Structure):
    _fields_ = [("gate_stride", ctypes.c_longlong), ("multiplier_stride", ctypes.c_longlong),
                ("shift_stride", ctypes.c_longlong), ("width", ctypes.c_int),
                ("rows_per_batch", ctypes.c_int), ("eps", ctypes.c_float),
                ("has_update", ctypes.c_int), ("has_gate", ctypes.c_int)]


assert ctypes.sizeof(Layout) == 48


def launch(kernel, stream, update, gate, multiplier, shift, eps=1e-6):
    width = stream.shape[-1]
    rows = stream.numel() // width
    stream_out = torch.empty_like(stream)
    out = torch.empty(stream.shape, dtype=torch.bfloat16, device="cuda")
    layout = Layout(0, 0, 0, width, stream.shape[1], eps, 1, 1 if gate is not None else 0)
    pointers = [stream.data_ptr(), update.data_ptr(), gate.data_ptr() if gate is not None else 0,
                stream_out.data_ptr(), multiplier.data_ptr(), shift.data_ptr(), out.data_ptr()]
    args = [ctypes.c_void_p(p) for p in pointers] + [layout]
    params = (ctypes.c_void_p * len(args))(*[ctypes.cast(ctypes.pointer(a), ctypes.c_void_p)
                                             for a in args])
    threads = (width + 1023) // 1024 * 32
    check(cuda.cuLaunchKernel(kernel, rows, 1, 1, threads, 1, 1, 0,
                              torch.cuda.current_stream().cuda_stream, params, None), "launch")
    return stream_out, out


def kernel_us(work, name_prefix=None):
    work()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(REPEATS):
            work()
        torch.cuda.synchronize()
    path = os.path.join(OUT, "trace.json")
    prof.export_chrome_trace(path)
    events = json.load(open(path))["traceEvents"]
    os.remove(path)
    kernels = [e for e in events if e.get("cat") == "kernel"
               and (name_prefix is None or e["name"].startswith(name_prefix))]
    return sum(e["dur"] for e in kernels) / REPEATS, len(kernels)


base_module, new_module = module(BASE), module(NEW)
cases = [  # (stream dtype, width, rows, gated): the encoders at 16 frames, CogVideoX, WAN2.1-14B
    (torch.bfloat16, 1024, 1568, False), (torch.bfloat16, 1024, 2048, False),
    (torch.bfloat16, 1024, 4112, False), (torch.bfloat16, 1024, 16384, False),
    (torch.bfloat16, 1024, 4112, True), (torch.bfloat16, 3072, 17776, True),
    (torch.float32, 5120, 32760, True)]
torch.manual_seed(0)
lines = open(os.path.join(OUT, "rn_experiment.jsonl"), "w")
for dtype, width, rows, gated in cases:
    name = "residual_norm_" + ("bf16" if dtype == torch.bfloat16 else "f32") + "_bf16_bf16"
    base_kernel, new_kernel = function(base_module, name), function(new_module, name)
    stream = torch.randn(1, rows, width, device="cuda").to(dtype)
    update = torch.randn(1, rows, width, device="cuda").to(torch.bfloat16)
    gate = torch.randn(1, width, device="cuda") if gated else None
    weight = torch.randn(width, device="cuda").to(torch.bfloat16)
    bias = torch.randn(width, device="cuda").to(torch.bfloat16)
    multiplier, shift = weight.float(), bias.float()
    base_stream, base_out = launch(base_kernel, stream, update, gate, multiplier, shift)
    new_stream, new_out = launch(new_kernel, stream, update, gate, multiplier, shift)
    torch.cuda.synchronize()
    summed = (stream.float() + update.float() * (gate if gated else 1.0)).to(dtype)
    reference = torch.nn.functional.layer_norm(summed.float(), (width,), multiplier, shift, 1e-6)
    record = {
        "benchmark": "residual_norm_loads_first", "kernel": name, "rows": rows, "width": width,
        "gated": gated, "repeats": REPEATS,
        "same_stream_bits": bool(torch.equal(base_stream, new_stream)),
        "same_normed_bits": bool(torch.equal(base_out, new_out)),
        "stream_matches_torch": bool(torch.equal(new_stream, summed)),
        "normed_max_abs_vs_torch_f32": float((new_out.float() - reference).abs().max()),
    }
    record["base_us"], _ = kernel_us(
        lambda: launch(base_kernel, stream, update, gate, multiplier, shift), "residual_norm_")
    record["new_us"], _ = kernel_us(
        lambda: launch(new_kernel, stream, update, gate, multiplier, shift), "residual_norm_")
    if dtype == torch.bfloat16 and not gated:  # nn::Block's libtorch form of the same step
        record["libtorch_add_layer_norm_us"], record["libtorch_kernel_launches"] = kernel_us(
            lambda: torch.nn.functional.layer_norm(stream + update, (width,), weight, bias, 1e-6))
    record["base_over_new"] = record["base_us"] / record["new_us"]
    print(json.dumps(record), flush=True)
    lines.write(json.dumps(record) + "\n")
lines.close()

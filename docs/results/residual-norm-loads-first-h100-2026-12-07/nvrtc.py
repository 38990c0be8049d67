"""Compiles a CUDA source to an sm_90 CUBIN with the torch wheel's NVRTC and vidprobe's options,
printing ptxas' report: python3 nvrtc.py IN.cu OUT.cubin"""
import ctypes
import glob
import os
import sys

import nvidia

library = sorted(glob.glob(os.path.join(nvidia.__path__[0], "cu*", "lib", "libnvrtc.so.*")))[0]
nvrtc = ctypes.CDLL(library)
program = ctypes.c_void_p()
assert nvrtc.nvrtcCreateProgram(ctypes.byref(program), open(sys.argv[1]).read().encode(),
                                b"kernel.cu", 0, None, None) == 0
options = [b"--gpu-architecture=sm_90", b"--std=c++17", b"--ptxas-options=-v"]
result = nvrtc.nvrtcCompileProgram(program, len(options), (ctypes.c_char_p * len(options))(*options))
size = ctypes.c_size_t()
nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
log = ctypes.create_string_buffer(size.value)
nvrtc.nvrtcGetProgramLog(program, log)
print(log.value.decode())
assert result == 0, f"NVRTC failed ({result})"
nvrtc.nvrtcGetCUBINSize(program, ctypes.byref(size))
cubin = ctypes.create_string_buffer(size.value)
nvrtc.nvrtcGetCUBIN(program, cubin)
open(sys.argv[2], "wb").write(cubin.raw)

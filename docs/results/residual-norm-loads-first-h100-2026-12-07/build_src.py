"""Writes nn/residual_norm.cpp's kernel source as vidprobe compiles it (the shared prelude with the
row layout's constants, then the kernel). Run in the repository root:
python3 build_src.py src/vidprobe/nn/residual_norm.cpp OUT.cu"""
import re
import sys

RAW = r'R"CUDA\((.*?)\)CUDA"'
prelude_parts = re.findall(RAW, open("src/vidprobe/nn/runtime_kernel.cpp").read(), re.S)
constants = ("constexpr int ROW_VEC = 4;\nconstexpr int ROW_ITEMS = 8;\n"
             "#define ROW_THREADS 256\n#define ROW_MIN_BLOCKS 4\n")
kernel = re.findall(RAW, open(sys.argv[1]).read(), re.S)[0]
open(sys.argv[2], "w").write(prelude_parts[0] + constants + prelude_parts[1] + kernel)

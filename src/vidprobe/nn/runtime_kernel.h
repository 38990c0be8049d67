#pragma once
// CUDA kernels compiled at run time by NVRTC. vidprobe builds no .cu files (the torch wheel ships
// no CUDA compiler), but the wheel's nvidia packages ship libnvrtc and the CUDA runtime, which is
// enough to compile a kernel for the GPU at hand and launch it on libtorch's current stream. Each
// user of a runtime kernel keeps a libtorch path for the CPU and for builds without NVRTC.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace vidprobe::nn {

// True when this build links NVRTC and the CUDA runtime (a torch wheel with CUDA and its
// nvidia-cuda-nvrtc package); without them every other function here throws.
bool runtime_kernels_built();

// Whether NVRTC can compile for the compute capability of CUDA device `device` (-1: the current
// one): a GPU newer than the wheel's NVRTC is not among its targets. False without NVRTC, and
// false where runtime_kernels_enabled() is: every user then takes its libtorch path.
bool runtime_kernels_support(int device);

// Whether a runtime kernel can run on x's device: this build has them, x is a CUDA tensor, and
// runtime_kernels_support its device.
bool runtime_kernels_run_on(const at::Tensor& x);

// False where the environment sets VIDPROBE_RUNTIME_KERNELS=0 (read once; any value but 0 or 1
// throws): one binary then measures or checks its libtorch paths against its kernels.
bool runtime_kernels_enabled();

// The CUBIN NVRTC makes of `source` for compute capability `arch` (90 for sm_90). Needs no GPU.
// Throws with NVRTC's log, naming `program`, when the source does not compile.
std::string compile_cubin(const std::string& source, const std::string& program, int arch);

// What ptxas reports of one kernel: its registers and its local memory (the stack frame: arrays the
// compiler could not keep in registers, spilled registers, call frames). The row kernels hold
// their row in register arrays; a stack frame there means a row read through the cache each pass.
struct KernelFootprint {
  std::string kernel;
  int registers = 0;
  int stack_frame_bytes = 0;
  int spill_store_bytes = 0;
  int spill_load_bytes = 0;
};

// The footprints of every kernel `source` defines, compiled for `arch` with ptxas' report (needs
// no GPU). Throws as compile_cubin does, and when the report lists no kernel.
std::vector<KernelFootprint> kernel_footprints(const std::string& source,
                                               const std::string& program, int arch);

// The footprints of the entry functions a ptxas report (`ptxas -v`, as NVRTC's log holds it) lists,
// in its order (the functions they call are reported apart and not counted); throws, naming the
// kernel, when its own stack-frame line or its register line is missing.
std::vector<KernelFootprint> parse_ptxas_report(const std::string& log);

// CUDA source the runtime kernels share, put before each program's own: Pack<T, VEC>, VEC
// consecutive elements of T aligned to 16 bytes, and its load (load_readonly: through the
// read-only data cache) and store, one access when the pack fills 16 or 8 bytes (the caller
// checks the address), else element by element; bfloat16 as
// `bf16_bits`, widen() to float, narrow() back (round to nearest even, as libtorch rounds) and
// rounded<T>(v), v as T would hold it; block_sum(v, partial), a thread block's sum.
const std::string& runtime_kernel_prelude();

// Whether `address` allows the packs' 16-byte accesses.
bool packs_aligned(const void* address);

// Whether autograd would record any of `inputs` (undefined ones ignored): a kernel without a
// backward leaves such calls, a stream needing a gradient or a norm's weights being trained, to
// libtorch's form.
bool records_gradient(std::initializer_list<const at::Tensor*> inputs);

// Throws, naming `user`, when a runtime kernel's backward runs while autograd records it
// (create_graph=true): the kernels are not themselves differentiable, so a second derivative
// would silently be wrong.
void refuse_second_derivative(const std::string& user);

// The row kernels' layout (nn/residual_norm, nn/rms_norm_rotary): one thread block per row of
// values, read in packs of kRowPack, each thread keeping up to kRowItems packs in registers, blocks
// of at most kRowThreads threads: rows of up to kRowMaxWidth values, a multiple of kRowPack. The
// kernels are compiled with __launch_bounds__(ROW_THREADS, ROW_MIN_BLOCKS), which gives a thread
// up to 64 registers: with the block size alone ptxas held the rms-norm-rotary kernels to 48 on
// sm_80 and sm_90 and spilled
// (RuntimeKernel.NoKernelSpillsAndTheRowKernelsKeepTheirRowsInRegisters). runtime_kernel_prelude()
// defines ROW_VEC, ROW_ITEMS, ROW_THREADS and ROW_MIN_BLOCKS to these values, and
// for_each_row_pack(packs, body), the loop over a thread's packs of a row.
inline constexpr int kRowPack = 4;
inline constexpr int kRowItems = 8;
inline constexpr int kRowThreads = 256;
inline constexpr int kRowMinBlocks = 4;
inline constexpr int64_t kRowMaxWidth = int64_t{kRowThreads} * kRowPack * kRowItems;

// Threads of the block that owns a row of `width` values: as few warps as hold the row, so that
// several rows' blocks share an SM and one block's loads overlap another's reductions (a block
// of two packs a thread left a 5,120-wide row one block an SM and the kernel at under half of
// the H100's bandwidth). Throws for a width the layout does not take.
unsigned row_block_threads(int64_t width);

struct LaunchShape {
  std::array<unsigned, 3> grid{1, 1, 1};
  std::array<unsigned, 3> block{1, 1, 1};
};

// One `extern "C"` kernel of a source compiled at run time: compiled for a device's compute
// capability on the first launch there and kept for the process. A program's kernels share one
// compilation per capability; a second source under a program name already compiled is refused.
class RuntimeKernel {
 public:
  RuntimeKernel(std::string program, const std::string* source, std::string kernel);
  // Launches on libtorch's current stream of the current device; `arguments` point at the
  // kernel's parameters in order, as cudaLaunchKernel takes them.
  void launch(const LaunchShape& shape, std::vector<void*> arguments) const;
  // The entry point's name, as the CUDA profiler reports the kernel.
  const std::string& name() const { return kernel_; }

 private:
  std::string program_;
  const std::string* source_;  // static storage of the program's text
  std::string kernel_;
};

}  // namespace vidprobe::nn

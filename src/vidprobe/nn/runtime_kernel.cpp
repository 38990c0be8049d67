#include "vidprobe/nn/runtime_kernel.h"

#include <c10/core/GradMode.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "vidprobe/core/error.h"

#ifdef VIDPROBE_HAVE_NVRTC
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <nvrtc.h>
#endif

namespace vidprobe::nn {

const std::string& runtime_kernel_prelude() {
  static const std::string source = R"CUDA(
template <typename T, int VEC> struct alignas(16) Pack { T v[VEC]; };
// One access of a W (uint4, uint2 or an element); READ_ONLY goes through the read-only data cache
// (ld.global.nc), for memory no thread of the kernel writes. The compiler takes that path by
// itself only where it sees __restrict__ pointers in the kernel's own body, not through a
// lambda's captures (for_each_row_pack).
template <bool READ_ONLY, typename W> __device__ __forceinline__ W read(const W* p) {
  if constexpr (READ_ONLY) return __ldg(p); else return *p;
}
template <typename T, int VEC, bool READ_ONLY = false>
__device__ __forceinline__ Pack<T, VEC> load(const T* p) {
  Pack<T, VEC> r;
  if constexpr (VEC * sizeof(T) == 16) {
    *reinterpret_cast<uint4*>(r.v) = read<READ_ONLY>(reinterpret_cast<const uint4*>(p));
  } else if constexpr (VEC * sizeof(T) == 8) {
    *reinterpret_cast<uint2*>(r.v) = read<READ_ONLY>(reinterpret_cast<const uint2*>(p));
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) r.v[i] = read<READ_ONLY>(p + i);
  }
  return r;
}
template <typename T, int VEC> __device__ __forceinline__ Pack<T, VEC> load_readonly(const T* p) {
  return load<T, VEC, true>(p);
}
template <typename T, int VEC> __device__ __forceinline__ void store(T* p, const Pack<T, VEC>& r) {
  if constexpr (VEC * sizeof(T) == 16) {
    *reinterpret_cast<uint4*>(p) = *reinterpret_cast<const uint4*>(r.v);
  } else if constexpr (VEC * sizeof(T) == 8) {
    *reinterpret_cast<uint2*>(p) = *reinterpret_cast<const uint2*>(r.v);
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) p[i] = r.v[i];
  }
}

typedef unsigned short bf16_bits;
__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ float widen(bf16_bits v) {
  return __uint_as_float(static_cast<unsigned>(v) << 16);
}
__device__ __forceinline__ void narrow(float v, float* out) { *out = v; }
__device__ __forceinline__ void narrow(float v, bf16_bits* out) {
  const unsigned u = __float_as_uint(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) { *out = 0x7fff; return; }  // NaN, as __float2bfloat16
  *out = static_cast<bf16_bits>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
template <typename T> __device__ __forceinline__ float rounded(float v) {
  T t;
  narrow(v, &t);
  return widen(t);
}

// The sum of every thread's v, the same total in every thread: warp sums, then the warps' sums in
// warp order (the same bits every run). blockDim.x a multiple of 32; partial holds 32 floats.
__device__ float block_sum(float v, float* partial) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  __syncthreads();  // `partial` may still be read by the previous call
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) total += partial[w];
  return total;
}
)CUDA" + std::string("constexpr int ROW_VEC = ") +
                                    std::to_string(kRowPack) +
                                    ";\nconstexpr int ROW_ITEMS = " + std::to_string(kRowItems) +
                                    ";\n#define ROW_THREADS " + std::to_string(kRowThreads) +
                                    "\n#define ROW_MIN_BLOCKS " + std::to_string(kRowMinBlocks) +
                                    "\n" + R"CUDA(
// Calls body(k, pack) for each pack of a row of `packs` packs that this thread holds: its k-th is
// pack threadIdx.x + k * blockDim.x. Unrolled, so that a body indexing a register array by k
// indexes it by a constant.
template <typename Body>
__device__ __forceinline__ void for_each_row_pack(int packs, const Body& body) {
#pragma unroll
  for (int k = 0; k < ROW_ITEMS; ++k) {
    const int pack = threadIdx.x + k * blockDim.x;
    if (pack < packs) body(k, pack);
  }
}
)CUDA";
  return source;
}

bool runtime_kernels_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("VIDPROBE_RUNTIME_KERNELS");
    if (value == nullptr || std::string(value) == "1") return true;
    require(std::string(value) == "0",
            std::string("VIDPROBE_RUNTIME_KERNELS must be 0 or 1, got '") + value + "'");
    return false;
  }();
  return enabled;
}

unsigned row_block_threads(int64_t width) {
  require(width > 0 && width % kRowPack == 0 && width <= kRowMaxWidth, [width] {
    return "row kernels: a row of " + std::to_string(width) + " values is not a multiple of " +
           std::to_string(kRowPack) + " up to " + std::to_string(kRowMaxWidth);
  });
  const int64_t per_warp = int64_t{32} * kRowPack * kRowItems;
  return static_cast<unsigned>((width + per_warp - 1) / per_warp * 32);
}

bool runtime_kernels_run_on(const at::Tensor& x) {
  return runtime_kernels_built() && x.is_cuda() && runtime_kernels_support(x.device().index());
}

bool records_gradient(std::initializer_list<const at::Tensor*> inputs) {
  if (!c10::GradMode::is_enabled()) return false;
  for (const auto* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool packs_aligned(const void* address) {
  return reinterpret_cast<std::uintptr_t>(address) % 16 == 0;
}

void refuse_second_derivative(const std::string& user) {
  require(!c10::GradMode::is_enabled(),
          user + ": the runtime kernels have no second derivative (create_graph=true)");
}

std::vector<KernelFootprint> parse_ptxas_report(const std::string& log) {
  static const std::regex entry(R"(Compiling entry function '([^']+)')");
  // ptxas lists the properties of the functions a kernel calls (math library slow paths,
  // __noinline__ helpers) after the kernel's own: a frame line belongs to the function named last.
  static const std::regex properties(R"(Function properties for (\S+))");
  static const std::regex frame(
      R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex used(R"(Used (\d+) registers)");
  struct Read {
    KernelFootprint footprint;
    bool frame = false, registers = false;
  };
  std::vector<Read> kernels;
  std::string function;  // whose properties the next frame line gives
  std::istringstream lines(log);
  std::smatch match;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_search(line, match, entry)) {
      kernels.push_back({.footprint = {.kernel = match[1]}});
      function.clear();
    } else if (kernels.empty()) {
      continue;
    } else if (std::regex_search(line, match, properties)) {
      function = match[1];
    } else if (std::regex_search(line, match, frame)) {
      auto& kernel = kernels.back();
      if (function != kernel.footprint.kernel) continue;  // a callee's frame
      require(!kernel.frame, "ptxas report: kernel '" + function + "' has two stack-frame lines");
      kernel.footprint.stack_frame_bytes = std::stoi(match[1]);
      kernel.footprint.spill_store_bytes = std::stoi(match[2]);
      kernel.footprint.spill_load_bytes = std::stoi(match[3]);
      kernel.frame = true;
    } else if (std::regex_search(line, match, used)) {
      kernels.back().footprint.registers = std::stoi(match[1]);
      kernels.back().registers = true;
    }
  }
  std::vector<KernelFootprint> footprints;
  for (const auto& kernel : kernels) {
    require(kernel.frame, "ptxas report: kernel '" + kernel.footprint.kernel +
                              "' has no stack-frame line of its own");
    require(kernel.registers,
            "ptxas report: kernel '" + kernel.footprint.kernel + "' has no register line");
    footprints.push_back(kernel.footprint);
  }
  return footprints;
}

#ifdef VIDPROBE_HAVE_NVRTC
namespace {

void check_nvrtc(nvrtcResult result, const std::string& program, const char* what) {
  if (result != NVRTC_SUCCESS)
    throw std::runtime_error("runtime kernel '" + program + "': " + what + ": " +
                             nvrtcGetErrorString(result));
}

struct ProgramDeleter {
  void operator()(nvrtcProgram program) const { nvrtcDestroyProgram(&program); }
};
using Program = std::unique_ptr<std::remove_pointer_t<nvrtcProgram>, ProgramDeleter>;

// `what` names the call's subject; it is built only when the call failed.
template <typename Describe>
void check_cuda(cudaError_t result, const Describe& what) {
  if (result != cudaSuccess)
    throw std::runtime_error("runtime kernel " + what() + ": " + cudaGetErrorString(result));
}

std::string compile_log(nvrtcProgram program) {
  std::size_t size = 0;
  if (nvrtcGetProgramLogSize(program, &size) != NVRTC_SUCCESS || size == 0) return "";
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(program, log.data()) != NVRTC_SUCCESS) return "";
  return log;
}

// Asked once a device: every launch and every dispatch check needs it.
int compute_capability(int device) {
  if (device < 0) C10_CUDA_CHECK(cudaGetDevice(&device));
  static std::mutex mutex;
  static std::map<int, int> by_device;
  const std::lock_guard lock(mutex);
  if (const auto found = by_device.find(device); found != by_device.end()) return found->second;
  int major = 0, minor = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  return by_device[device] = major * 10 + minor;
}

bool nvrtc_targets(int arch) {
  int count = 0;
  if (nvrtcGetNumSupportedArchs(&count) != NVRTC_SUCCESS || count <= 0) return false;
  std::vector<int> archs(static_cast<std::size_t>(count));
  if (nvrtcGetSupportedArchs(archs.data()) != NVRTC_SUCCESS) return false;
  return std::find(archs.begin(), archs.end(), arch) != archs.end();
}

// The kernels of every program compiled in this process, by (program, compute capability). The
// libraries stay loaded until the process ends: unloading them from a static destructor would run
// after the CUDA runtime has begun tearing down.
class KernelCache {
 public:
  cudaKernel_t get(const std::string& program, const std::string& source, const std::string& kernel,
                   int arch) {
    const std::lock_guard lock(mutex_);
    // Spelled out only for an error: every launch passes through here.
    const auto where = [&] { return "'" + program + "' for sm_" + std::to_string(arch); };
    auto& library = libraries_[{program, arch}];
    if (!library.handle) {
      const auto cubin = compile_cubin(source, program, arch);
      check_cuda(cudaLibraryLoadData(&library.handle, cubin.data(), nullptr, nullptr, 0, nullptr,
                                     nullptr, 0),
                 [&] { return where() + ": loading its CUBIN"; });
      library.source = &source;
    }
    if (library.source != &source)
      throw std::runtime_error("runtime kernel program " + where() +
                               " was compiled from another source: each program needs a name "
                               "of its own");
    auto& handle = kernels_[{program, arch, kernel}];
    if (!handle)
      check_cuda(cudaLibraryGetKernel(&handle, library.handle, kernel.c_str()),
                 [&] { return where() + ": kernel '" + kernel + "'"; });
    return handle;
  }

 private:
  struct Library {
    cudaLibrary_t handle = nullptr;
    const std::string* source = nullptr;  // what it was compiled from
  };
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, Library> libraries_;
  std::map<std::tuple<std::string, int, std::string>, cudaKernel_t> kernels_;
};

KernelCache& kernel_cache() {
  static KernelCache cache;
  return cache;
}

}  // namespace

bool runtime_kernels_built() {
  return true;
}

bool runtime_kernels_support(int device) {
  if (!runtime_kernels_enabled()) return false;
  static std::mutex mutex;
  static std::map<int, bool> supported;  // by compute capability
  const int arch = compute_capability(device);
  const std::lock_guard lock(mutex);
  auto found = supported.find(arch);
  if (found == supported.end()) found = supported.emplace(arch, nvrtc_targets(arch)).first;
  return found->second;
}

namespace {

// `report` asks ptxas for each kernel's registers and local memory, into the program's log.
Program compile(const std::string& source, const std::string& program, int arch, bool report) {
  nvrtcProgram created = nullptr;
  check_nvrtc(nvrtcCreateProgram(&created, source.c_str(), program.c_str(), 0, nullptr, nullptr),
              program, "nvrtcCreateProgram");
  Program handle(created);
  const std::string arch_option = "--gpu-architecture=sm_" + std::to_string(arch);
  std::vector<const char*> options{arch_option.c_str(), "--std=c++17"};
  if (report) options.push_back("--ptxas-options=-v");
  if (nvrtcCompileProgram(handle.get(), static_cast<int>(options.size()), options.data()) !=
      NVRTC_SUCCESS)
    throw std::runtime_error("runtime kernel '" + program + "' does not compile for sm_" +
                             std::to_string(arch) + ":\n" + compile_log(handle.get()));
  return handle;
}

}  // namespace

std::vector<KernelFootprint> kernel_footprints(const std::string& source,
                                               const std::string& program, int arch) {
  const std::string log = compile_log(compile(source, program, arch, true).get());
  auto footprints = parse_ptxas_report(log);
  require(!footprints.empty(), [&] {
    return "runtime kernel '" + program + "': ptxas reported no kernel for sm_" +
           std::to_string(arch) + ":\n" + log;
  });
  return footprints;
}

std::string compile_cubin(const std::string& source, const std::string& program, int arch) {
  const Program handle = compile(source, program, arch, false);
  std::size_t size = 0;
  check_nvrtc(nvrtcGetCUBINSize(handle.get(), &size), program, "nvrtcGetCUBINSize");
  std::string cubin(size, '\0');
  check_nvrtc(nvrtcGetCUBIN(handle.get(), cubin.data()), program, "nvrtcGetCUBIN");
  return cubin;
}

void RuntimeKernel::launch(const LaunchShape& shape, std::vector<void*> arguments) const {
  const auto kernel = kernel_cache().get(program_, *source_, kernel_, compute_capability(-1));
  const dim3 grid(shape.grid[0], shape.grid[1], shape.grid[2]);
  const dim3 block(shape.block[0], shape.block[1], shape.block[2]);
  check_cuda(cudaLaunchKernel(reinterpret_cast<const void*>(kernel), grid, block, arguments.data(),
                              0, c10::cuda::getCurrentCUDAStream()),
             [&] { return "'" + program_ + "': launching '" + kernel_ + "'"; });
}

#else

namespace {
[[noreturn]] void not_built(const std::string& program) {
  throw std::runtime_error("runtime kernel '" + program +
                           "': this build has no NVRTC (a torch wheel with CUDA and "
                           "nvidia-cuda-nvrtc is needed)");
}
}  // namespace

bool runtime_kernels_built() {
  return false;
}

bool runtime_kernels_support(int) {
  return false;
}

std::string compile_cubin(const std::string&, const std::string& program, int) {
  not_built(program);
}

std::vector<KernelFootprint> kernel_footprints(const std::string&, const std::string& program,
                                               int) {
  not_built(program);
}

void RuntimeKernel::launch(const LaunchShape&, std::vector<void*>) const {
  not_built(program_);
}

#endif

RuntimeKernel::RuntimeKernel(std::string program, const std::string* source, std::string kernel)
    : program_(std::move(program)), source_(source), kernel_(std::move(kernel)) {}

}  // namespace vidprobe::nn

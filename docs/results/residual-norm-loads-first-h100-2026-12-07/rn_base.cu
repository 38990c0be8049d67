
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
constexpr int ROW_VEC = 4;
constexpr int ROW_ITEMS = 8;
#define ROW_THREADS 256
#define ROW_MIN_BLOCKS 4

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

struct NormLayout {
  long long gate_stride, multiplier_stride, shift_stride;  // per batch entry; 0: shared
  int width, rows_per_batch;
  float eps;
  int has_update, has_gate;
};

template <typename S, typename U, typename O>
__device__ void residual_norm(const S* __restrict__ stream, const U* __restrict__ update,
                              const float* __restrict__ gate, S* __restrict__ stream_out,
                              const float* __restrict__ multiplier,
                              const float* __restrict__ shift, O* __restrict__ out,
                              NormLayout layout) {
  __shared__ float partial[32];
  const long long row = blockIdx.x;
  const long long entry = row / layout.rows_per_batch;
  const long long base = row * layout.width;
  const int packs = layout.width / ROW_VEC;
  float v[ROW_ITEMS][ROW_VEC];
  float sum = 0.0f;
  for_each_row_pack(packs, [&](int k, int pack) {
    const long long c = base + pack * ROW_VEC;
    const Pack<S, ROW_VEC> s = load_readonly<S, ROW_VEC>(stream + c);
#pragma unroll
    for (int i = 0; i < ROW_VEC; ++i) v[k][i] = widen(s.v[i]);
    if (layout.has_update) {
      const Pack<U, ROW_VEC> u = load_readonly<U, ROW_VEC>(update + c);
      Pack<S, ROW_VEC> r;
      if (layout.has_gate) {
        const Pack<float, ROW_VEC> g =
            load_readonly<float, ROW_VEC>(gate + entry * layout.gate_stride + pack * ROW_VEC);
#pragma unroll
        for (int i = 0; i < ROW_VEC; ++i)
          narrow(__fadd_rn(v[k][i], __fmul_rn(widen(u.v[i]), g.v[i])), &r.v[i]);
      } else {
#pragma unroll
        for (int i = 0; i < ROW_VEC; ++i) narrow(__fadd_rn(v[k][i], widen(u.v[i])), &r.v[i]);
      }
      store<S, ROW_VEC>(stream_out + c, r);
#pragma unroll
      for (int i = 0; i < ROW_VEC; ++i) v[k][i] = widen(r.v[i]);
    }
#pragma unroll
    for (int i = 0; i < ROW_VEC; ++i) sum += v[k][i];
  });
  const float mean = block_sum(sum, partial) / layout.width;
  float squares = 0.0f;
  for_each_row_pack(packs, [&](int k, int) {
#pragma unroll
    for (int i = 0; i < ROW_VEC; ++i) {
      const float d = __fsub_rn(v[k][i], mean);
      squares = __fmaf_rn(d, d, squares);
    }
  });
  const float rstd = rsqrtf(block_sum(squares, partial) / layout.width + layout.eps);
  for_each_row_pack(packs, [&](int k, int pack) {
    const Pack<float, ROW_VEC> m =
        load_readonly<float, ROW_VEC>(multiplier + entry * layout.multiplier_stride + pack * ROW_VEC);
    const Pack<float, ROW_VEC> a =
        load_readonly<float, ROW_VEC>(shift + entry * layout.shift_stride + pack * ROW_VEC);
    Pack<O, ROW_VEC> o;
#pragma unroll
    for (int i = 0; i < ROW_VEC; ++i) {
      const float normed = __fmul_rn(__fsub_rn(v[k][i], mean), rstd);
      narrow(__fadd_rn(__fmul_rn(normed, m.v[i]), a.v[i]), &o.v[i]);
    }
    store<O, ROW_VEC>(out + base + pack * ROW_VEC, o);
  });
}

#define VIDPROBE_RESIDUAL_NORM_KERNEL(NAME, S, U, O)                                           \
  extern "C" __global__ void __launch_bounds__(ROW_THREADS, ROW_MIN_BLOCKS)                    \
      residual_norm_##NAME(const S* stream, const U* update, const float* gate, S* stream_out, \
                           const float* multiplier, const float* shift, O* out,                \
                           NormLayout layout) {                                                \
    residual_norm<S, U, O>(stream, update, gate, stream_out, multiplier, shift, out, layout);  \
  }
VIDPROBE_RESIDUAL_NORM_KERNEL(f32_f32_f32, float, float, float)
VIDPROBE_RESIDUAL_NORM_KERNEL(f32_bf16_bf16, float, bf16_bits, bf16_bits)
VIDPROBE_RESIDUAL_NORM_KERNEL(bf16_bf16_bf16, bf16_bits, bf16_bits, bf16_bits)

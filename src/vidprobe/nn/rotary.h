#pragma once
// Rotary position embeddings (Su et al., RoFormer): queries and keys are rotated, channel pair by
// channel pair, by angles that grow with the token's position, so that attention scores depend on
// relative positions. The angles are computed once per forward and shared by every block.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace vidprobe::nn {

struct RotaryAngles {
  enum class Pairing {
    // Channels (2i, 2i + 1) rotate together (Meta's 3D RoPE in V-JEPA 2).
    kInterleaved,
    // The head splits into `axes` equal blocks, one per grid axis; within a block of width d,
    // channels (i, i + d / 2) rotate together (RoPE2D of CroCo and VGGT).
    kSplitHalves,
  };
  // Broadcastable to the rotated tensor (B, heads, N, head_dim); applied in its dtype.
  torch::Tensor cos, sin;
  Pairing pairing = Pairing::kInterleaved;
  int axes = 1;
  // sin with pair_rotated's minus sign folded in, in cos's dtype; set by in_dtype(). A forward
  // through many blocks converts and signs its tables once instead of in every block.
  torch::Tensor signed_sin{};
};

// x (..., N, head_dim) -> x * cos + pair_rotated(x) * sin, pair_rotated((a, b)) = (-b, a),
// computed as x * cos + swapped(x) * signed_sin, swapped((a, b)) = (b, a): the same products
// (negation is exact), so the same bits, in three element-wise kernels and one copy. Tables not
// prepared for x's dtype are prepared on the fly (in_dtype). q and k may be rotated together as one
// (2, B, heads, N, head_dim) tensor. A float32 or bf16 CUDA tensor that rotary_kernel_accepts takes
// one runtime-compiled kernel each way (nn/runtime_kernel.h) that rounds every product and sum as
// those kernels do: the same values, in one pass instead of four and their intermediates, written
// in x's dimension order (nn/strided_rows.h, in_memory_order), as libtorch's element-wise
// kernels lay out their results.
torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryAngles& angles);

// Whether the runtime kernels can read x with angles prepared for its dtype, wherever x lies:
// 4 or more dimensions, channels adjacent (any other strides, such as the permuted view of a
// packed qkv projection, are read as they are), the dimensions before (batch, heads, N, head_dim)
// collapsible into one, and tables of (1 or the batch, 1, N, head_dim), contiguous, on x's device,
// outside autograd.
bool rotary_kernel_accepts(const torch::Tensor& x, const RotaryAngles& prepared);

// Whether apply_rotary takes the runtime kernels: rotary_kernel_accepts, on a CUDA device they
// were compiled for.
bool rotary_uses_runtime_kernels(const torch::Tensor& x, const RotaryAngles& prepared);

// The runtime kernels' source (compiled for sm_80 and sm_90 by a CPU test).
const std::string& rotary_kernel_source();

// The angles with cos, sin and signed_sin in `dtype`, ready for apply_rotary; prepared angles are
// returned as they are.
RotaryAngles in_dtype(const RotaryAngles& angles, torch::ScalarType dtype);

// RoPE2D over a token grid: positions (B, N, 2) int64 (row, column). The first half of a head's
// channels turns with the row, the second half with the column, each with the 1D frequencies
// base^(-2i / (head_dim / 2)). Angles in float32, shape (B, 1, N, head_dim). head_dim % 4 == 0.
RotaryAngles rope_2d(const torch::Tensor& positions, int64_t head_dim, double base);

// The (row, column) positions of an h x w patch grid in row-major order, (1, h * w, 2) int64:
// CroCo's PositionGetter (torch.cartesian_prod(arange(h), arange(w))).
torch::Tensor grid_positions(int64_t h, int64_t w, torch::Device device);

// RoPE over an N-dimensional token grid with interleaved pairs (diffusers' 3D RoPE of CogVideoX):
// positions (N, A) float, one column per axis (may be fractional); axis a owns axis_widths[a]
// consecutive channels of the head (in axis order, widths even), rotated with the frequencies
// theta^(-2i / axis_widths[a]), each used by the channel pair (2i, 2i + 1). Angles computed in
// float64, stored in float32 as (1, 1, N, sum of widths).
RotaryAngles rope_axes_interleaved(const torch::Tensor& positions,
                                   const std::vector<int64_t>& axis_widths, double theta);

// RoPE over an N-dimensional token grid with the head split in halves (Flux's axes rotated the
// way Open-Sora 2.0's Liger kernel does, rotate_half): positions (B, N, A) float, one column per
// axis. Axis a contributes axis_widths[a] / 2 frequencies theta^(-2i / axis_widths[a]); the
// concatenated head_dim / 2 angles turn channel j together with channel j + head_dim / 2. Angles
// in float32 (as Open-Sora computes them), shape (B, 1, N, sum of widths).
RotaryAngles rope_axes_split_halves(const torch::Tensor& positions,
                                    const std::vector<int64_t>& axis_widths, double theta);

// The angles with `tokens` unrotated tokens (cos 1, sin 0) put before the rotated ones, for joint
// sequences whose leading tokens carry no position (the text tokens of CogVideoX). Rotating by 0
// is exact, so those tokens come out unchanged. Prepared tables (in_dtype) stay prepared.
RotaryAngles with_unrotated_prefix(const RotaryAngles& angles, int64_t tokens);

// The same angles viewed with another token grouping (signed_sin too, if prepared), e.g. (B * S, 1,
// P, d) of per-frame sequences as (B, 1, S * P, d) of whole clips.
RotaryAngles regroup(const RotaryAngles& angles, at::IntArrayRef shape);

}  // namespace vidprobe::nn

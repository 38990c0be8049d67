#pragma once
// Small building blocks shared by the WAN modules. Each reads its weights from a Parameters store
// by name prefix, so the module code reads like the reference's module tree.
//
// Why WAN does not build from nn/ like the other families: its DiT, VAE and umT5 keep each
// parameter in the dtype diffusers keeps it in (matmul weights in the compute dtype, norms,
// modulation and time embedding in float32: ParamKind), loaded tensor by tensor from sharded
// checkpoints into one flat store; torch::nn modules cast a whole module to one dtype. The maths
// (LayerNorm / RMSNorm in float32, linear in the weight's dtype) is what the parity fixtures and
// the H200 runs (docs/wan.md) were measured with.
#include <torch/torch.h>

#include <string>

#include "vidprobe/backbones/wan/checkpoint.h"

namespace vidprobe::backbones::wan {

// Declares "<prefix>.weight" (out, in) and optionally "<prefix>.bias" (out).
void add_linear(Parameters& params, const std::string& prefix, int64_t in, int64_t out,
                bool bias = true, bool float32 = false);
// x @ weight^T + bias, computed in the weight's dtype (x is cast to it).
torch::Tensor linear(const Parameters& params, const std::string& prefix, const torch::Tensor& x,
                     bool bias = true);

// LayerNorm over the last dimension computed in float32 (returns float32), optionally affine with
// "<prefix>.weight" / "<prefix>.bias".
torch::Tensor layer_norm_f32(const torch::Tensor& x, double eps);
torch::Tensor layer_norm_f32(const Parameters& params, const std::string& prefix,
                             const torch::Tensor& x, double eps);

// RMSNorm over the last dimension with gain "<prefix>.weight": the statistics in float32, the
// result in x's dtype.
torch::Tensor rms_norm(const Parameters& params, const std::string& prefix, const torch::Tensor& x,
                       double eps);

}  // namespace vidprobe::backbones::wan

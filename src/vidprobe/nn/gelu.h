#pragma once
// The GELU variants of the feed-forward blocks, as a plain value (model configs that name one are
// parsed in the fuzz build, without libtorch).

namespace vidprobe::nn {

// The GELU of a feed-forward: exact (erf), the tanh approximation (diffusers'
// "gelu-approximate", used by the diffusion transformers) or OpenAI CLIP's quick GELU,
// x sigmoid(1.702 x) (transformers' "quick_gelu").
enum class Gelu { kExact, kTanh, kQuick };

}  // namespace vidprobe::nn

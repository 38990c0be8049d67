#pragma once
// CogVideoX transformer checkpoints: the diffusers layout of a published transformer/ folder
// (diffusion_pytorch_model*.safetensors, sharded with an index JSON for 5B) and its mapping onto
// the module's names. The checkpoint is checked against the diffusers layout first, so errors
// name diffusers' keys; then the attention and MLP keys are renamed for nn::Attention / nn::Mlp.
#include <string>

#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/cogvideox/config.h"
#include "vidprobe/backbones/cogvideox/transformer.h"

namespace vidprobe::backbones::cogvideox {

// Keys and shapes of diffusers' CogVideoXTransformer3DModel state_dict for `config` (the learned
// position table of 5B-I2V included: it is a persistent buffer).
ShapeMap transformer_hub_layout(const TransformerConfig& config);

// Diffusers-layout tensors -> the module's names (q/k/v fused into attn1.qkv, ...). Throws
// vidprobe::Error naming `source` and every missing, unexpected or mis-shaped diffusers key.
TensorMap transformer_module_tensors(TensorMap checkpoint, const TransformerConfig& config,
                                     const std::string& source);

// Reads a diffusers checkpoint (file or transformer/ directory, see read_checkpoint) into the
// model, strictly.
void load_transformer(Transformer& model, TensorMap checkpoint, const std::string& source);

// "CogVideoX transformer (48 heads x 64, 42 blocks, 32 input channels, RoPE + learned positions)"
std::string architecture_text(const TransformerConfig& config);

}  // namespace vidprobe::backbones::cogvideox

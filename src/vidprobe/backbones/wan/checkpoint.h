#pragma once
// Weights of the WAN models: a named parameter store (names in the diffusers layout, which is
// what the modules read), loading with strict name/shape checks, and the key mapping from the
// original Wan-Video release layout to the diffusers layout.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::wan {

// How a parameter is stored and, for random_init, initialised.
enum class ParamKind {
  kWeight,   // matmul/conv weight: compute dtype, N(0, 1/fan_in)
  kBias,     // compute dtype, zeros
  kScale,    // norm gain: float32, ones
  kFloat32,  // float32 whatever the compute dtype (timestep MLP, modulation tables), N(0, 1/fan_in)
  kFloat32Bias  // float32, zeros
};

class Parameters {
 public:
  // dtype: the compute dtype of kWeight/kBias parameters; the device may be meta (counting only).
  Parameters(torch::Device device, torch::Dtype dtype) : device_(device), dtype_(dtype) {}

  void add(const std::string& name, std::vector<int64_t> shape, ParamKind kind);
  // Throws vidprobe::Error naming the parameter when it was never declared.
  const torch::Tensor& operator[](const std::string& name) const;
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  std::vector<std::string> names() const;
  int64_t count() const;  // number of scalar parameters
  std::size_t bytes() const;
  torch::Device device() const { return device_; }
  torch::Dtype dtype() const { return dtype_; }

  // Moves every parameter; float32-kind parameters stay float32.
  void to(torch::Device device, torch::Dtype dtype);
  // Seeded random values (benchmarks, smoke tests); never for reported numbers.
  void randomize(std::uint64_t seed);
  // Copies checkpoint tensors (any float dtype, any device) into the parameters, consuming the
  // map entry by entry so host memory is released as it goes. Every parameter must be present
  // with its shape; checkpoint tensors for which ignore(name) holds are skipped; anything else
  // left over is an error. The error lists every missing, unexpected and mis-shaped key
  // (with both shapes) and names source.
  void load(TensorMap&& checkpoint, const std::string& source,
            const std::function<bool(const std::string&)>& ignore = {});

 private:
  struct Entry {
    torch::Tensor tensor;
    ParamKind kind;
  };
  torch::Dtype storage_dtype(ParamKind kind) const;
  torch::Device device_;
  torch::Dtype dtype_;
  std::map<std::string, Entry> entries_;
};

// ---- key layouts ----------------------------------------------------------------------------
// Original Wan-Video transformer keys (blocks.0.self_attn.q.weight, head.head.weight,
// time_embedding.0.weight, blocks.0.modulation, ...) to diffusers keys (blocks.0.attn1.to_q.weight,
// proj_out.weight, condition_embedder.time_embedder.linear_1.weight, blocks.0.scale_shift_table).
// Note the swap: the original norm3 (before cross-attention) is diffusers' norm2 and vice versa.
// Keys that are not part of the T2V model are returned unchanged.
std::string dit_key_from_original(const std::string& key);
// Strips a "model.diffusion_model." prefix and maps original keys when the map is in the
// original layout (diffusers keys pass unchanged).
TensorMap to_diffusers_dit_layout(TensorMap&& tensors);
bool is_original_dit_layout(const TensorMap& tensors);

// Original WanVAE keys (Wan2.1_VAE.pth: encoder.conv1, encoder.downsamples.N.residual.2,
// encoder.middle.1, encoder.head.2, conv1; decoder.conv1, decoder.middle.N, the flat
// decoder.upsamples.N, decoder.head.N, conv2) to diffusers AutoencoderKLWan keys (encoder.conv_in,
// encoder.down_blocks.N.conv1, encoder.mid_block.attentions.0, encoder.conv_out, quant_conv;
// decoder.up_blocks.B.resnets.J / upsamplers.0, post_quant_conv). num_res_blocks: the config's
// (each decoder up block holds num_res_blocks + 1 resnets).
std::string vae_key_from_original(const std::string& key, int num_res_blocks = 2);
TensorMap to_diffusers_vae_layout(TensorMap&& tensors, int num_res_blocks);
// Decoder-side VAE tensors (decoder.*, post_quant_conv.*): an encoder alone skips them, load_vae
// hands them to the decoder.
bool is_vae_decoder_key(const std::string& key);

}  // namespace vidprobe::backbones::wan

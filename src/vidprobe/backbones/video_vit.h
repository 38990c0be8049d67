#pragma once
// The video ViT encoder shared by VideoMAE, V-JEPA and V-JEPA 2: a 3D convolution (run as one
// GEMM, nn/patch_embed.h) turns tubelets of `tubelet` frames x patch x patch pixels into tokens
// (no class token), pre-norm ViT blocks (nn/vit.h) follow. The families differ only in positions:
//  * kSinusoidTable (VideoMAE): a fixed 1D sinusoid table over the flattened (t, y, x) token
//    index is added to the tokens;
//  * kStoredTable (V-JEPA): the checkpoint's table `pos_embed` (1, t0 * g * g, D) for the training
//    grid (t0 = frames / tubelet, g = image_size / patch) is added to the tokens, trilinearly
//    resized (align_corners false, scale factors t / t0, h / g, w / g as the reference passes
//    them) when the clip's token grid differs;
//  * kRotary3d (V-JEPA 2): no additive embedding; queries and keys of every block are rotated by
//    the token's frame, row and column, each on its own third of the head dimensions.
// Module names: patch_embed (Conv3d), [pos_embed,]
// blocks.<i>.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/checkpoint_config.h"
#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/nn/grid_key.h"
#include "vidprobe/nn/rotary.h"
#include "vidprobe/nn/tensor_snapshot.h"
#include "vidprobe/nn/vit.h"

namespace vidprobe::backbones {

enum class VideoPositions { kSinusoidTable, kStoredTable, kRotary3d };

struct VideoViTConfig {
  nn::ViTConfig vit;  // width, depth, heads, mlp_ratio, patch_size, norm_eps; image_size = the
                      // training crop (the input size); layer_scale false
  int tubelet = 2;    // frames per token
  int frames = 16;    // clip length the model was trained with (kStoredTable: the table's length)
  VideoPositions positions = VideoPositions::kSinusoidTable;
};

// VideoMAE's table: row p, column j = sin / cos (j even / odd) of p / 10000^(2 floor(j / 2) / D),
// computed in float64 as the reference does; (1, positions, width) float32.
torch::Tensor sinusoid_position_table(int64_t positions, int64_t width);

// V-JEPA 2's rotary angles for a (t, h, w) token grid in (t, y, x) order, interleaved pairs, cos
// and sin float32 (1, 1, t * h * w, head_dim). Each of the first three segments of 2 floor(head_dim
// / 6) dims rotates by frame, row, column; within a segment of s dims, dim j uses frequency
// 10000^-((j mod s/2) / (s/2)) (the reference's layout); the remaining dims are not rotated.
nn::RotaryAngles rotary_3d_angles(int64_t t, int64_t h, int64_t w, int64_t head_dim);

class VideoViTImpl : public torch::nn::Module {
 public:
  explicit VideoViTImpl(VideoViTConfig config);
  // video (B, 3, T, H, W), normalised; T a multiple of the tubelet, H and W of the patch. Returns
  // the tokens (B, T' * h * w, D) after each requested block (0-based).
  std::vector<torch::Tensor> block_tokens(const torch::Tensor& video,
                                          const std::vector<int>& layers);
  const VideoViTConfig& config() const { return config_; }
  // kStoredTable: the stored table resized to a (t, h, w) token grid, (1, t * h * w, D).
  torch::Tensor stored_positions(int64_t t, int64_t h, int64_t w) const;

  torch::nn::Conv3d patch_embed{nullptr};
  torch::Tensor pos_embed;  // kStoredTable only
  torch::nn::ModuleList blocks;

 private:
  // The additive table (kSinusoidTable, kStoredTable resized) or rotary angles (kRotary3d) of the
  // last token grid, on the last input's device and dtype: computing them costs milliseconds of
  // CPU per clip, as much as a ViT-L forward pass on a GPU (V-JEPA's resize: 1.3 ms of GPU time
  // per window at 480 x 832).
  struct GridPositions {
    nn::GridKey key;
    nn::TensorSnapshot stored;  // pos_embed when the table was resized (kStoredTable)
    torch::Tensor table;
    std::optional<nn::RotaryAngles> rotary;
  };
  const GridPositions& grid_positions(int64_t t, int64_t h, int64_t w, const torch::Tensor& like);

  VideoViTConfig config_;
  GridPositions positions_;
};
TORCH_MODULE(VideoViT);

// The checkpoint entries every family's block shares under `block_prefix` (e.g. "blocks.3."):
// norm1, norm2 (weight, bias) and mlp.fc1, mlp.fc2 of `config`; only the attention keys differ.
void add_norm_and_mlp_layout(ShapeMap& layout, const std::string& block_prefix,
                             const VideoViTConfig& config);

// How a backbone feeds clips to the network (extraction settings, not architecture).
struct VideoInput {
  int height = 0, width = 0;  // pixels; 0: the config's image_size
  // > 1: the clip is split as the authors' V-JEPA extraction does (video_tokens.h
  // spaced_partition): `spaced_clips` clips sharing frame 0, run as one batch.
  int spaced_clips = 1;
};

// A checkpoint-backed video backbone: per-frame maps by repeating each temporal token map over
// its tubelet (video_tokens.h). `to_module_tensors` turns a checkpoint into the module's names
// after the family's strict layout check. A config.json beside the weights must agree with
// `hub_config` (checked before the weights are read). With no weights and options.random_init:
// seeded random.
// Input: `input` (default config.vit.image_size square), ImageNet mean/std; default point: the
// last block (its output, no final norm).
using CheckpointToModule = std::function<TensorMap(
    TensorMap checkpoint, const VideoViTConfig& config, const std::string& source)>;
std::unique_ptr<Backbone> make_video_vit_backbone(
    const std::string& name, const VideoViTConfig& config, const BackboneOptions& options,
    const CheckpointToModule& to_module_tensors, const std::string& architecture,
    const HubConfigExpectation& hub_config, const VideoInput& input = {});

}  // namespace vidprobe::backbones

#pragma once
// VGGT (Wang et al., CVPR 2025, "Visual Geometry Grounded Transformer"), the paper's 3D-expert
// reference: a DINOv2-L/14-with-registers patch embedding, an aggregator of alternating frame /
// global attention blocks with a camera token and register tokens per frame (the first frame gets
// its own pair), and three heads: the camera head (iterative refinement of the absT_quaR_FoV
// encoding) and two DPT heads (depth, world points). Every layer comes from nn/ (transformer.h,
// alternating_attention.h, dpt_head.h, camera_head.h and the DINOv2 ViT of vit.h), as the probe's
// do; this file only assembles them with VGGT's constants. See docs/vggt.md for the key names.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/vggt/config.h"
#include "vidprobe/nn/alternating_attention.h"
#include "vidprobe/nn/camera_head.h"
#include "vidprobe/nn/dpt_head.h"
#include "vidprobe/nn/geometry_prediction.h"
#include "vidprobe/nn/vit.h"

namespace vidprobe::backbones {

// The aggregator: images -> per-block concat(frame output, global output), (B, S, P, 2 width).
class VggtAggregatorImpl : public torch::nn::Module {
 public:
  explicit VggtAggregatorImpl(const VggtConfig& config);
  // images (B, S, 3, H, W) in [0, 1]; H, W multiples of the patch size. Normalised inside with
  // the ImageNet mean/std (in float32, then cast to the weights' dtype). Runs the blocks up to
  // and including last_block (-1 = all).
  nn::AggregatorOutput forward(const torch::Tensor& images, int last_block = -1);

  VggtConfig config;
  nn::ViT patch_embed{nullptr};
  torch::Tensor camera_token;    // (1, 2, 1, width): [first frame, other frames]
  torch::Tensor register_token;  // (1, 2, registers, width)
  torch::nn::ModuleList frame_blocks, global_blocks;
};
TORCH_MODULE(VggtAggregator);

class VggtModelImpl : public torch::nn::Module {
 public:
  explicit VggtModelImpl(const VggtConfig& config);
  // images (B, S, 3, H, W) in [0, 1] -> pose encodings per refinement iteration, depth (B, S, H,
  // W), depth_conf, world_points (B, S, H, W, 3), world_points_conf; heads in float32.
  nn::GeometryPrediction forward(const torch::Tensor& images);
  // What pseudo-GT needs, at bounded memory: the cameras (all iterations) and the depth head's
  // depth and depth_conf, the depth head run over at most frame_chunk frames at a time (its
  // output is per frame; VGGT's own DPT head chunks the same way, frames_chunk_size 8) with only
  // the intermediates it reads cast to float32 per chunk. The point head is not run
  // (world_points stay undefined). Same values as forward() for any chunk size.
  nn::GeometryPrediction forward_depth_and_cameras(const torch::Tensor& images,
                                                   int64_t frame_chunk);

  VggtConfig config;
  VggtAggregator aggregator{nullptr};
  nn::CameraHead camera_head{nullptr};
  nn::DptHead depth_head{nullptr}, point_head{nullptr};
};
TORCH_MODULE(VggtModel);

// Checkpoint loading. The released checkpoint (model.safetensors / model.pt state dict of `VGGT`)
// has aggregator.*, camera_head.*, depth_head.*, point_head.* and track_head.*; the track head is
// not built here, so its keys are dropped and reported in `ignored` (never loaded silently).
struct VggtCheckpoint {
  TensorMap module_tensors;          // keys of VggtModel's parameters
  std::vector<std::string> ignored;  // one line per dropped group, e.g. "track_head.* (394 keys)"
};

// The checkpoint layout (reference key -> shape) of a configuration, track head excluded.
ShapeMap vggt_reference_layout(const VggtConfig& config);
// Strict: every key of the layout present with its shape, no other key except track_head.*;
// otherwise a vidprobe::Error naming `source` and listing the first mismatches.
VggtCheckpoint vggt_module_tensors(TensorMap checkpoint, const VggtConfig& config,
                                   const std::string& source);
// Builds the model and loads `path` strictly (a notice about ignored keys goes to stderr).
VggtModel load_vggt_model(const std::string& path, const VggtConfig& config);

// The `vggt-1b` backbone: features = the aggregator's output after a block as its heads read it,
// concat(frame layer output, global layer output), patch tokens only: (T, 2 width, h, w).
// The whole clip goes through the aggregator at once (global attention spans its frames).
// Input: 518 x 518 (VGGT's "crop" preprocessing: width 518, height a multiple of 14; square
// clips here), ImageNet mean/std.
std::unique_ptr<Backbone> make_vggt_backbone(const std::string& name, const VggtConfig& config,
                                             const BackboneOptions& options, int input_size = 518);

}  // namespace vidprobe::backbones

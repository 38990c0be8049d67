#pragma once
// Fast3R as a vidprobe Backbone, as the paper extracts it (VidFM3D features/f3r): every frame of
// the clip goes through the model at once; the features are one of the decoder's returned maps,
// per frame (T, C, h, w).
//
// Layers index that returned list, as the authors' --output-layers does: 0 = the encoder's output
// (after enc_norm, all frames), i = decoder block i - 1, depth = dec_norm(last block). The paper
// keeps 24 (feat_postfix _l24 in configs/experiment/*/f3r.yaml), the default.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/fast3r/model.h"
#include "vidprobe/backbones/registry.h"

namespace vidprobe::backbones::fast3r {

// `--backbone-opt key=value` settings:
//   size              input HxW (default 288x512: dust3r's load_images(size=512) of 16:9 frames,
//                     the paper's (T, 18, 32, 1024) maps; multiples of the patch size)
//   image_ids         random (the released configs' random_image_idx_embedding) or sequential
//                     (frame s -> index s); default: the checkpoint config's setting
//   image_index_seed  seed of the randperm generator for every clip; unset: the extraction
//                     point's noise seed (--noise-seed, a fresh one per clip with --noise-per-clip,
//                     as the official decoder draws a fresh seed every forward pass)
struct FeatureOptions {
  int height = 288, width = 512;
  std::optional<bool> random_image_ids;
  std::optional<std::uint64_t> image_index_seed;
};
FamilyOptions family_options();
FeatureOptions feature_options_from(const std::string& backbone,
                                    const std::map<std::string, std::string>& extra);

class Fast3rBackbone : public Backbone {
 public:
  Fast3rBackbone(std::string name, Fast3r model, FeatureOptions options);
  std::string name() const override { return name_; }
  InputSpec input_spec() const override;
  int num_layers() const override { return model_->config.maps(); }
  // The decoder's width (map 0, the encoder's output, has the encoder's: equal in the published
  // model).
  int feature_dim() const override { return model_->config.decoder.embed_dim; }
  ExtractionPoint default_point() const override;
  FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) override;
  std::vector<FeatureMaps> extract_many(const torch::Tensor& clip,
                                        const std::vector<ExtractionPoint>& points) override;
  void to(torch::Device device, torch::Dtype dtype) override;

  // The image index of each of `frames` frames for an extraction point.
  torch::Tensor image_indices(int64_t frames, const ExtractionPoint& point) const;

 private:
  std::string name_;
  Fast3r model_;
  FeatureOptions options_;
};

std::vector<BackboneInfo> fast3r_backbones();
// options.weights: the hub directory (model.safetensors and config.json) or the safetensors file
// (a config.json beside it is read); without config.json the registered size. With
// options.random_init and no weights: that size with seeded random weights.
std::unique_ptr<Backbone> make_fast3r_backbone(const std::string& name,
                                               const BackboneOptions& options,
                                               const FeatureOptions& feature_options);

}  // namespace vidprobe::backbones::fast3r

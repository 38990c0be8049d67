// VGGT-1B at the published size against the code the authors' pseudo-GT runs (zxhuang1698/VidFM3D
// vidfm3d/vggt, their copy of facebookresearch/vggt) on the GPU: `bench/official_reference.py make
// vggt DIR` writes a random VGGT() under the released key names (model.safetensors, track head
// included) and VGGT.forward's float32 pose encoding, depth and depth confidence for an 8-frame
// clip at 294 x 518; run with VIDPROBE_VGGT_PARITY_DIR=DIR on a GPU (scripts/gpu-official.sh).
// Skipped elsewhere. The path checked is `vidprobe annotate`'s: forward_depth_and_cameras with the
// depth head over chunks of 3 frames (3 + 3 + 2: the chunk seams inside the clip), float32 heads.
// Where the file also holds their bf16-autocast outputs (extract_points.py's precision), vidprobe's
// bf16 run is also compared with those, and their distance to float32 is printed beside it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <string>

#include "backbones/real_size_support.h"
#include "vidprobe/backbones/vggt/model.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones {
namespace {

namespace rs = vidprobe::testing::real_size;

constexpr int64_t kFrameChunk = 3;  // 3 + 3 + 2 over the 8-frame clip

struct VggtParityErrors {
  double pose_max_rel, depth_max_rel, conf_max_rel, depth_norm_rel, conf_norm_rel;
};

// The errors of (pose_enc, depth, depth_conf) against the reference's tensors named with `suffix`.
VggtParityErrors compare_with_reference(const torch::Tensor& pose, const torch::Tensor& depth,
                                        const torch::Tensor& conf, const TensorMap& reference,
                                        const std::string& suffix = "") {
  const auto& pose_ref = reference.at("pose_enc" + suffix);
  const auto& depth_ref = reference.at("depth" + suffix);
  const auto& conf_ref = reference.at("depth_conf" + suffix);
  return {rs::max_relative_error(pose, pose_ref), rs::max_relative_error(depth, depth_ref),
          rs::max_relative_error(conf, conf_ref), rs::norm_relative_error(depth, depth_ref),
          rs::norm_relative_error(conf, conf_ref)};
}

VggtParityErrors compare_with_reference(const nn::GeometryPrediction& got,
                                        const TensorMap& reference,
                                        const std::string& suffix = "") {
  return compare_with_reference(got.pose_encoding().squeeze(0),                 // (S, 9)
                                got.depth.squeeze(0).unsqueeze(-1),             // (S, H, W, 1)
                                got.depth_conf.squeeze(0), reference, suffix);  // (S, H, W)
}

void print_parity_line(const std::string& what, const VggtParityErrors& e,
                       const torch::Tensor& clip) {
  std::cout << "{\"benchmark\": \"official_real_size_parity\", \"family\": \"vggt\", "
               "\"backbone\": \"vggt-1b-annotate\", \"compared\": \""
            << what << "\", \"frame_chunk\": " << kFrameChunk << ", \"frames\": " << clip.size(0)
            << ", \"height\": " << clip.size(2) << ", \"width\": " << clip.size(3)
            << ", \"pose_enc_max_rel\": " << e.pose_max_rel
            << ", \"depth_max_rel\": " << e.depth_max_rel
            << ", \"depth_conf_max_rel\": " << e.conf_max_rel
            << ", \"depth_norm_rel\": " << e.depth_norm_rel
            << ", \"depth_conf_norm_rel\": " << e.conf_norm_rel << "}\n";
}

TEST(VggtCuda, RealSizeAnnotationPathMatchesTheAuthorsCode) {
  const auto dir = rs::parity_dir("VIDPROBE_VGGT_PARITY_DIR");
  const auto device = rs::parity_device();
  if (!dir || !device) GTEST_SKIP() << "set VIDPROBE_VGGT_PARITY_DIR on a GPU";
  const auto reference = load_safetensors(*dir / "parity.safetensors");
  const auto& clip = reference.at("clip");  // (S, 3, H, W) in [0, 1]
  auto model = load_vggt_model((*dir / "model.safetensors").string(), vggt_1b_config());
  model->to(*device);
  const auto images = clip.unsqueeze(0).to(*device);
  torch::NoGradGuard no_grad;
  const rs::ExactFloat32 exact;
  const auto fp32 =
      compare_with_reference(model->forward_depth_and_cameras(images, kFrameChunk), reference);
  print_parity_line("vidprobe fp32 vs their fp32", fp32, clip);
  // `vidprobe annotate --compute-dtype bf16`: the aggregator in bf16, the heads in float32.
  model->aggregator->to(torch::kBFloat16);
  const auto bf16_run = model->forward_depth_and_cameras(images, kFrameChunk);
  const auto bf16 = compare_with_reference(bf16_run, reference);
  print_parity_line("vidprobe bf16 vs their fp32", bf16, clip);
  if (reference.count("pose_enc_autocast") > 0) {
    print_parity_line("vidprobe bf16 vs their bf16 autocast",
                      compare_with_reference(bf16_run, reference, "_autocast"), clip);
    print_parity_line(
        "their bf16 autocast vs their fp32",
        compare_with_reference(reference.at("pose_enc_autocast"), reference.at("depth_autocast"),
                               reference.at("depth_conf_autocast"), reference),
        clip);
  }
  EXPECT_LT(fp32.pose_max_rel, 1e-3);
  EXPECT_LT(fp32.depth_max_rel, 1e-3);
  EXPECT_LT(fp32.conf_max_rel, 1e-3);
  // bf16 observed on the H100 (2026-12-06, chunks of 8): pose 3.6e-2, depth 7.3e-5 (norm).
  EXPECT_LT(bf16.pose_max_rel, 0.1);
  EXPECT_LT(bf16.depth_norm_rel, 2e-3);
  EXPECT_LT(bf16.conf_norm_rel, 2e-3);
}

}  // namespace
}  // namespace vidprobe::backbones

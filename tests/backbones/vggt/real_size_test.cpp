// VGGT-1B at the published size against the code the authors' pseudo-GT runs (zxhuang1698/VidFM3D
// vidfm3d/vggt, their copy of facebookresearch/vggt) on the GPU: `bench/official_reference.py make
// vggt DIR` writes a random VGGT() under the released key names (model.safetensors, track head
// included) and VGGT.forward's float32 pose encoding, depth and depth confidence for an 8-frame
// clip at 294 x 518; run with VIDPROBE_VGGT_PARITY_DIR=DIR on a GPU (scripts/gpu-official.sh).
// Skipped elsewhere. The path checked is `vidprobe annotate`'s: forward_depth_and_cameras, the
// depth head over chunks of 8 frames, float32 heads.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

#include "backbones/real_size_support.h"
#include "vidprobe/backbones/vggt/model.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones {
namespace {

namespace rs = vidprobe::testing::real_size;

struct VggtParityErrors {
  double pose_max_rel, depth_max_rel, conf_max_rel, depth_norm_rel, conf_norm_rel;
};

VggtParityErrors compare_with_reference(const nn::GeometryPrediction& got,
                                        const TensorMap& reference) {
  const auto pose = got.pose_encoding().squeeze(0);       // (S, 9)
  const auto depth = got.depth.squeeze(0).unsqueeze(-1);  // (S, H, W, 1) as VGGT's
  const auto conf = got.depth_conf.squeeze(0);            // (S, H, W)
  return {rs::max_relative_error(pose, reference.at("pose_enc")),
          rs::max_relative_error(depth, reference.at("depth")),
          rs::max_relative_error(conf, reference.at("depth_conf")),
          rs::norm_relative_error(depth, reference.at("depth")),
          rs::norm_relative_error(conf, reference.at("depth_conf"))};
}

void print_parity_line(const char* dtype, const VggtParityErrors& e, const torch::Tensor& clip) {
  std::cout << "{\"benchmark\": \"official_real_size_parity\", \"family\": \"vggt\", "
               "\"backbone\": \"vggt-1b-annotate\", \"dtype\": \""
            << dtype << "\", \"frames\": " << clip.size(0) << ", \"height\": " << clip.size(2)
            << ", \"width\": " << clip.size(3) << ", \"pose_enc_max_rel\": " << e.pose_max_rel
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
  const auto fp32 = compare_with_reference(model->forward_depth_and_cameras(images, 8), reference);
  print_parity_line("fp32", fp32, clip);
  // `vidprobe annotate --compute-dtype bf16`: the aggregator in bf16, the heads in float32.
  model->aggregator->to(torch::kBFloat16);
  const auto bf16 = compare_with_reference(model->forward_depth_and_cameras(images, 8), reference);
  print_parity_line("bf16", bf16, clip);
  EXPECT_LT(fp32.pose_max_rel, 1e-3);
  EXPECT_LT(fp32.depth_max_rel, 1e-3);
  EXPECT_LT(fp32.conf_max_rel, 1e-3);
  EXPECT_LT(bf16.depth_norm_rel, 0.1);
  EXPECT_LT(bf16.conf_norm_rel, 0.1);
}

}  // namespace
}  // namespace vidprobe::backbones

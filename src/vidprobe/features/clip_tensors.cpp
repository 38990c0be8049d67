#include "vidprobe/features/clip_tensors.h"

#include <torch/torch.h>

#include "vidprobe/core/error.h"
#include "vidprobe/data/resize.h"

namespace vidprobe::features {

torch::Tensor image_to_tensor(const ImageU8& image) {
  require(image.channels == 3,
          "expected an RGB image, got " + std::to_string(image.channels) + " channels");
  return torch::from_blob(const_cast<std::uint8_t*>(image.pixels.data()),
                          {image.height, image.width, 3}, torch::kUInt8)
      .permute({2, 0, 1})
      .clone();
}

ResizeMode parse_resize_mode(const std::string& name) {
  if (name == "crop") return ResizeMode::kCrop;
  if (name == "squash") return ResizeMode::kSquash;
  throw Error("--resize must be crop or squash; got '" + name + "'");
}

std::string to_string(ResizeMode mode) {
  return mode == ResizeMode::kSquash ? "squash" : "crop";
}

void check_input_processor(const ImageProcessorSpec& processor, ResizeMode mode, int input_width,
                           int input_height) {
  // A crop fixes the output size, as does a squash; a short-side resize alone does not.
  const auto output = processor.center_crop                   ? *processor.center_crop
                      : processor.rule == ResizeRule::kSquash ? processor.size
                                                              : Size2{};
  require(output == Size2{input_width, input_height}, [&] {
    return "input processor '" + processor.name + "' makes " + std::to_string(output.width) + "x" +
           std::to_string(output.height) + " images but the backbone takes " +
           std::to_string(input_width) + "x" + std::to_string(input_height);
  });
  const bool crops = processor.center_crop.has_value();
  require(crops == (mode == ResizeMode::kCrop), [&] {
    return "input processor '" + processor.name + "' " + (crops ? "crops" : "squashes") +
           " the frame but --resize is " + to_string(mode) +
           ": the ground truth would not show the same field of view";
  });
}

ClipTensors clip_to_tensors(const Clip& clip, int input_width, int input_height, int gt_width,
                            int gt_height, ResizeMode mode,
                            const std::optional<ImageProcessorSpec>& processor) {
  require(!clip.frames.empty(), "clip '" + clip.id + "' has no frames");
  const auto fit = [mode](const Frame& frame, int width, int height) {
    return mode == ResizeMode::kSquash ? resize_frame(frame, width, height)
                                       : resize_and_center_crop(frame, {width, height, 1});
  };
  const auto input_rgb = [&](const Frame& frame) {
    if (!processor) return fit(frame, input_width, input_height).rgb;
    return apply_processor(*processor, frame.rgb);
  };
  if (processor) check_input_processor(*processor, mode, input_width, input_height);
  std::vector<torch::Tensor> inputs, images, depths, valids, confidences, extrinsics, intrinsics;
  for (const auto& frame : clip.frames) {
    inputs.push_back(image_to_tensor(input_rgb(frame)).to(torch::kFloat32) / 255.0);
    const auto gt = fit(frame, gt_width, gt_height);
    images.push_back(image_to_tensor(gt.rgb));
    if (gt.depth.empty()) {
      depths.push_back(torch::zeros({gt_height, gt_width}));
      valids.push_back(torch::zeros({gt_height, gt_width}, torch::kBool));
    } else {
      depths.push_back(
          torch::from_blob(const_cast<float*>(gt.depth.pixels.data()), {gt_height, gt_width})
              .clone());
      valids.push_back(torch::from_blob(const_cast<std::uint8_t*>(gt.valid.pixels.data()),
                                        {gt_height, gt_width}, torch::kUInt8)
                           .gt(0));
    }
    if (!gt.confidence.empty())
      confidences.push_back(
          torch::from_blob(const_cast<float*>(gt.confidence.pixels.data()), {gt_height, gt_width})
              .clone());
    extrinsics.push_back(torch::tensor(std::vector<double>(gt.camera.cam_from_world.begin(),
                                                           gt.camera.cam_from_world.end()))
                             .view({3, 4})
                             .to(torch::kFloat32));
    intrinsics.push_back(torch::tensor(std::vector<double>(gt.camera.K.begin(), gt.camera.K.end()))
                             .view({3, 3})
                             .to(torch::kFloat32));
  }
  ClipTensors out;
  out.backbone_input = torch::stack(inputs);
  out.gt_images = torch::stack(images);
  out.depth = torch::stack(depths);
  // Depth that is not finite or not positive is never valid ground truth.
  out.valid = torch::stack(valids) & torch::isfinite(out.depth) & out.depth.gt(0);
  out.depth = torch::where(out.valid, out.depth, torch::zeros_like(out.depth));
  out.extrinsics = torch::stack(extrinsics);
  out.intrinsics = torch::stack(intrinsics);
  if (confidences.empty()) return out;
  // One weighting for the whole clip: frames weighted by confidence next to frames weighted by
  // their valid mask would put two scales into one loss.
  require(confidences.size() == clip.frames.size(),
          "clip '" + clip.id + "': " + std::to_string(confidences.size()) + " of " +
              std::to_string(clip.frames.size()) + " frames have a confidence map (all or none)");
  out.confidence = torch::stack(confidences);
  return out;
}

}  // namespace vidprobe::features

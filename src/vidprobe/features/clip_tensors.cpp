#include "vidprobe/features/clip_tensors.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>

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

torch::Tensor unit_interval_table(const torch::Device& device) {
  // Computed by the very operation on the CPU, whatever the device: CUDA's division by a scalar
  // multiplies by the reciprocal instead, which can differ in the last bit.
  return (torch::arange(256, torch::kUInt8).to(torch::kFloat32) / 255.0).to(device);
}

torch::Tensor backbone_input(const torch::Tensor& pixels, const torch::Tensor& table,
                             bool non_blocking) {
  require(pixels.defined() && pixels.scalar_type() == torch::kUInt8 && pixels.dim() == 4 &&
              pixels.size(1) == 3,
          [&] {
            return "backbone pixels must be (frames, 3, height, width) uint8; got " +
                   (pixels.defined() ? std::string(c10::toString(pixels.scalar_type())) + " of " +
                                           "shape " + c10::str(pixels.sizes())
                                     : std::string("an undefined tensor"));
          });
  require(table.defined() && table.scalar_type() == torch::kFloat32 && table.numel() == 256,
          "backbone_input: the table must be unit_interval_table()'s 256 floats");
  const auto device = table.device();
  const auto on_device = pixels.to(device, non_blocking);
  auto input = torch::empty(pixels.sizes(), torch::TensorOptions(torch::kFloat32).device(device));
  // A frame at a time: the 32-bit indices of a whole clip (81 frames at 480 x 832) would take as
  // much memory again as its floats.
  for (int64_t t = 0; t < pixels.size(0); ++t) {
    auto frame = input[t].view({-1});
    torch::index_select_out(frame, table, 0, on_device[t].reshape({-1}).to(torch::kInt32));
  }
  return input;
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

namespace {

// An RGB image of width x height as three planes (channel, row, column) at `out`: the permute of
// image_to_tensor without the tensors in between.
void write_planes(const ImageU8& image, int width, int height, std::uint8_t* out) {
  require(image.channels == 3,
          "expected an RGB image, got " + std::to_string(image.channels) + " channels");
  require(image.width == width && image.height == height, [&] {
    return "expected a " + std::to_string(width) + "x" + std::to_string(height) + " image, got " +
           std::to_string(image.width) + "x" + std::to_string(image.height);
  });
  const std::size_t plane = static_cast<std::size_t>(width) * height;
  const std::uint8_t* pixels = image.pixels.data();
  for (std::size_t i = 0; i < plane; ++i) {
    out[i] = pixels[3 * i];
    out[plane + i] = pixels[3 * i + 1];
    out[2 * plane + i] = pixels[3 * i + 2];
  }
}

}  // namespace

ClipTensors clip_to_tensors(const Clip& clip, int input_width, int input_height, int gt_width,
                            int gt_height, ResizeMode mode,
                            const std::optional<ImageProcessorSpec>& processor,
                            HostMemory input_memory) {
  require(!clip.frames.empty(), "clip '" + clip.id + "' has no frames");
  const auto fit = [mode](const Frame& frame, int width, int height) {
    return mode == ResizeMode::kSquash ? resize_frame(frame, width, height)
                                       : resize_and_center_crop(frame, {width, height, 1});
  };
  // The input's RGB alone: the frame's other maps are the ground truth's business.
  const auto fit_rgb = [mode](const Frame& frame, int width, int height) {
    return mode == ResizeMode::kSquash ? resize_bilinear(frame.rgb, width, height)
                                       : resize_and_center_crop_rgb(frame, {width, height, 1});
  };
  // Input and ground truth of one size (extraction's default, --gt-size unset) come from one
  // resize: the same call on the same frame gives the same pixels.
  const bool input_is_gt_rgb = !processor && input_width == gt_width && input_height == gt_height;
  if (processor) check_input_processor(*processor, mode, input_width, input_height);
  // Every frame is written straight into the clip's tensors (no tensor per frame, no stack).
  const auto frames = static_cast<int64_t>(clip.frames.size());
  const auto pixels = [](HostMemory memory) {
    return torch::TensorOptions(torch::kUInt8).pinned_memory(memory == HostMemory::kPinned);
  };
  ClipTensors out;
  // One tensor for both when the input is the ground truth's RGB, in the input's memory.
  out.gt_images = torch::empty({frames, 3, gt_height, gt_width},
                               pixels(input_is_gt_rgb ? input_memory : HostMemory::kPageable));
  out.backbone_pixels =
      input_is_gt_rgb ? out.gt_images
                      : torch::empty({frames, 3, input_height, input_width}, pixels(input_memory));
  // Depth that is not finite or not positive is never valid ground truth; depth is 0 where the
  // ground truth is not valid (frames without depth: all 0, nothing valid). Every value is written
  // below: torch::zeros would fill them in an OpenMP region, whose threads a loader thread then
  // keeps spinning (a tenth of the load's CPU in libgomp under perf).
  out.depth = torch::empty({frames, gt_height, gt_width}, torch::kFloat32);
  out.valid = torch::empty({frames, gt_height, gt_width}, torch::kBool);
  const std::size_t gt_plane = static_cast<std::size_t>(gt_width) * gt_height;
  std::vector<torch::Tensor> confidences, extrinsics, intrinsics;
  for (int64_t t = 0; t < frames; ++t) {
    const auto& frame = clip.frames[static_cast<std::size_t>(t)];
    const auto gt = fit(frame, gt_width, gt_height);
    write_planes(gt.rgb, gt_width, gt_height, out.gt_images[t].data_ptr<std::uint8_t>());
    if (!input_is_gt_rgb)
      write_planes(processor ? apply_processor(*processor, frame.rgb)
                             : fit_rgb(frame, input_width, input_height),
                   input_width, input_height, out.backbone_pixels[t].data_ptr<std::uint8_t>());
    float* depth_out = out.depth[t].data_ptr<float>();
    bool* valid_out = out.valid[t].data_ptr<bool>();
    if (gt.depth.empty()) {
      std::fill_n(depth_out, gt_plane, 0.0f);
      std::fill_n(valid_out, gt_plane, false);
    } else {
      require(gt.depth.pixels.size() == gt_plane && gt.valid.pixels.size() == gt_plane,
              "clip '" + clip.id + "': a frame's depth and valid mask differ in size");
      const float* depth_in = gt.depth.pixels.data();
      const std::uint8_t* valid_in = gt.valid.pixels.data();
      constexpr float kInfinity = std::numeric_limits<float>::infinity();
      for (std::size_t p = 0; p < gt_plane; ++p) {
        const float z = depth_in[p];
        // Finite and positive as two comparisons NaN fails, without branches, so that it
        // vectorises.
        const bool ok = (valid_in[p] != 0) & (z > 0.0f) & (z < kInfinity);
        valid_out[p] = ok;
        depth_out[p] = ok ? z : 0.0f;
      }
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

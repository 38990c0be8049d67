#pragma once
// Named descriptions of how reference code turns a frame into a model's input pixels, applied with
// the PIL-exact resampler (data/pil_resample.h) so our pixels match theirs bit for bit:
//
//   hf-dinov2       transformers' BitImageProcessor as configured for facebook/dinov2-*
//                   (preprocessor_config.json: shortest edge 256, BICUBIC, centre crop 224 x 224)
//   hf-videomae     transformers' VideoMAEImageProcessor defaults (shortest edge 224, BILINEAR,
//                   centre crop 224 x 224), applied frame by frame
//   vidfm3d-wan     VidFM3D's WAN path, diffusers' VideoProcessor.preprocess_video(height=480,
//                   width=832): the whole frame LANCZOS-resized to 832 x 480 (squashed, no crop)
//   vidfm3d-cogvideox  VidFM3D's CogVideoX and Aether paths, the same VideoProcessor call with
//                   height=480, width=720: the whole frame LANCZOS-resized to 720 x 480
//   vidfm3d-dinov2  VidFM3D's DINOv2 path: the whole frame BICUBIC-resized to 728 x 420 (squashed)
//   vidfm3d-vjepa   VidFM3D's V-JEPA path, torchvision Resize((480, 832)) of a PIL image: the
//                   whole frame BILINEAR-resized to 832 x 480 (squashed)
//   vidfm3d-fast3r  VidFM3D's Fast3R path, dust3r's load_images(size=512): the long side
//                   LANCZOS-resized to 512, then cropped to multiples of 16 about the centre;
//                   for 16:9 frames larger than 512 x 288 (the paper's 960 x 540) exactly the
//                   whole frame LANCZOS-resized to 512 x 288, which is what this spec does
//   vidfm3d-opensora  VidFM3D's Open-Sora path (features/opensora/opensora_features.py
//                   frames_to_tensor): frame.resize((848, 480), BICUBIC), the whole frame squashed
//
// Only the geometry and the 8-bit resampling are described; rescaling to [0, 1] and mean/std
// normalisation stay with the backbone.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vidprobe/data/frame.h"
#include "vidprobe/data/pil_resample.h"
#include "vidprobe/data/resize.h"

namespace vidprobe {

enum class ResizeRule {
  kSquash,        // to exactly `size`, aspect ratio not kept
  kShortestEdge,  // shorter side to `shortest_edge`, the longer scaled and truncated (transformers)
};

struct ImageProcessorSpec {
  std::string name;
  PilFilter filter = PilFilter::kBicubic;
  ResizeRule rule = ResizeRule::kSquash;
  Size2 size;             // kSquash: the output size
  int shortest_edge = 0;  // kShortestEdge: the shorter side's length after resizing
  std::optional<Size2> center_crop;
};

// The named specs above. Throws vidprobe::Error naming `name` and the known names.
const ImageProcessorSpec& image_processor_spec(std::string_view name);
std::vector<std::string> image_processor_names();

// Where the pixels of an input of a given size go: resized to `resized`, then the window at
// (crop_x0, crop_y0) of size `output` is kept (the whole resized image when the spec has no crop).
struct ProcessorGeometry {
  Size2 input, resized, output;
  int crop_x0 = 0, crop_y0 = 0;
};

// Throws vidprobe::Error naming the spec and the sizes when a size is not positive or the crop is
// larger than the resized image (transformers zero-pads there; no spec here needs that).
ProcessorGeometry processor_geometry(const ImageProcessorSpec& spec, Size2 input);

// The spec's pixels for an 8-bit image (1 to 4 channels, as pil_resize).
ImageU8 apply_processor(const ImageProcessorSpec& spec, const ImageU8& image);

// The camera of the processed image (scale_camera then crop_camera, exact per axis); the
// camera's width and height must be those of the image it describes.
Camera apply_processor(const ImageProcessorSpec& spec, const Camera& camera);

}  // namespace vidprobe

#pragma once
// A dataset clip as the tensors extraction needs: the backbone's input at its resolution and the
// ground truth at the probe's resolution. Both are cover-resized and centre-cropped from the same
// frames, so they show the same field of view.
#include <torch/types.h>

#include <optional>
#include <string>

#include "vidprobe/data/frame.h"
#include "vidprobe/data/image_processor.h"

namespace vidprobe::features {

struct ClipTensors {
  // (T, 3, h_in, w_in) uint8: the backbone's input as pixels, a quarter of its floats' bytes to
  // hold and to upload; backbone_input() makes them the input where it runs.
  torch::Tensor backbone_pixels;
  torch::Tensor gt_images;   // (T, 3, H, W) uint8
  torch::Tensor depth;       // (T, H, W) float
  torch::Tensor valid;       // (T, H, W) bool
  torch::Tensor confidence;  // (T, H, W) float, or undefined when the frames carry none
  torch::Tensor extrinsics;  // (T, 3, 4) float
  torch::Tensor intrinsics;  // (T, 3, 3) float, at H x W
};

enum class ResizeMode { kCrop, kSquash };
// "crop" | "squash"; throws vidprobe::Error naming the value otherwise.
ResizeMode parse_resize_mode(const std::string& name);
std::string to_string(ResizeMode mode);

// Where the backbone pixels are allocated. kPinned: page-locked memory from CUDA's caching host
// allocator, for pixels bound to a GPU; their upload can then be queued behind the device's work
// (non_blocking), and a loader thread reuses cached blocks where pageable memory of that size
// (over glibc's 32 MB mmap threshold: a WAN clip of 81 frames at 480 x 832) is mapped and faulted
// in anew for every clip. Needs a CUDA device.
enum class HostMemory { kPageable, kPinned };

// The backbone input is resized with our antialiased bilinear filter unless `processor` names how
// reference code makes it (data/image_processor.h: PIL-exact pixels); its output must be the
// input size, and it must crop exactly when `mode` does, so input and GT keep one field of view.
// Throws vidprobe::Error naming the processor and the sizes otherwise.
ClipTensors clip_to_tensors(const Clip& clip, int input_width, int input_height, int gt_width,
                            int gt_height, ResizeMode mode = ResizeMode::kCrop,
                            const std::optional<ImageProcessorSpec>& processor = std::nullopt,
                            HostMemory input_memory = HostMemory::kPageable);
// The check above, without a clip: extraction runs it once before any work.
void check_input_processor(const ImageProcessorSpec& processor, ResizeMode mode, int input_width,
                           int input_height);

torch::Tensor image_to_tensor(const ImageU8& image);  // H x W x 3 -> (3, H, W) uint8

// The 256 floats of image_to_tensor(rgb).to(float) / 255.0 as libtorch's CPU computes them, on
// `device`. Made once per run: an upload from pageable memory waits for the device's stream.
torch::Tensor unit_interval_table(const torch::Device& device);

// The backbone's input on the table's device: image_to_tensor(rgb).to(float) / 255.0 as the CPU
// computes it, in [0, 1], bit for bit alike on every device. `pixels`: ClipTensors::
// backbone_pixels; `non_blocking` as Tensor::to (for pinned pixels bound to a GPU: the upload is
// queued ahead of the conversion and the backbone's kernels). Throws vidprobe::Error for pixels of
// another dtype or shape.
torch::Tensor backbone_input(const torch::Tensor& pixels, const torch::Tensor& table,
                             bool non_blocking = false);

}  // namespace vidprobe::features

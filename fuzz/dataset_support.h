#pragma once
// Images the dataset targets' annotations can point at, written once per process, and a reader
// loop shared by them: every sequence's clip of its first frames (few, to stay fast).
#include <algorithm>
#include <numeric>
#include <vector>

#include "fuzz_support.h"
#include "vidprobe/data/dataset.h"
#include "vidprobe/io/image.h"

namespace vidprobe::fuzz {

// root/img.png (RGB 4 x 3), root/depth.png (16-bit gray 4 x 3, float16 bit patterns of 1.0
// and 2.0 as CO3D stores depth), root/mask.png (gray 4 x 3).
inline void write_frame_images(const std::filesystem::path& root) {
  ImageU8 rgb(4, 3, 3);
  for (std::size_t i = 0; i < rgb.pixels.size(); ++i)
    rgb.pixels[i] = static_cast<std::uint8_t>(i * 7);
  ImageU16 depth(4, 3, 1, 0x3c00);
  depth.pixels[5] = 0x4000;
  ImageU8 mask(4, 3, 1, 255);
  mask.pixels[0] = 0;
  std::filesystem::create_directories(root);
  write_png(root / "img.png", rgb);
  write_png(root / "depth.png", depth);
  write_png(root / "mask.png", mask);
}

// The clip fuzz_synthetic_clip reads (and make_seeds writes): two 4 x 3 frames.
inline Clip two_frame_clip() {
  Clip clip;
  clip.id = "clip";
  for (int f = 0; f < 2; ++f) {
    Frame frame;
    frame.camera.width = 4;
    frame.camera.height = 3;
    frame.camera.K = {2.0, 0.0, 1.5, 0.0, 2.0, 1.0, 0.0, 0.0, 1.0};
    frame.camera.cam_from_world = {1, 0, 0, 0.1 * f, 0, 1, 0, 0, 0, 0, 1, 0};
    frame.rgb = ImageU8(4, 3, 3, static_cast<std::uint8_t>(40 * f));
    frame.depth = ImageF32(4, 3, 1, 2.0f);
    frame.valid = ImageU8(4, 3, 1, 1);
    frame.depth.pixels[3] = 0.0f;
    frame.valid.pixels[3] = 0;
    clip.frames.push_back(std::move(frame));
  }
  return clip;
}

inline void load_some_clips(const Dataset& dataset) {
  constexpr std::size_t kMaxSequences = 4;
  constexpr int kMaxFrames = 3;
  const auto& sequences = dataset.sequences();
  for (std::size_t s = 0; s < std::min(kMaxSequences, sequences.size()); ++s) {
    expect_clean([&] {
      std::vector<int> indices(
          static_cast<std::size_t>(std::min(kMaxFrames, dataset.num_frames(sequences[s]))));
      std::iota(indices.begin(), indices.end(), 0);
      const Clip clip = dataset.load_clip(sequences[s], indices);
      for (const auto& frame : clip.frames)
        if (frame.depth.pixels.size() != frame.valid.pixels.size()) std::abort();
    });
  }
}

}  // namespace vidprobe::fuzz

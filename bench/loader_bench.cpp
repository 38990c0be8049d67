// Loading one clip the way `vidprobe extract` does (issue #14: the loader threads must keep the
// backbone busy), broken into stages. The data is made like scripts/gpu-extract-busy.sh makes it:
// rendered `objects` clips of 17 frames at CO3D's processed size, 960 x 540, written in our clip
// format (PNG RGB, float32 depth, PNG mask). One iteration is one clip; the targets are the two
// sizes of that script: DINOv2-L (16 frames uniformly sampled -> 224 x 224, GT at 224 x 224) and
// WAN2.1 (17 frames -> 480 x 832, GT at 480 x 832), cover-resized and centre-cropped (the default
// --resize crop, no --input-processor).
//   BM_LoadClip        what extract's loader thread does per clip: sample_clip + clip_to_tensors
//   BM_ReadClip        the dataset read alone (decode + checks, native resolution)
//   BM_DecodeRgbPng    decode of the clip's RGB frames, as read_png_u8 does it (libdeflate; file
//                      read included)
//   BM_DecodeRgbPngLibpng  the same frames through libpng alone (the decoder before libdeflate)
//   BM_DecodeRgbJpeg   the same frames as JPEG files (encode_jpeg's defaults: quality 95, 4:2:0),
//                      read_jpeg: what a clip stored as JPEG would cost
//   BM_DecodeMaskPng   decode of the clip's masks (read_png_u8)
//   BM_ReadDepth       the clip's float32 depth files (read_depth_f32: no CRC)
//   BM_ClipToTensors   clip_to_tensors on a clip already in memory (resize, crop, tensors)
//   BM_ResizeRgb       the RGB part of it: antialiased bilinear cover-resize + centre crop
//   BM_ResizeDepthMask the depth + valid part: nearest cover-resize + centre crop
// scripts/loader-stages.sh runs them single-threaded and writes one JSON line per stage.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/data/dataset.h"
#include "vidprobe/data/resize.h"
#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/features/clip_tensors.h"
#include "vidprobe/io/image.h"
#include "vidprobe/io/png_decoders.h"
#include "vidprobe/render/clip.h"

namespace {
using namespace vidprobe;

constexpr int kClips = 2, kFramesPerClip = 17;

struct Target {
  const char* name;
  int frames, width, height;
};
// range(0) picks one.
constexpr Target kTargets[] = {{"dinov2 16 frames -> 224x224", 16, 224, 224},
                               {"wan 17 frames -> 832x480", 17, 832, 480}};

// The rendered clips, once per process (rendering a 960 x 540 clip takes seconds).
const std::filesystem::path& dataset_root() {
  static const std::filesystem::path root = [] {
    const auto dir = std::filesystem::temp_directory_path() / "vidprobe_loader_bench";
    render::RenderSettings settings;
    settings.generation.family = render::Family::kObjects;
    settings.generation.frames = kFramesPerClip;
    settings.generation.width = 960;
    settings.generation.height = 540;
    settings.generation.seed = 11;
    const render::RenderAssets assets;
    for (int i = 0; i < kClips; ++i)
      if (!synthetic_clip_exists(dir, render::clip_id(settings.generation.family, i)))
        write_synthetic_clip(dir, render::render_clip(settings, assets, i));
    return dir;
  }();
  return root;
}

const Dataset& dataset() {
  static const auto opened = open_dataset("synthetic", dataset_root());
  return *opened;
}

ClipSampling sampling_for(const Target& target) {
  ClipSampling sampling;
  sampling.mode = ClipSamplingMode::kUniform;  // extract's default
  sampling.num_frames = target.frames;
  return sampling;
}

const Clip& loaded_clip(const Target& target) {
  static std::map<int, Clip> clips;
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  auto [it, inserted] = clips.try_emplace(target.frames);
  if (inserted)
    it->second = dataset().sample_clip(dataset().sequences().front(), sampling_for(target));
  return it->second;
}

std::string frame_file(const std::string& sequence, int frame, const char* kind, const char* ext) {
  char name[32];
  std::snprintf(name, sizeof name, "%06d", frame);
  return (dataset_root() / sequence / kind / (std::string(name) + ext)).string();
}

void per_clip_counters(benchmark::State& state, int frames_per_clip, const std::string& label) {
  state.counters["frames"] = frames_per_clip;  // time per iteration / frames: time per frame
  state.SetLabel(label);
}

// The dataset's clips in turn, sampled as extract samples them for target.
Clip next_clip(const Target& target, std::size_t& i) {
  const auto& sequences = dataset().sequences();
  return dataset().sample_clip(sequences[i++ % sequences.size()], sampling_for(target));
}

void BM_LoadClip(benchmark::State& state) {
  const auto& target = kTargets[state.range(0)];
  std::size_t i = 0;
  for (auto _ : state) {
    const Clip clip = next_clip(target, i);
    const auto tensors =
        features::clip_to_tensors(clip, target.width, target.height, target.width, target.height);
    benchmark::DoNotOptimize(tensors.backbone_pixels.data_ptr());
  }
  per_clip_counters(state, target.frames, target.name);
}

void BM_ReadClip(benchmark::State& state) {
  const auto& target = kTargets[state.range(0)];
  std::size_t i = 0;
  for (auto _ : state) {
    const Clip clip = next_clip(target, i);
    benchmark::DoNotOptimize(clip.frames.back().rgb.pixels.data());
  }
  per_clip_counters(state, target.frames, target.name);
}

template <typename Read>
void read_files(benchmark::State& state, const char* kind, const char* ext, Read read) {
  const auto& sequence = dataset().sequences().front();
  std::vector<std::string> files;
  for (int f = 0; f < kFramesPerClip; ++f) files.push_back(frame_file(sequence, f, kind, ext));
  for (auto _ : state)
    for (const auto& file : files) benchmark::DoNotOptimize(read(file));
  per_clip_counters(state, kFramesPerClip, std::string(kind) + ", 17 frames at 960x540");
}

void BM_DecodeRgbPng(benchmark::State& state) {
  read_files(state, "rgb", ".png",
             [](const std::string& file) { return read_png_u8(file).pixels.size(); });
}

void BM_DecodeRgbPngLibpng(benchmark::State& state) {
  read_files(state, "rgb", ".png", [](const std::string& file) {
    return png_decoders::read_png_u8_libpng(file).pixels.size();
  });
}

// The clip's RGB frames re-encoded as JPEG next to the PNGs, once per process.
void write_jpeg_frames() {
  static std::once_flag once;
  std::call_once(once, [] {
    const auto& sequence = dataset().sequences().front();
    for (int f = 0; f < kFramesPerClip; ++f) {
      const std::string png = frame_file(sequence, f, "rgb", ".png");
      write_file_atomically(frame_file(sequence, f, "rgb", ".jpg"), encode_jpeg(read_png_u8(png)));
    }
  });
}

void BM_DecodeRgbJpeg(benchmark::State& state) {
  write_jpeg_frames();
  read_files(state, "rgb", ".jpg",
             [](const std::string& file) { return read_jpeg(file).pixels.size(); });
}

void BM_DecodeMaskPng(benchmark::State& state) {
  read_files(state, "mask", ".png",
             [](const std::string& file) { return read_png_u8(file).pixels.size(); });
}

void BM_ReadDepth(benchmark::State& state) {
  read_files(state, "depth", ".f32",
             [](const std::string& file) { return read_depth_f32(file, 960, 540).pixels.size(); });
}

void BM_ClipToTensors(benchmark::State& state) {
  const auto& target = kTargets[state.range(0)];
  const Clip& clip = loaded_clip(target);
  for (auto _ : state) {
    const auto tensors =
        features::clip_to_tensors(clip, target.width, target.height, target.width, target.height);
    benchmark::DoNotOptimize(tensors.backbone_pixels.data_ptr());
  }
  per_clip_counters(state, target.frames, target.name);
}

// The clip's frames with only the channels a stage resizes.
std::vector<Frame> frames_with(const Clip& clip, bool rgb, bool depth_and_valid) {
  std::vector<Frame> frames;
  for (const auto& frame : clip.frames) {
    Frame part;
    part.camera = frame.camera;
    if (rgb) part.rgb = frame.rgb;
    if (depth_and_valid) {
      part.depth = frame.depth;
      part.valid = frame.valid;
    }
    frames.push_back(std::move(part));
  }
  return frames;
}

void resize_frames(benchmark::State& state, bool rgb, bool depth_and_valid) {
  const auto& target = kTargets[state.range(0)];
  const auto frames = frames_with(loaded_clip(target), rgb, depth_and_valid);
  const ResizeSpec spec{target.width, target.height, 1};
  for (auto _ : state)
    for (const auto& frame : frames) {
      const Frame out = resize_and_center_crop(frame, spec);
      benchmark::DoNotOptimize(out.camera.K[0]);
    }
  per_clip_counters(state, target.frames, target.name);
}

void BM_ResizeRgb(benchmark::State& state) {
  resize_frames(state, true, false);
}
void BM_ResizeDepthMask(benchmark::State& state) {
  resize_frames(state, false, true);
}

#define VIDPROBE_LOADER_BENCH(name) \
  BENCHMARK(name)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime()
VIDPROBE_LOADER_BENCH(BM_LoadClip);
VIDPROBE_LOADER_BENCH(BM_ReadClip);
BENCHMARK(BM_DecodeRgbPng)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeRgbPngLibpng)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeRgbJpeg)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeMaskPng)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadDepth)->Unit(benchmark::kMillisecond)->UseRealTime();
VIDPROBE_LOADER_BENCH(BM_ClipToTensors);
VIDPROBE_LOADER_BENCH(BM_ResizeRgb);
VIDPROBE_LOADER_BENCH(BM_ResizeDepthMask);

}  // namespace

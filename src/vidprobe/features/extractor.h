#pragma once
// `vidprobe extract` as a library call: run a frozen backbone over every clip of a dataset and
// write a feature cache (see feature_cache.h). Resumable: finished shards are skipped.
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/data/clip_sampling.h"
#include "vidprobe/data/split.h"
#include "vidprobe/dist/group.h"
#include "vidprobe/features/clip_tensors.h"

namespace vidprobe::features {

// How the backbone sees a clip's frames (the paper's temporal ablations).
enum class TemporalMode {
  kVideo,     // the whole clip at once
  kPerFrame,  // every frame alone: no temporal context
  kShuffled,  // the frames in a seeded random order (features put back in order)
};
// "video" | "per-frame" | "shuffled"; throws vidprobe::Error naming the value otherwise.
TemporalMode parse_temporal_mode(std::string_view name);
std::string to_string(TemporalMode mode);

// Cache dtype: "fp16" | "fp32"; throws vidprobe::Error naming the value otherwise.
torch::Dtype parse_cache_dtype(const std::string& name);

// Every field is typed; names are parsed once, at the CLI edge.
struct ExtractOptions {
  std::string backbone = "pixels";
  std::string weights;
  bool random_init = false;  // the real architecture with seeded random weights (never results)
  backbones::ExtractionPoint point;
  std::string dataset_kind = "synthetic";  // synthetic | co3d | dl3dv
  std::filesystem::path dataset_root;
  Split split = Split::kAll;
  double train_ratio = 0.9;  // hash split of sequences (the paper: 9:1 on DL3DV)
  int frames = 4;            // frames per clip fed to the backbone
  // Frames kept for the probe, at round(linspace(0, frames - 1, probe_frames)), after the backbone
  // has seen the whole clip: e.g. WAN reads 17 frames (4k + 1) and the probe gets 4 as in the
  // paper. 0 = all frames.
  int probe_frames = 0;
  // Only the first keep_first of those frames are kept (features and GT alike; --probe-frames then
  // picks among them): the later frames are context the backbone sees and the cache does not
  // hold. The authors' Open-Sora: 129 frames fed, the 21 latent maps of frames 0..80 kept
  // (keep_first 81). 0 = all frames.
  int keep_first = 0;
  ClipSamplingMode sampling = ClipSamplingMode::kUniform;
  // The authors' CogVideoX / Aether protocol: the sampled clip of 1 + n k frames is fed as n
  // clips of 1 + k frames that share frame 0 (interleaved_clip_frames); the cache stores every
  // clip's maps, clip after clip, with the map each frame reads (interleaved_feature_index).
  // 1: the sampled clip as it is.
  int interleaved_clips = 1;
  // GT height in pixels; the width follows the backbone input's aspect ratio (so that features and
  // GT cover the same field of view after a crop) unless gt_width is given. 0 = the input size.
  int gt_size = 0;
  int gt_width = 0;
  ResizeMode resize = ResizeMode::kCrop;
  // How the backbone's input pixels are made from a frame, as reference code makes them
  // (data/image_processor.h, PIL-exact); unset: our antialiased bilinear resize.
  std::optional<ImageProcessorSpec> input_processor;
  // Diffusion backbones: the noise seed mixed with the clip's id, so every clip gets its own
  // noise and sharded runs agree (the authors draw fresh noise per clip); off: one seed for all.
  bool noise_per_clip = false;
  TemporalMode temporal = TemporalMode::kVideo;
  torch::Dtype cache_dtype = torch::kFloat16;  // fp16 | fp32
  // The backbone's weights; unset: bf16 on CUDA, fp32 on the CPU.
  std::optional<torch::Dtype> compute_dtype;
  std::map<std::string, std::string> backbone_options;  // family-specific (--backbone-opt k=v)
  torch::Device device = torch::kCPU;
  std::uint64_t seed = 0;
  // Clips loaded (read, decoded, resized) ahead of the backbone, each on its own thread. A short
  // encoder needs most of the cores: DINOv2-L at 224 takes ~12 ms of an H200 per 16-frame clip,
  // one thread ~80 ms of its machine's CPU to load it (docs/perf.md). 0: all of this process's
  // cores but one (loader_threads_for).
  int loader_threads = 0;
  // On a GPU, loader threads write the backbone input into pinned memory, uploaded without
  // blocking (features/clip_tensors.h: HostMemory); false keeps it pageable, to compare.
  bool pinned_input = true;
  std::filesystem::path out_dir;
  // A job of several processes shares the clips out round-robin; each writes its own shards and
  // rank 0 the manifest, identical to one process's (dist/sharding.h). Default: one process.
  dist::Group group;
};

struct ExtractSummary {
  std::int64_t clips_written = 0, clips_skipped = 0;
  double seconds = 0;  // the whole call: model loading, the loop, the manifests
  // The loop over the clips, and the part of it during which the backbone ran (from uploading a
  // clip to its features on the host, the device synchronised at both ends). Their ratio is how
  // busy the loop kept the device; loading, resizing and writing are overlapped with the backbone
  // (prefetch thread, asynchronous shard writes) so that it stays near 1. Over ranks: sums.
  double loop_seconds = 0, backbone_seconds = 0;
  // The part of the loop spent waiting for earlier clips' shards to be written. Loop time that is
  // neither backbone nor writer wait is mostly waiting for the loader threads: the two tell which
  // side to widen when the device idles.
  double writer_wait_seconds = 0;
  int loader_threads = 0;     // the threads that loaded clips (loader_threads_for)
  bool pinned_input = false;  // the backbone input was loaded into pinned memory
  // backbone_seconds / loop_seconds and writer_wait_seconds / loop_seconds; 0 when nothing ran.
  double busy_fraction() const;
  double writer_wait_fraction() const;
  // Clips written per second of the loop.
  double clips_per_second() const;
};
// "N clips written, M already done, S s (loop L s, R clips/s, backbone busy P % of the loop,
// waiting for writes W %)".
std::string describe(const ExtractSummary& summary);
// Every field, and busy_fraction and clips_per_second.
nlohmann::json summary_json(const ExtractSummary& summary);

// One cache at options.point in options.out_dir.
ExtractSummary extract_features(const ExtractOptions& options);

// Several caches in one pass over the data: each clip is loaded and fed to the backbone once for
// all points (WAN encodes it with its VAE once), then one shard per target is written. Points with
// layer -1 / no timestep take the backbone's default. One summary per target, in order.
struct ExtractTarget {
  backbones::ExtractionPoint point;
  std::filesystem::path out_dir;
};
std::vector<ExtractSummary> extract_features_at(const ExtractOptions& options,
                                                const std::vector<ExtractTarget>& targets);

// Interleaved clip `clip` (0-based) of `clips` over a clip of `frames` = 1 + clips k frames:
// frame 0, then clip + 1, clip + 1 + clips, ... (VidFM3D's clip_indices for 2 clips: 0, 1, 3,
// 5, ... and 0, 2, 4, ...). Throws vidprobe::Error when `frames` does not split so.
std::vector<int64_t> interleaved_clip_frames(int64_t frames, int64_t clips, int64_t clip);

// The map each of `frames` frames reads when the interleaved clips' maps are stored clip after
// clip: clip_index[c] (1 + k entries) maps clip c's frames to its own maps, clip_maps[c] maps
// each. Frame 0 reads clip 0's; frame f >= 1 is position (f - 1) / n + 1 of clip (f - 1) mod n.
torch::Tensor interleaved_feature_index(int64_t frames,
                                        const std::vector<torch::Tensor>& clip_index,
                                        const std::vector<int64_t>& clip_maps);

// The loader threads an extraction runs with: `requested`, or for 0 all of `cores` (the process's
// share, core/cpu_cores.h) but one, which the loop, the shard writers and the backbone's launches
// share; 1 to 15, the most measured (each thread holds a clip in memory).
int loader_threads_for(int requested, int cores);

// round(linspace(0, frames - 1, kept)): the frames a probe sees of a longer clip.
std::vector<int64_t> probe_frame_indices(int64_t frames, int64_t kept);

}  // namespace vidprobe::features

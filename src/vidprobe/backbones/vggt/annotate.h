#pragma once
// `vidprobe annotate`: VGGT as a pseudo-ground-truth annotator. Runs a VGGT model over clips of
// any dataset (synthetic, CO3Dv2, DL3DV) and writes its predictions — depth, cameras decoded from
// the absT_quaR_FoV pose encoding into our extrinsics / intrinsics, validity masks from the depth
// confidence — in vidprobe's own clip format (data/synthetic_format.h), so that `vidprobe
// extract` and `train` read the result unchanged. Resumable: clips already written are skipped,
// and every clip is written atomically. Sharded: `--shard i/n` takes every n-th clip from i.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "vidprobe/backbones/vggt/model.h"
#include "vidprobe/data/clip_sampling.h"
#include "vidprobe/data/frame.h"
#include "vidprobe/data/split.h"

namespace vidprobe::backbones {

struct AnnotateOptions {
  std::string dataset_kind = "synthetic";  // synthetic | co3d | dl3dv
  std::filesystem::path dataset_root;
  Split split = Split::kAll;
  double train_ratio = 0.9;
  std::string weights;       // VGGT checkpoint (model.safetensors)
  bool random_init = false;  // no weights: a seeded random model (smoke tests only)
  VggtConfig config = vggt_1b_config();
  // Frames are scaled to this width and centre-cropped to a height that is the nearest multiple
  // of the patch size of the aspect-preserving height, at most this size (VGGT's "crop"
  // preprocessing; 518 for VGGT-1B).
  int image_size = 518;
  int clips = 0;   // number of clips (one per sequence, in sorted order); 0 = every sequence
  int frames = 8;  // frames per clip, all seen by VGGT at once; 0 = every frame of the sequence
  ClipSamplingMode sampling = ClipSamplingMode::kUniform;
  // > 0: a window of this many consecutive frames instead of `frames`/`sampling`, starting at
  // dl3dv_window_start(n, window, seed of the sequence) — the authors' DL3DV windows (150 frames,
  // np.random.randint(0, n - 150), unseeded there; seeded here, data/vidfm3d_processing.h).
  int window = 0;
  // A pixel is valid when its depth confidence is at least this percentile of the clip's
  // confidences (VGGT's demos filter the same way) and its depth is positive. 0 keeps every
  // pixel with a positive depth (the authors' pseudo-GT: no mask, the confidence weights the loss).
  double conf_percentile = 30;
  // "clip": vidprobe's clip format (data/synthetic_format.h; the continuous confidence in its
  // optional confidence/ maps, no points, no object masks).
  // "vidfm3d": the authors' GT layout, <out>/<subset>/<hash>.sft with images, depthmaps,
  // pointmaps (depth unprojected with the decoded cameras), confmaps (depth_conf), intrinsic,
  // extrinsic, start_idx, masks (CO3D: object mask > 0.99, bool (S, H, W, 1)), plus train.json /
  // val.json as their create_split.py makes them; read by
  // `vidprobe import vidfm3d` (features/vidfm3d_import.h), which keeps the confidence.
  std::string format = "clip";
  // The depth head runs over this many frames at a time (bounded memory for 150-frame windows).
  int frame_chunk = 8;
  int prefetch = 1;         // clips read and resized ahead, each on its own thread; 0: in line
  int dl3dv_downscale = 0;  // DL3DV image folder: 4 = images_4 (the authors'), 0 = the finest
  // CO3D: "vidfm3d" reads each sequence as the authors' extract_frames.py makes it (best 81-frame
  // window, 16:9 object crop, 960 x 540; rejected sequences skipped, DatasetOptions::
  // co3d_vidfm3d_crop); with --frames all and --format vidfm3d that is their GT input. "none":
  // the sequences as stored.
  std::string co3d_crop = "none";
  // With co3d_crop "vidfm3d": the RGB goes through their JPEG file, encoded as cv2.imwrite does
  // and decoded again (Co3dWindowOptions::rgb_jpeg_round_trip), so VGGT and the stored images see
  // their pixels; false keeps the resized pixels lossless.
  bool co3d_jpeg = true;
  int shard_index = 0, shard_count = 1;
  torch::Device device = torch::kCPU;
  torch::Dtype compute_dtype = torch::kFloat32;  // aggregator weights: fp32 | bf16 (heads: fp32)
  std::uint64_t seed = 0;
  std::filesystem::path out_dir;
};

// VGGT's load_and_preprocess_images "crop" mode: width `size`, height round(H * size / W / patch)
// * patch, Pillow bicubic, then the centre `size` rows when taller (960 x 540 -> 518 x 294). The
// camera follows the per-axis scale and the crop exactly; depth and valid are resampled nearest.
Frame vggt_crop_preprocess(const Frame& frame, int size, int patch);

// "i/n" with 0 <= i < n -> (i, n); throws vidprobe::Error naming the value otherwise.
std::pair<int, int> parse_shard(const std::string& text);

struct AnnotateSummary {
  std::int64_t clips_written = 0, clips_skipped = 0;
  double seconds = 0;        // the whole run
  double model_seconds = 0;  // building / loading VGGT and moving it to the device
  double vggt_seconds = 0;   // VGGT forwards of the written clips, results back on the CPU
  // Sequences the dataset's processing dropped (CO3D's vidfm3d crop), each with its reason in
  // rejected_file: <out>/rejected.json, written by every run ([] when none).
  std::int64_t sequences_rejected = 0;
  std::filesystem::path rejected_file;
};

AnnotateSummary annotate_with_vggt(const AnnotateOptions& options);

}  // namespace vidprobe::backbones

#pragma once
// The authors' processed data and cached features (zxhuang1698/VidFM3D) as a vidprobe feature
// cache, so that features extracted with their scripts train and evaluate here on the same bytes.
//
// Their layout (docs/protocol.md):
//   <data>/{train,val}.json                 [[subset, hash], ...] (the split; "test" = val)
//   <data>/<subset>/<hash>.sft              images u8 (S,3,H,W), depthmaps f32 (S,H,W,1),
//                                           pointmaps (S,H,W,3), confmaps (S,H,W,1), intrinsic
//                                           (S,3,3), extrinsic (S,3,4) camera-from-world,
//                                           CO3D only: masks bool (S,H,W,1) (object > 0.99)
//   <features>/<model>/<subset>/<hash>/feature<postfix>.sft   key "feat", channel-last
// Each clip becomes one shard holding every frame, the GT confidence (their confmaps), every
// pixel valid (their use_mask is off; with use_mask the masks are the valid mask) and the feature
// maps once with the frame -> map index their VideoProbeDataset computes for the model
// (vidfm3d_feature_index).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vidprobe::features {

// The authors' model names (their vfm_name) and the feature layouts they store:
//   wan, opensora   (21, h, w, C): the latents of the first 81 frames
//   dino, f3r       (T, h, w, C): one map per frame
//   vjepa           (5, 8, h, w, C): 5 clips of 16 frames, 2 frames a token
//   cogvideox       (2, 13, h, w, C), aether (2, 11, h, w, C): 2 clips sharing frame 0
const std::vector<std::string>& vidfm3d_models();

// The feature map each of `frames` video frames reads, exactly as their dataset maps a queried
// frame (float32 arithmetic included) for views inside the first `context` frames; -1 where they
// never read one. `maps` is the number of maps in the flattened file (e.g. 21 or 2 x 13).
std::vector<int64_t> vidfm3d_feature_index(const std::string& model, int64_t frames, int64_t maps,
                                           int64_t context = 76);

struct Vidfm3dImportOptions {
  std::filesystem::path data_root;
  std::string split = "train";  // train | val | test (= val, as theirs)
  std::filesystem::path features_root;
  std::string model = "wan";
  std::string postfix;       // their feat_postfix, e.g. "_t749_layer20"
  std::string dataset_kind;  // co3d | dl3dv: recorded so reports find the paper's rows
  int64_t context = 76;
  // Their use_mask with hard masking (soft_bg_weight 0): the scene's "masks" become the valid
  // mask; off in every config of theirs. Scenes without masks are refused when it is on.
  bool use_mask = false;
  std::filesystem::path out_dir;
  bool progress = true;
};

struct Vidfm3dImportSummary {
  std::int64_t clips_written = 0, clips_skipped = 0;
};

// Resumable (shards whose identity matches are kept); throws vidprobe::Error naming the file and
// key at fault (missing split, scene, tensor or key "feat", a shape or dtype that does not fit).
Vidfm3dImportSummary import_vidfm3d(const Vidfm3dImportOptions& options);

}  // namespace vidprobe::features

#pragma once
// Small probe configurations that train in seconds on a laptop CPU.
#include "vidprobe/probe/probe_config.h"

namespace vidprobe::probe::testing {

// The widths of a tiny probe, on any preset.
inline ProbeConfig shrunk(ProbeConfig config) {
  config.model.width = 32;
  config.model.num_heads = 2;
  config.model.num_blocks = 4;
  config.model.mlp_ratio = 2.0;
  config.model.num_register_tokens = 2;
  config.heads.dense.features = 16;
  config.heads.dense.out_channels = {8, 16, 16, 16};
  config.heads.camera.trunk_depth = 1;
  config.train.batch_size = 2;
  config.train.lr = 1e-3;
  config.train.log_every = 5;
  config.train.checkpoint_every = 10;
  config.train.val_every = 10;
  return config;
}

// The vidprobe preset, tiny, 20 steps over the stored frames.
inline ProbeConfig tiny_config() {
  auto config = shrunk(probe_preset("vidprobe"));
  config.train.steps = 20;
  return config;
}

// The paper's protocol, tiny: 4 views >= 2 frames apart in the first 10 frames, snapped to
// 1 + 2k, 2 epochs.
inline ProbeConfig tiny_vidfm3d_config() {
  auto config = shrunk(probe_preset("vidfm3d"));
  config.views.sampling = {.count = 4, .min_gap = 2, .context = 10, .snap = 2};
  config.train.epochs = 2;
  return config;
}

}  // namespace vidprobe::probe::testing

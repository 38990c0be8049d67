#pragma once
// Small probe configurations that train in seconds on a laptop CPU.
#include "vidprobe/probe/probe_config.h"

namespace vidprobe::probe::testing {

inline ProbeConfig tiny_config() {
  ProbeConfig config;
  config.model.width = 32;
  config.model.num_heads = 2;
  config.model.num_blocks = 4;
  config.model.mlp_ratio = 2.0;
  config.model.num_register_tokens = 2;
  config.heads.dense.features = 16;
  config.heads.dense.out_channels = {8, 16, 16, 16};
  config.heads.camera.trunk_depth = 1;
  config.train.batch_size = 2;
  config.train.steps = 20;
  config.train.lr = 1e-3;
  config.train.log_every = 5;
  config.train.checkpoint_every = 10;
  config.train.val_every = 10;
  return config;
}

}  // namespace vidprobe::probe::testing

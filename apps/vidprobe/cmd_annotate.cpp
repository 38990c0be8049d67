// `vidprobe annotate`: VGGT's depth, cameras and confidence masks as pseudo ground truth for the
// clips of any dataset, written in vidprobe's own clip format (readable by extract / train).
#include <iostream>
#include <string>

#include "commands.h"
#include "job.h"
#include "typed_options.h"
#include "vidprobe/backbones/vggt/annotate.h"
#include "vidprobe/core/error.h"

namespace vidprobe::cli {

namespace {

// --frames: a positive count or "all" (0 inside).
int parse_frame_count(const std::string& text) {
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  require(used == text.size() && value > 0,
          "--frames must be a positive number or 'all', got '" + text + "'");
  return value;
}

}  // namespace

void register_annotate(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "annotate",
      "Annotate the clips of a dataset with VGGT (depth, cameras, confidence masks) in vidprobe's "
      "clip format (resumable, shardable)");
  auto options = std::make_shared<backbones::AnnotateOptions>();
  auto shard = std::make_shared<std::string>("0/1");
  auto config_path = std::make_shared<std::string>();
  cmd->add_option("--data", options->dataset_root, "Dataset root")->required();
  cmd->add_option("--data-kind", options->dataset_kind, "synthetic | co3d | dl3dv")
      ->capture_default_str()
      ->check(dataset_kind());
  add_parsed_option(*cmd, "--split", options->split, parse_split, "all | train | test",
                    to_string(options->split));
  cmd->add_option("--train-ratio", options->train_ratio, "Fraction of sequences in the train split")
      ->capture_default_str()
      ->check(in_range(0, 1));
  auto* weights =
      cmd->add_option("--weights", options->weights,
                      "VGGT checkpoint: facebook/VGGT-1B's model.safetensors (file or directory)");
  cmd->add_flag("--random-init", options->random_init,
                "No checkpoint: a seeded random VGGT (smoke tests only, never for results)")
      ->excludes(weights);
  cmd->add_option("--model-config", *config_path,
                  "JSON with another VGGT configuration (default: VGGT-1B); see docs/vggt.md");
  cmd->add_option("--backbone-size", options->image_size,
                  "Input width in pixels (height: aspect-preserving multiple of the patch size, "
                  "cropped to at most this)")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--clips", options->clips, "Clips to annotate (one per sequence); 0 = all")
      ->capture_default_str()
      ->check(non_negative());
  auto frames = std::make_shared<std::string>(std::to_string(options->frames));
  cmd->add_option("--frames", *frames,
                  "Frames per clip, seen by VGGT together; 'all' = every frame of the sequence")
      ->capture_default_str();
  cmd->add_option("--window", options->window,
                  "N consecutive frames from a seeded random start (the authors' DL3DV windows: "
                  "150); overrides --frames / --sampling")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--format", options->format,
                  "clip: vidprobe's clip format (continuous confidence kept, thresholded into "
                  "masks); vidfm3d: the authors' <subset>/<hash>.sft GT files with continuous "
                  "confidence, points and CO3D object masks, plus train.json / val.json (read by "
                  "`vidprobe import vidfm3d`)")
      ->capture_default_str()
      ->check(CLI::IsMember({"clip", "vidfm3d"}));
  cmd->add_option("--frame-chunk", options->frame_chunk,
                  "Frames per depth-head pass (bounds memory for long windows)")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--prefetch", options->prefetch,
                  "Clips read and resized ahead while VGGT runs, each on a thread of its own; 0 "
                  "reads each clip when it is needed")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--dl3dv-downscale", options->dl3dv_downscale,
                  "DL3DV image folder: 4 = images_4 (the authors'), 0 = the finest present")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--co3d-crop", options->co3d_crop,
                  "CO3D: vidfm3d = the authors' extract_frames.py (best 81-frame window, 16:9 "
                  "object crop, 960x540; rejected sequences skipped); none = as stored")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "vidfm3d"}));
  cmd->add_option("--co3d-jpeg", options->co3d_jpeg,
                  "With --co3d-crop vidfm3d: send the RGB through their JPEG file (cv2.imwrite: "
                  "quality 95, 4:2:0; decoded as cv2.imread does), as every later step of theirs "
                  "reads it; false keeps the resized pixels lossless")
      ->capture_default_str();
  add_parsed_option(*cmd, "--sampling", options->sampling, parse_clip_sampling_mode,
                    "uniform | random | strided", to_string(options->sampling));
  cmd->add_option(
         "--conf-percentile", options->conf_percentile,
         "Pixels below this percentile of a clip's depth confidence are marked invalid (clip "
         "format; 0 keeps every pixel with positive depth)")
      ->capture_default_str()
      ->check(in_range(0, 100));
  cmd->add_option("--shard", *shard, "i/n: annotate clips i, i + n, i + 2n, ... (one per GPU)")
      ->capture_default_str();
  add_device_option(*cmd, options->device);
  add_dtype_option(*cmd, "--compute-dtype", options->compute_dtype,
                   "Aggregator weights: fp32 | bf16 (the heads always run in fp32)");
  cmd->add_option("--seed", options->seed, "Seed for clip sampling and --random-init")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--out", options->out_dir, "Output dataset root (resumable)")->required();
  cmd->callback([options, shard, config_path, frames, cmd] {
    require(cmd->count("--dl3dv-downscale") == 0 || options->dataset_kind == "dl3dv",
            "--dl3dv-downscale chooses a DL3DV image folder; it means nothing with --data-kind " +
                options->dataset_kind);
    require(cmd->count("--co3d-jpeg") == 0 || options->co3d_crop == "vidfm3d",
            "--co3d-jpeg is a step of --co3d-crop vidfm3d; it means nothing with --co3d-crop " +
                options->co3d_crop);
    options->frames = *frames == "all" ? 0 : parse_frame_count(*frames);
    std::tie(options->shard_index, options->shard_count) = backbones::parse_shard(*shard);
    if (!config_path->empty()) options->config = backbones::load_vggt_config(*config_path);
    // Under torchrun / srun each rank takes its share, as --shard RANK/WORLD_SIZE would.
    const auto group = join_job(options->device);
    if (group.distributed()) {
      require(options->shard_count == 1, "--shard " + *shard + " and a job of " +
                                             std::to_string(group.size()) +
                                             " processes both split the clips; give one of them");
      options->shard_index = group.rank();
      options->shard_count = group.size();
    }
    const auto summary = backbones::annotate_with_vggt(*options);
    group.barrier();
    // Each rank's own share: annotation summaries are not summed over the job.
    const auto who = group.distributed() ? " (rank " + std::to_string(group.rank()) + " of " +
                                               std::to_string(group.size()) + ")"
                                         : std::string();
    std::cerr << "annotate" << who << ": " << summary.clips_written << " clips written, "
              << summary.clips_skipped << " already done, " << summary.seconds << " s (model "
              << summary.model_seconds << " s, VGGT forwards " << summary.vggt_seconds << " s), "
              << summary.sequences_rejected << " sequences rejected ("
              << summary.rejected_file.string() << ")\n";
  });
}

}  // namespace vidprobe::cli

// `vidprobe import vidfm3d`: the authors' processed data and cached features as a feature cache.
#include <iostream>

#include "commands.h"
#include "typed_options.h"
#include "vidprobe/features/vidfm3d_import.h"

namespace vidprobe::cli {

void register_import(CLI::App& app) {
  auto* group = app.add_subcommand("import", "Read data and features in another project's format");
  group->require_subcommand(1);
  auto* cmd = group->add_subcommand(
      "vidfm3d",
      "The authors' processed CO3Dv2/DL3DV scenes (<data>/<subset>/<hash>.sft, train.json / "
      "val.json) and their cached features "
      "(<features>/<model>/<subset>/<hash>/feature<postfix>.sft) "
      "as a vidprobe feature cache of whole clips (docs/protocol.md)");
  auto options = std::make_shared<features::Vidfm3dImportOptions>();
  cmd->add_option("--data", options->data_root, "Their processed root (holds train.json, val.json)")
      ->required();
  cmd->add_option("--split", options->split, "train | val (test = val)")->capture_default_str();
  cmd->add_option("--features", options->features_root, "Their feature root (root_vfm)")
      ->required();
  cmd->add_option("--model", options->model, "Their model name (vfm_name)")
      ->check(CLI::IsMember(features::vidfm3d_models()))
      ->capture_default_str();
  cmd->add_option("--postfix", options->postfix,
                  "Their feat_postfix, e.g. _t749_layer20 (WAN), empty for DINOv2 / V-JEPA");
  cmd->add_option("--dataset", options->dataset_kind,
                  "co3d | dl3dv: recorded so reports can show the paper's rows")
      ->check(CLI::IsMember({"co3d", "dl3dv"}));
  cmd->add_option(
         "--context", options->context,
         "Frames their views are drawn from (context_len); frames after it get no features")
      ->capture_default_str()
      ->check(in_range(2, 100000));
  cmd->add_flag("--use-mask", options->use_mask,
                "Their use_mask: CO3D's object masks (key 'masks') become the valid mask (off in "
                "their configs)");
  cmd->add_option("--out", options->out_dir, "Feature cache to write (resumable)")->required();
  cmd->callback([options] {
    const auto summary = features::import_vidfm3d(*options);
    std::cerr << "import vidfm3d: " << summary.clips_written << " clips written, "
              << summary.clips_skipped << " already done; cache in " << options->out_dir.string()
              << "\n";
  });
}

}  // namespace vidprobe::cli

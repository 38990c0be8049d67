// The model and probe config parsers (JSON files beside checkpoints, probe configs): the input's
// first byte picks the parser, the rest is the JSON text. Each parser refuses what it cannot
// take, naming the file and key, or returns a config.
#include "fuzz_support.h"
#include "vidprobe/backbones/checkpoint_config.h"
#include "vidprobe/backbones/cogvideox/config.h"
#include "vidprobe/backbones/fast3r/config.h"
#include "vidprobe/backbones/opensora/config.h"
#include "vidprobe/backbones/text/clip_text_config.h"
#include "vidprobe/backbones/vggt/config.h"
#include "vidprobe/backbones/wan/config.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/probe/probe_config.h"

namespace {

void parse_with(int parser, const nlohmann::json& json) {
  using namespace vidprobe;
  namespace bb = vidprobe::backbones;
  switch (parser) {
    case 0: {
      // A config names the preset it starts from, as `vidprobe train --config` files do.
      const auto preset = json.is_object() ? json.find("preset") : json.end();
      const auto config =
          json.is_object() && preset != json.end() && preset->is_string()
              ? probe::probe_config_from_json(json, probe::probe_preset(preset->get<std::string>()))
              : probe::probe_config_from_json(json);
      (void)probe::to_json(config);
      break;
    }
    case 1:
      (void)bb::wan::dit_config_from_json(json, "config.json");
      break;
    case 2:
      (void)bb::wan::vae_config_from_json(json, "config.json");
      break;
    case 3:
      (void)bb::wan::umt5_config_from_json(json, "config.json");
      break;
    case 4:
      (void)bb::cogvideox::transformer_config_from_json(json, "config.json");
      break;
    case 5:
      (void)bb::fast3r::backbone_layout(bb::fast3r::config_from_json(json, "config.json"));
      break;
    case 6:
      (void)bb::opensora::mmdit_layout(bb::opensora::mmdit_config_from_json(json, "config.json"));
      break;
    case 7:
      (void)bb::cogvideox::vae_config_from_json(json, "vae/config.json");
      break;
    case 8:
      (void)bb::cogvideox::schedule_config_from_json(json, "scheduler_config.json");
      break;
    case 9:
      (void)bb::vggt_config_from_json(json);
      break;
    case 10:
      (void)bb::text::clip_text_config_from_json(json, "config.json");
      break;
    default: {
      // A DINOv2-S/14-like expectation: integers, a real and a bool, as the families ask.
      const bb::HubConfigExpectation expected{{"dinov2"},
                                              {{"hidden_size", 384},
                                               {"num_hidden_layers", 12},
                                               {"mlp_ratio", 4.0},
                                               {"layer_norm_eps", 1e-6},
                                               {"use_swiglu_ffn", false}}};
      bb::require_config_matches(json, expected, "config.json", "dinov2-vits14");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  if (size == 0) return 0;
  const int parser = data[0] % 12;
  fuzz::expect_clean(
      [&] { parse_with(parser, parse_json(fuzz::as_text(data + 1, size - 1), "config.json")); });
  return 0;
}

// The authors' CO3Dv2 window/crop choice, DL3DV outliers and train/val split, against their own
// functions (tests/fixtures/vidfm3d/processing.json, written by
// tools/make_vidfm3d_processing_fixtures.py from vidfm3d/data/processing/).
#include "vidprobe/data/vidfm3d_processing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

using Scenes = std::vector<std::pair<std::string, std::string>>;

const nlohmann::json& fixture() {
  static const nlohmann::json json = [] {
    std::ifstream in(std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "vidfm3d" / "processing.json");
    return nlohmann::json::parse(in);
  }();
  return json;
}

PixelBox box_of(const nlohmann::json& v) {
  return {v.at(0).get<int>(), v.at(1).get<int>(), v.at(2).get<int>(), v.at(3).get<int>()};
}

TEST(Vidfm3dProcessing, CentredAspectCropTruncationAndUpsampleMatchTheirs) {
  const auto& cases = fixture().at("crops");
  ASSERT_GE(cases.size(), 50u);
  for (const auto& c : cases) {
    const auto crop =
        centred_aspect_crop(c.at("width"), c.at("height"), box_of(c.at("union")), 16.0 / 9.0);
    EXPECT_EQ(crop, box_of(c.at("crop"))) << c.dump();
    std::vector<PixelBox> boxes;
    for (const auto& b : c.at("boxes")) boxes.push_back(box_of(b));
    EXPECT_EQ(truncation(boxes, box_of(c.at("crop"))), c.at("trunc").get<double>()) << c.dump();
    EXPECT_EQ(upsample_factor(box_of(c.at("crop")), 960, 540), c.at("upsample").get<double>());
  }
}

TEST(Vidfm3dProcessing, Co3dWindowSearchMatchesTheirProcessSequence) {
  const auto& cases = fixture().at("windows");
  ASSERT_GE(cases.size(), 6u);
  int accepted = 0;
  for (const auto& c : cases) {
    std::vector<std::optional<PixelBox>> boxes;
    for (const auto& b : c.at("boxes"))
      boxes.push_back(b.is_null() ? std::nullopt : std::optional(box_of(b)));
    Co3dWindowOptions options;
    options.num_frames = c.at("num_frames");
    options.search_step = c.at("search_step");
    options.stride = c.at("stride");
    options.target_width = c.at("resize_to").at(0);
    options.target_height = c.at("resize_to").at(1);
    const auto window = choose_co3d_window(boxes, c.at("width"), c.at("height"), options);
    EXPECT_EQ(window.accepted, c.at("accepted").get<bool>()) << c.at("message");
    // Their message prints the best truncation and up-sampling to 4 and 2 decimals.
    char message[96];
    std::snprintf(message, sizeof message, "trunc=%.4f  upx=%.2f", window.truncation,
                  window.upsample);
    EXPECT_NE(c.at("message").get<std::string>().find(message), std::string::npos)
        << message << " vs " << c.at("message");
    if (!window.accepted) continue;
    ++accepted;
    const auto& chosen = c.at("chosen");
    EXPECT_EQ(*window.start, chosen.at("start").get<int>());
    EXPECT_EQ(window.crop, box_of(chosen.at("crop")));
    EXPECT_EQ(window.frames(), chosen.at("frames").get<std::vector<int>>());
  }
  EXPECT_GE(accepted, 3);  // the fixture exercises both outcomes
  EXPECT_LT(accepted, static_cast<int>(cases.size()));
}

TEST(Vidfm3dProcessing, TightMaskBoxIsTheNonZeroExtent) {
  ImageU8 mask(7, 5, 1);
  EXPECT_FALSE(tight_mask_box(mask).has_value());
  mask.pixels[1 * 7 + 4] = 255;
  mask.pixels[3 * 7 + 2] = 1;
  EXPECT_EQ(*tight_mask_box(mask), (PixelBox{2, 1, 4, 3}));
}

Scenes scenes_of(const nlohmann::json& v) {
  Scenes out;
  for (const auto& e : v) out.emplace_back(e.at(0).get<std::string>(), e.at(1).get<std::string>());
  return out;
}

// Their tree -> the (subset, hash) list their collect_scenes would list (files ending in .sft;
// DL3DV: subset folders ending in "K" only).
Scenes listed(const nlohmann::json& tree, bool dl3dv) {
  Scenes out;
  for (const auto& [subset, names] : tree.items()) {
    if (dl3dv && subset.back() != 'K') continue;
    for (const auto& name : names) {
      const auto file = name.get<std::string>();
      if (file.ends_with(".sft")) out.emplace_back(subset, file.substr(0, file.size() - 4));
    }
  }
  std::reverse(out.begin(), out.end());  // the order given must not matter
  return out;
}

TEST(Vidfm3dProcessing, SplitMatchesTheirCreateSplit) {
  for (const bool dl3dv : {false, true}) {
    const auto& expected = fixture().at("split").at(dl3dv ? "dl3dv" : "co3d");
    const auto split = vidfm3d_split(listed(expected.at("tree"), dl3dv), dl3dv);
    EXPECT_EQ(split.train, scenes_of(expected.at("train"))) << dl3dv;
    EXPECT_EQ(split.val, scenes_of(expected.at("val"))) << dl3dv;
  }
}

TEST(Vidfm3dProcessing, OutlierListIsTheirs) {
  Scenes theirs;
  for (const auto& e : fixture().at("split").at("dl3dv_outliers")) {
    auto name = e.at(1).get<std::string>();
    theirs.emplace_back(e.at(0).get<std::string>(), name.substr(0, name.size() - 4));
  }
  EXPECT_EQ(vidfm3d_dl3dv_outliers(), theirs);
}

TEST(Vidfm3dProcessing, Dl3dvWindowStartIsSeededAndExcludesTheLastStart) {
  EXPECT_EQ(dl3dv_window_start(150, 150, 3), 0);
  EXPECT_THROW(dl3dv_window_start(149, 150, 3), Error);
  EXPECT_EQ(dl3dv_window_start(151, 150, 0), 0);  // randrange(1)
  std::set<int> starts;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const int s = dl3dv_window_start(160, 150, seed);
    EXPECT_EQ(s, dl3dv_window_start(160, 150, seed));
    starts.insert(s);
  }
  EXPECT_EQ(*starts.begin(), 0);
  EXPECT_EQ(*starts.rbegin(), 9);  // np.random.randint(0, 10): 10 is never drawn
}

}  // namespace
}  // namespace vidprobe

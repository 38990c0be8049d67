#include "vidprobe/data/co3d.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "data/dataset_test_util.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/data/vidfm3d_processing.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/image.h"

namespace vidprobe {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

constexpr int kWidth = 8, kHeight = 6;
constexpr std::uint16_t kHalf1p25 = 0x3D00, kHalf2 = 0x4000;

// PyTorch3D screen layout, written from its documentation rather than from the reader: NDC +x
// points left and +y up, and [-1, 1] spans the outer pixel edges of the shorter side
// ("ndc_isotropic") or of each side ("ndc_norm_image_bounds"). So the centre of pixel column i
// lies at x_ndc = (W - 2i - 1) / S_x with S_x = min(W, H) or W respectively.
double pixel_centre_ndc(int index, int size, double ndc_span) {
  return (size - 2.0 * index - 1.0) / ndc_span;
}

struct Co3dView {
  std::array<double, 9> R;  // PyTorch3D: X_cam = X_world R + T (row vectors)
  std::array<double, 3> T;
  std::array<double, 2> focal, principal;
  std::string format;
};

// World point that a PyTorch3D camera sees at the centre of pixel (u, v) with depth z.
std::array<double, 3> world_point_at(const Co3dView& view, int u, int v, double z) {
  const bool isotropic = view.format == "ndc_isotropic";
  const double span_x = isotropic ? std::min(kWidth, kHeight) : kWidth;
  const double span_y = isotropic ? std::min(kWidth, kHeight) : kHeight;
  const double x_ndc = pixel_centre_ndc(u, kWidth, span_x);
  const double y_ndc = pixel_centre_ndc(v, kHeight, span_y);
  const std::array<double, 3> cam{(x_ndc - view.principal[0]) / view.focal[0] * z,
                                  (y_ndc - view.principal[1]) / view.focal[1] * z, z};
  std::array<double, 3> world{};
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 3; ++k) world[c] += (cam[k] - view.T[k]) * view.R[c * 3 + k];
  return world;
}

json view_json(const Co3dView& view) {
  return {{"R",
           {{view.R[0], view.R[1], view.R[2]},
            {view.R[3], view.R[4], view.R[5]},
            {view.R[6], view.R[7], view.R[8]}}},
          {"T", view.T},
          {"focal_length", view.focal},
          {"principal_point", view.principal},
          {"intrinsics_format", view.format}};
}

Co3dView view_a() {
  return {testing::axis_angle({0.2, 1.0, -0.3}, 0.5),
          {0.1, -0.2, 3.0},
          {1.6, 1.7},
          {0.05, -0.1},
          "ndc_isotropic"};
}
Co3dView view_b() {
  return {testing::axis_angle({1.0, 0.0, 0.4}, -0.3),
          {-0.3, 0.1, 2.0},
          {2.1, 2.4},
          {-0.02, 0.04},
          "ndc_norm_image_bounds"};
}

// Writes a frame's image, depth (1.25 at the target pixel, 2.0 elsewhere, scale 2), depth mask
// (pixel (0, 0) masked) and foreground mask (left half) and returns its annotation.
json write_frame(const fs::path& root, const std::string& sequence, int number,
                 const Co3dView& view, bool with_files = true) {
  const std::string prefix = "toy/" + sequence + "/";
  const std::string stem = "frame" + std::to_string(100000 + number).substr(1);
  json frame = {
      {"sequence_name", sequence},
      {"frame_number", number},
      {"frame_timestamp", number / 30.0},
      {"image", {{"path", prefix + "images/" + stem + ".png"}, {"size", {kHeight, kWidth}}}},
      {"depth",
       {{"path", prefix + "depths/" + stem + ".png"},
        {"scale_adjustment", 2.0},
        {"mask_path", prefix + "depth_masks/" + stem + ".png"}}},
      {"mask", {{"path", prefix + "masks/" + stem + ".png"}, {"mass", 24.0}}},
      {"viewpoint", view_json(view)},
      {"meta", json::object()}};
  if (!with_files) return frame;
  for (const char* folder : {"images", "depths", "depth_masks", "masks"})
    fs::create_directories(root / prefix / folder);
  write_png(root / prefix / "images" / (stem + ".png"), testing::coordinate_image(kWidth, kHeight));
  ImageU16 depth(kWidth, kHeight, 1, kHalf2);
  depth.at(5, 2) = kHalf1p25;
  write_png(root / prefix / "depths" / (stem + ".png"), depth);
  ImageU8 depth_mask(kWidth, kHeight, 1, 255);
  depth_mask.at(0, 0) = 0;
  write_png(root / prefix / "depth_masks" / (stem + ".png"), depth_mask);
  ImageU8 mask(kWidth, kHeight, 1, 0);
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kWidth / 2; ++x) mask.at(x, y) = 255;
  write_png(root / prefix / "masks" / (stem + ".png"), mask);
  return frame;
}

void write_annotations(const fs::path& root, const json& frames) {
  fs::create_directories(root / "toy");
  write_gzip_file(root / "toy" / "frame_annotations.jgz", frames.dump());
}

TEST(Co3d, HalfFloatDecoding) {
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0xC000), -2.0f);
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(half_to_float(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
  EXPECT_EQ(half_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_to_float(0x7E00)));
}

TEST(Co3d, DepthPngIsHalfBitsTimesScaleWithNonFiniteZeroed) {
  const auto dir = testing::fresh_temp_dir("co3d_depth");
  ImageU16 raw(3, 1, 1);
  raw.at(0, 0) = 0x3E00;  // 1.5
  raw.at(1, 0) = 0x7C00;  // +inf
  raw.at(2, 0) = 0x3800;  // 0.5
  write_png(dir / "d.png", raw);
  const ImageF32 depth = read_co3d_depth(dir / "d.png", 3.0);
  EXPECT_EQ(depth.pixels, (ImageF32::Pixels{4.5f, 0.0f, 1.5f}));
  fs::remove_all(dir);
}

TEST(Co3d, GzipReadsReferenceBytesConcatenatedMembersAndRejectsBadFiles) {
  const auto dir = testing::fresh_temp_dir("co3d_gzip");
  // Python: gzip.compress(b'[{"a": 1}]', mtime=0)
  const unsigned char reference[] = {31,  139, 8,   0,   0,  0,   0,  0,  2,   3,
                                     139, 174, 86,  74,  84, 178, 82, 48, 172, 141,
                                     5,   0,   202, 100, 63, 237, 10, 0,  0,   0};
  const std::string bytes(reinterpret_cast<const char*>(reference), sizeof reference);
  write_file_atomically(dir / "ref.jgz", bytes);
  EXPECT_EQ(read_gzip_file(dir / "ref.jgz"), "[{\"a\": 1}]");
  EXPECT_EQ(read_json_file(dir / "ref.jgz")[0]["a"], 1);

  write_file_atomically(dir / "two.gz", bytes + bytes);
  EXPECT_EQ(read_gzip_file(dir / "two.gz"), "[{\"a\": 1}][{\"a\": 1}]");

  const std::string large(300000, 'x');
  write_gzip_file(dir / "large.gz", large);
  EXPECT_EQ(read_gzip_file(dir / "large.gz"), large);

  write_file_atomically(dir / "cut.jgz", bytes.substr(0, 15));
  EXPECT_THAT([&] { read_gzip_file(dir / "cut.jgz"); },
              ThrowsMessage<Error>(AllOf(HasSubstr("truncated"), HasSubstr("cut.jgz"))));
  write_file_atomically(dir / "plain.jgz", "[1, 2, 3]");
  EXPECT_THAT([&] { read_gzip_file(dir / "plain.jgz"); },
              ThrowsMessage<Error>(AllOf(HasSubstr("corrupt"), HasSubstr("plain.jgz"))));
  EXPECT_THAT([&] { read_gzip_file(dir / "missing.jgz"); },
              ThrowsMessage<Error>(HasSubstr("missing.jgz")));
  fs::remove_all(dir);
}

TEST(Co3d, CameraConversionPutsAKnownPointOnItsPixel) {
  for (const Co3dView& view : {view_a(), view_b()}) {
    const auto world = world_point_at(view, 5, 2, 2.5);
    const Camera camera = co3d_camera_to_opencv(
        {view.R, view.T, view.focal, view.principal, view.format}, kWidth, kHeight);
    const auto p = testing::project(camera, world);
    EXPECT_NEAR(p.u, 5.0, 1e-9) << view.format;
    EXPECT_NEAR(p.v, 2.0, 1e-9) << view.format;
    EXPECT_NEAR(p.z, 2.5, 1e-9) << view.format;
    // The rotation part must stay a proper rotation (det +1): flipping two axes keeps handedness.
    const auto& E = camera.cam_from_world;
    const double det = E[0] * (E[5] * E[10] - E[6] * E[9]) - E[1] * (E[4] * E[10] - E[6] * E[8]) +
                       E[2] * (E[4] * E[9] - E[5] * E[8]);
    EXPECT_NEAR(det, 1.0, 1e-12);
  }
  EXPECT_THAT(
      [] {
        co3d_camera_to_opencv({{}, {}, {1, 1}, {0, 0}, "ndc_weird"}, kWidth, kHeight);
      },
      ThrowsMessage<Error>(HasSubstr("ndc_weird")));
}

TEST(Co3d, ReaderLoadsCamerasDepthAndMasksInOurConvention) {
  const auto root = testing::fresh_temp_dir("co3d_reader");
  write_annotations(root, json::array({write_frame(root, "seq1", 1, view_b()),
                                       write_frame(root, "seq1", 0, view_a())}));
  DatasetOptions options;
  auto dataset = open_dataset("co3d", root, options);
  ASSERT_EQ(dataset->sequences(), (std::vector<std::string>{"toy/seq1"}));
  ASSERT_EQ(dataset->num_frames("toy/seq1"), 2);
  const Clip clip = dataset->load_clip("toy/seq1", {0, 1});
  const Co3dView views[] = {view_a(), view_b()};  // sorted by frame_number
  for (int i = 0; i < 2; ++i) {
    const Frame& frame = clip.frames[i];
    const auto p = testing::project(frame.camera, world_point_at(views[i], 5, 2, 2.5));
    EXPECT_NEAR(p.u, 5.0, 1e-9);
    EXPECT_NEAR(p.v, 2.0, 1e-9);
    EXPECT_FLOAT_EQ(frame.depth.at(5, 2), static_cast<float>(p.z));  // 1.25 * 2
    EXPECT_FLOAT_EQ(frame.depth.at(3, 4), 4.0f);
    EXPECT_EQ(frame.valid.at(3, 4), 1);
    EXPECT_EQ(frame.valid.at(0, 0), 0);  // masked by depth_masks
    EXPECT_EQ(frame.depth.at(0, 0), 0.0f);
    EXPECT_EQ(frame.valid.at(7, 5), 1);  // background stays valid by default
    EXPECT_EQ(frame.rgb.at(6, 3, 0), 6);
  }
  EXPECT_EQ(clip.id, "toy--seq1@0-1");
  EXPECT_EQ(clip.meta["sequence"], "toy/seq1");

  options.co3d_foreground_only = true;
  const Clip foreground = open_dataset("co3d", root, options)->load_clip("toy/seq1", {0});
  EXPECT_EQ(foreground.frames[0].valid.at(7, 5), 0);
  EXPECT_EQ(foreground.frames[0].valid.at(3, 4), 1);
  fs::remove_all(root);
}

TEST(Co3d, ResizedClipKeepsTheKnownPointAndDepth) {
  const auto root = testing::fresh_temp_dir("co3d_resize");
  write_annotations(root, json::array({write_frame(root, "seq1", 0, view_a())}));
  DatasetOptions options;
  options.resize = ResizeSpec{4, 3, 1};  // exact halving
  const Clip clip = open_dataset("co3d", root, options)->load_clip("toy/seq1", {0});
  const Frame& frame = clip.frames[0];
  const auto p = testing::project(frame.camera, world_point_at(view_a(), 5, 2, 2.5));
  EXPECT_NEAR(p.u, 0.5 * (5 + 0.5) - 0.5, 1e-9);
  EXPECT_NEAR(p.v, 0.5 * (2 + 0.5) - 0.5, 1e-9);
  // Nearest neighbour keeps only original values (no blending of 2.5 with 4.0).
  for (const float d : frame.depth.pixels) EXPECT_TRUE(d == 0.0f || d == 2.5f || d == 4.0f) << d;
  EXPECT_EQ(clip.meta["resize"]["width"], 4);
  fs::remove_all(root);
}

// Replaces a frame's foreground mask (written by write_frame) by `box` set to 255 (none: empty).
void write_object_mask(const fs::path& root, const std::string& sequence, int number,
                       std::optional<PixelBox> box) {
  const std::string stem = "frame" + std::to_string(100000 + number).substr(1);
  ImageU8 mask(kWidth, kHeight, 1, 0);
  for (int y = 0; box && y < kHeight; ++y)
    for (int x = 0; x < kWidth; ++x)
      if (x >= box->x0 && x <= box->x1 && y >= box->y0 && y <= box->y1) mask.at(x, y) = 255;
  write_png(root / "toy" / sequence / "masks" / (stem + ".png"), mask);
}

TEST(Co3d, Vidfm3dCropReadsTheirWindowCroppedAndSkipsWhatTheyReject) {
  const auto root = testing::fresh_temp_dir("co3d_vidfm3d_crop");
  json frames = json::array();
  for (int n = 0; n < 4; ++n) frames.push_back(write_frame(root, "good", n, view_a()));
  for (int n = 0; n < 3; ++n) frames.push_back(write_frame(root, "empty", n, view_a()));
  write_annotations(root, frames);
  // "good": frame 0 has no object, so the first window they score starts at 1; "empty": none.
  const PixelBox object{2, 1, 5, 4};
  write_object_mask(root, "good", 0, std::nullopt);
  for (int n = 1; n < 4; ++n) write_object_mask(root, "good", n, object);
  for (int n = 0; n < 3; ++n) write_object_mask(root, "empty", n, std::nullopt);

  Co3dWindowOptions crop{.num_frames = 2,
                         .search_step = 1,
                         .max_truncation = 1.0,
                         .target_width = 16,
                         .target_height = 9,
                         .max_upsample = 10};
  const auto expected =
      choose_co3d_window({std::nullopt, object, object, object}, kWidth, kHeight, crop);
  ASSERT_TRUE(expected.accepted);
  ASSERT_EQ(expected.start, 1);

  DatasetOptions options;
  options.co3d_vidfm3d_crop = crop;
  ::testing::internal::CaptureStderr();
  const auto dataset = open_dataset("co3d", root, options);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("'toy/empty' skipped (vidfm3d crop): rejected - trunc=1.0000"));
  EXPECT_THAT(log, HasSubstr("kept 1 of 2 sequences"));
  ASSERT_EQ(dataset->sequences(), (std::vector<std::string>{"toy/good"}));
  // The rejected one is kept with their message and its numbers (no window: upx=inf).
  const auto rejected = dataset->rejected_sequences();
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].sequence, "toy/empty");
  EXPECT_EQ(rejected[0].reason, "rejected - trunc=1.0000  upx=inf");
  EXPECT_EQ(rejected[0].truncation, 1.0);
  EXPECT_TRUE(rejected[0].upsample && std::isinf(*rejected[0].upsample));
  ASSERT_EQ(dataset->num_frames("toy/good"), 2);

  const Clip clip = dataset->load_clip("toy/good", {0, 1});
  const auto& c = expected.crop;
  const double sx = 16.0 / c.width(), sy = 9.0 / c.height();
  for (int i = 0; i < 2; ++i) {
    const Frame& frame = clip.frames[static_cast<std::size_t>(i)];
    EXPECT_THAT(frame.source, HasSubstr("frame0000" + std::to_string(i + 1)));
    ASSERT_EQ(frame.rgb.width, 16);
    ASSERT_EQ(frame.rgb.height, 9);
    ASSERT_EQ(frame.object_mask.width, 16);
    ASSERT_EQ(frame.depth.height, 9);
    // The known point moves with the crop and the per-axis scale.
    const auto p = testing::project(frame.camera, world_point_at(view_a(), 5, 2, 2.5));
    EXPECT_NEAR(p.u, (5 - c.x0 + 0.5) * sx - 0.5, 1e-9);
    EXPECT_NEAR(p.v, (2 - c.y0 + 0.5) * sy - 0.5, 1e-9);
    for (const float d : frame.depth.pixels) EXPECT_TRUE(d == 0.0f || d == 2.5f || d == 4.0f);
    // cv2 nearest: output (x, y) reads crop pixel (floor(x / sx), floor(y / sy)).
    for (int y = 0; y < 9; ++y)
      for (int x = 0; x < 16; ++x) {
        const int ox = c.x0 + static_cast<int>(std::floor(x / sx));
        const int oy = c.y0 + static_cast<int>(std::floor(y / sy));
        const bool inside = ox >= 2 && ox <= 5 && oy >= 1 && oy <= 4;
        EXPECT_EQ(frame.object_mask.at(x, y), inside ? 255 : 0) << x << "," << y;
      }
  }
  const auto& meta = clip.meta["reader"]["vidfm3d_crop"];
  EXPECT_EQ(meta["window_start"], 1);
  EXPECT_EQ(meta["crop_x0_y0_x1_y1"], json({c.x0, c.y0, c.x1, c.y1}));
  EXPECT_EQ(meta["rgb_jpeg"], json({{"quality", 95}, {"chroma", "4:2:0"}}));  // cv2.imwrite's
  fs::remove_all(root);
}

TEST(Co3d, SetListsChooseSequencesAndFrames) {
  const auto root = testing::fresh_temp_dir("co3d_setlists");
  json frames = json::array();
  for (int i = 0; i < 3; ++i) frames.push_back(write_frame(root, "seqA", i, view_a(), false));
  for (int i = 0; i < 2; ++i) frames.push_back(write_frame(root, "seqB", i, view_b(), false));
  write_annotations(root, frames);
  fs::create_directories(root / "toy" / "set_lists");
  const json lists = {{"train",
                       {{"seqA", 0, "toy/seqA/images/frame00000.png"},
                        {"seqA", 2, "toy/seqA/images/frame00002.png"}}},
                      {"val", json::array()},
                      {"test", {{"seqB", 0, "p"}, {"seqB", 1, "p"}}}};
  write_file_atomically(root / "toy" / "set_lists" / "set_lists_fewview_dev.json", lists.dump());
  DatasetOptions options;
  options.co3d_set_list = "fewview_dev";
  options.split = Split::kTrain;
  auto train = open_dataset("co3d", root, options);
  EXPECT_EQ(train->sequences(), (std::vector<std::string>{"toy/seqA"}));
  EXPECT_EQ(train->num_frames("toy/seqA"), 2);
  options.split = Split::kTest;
  EXPECT_EQ(open_dataset("co3d", root, options)->sequences(),
            (std::vector<std::string>{"toy/seqB"}));
  options.split = Split::kVal;
  EXPECT_TRUE(open_dataset("co3d", root, options)->sequences().empty());
  options.split = Split::kAll;
  EXPECT_EQ(open_dataset("co3d", root, options)->sequences().size(), 2u);
  EXPECT_THAT([&] { train->num_frames("toy/seqB"); }, ThrowsMessage<Error>(HasSubstr("toy/seqB")));

  options.co3d_set_list = "manyview_test_0";
  options.split = Split::kTrain;
  EXPECT_THAT([&] { open_dataset("co3d", root, options); },
              ThrowsMessage<Error>(HasSubstr("set_lists_manyview_test_0.json")));

  // The authors' window search needs every frame: a set list's split would hide some.
  options.co3d_set_list = "fewview_dev";
  options.co3d_vidfm3d_crop = Co3dWindowOptions{};
  EXPECT_THAT([&] { open_dataset("co3d", root, options); },
              ThrowsMessage<Error>(HasSubstr("set list 'fewview_dev'")));
  fs::remove_all(root);
}

TEST(Co3d, HashSplitWithoutSetListsIsNineToOne) {
  const auto root = testing::fresh_temp_dir("co3d_hash");
  json frames = json::array();
  for (int s = 0; s < 10; ++s)
    frames.push_back(write_frame(root, "seq" + std::to_string(s), 0, view_a(), false));
  write_annotations(root, frames);
  DatasetOptions options;
  options.split = Split::kTrain;
  const auto train = open_dataset("co3d", root, options)->sequences();
  options.split = Split::kTest;
  const auto test = open_dataset("co3d", root, options)->sequences();
  EXPECT_EQ(train.size(), 9u);
  ASSERT_EQ(test.size(), 1u);
  EXPECT_EQ(std::count(train.begin(), train.end(), test[0]), 0);
  fs::remove_all(root);
}

TEST(Co3d, BadAnnotationsNameTheFileAndKey) {
  const auto root = testing::fresh_temp_dir("co3d_bad");
  DatasetOptions options;
  options.categories = {"toy"};
  EXPECT_THAT([&] { open_dataset("co3d", root, options); },
              ThrowsMessage<Error>(HasSubstr("toy/frame_annotations.jgz")));

  fs::create_directories(root / "toy");
  write_gzip_file(root / "toy" / "frame_annotations.jgz", "[{\"sequence_name\": ");
  EXPECT_THAT(
      [&] { open_dataset("co3d", root, options); },
      ThrowsMessage<Error>(AllOf(HasSubstr("malformed JSON"), HasSubstr("frame_annotations.jgz"))));

  json frame = write_frame(root, "seq1", 0, view_a(), false);
  frame.erase("viewpoint");
  write_annotations(root, json::array({frame}));
  EXPECT_THAT(
      [&] { open_dataset("co3d", root, options); },
      ThrowsMessage<Error>(AllOf(HasSubstr("frame_annotations.jgz[0]"), HasSubstr("'viewpoint'"))));

  frame = write_frame(root, "seq1", 0, view_a(), false);
  frame["viewpoint"]["intrinsics_format"] = "screen";
  write_annotations(root, json::array({frame}));
  EXPECT_THAT([&] { open_dataset("co3d", root, options); },
              ThrowsMessage<Error>(HasSubstr("'screen'")));

  frame = write_frame(root, "seq1", 0, view_a(), false);
  frame["viewpoint"]["T"] = {1.0, 2.0};
  write_annotations(root, json::array({frame}));
  EXPECT_THAT([&] { open_dataset("co3d", root, options); },
              ThrowsMessage<Error>(HasSubstr("key 'T' must hold 3 numbers")));

  // An image whose size disagrees with its annotation fails when loaded, naming the file.
  frame = write_frame(root, "seq1", 0, view_a());
  frame["image"]["size"] = {kHeight + 1, kWidth};
  write_annotations(root, json::array({frame}));
  auto dataset = open_dataset("co3d", root, options);
  EXPECT_THAT([&] { dataset->load_clip("toy/seq1", {0}); },
              ThrowsMessage<Error>(AllOf(HasSubstr("frame00000.png"), HasSubstr("image.size"))));
  fs::remove_all(root);
}

TEST(Co3d, ANonRotationViewpointIsRefusedNamingTheImage) {
  const auto root = testing::fresh_temp_dir("co3d_bad_rotation");
  Co3dView mirrored = view_a();
  for (int c = 0; c < 3; ++c) mirrored.R[c * 3 + 1] *= -1.0;  // a reflection, still orthonormal
  write_annotations(root, json::array({write_frame(root, "seq1", 0, mirrored)}));
  auto dataset = open_dataset("co3d", root);
  EXPECT_THAT([&] { dataset->load_clip("toy/seq1", {0}); },
              ThrowsMessage<Error>(
                  AllOf(HasSubstr("toy/seq1/images/frame00000.png"), HasSubstr("determinant"))));

  Co3dView stretched = view_a();
  for (double& value : stretched.R) value *= 1.05;
  write_annotations(root, json::array({write_frame(root, "seq1", 0, stretched)}));
  EXPECT_THAT(
      [&] { open_dataset("co3d", root)->load_clip("toy/seq1", {0}); },
      ThrowsMessage<Error>(AllOf(HasSubstr("frame00000.png"), HasSubstr("not orthonormal"))));

  Co3dView no_focal = view_a();
  no_focal.focal[0] = 0.0;
  write_annotations(root, json::array({write_frame(root, "seq1", 0, no_focal)}));
  EXPECT_THAT([&] { open_dataset("co3d", root)->load_clip("toy/seq1", {0}); },
              ThrowsMessage<Error>(AllOf(HasSubstr("frame00000.png"), HasSubstr("fx = 0"))));
  fs::remove_all(root);
}

// Found by tools/hostile_campaign.py: two annotations with one frame number, a negative depth
// scale and an unknown intrinsics_format without the file's name were accepted or unnamed.
TEST(Co3d, RepeatedFrameNumbersBadDepthScalesAndFormatsAreRefusedNamingTheRecord) {
  const auto root = testing::fresh_temp_dir("co3d_hostile");
  write_annotations(root, json::array({write_frame(root, "seq1", 0, view_a()),
                                       write_frame(root, "seq1", 0, view_b())}));
  EXPECT_THAT([&] { open_dataset("co3d", root); },
              ThrowsMessage<Error>(AllOf(HasSubstr("frame_annotations.jgz[1]"),
                                         HasSubstr("frame_number 0 of sequence 'toy/seq1'"))));
  json frame = write_frame(root, "seq1", 0, view_a());
  frame["depth"]["scale_adjustment"] = -1.0;
  write_annotations(root, json::array({frame}));
  EXPECT_THAT([&] { open_dataset("co3d", root); },
              ThrowsMessage<Error>(AllOf(HasSubstr("frame_annotations.jgz[0].depth"),
                                         HasSubstr("'scale_adjustment'"))));
  frame = write_frame(root, "seq1", 0, view_a());
  frame["viewpoint"]["intrinsics_format"] = "screen";
  write_annotations(root, json::array({frame}));
  EXPECT_THAT([&] { open_dataset("co3d", root); },
              ThrowsMessage<Error>(
                  AllOf(HasSubstr("frame_annotations.jgz[0].viewpoint"), HasSubstr("'screen'"))));
  fs::remove_all(root);
}

}  // namespace
}  // namespace vidprobe

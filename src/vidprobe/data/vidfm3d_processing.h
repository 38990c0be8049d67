#pragma once
// The authors' data processing (zxhuang1698/VidFM3D, vidfm3d/data/processing/), reproduced so that
// pseudo-GT and splits made here cover the same frames as theirs:
//  * CO3Dv2 (co3d/extract_frames.py): per sequence, every window of `num_frames` frames starting
//    at 0, search_step, 2 search_step, ... is scored: the union of the frames' tight mask boxes,
//    grown by bbox_border/2 of its size on each side (clamped to the image), is covered by the
//    largest 16:9 box centred on the image centre that fits (crop_aspect_pp_locked); its
//    truncation is the mean fraction of the per-frame boxes' area outside the box. The first
//    window with the lowest truncation wins; the sequence is rejected when no window has a
//    non-empty mask on every frame, the truncation exceeds 0.25 or the crop would be up-sampled
//    more than 1.5x to 960x540. Accepted windows are cropped and resized to 960x540 (their
//    cv2.INTER_CUBIC), and the RGB goes through their JPEG file: cv2.imwrite(".jpg") stores it
//    (quality 95, 4:2:0) and VGGT and every feature extractor read that JPEG back, so the
//    pixels of their pipeline are the decoded ones (Co3dWindowOptions::rgb_jpeg_round_trip).
//  * DL3DV (dl3dv/extract_points.py): images_4, a window of 150 consecutive frames starting at
//    np.random.randint(0, n - 150) (unseeded: not reproducible; see dl3dv_window_start).
//  * Splits (create_split.py): scenes [subset, hash] sorted by subset then name, shuffled with
//    Python's random.seed(0); the first max(1, int(0.1 n)) are validation. DL3DV drops 13 outlier
//    scenes named in their code.
// Python's round() (half to even) is used where they call it. Checked against their functions
// (tests/fixtures/vidfm3d/processing.json, tools/make_vidfm3d_processing_fixtures.py).
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vidprobe/data/frame.h"
#include "vidprobe/io/image.h"

namespace vidprobe {

// Inclusive pixel box [x0, x1] x [y0, y1], as their code stores boxes.
struct PixelBox {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int width() const { return x1 - x0 + 1; }
  int height() const { return y1 - y0 + 1; }
  bool operator==(const PixelBox&) const = default;
};

// Tight box of the non-zero pixels of a one-channel mask; nullopt when it is empty (tight_bbox).
std::optional<PixelBox> tight_mask_box(const ImageU8& mask);
// crop_aspect_pp_locked: the box of aspect `aspect` (W/H) centred on ((W-1)/2, (H-1)/2) that covers
// `content` when it fits, else shrunk uniformly to fit the image.
PixelBox centred_aspect_crop(int image_width, int image_height, const PixelBox& content,
                             double aspect);
// trunc_loss: the fraction of the boxes' total area outside `crop` (0 for no boxes).
double truncation(const std::vector<PixelBox>& boxes, const PixelBox& crop);
// upsample_factor: max(target_w / crop_w, target_h / crop_h).
double upsample_factor(const PixelBox& crop, int target_width, int target_height);

struct Co3dWindowOptions {
  int num_frames = 81;
  int stride = 1;
  int search_step = 4;
  double max_truncation = 0.25;
  double bbox_border = 0.5;
  int target_width = 960, target_height = 540;
  double aspect = 16.0 / 9.0;
  double max_upsample = 1.5;
  // Their frames are JPEG files (cv2.imwrite, OpenCV's defaults) by the time anything reads them:
  // the resized RGB is encoded with `rgb_jpeg` and decoded again (io/image.h): for the same
  // pixels, the file and the decoded pixels of cv2.imwrite then cv2.imread, bit for bit
  // (tests/fixtures/vidfm3d/co3d_jpeg.json). false keeps the lossless pixels.
  bool rgb_jpeg_round_trip = true;
  JpegEncodeOptions rgb_jpeg{};
};

struct Co3dWindow {
  bool accepted = false;
  std::optional<int> start;  // first frame of the best window (nullopt: no window scored)
  PixelBox crop;             // in the original frame's pixels
  double truncation = 1.0;
  double upsample = 0;              // +inf when no window was scored
  std::vector<int> frames() const;  // the window's frame indices (empty when not accepted)
  int stride = 1, num_frames = 0;
};

// Their window search over per-frame tight mask boxes (nullopt = empty mask).
Co3dWindow choose_co3d_window(const std::vector<std::optional<PixelBox>>& boxes, int image_width,
                              int image_height, const Co3dWindowOptions& options = {});

// cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC) of an 8-bit image: Keys'
// kernel with a = -0.75, source coordinate (x + 0.5) * in / out - 0.5 in float, edge pixels
// repeated, no antialiasing, 11-bit fixed-point weights as cv2's scalar code. Against OpenCV 4.14
// itself 1.6 % of the values come out one level apart (never more; tests/fixtures/vidfm3d/
// cv2_resize.json): cv2.resize runs Intel IPP's (ippicv) cubic resize where it can, the PyPI
// wheels' default on x86; with cv2.ipp.setUseIPP(False) 1 value in 10813 differs.
ImageU8 cv2_resize_cubic(const ImageU8& image, int width, int height);
// cv2.resize(..., interpolation=cv2.INTER_NEAREST): source index floor(x * in / out), without the
// half-pixel offset of resize_nearest (data/resize.h).
template <typename T>
Image<T> cv2_resize_nearest(const Image<T>& image, int width, int height);

// Their accepted CO3D window applied to one frame (extract_frames.py): the crop, then cv2 cubic
// for RGB and cv2 nearest for depth, valid, confidence and object mask to the target size, then
// the RGB's JPEG round trip when options.rgb_jpeg_round_trip (their masks are PNG: lossless). The
// camera follows the crop offset and the per-axis scale exactly (data/resize.h).
Frame vidfm3d_co3d_crop(const Frame& frame, const PixelBox& crop, const Co3dWindowOptions& options);

// Seeded stand-in for their unseeded np.random.randint(0, n - window): Python's
// random.Random(seed).randrange(n - window) (exclusive of the last start, as theirs), 0 when
// n == window; throws vidprobe::Error when n < window.
int dl3dv_window_start(int num_frames, int window, std::uint64_t seed);

// The 13 DL3DV scenes their create_split.py drops, as (subset, hash).
const std::vector<std::pair<std::string, std::string>>& vidfm3d_dl3dv_outliers();

struct Vidfm3dSplit {
  std::vector<std::pair<std::string, std::string>> train, val;
};
// create_split.py: sort (subset, hash), drop the DL3DV outliers when `drop_dl3dv_outliers`,
// random.seed(seed); random.shuffle; the first max(1, int(val_ratio * n)) are validation.
Vidfm3dSplit vidfm3d_split(std::vector<std::pair<std::string, std::string>> scenes,
                           bool drop_dl3dv_outliers, double val_ratio = 0.1,
                           std::uint64_t seed = 0);

}  // namespace vidprobe

#pragma once
// Resampling of 8-bit images that is bit-exact with Pillow's Image.resize(size, resample) for the
// convolution filters (checked against Pillow 13.0.0, 12.3.0 and 12.1.1 by
// tests/data/pil_resample_test.cpp),
// so frames fed to a model match the pixels of reference code that resizes with PIL (diffusers'
// VideoProcessor, the Hugging Face image processors, VidFM3D's DINOv2 path).
//
// Pillow's algorithm, reimplemented from its description: a separable convolution, one pass per
// axis that changes size, horizontal first unless the release says otherwise (PillowRelease).
// Output pixel i of an axis scaled by scale = in / out is centred on (i + 0.5) * scale; the kernel
// is stretched by max(1, scale) so downscaling antialiases. Per-pixel weights are computed in
// double, normalised to sum 1 and rounded to 22-bit fixed point; sums start at half a unit and are
// clipped to 0..255 after each pass, so the intermediate image is 8-bit too. Pillow's NEAREST takes
// another code path (a fixed-point affine transform) and is not reproduced here.
#include <string>
#include <string_view>

#include "vidprobe/io/image.h"

namespace vidprobe {

enum class PilFilter { kBox, kBilinear, kHamming, kBicubic, kLanczos };

// The releases differ only in the order of the two passes, and as the intermediate image is
// rounded to 8 bits the order changes pixels (by up to ~13 levels for Lanczos):
//   kUpTo12_1  horizontal first, always
//   k12_2      (12.2 - 12.3) vertical first for images more than 100 times taller than wide
//              that are shrunk vertically
//   k13        (13.0) vertical first when the height shrinks by more than twice what the width
//              shrinks by
// Landscape frames resized to a model's input (960 x 540 to 832 x 480, 728 x 420 or a 256 or 224
// short side) go horizontal first in every release.
enum class PillowRelease { kUpTo12_1, k12_2, k13 };

// "box", "bilinear", "hamming", "bicubic", "lanczos" (PIL's names, lower case).
std::string pil_filter_name(PilFilter filter);
// Throws vidprobe::Error naming `name` and the known names.
PilFilter parse_pil_filter(std::string_view name);

// Image.resize((width, height), resample=filter) of a 1- to 4-channel 8-bit image (Pillow treats
// channels independently; RGBA is premultiplied by Pillow first, which this does not do, so
// give it RGB or gray). An image already of the target size is returned unchanged, as Pillow does.
ImageU8 pil_resize(const ImageU8& image, int width, int height, PilFilter filter,
                   PillowRelease release = PillowRelease::k13);

}  // namespace vidprobe

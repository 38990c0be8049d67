#pragma once
// Resizing and cropping frames to a backbone's input size with the camera kept exact.
//
// With pixel centres at integer coordinates (data/frame.h), scaling an image axis by s maps a
// coordinate u to s * (u + 0.5) - 0.5, so fx' = s * fx and cx' = s * (cx + 0.5) - 0.5; cropping
// at offset (x0, y0) subtracts the offset from (cx, cy). Scale factors are per axis and exactly
// new_size / old_size, so the camera matches the resampled pixels even when rounding the size
// makes the two axes' factors differ slightly.
//
// RGB is resampled with an antialiased bilinear (triangle) filter; depth and the valid mask with
// nearest neighbour, so no depth value is ever interpolated across an occlusion edge (the
// confidence and the object mask likewise).
#include "vidprobe/data/frame.h"

namespace vidprobe {

struct ResizeSpec {
  int width = 0;        // target width in pixels (required, > 0)
  int height = 0;       // target height; 0 keeps the aspect ratio
  int multiple_of = 1;  // with height == 0: round the derived height to a multiple of this
                        // (e.g. a ViT's patch size 14 for a 518-wide input)
};

struct Size2 {
  int width = 0, height = 0;
  bool operator==(const Size2&) const = default;
};

// The output size a spec gives for an input of the given size.
Size2 target_size(Size2 input, const ResizeSpec& spec);

// Camera updates (exact, see above).
Camera scale_camera(const Camera& camera, int new_width, int new_height);
Camera crop_camera(const Camera& camera, int x0, int y0, int width, int height);

// Image resampling with the same pixel-centre mapping.
ImageU8 resize_bilinear(const ImageU8& image, int width, int height);
ImageF32 resize_bilinear(const ImageF32& image, int width, int height);
ImageU8 resize_nearest(const ImageU8& image, int width, int height);
ImageF32 resize_nearest(const ImageF32& image, int width, int height);
template <typename T>
Image<T> crop_image(const Image<T>& image, int x0, int y0, int width, int height);

// Whole frames: rgb, depth, valid, confidence, object mask and camera together. Empty images stay
// empty.
Frame resize_frame(const Frame& frame, int width, int height);
Frame crop_frame(const Frame& frame, int x0, int y0, int width, int height);
// Scales so the frame covers the target size (aspect kept), then crops the centre. Only the kept
// window is resampled (the same pixels as resize_frame then crop_frame).
Frame resize_and_center_crop(const Frame& frame, const ResizeSpec& spec);
// resize_and_center_crop(frame, spec).rgb, without resampling the frame's other maps.
ImageU8 resize_and_center_crop_rgb(const Frame& frame, const ResizeSpec& spec);

}  // namespace vidprobe

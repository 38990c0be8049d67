#pragma once
// Surface colour patterns. Procedural patterns are solid textures evaluated at the object-space
// hit point (no uv seams) or along the mesh's metric uvs; image textures use the mesh uvs.
// Every pattern knows its own finest wavelength and fades to its mean colour once a pixel
// covers more than that, which keeps one-sample-per-pixel renders from aliasing.
#include <cstdint>
#include <memory>

#include "vidprobe/io/image.h"
#include "vidprobe/render/scene_math.h"

namespace vidprobe::render {

enum class Pattern : std::uint8_t {
  kFlat,
  kChecker,
  kStripes,
  kNoise,
  kMarble,
  kWood,
  kBricks,
  kImage
};

// A decoded RGB(A) image with linear-light texels, shared between objects.
struct TextureImage {
  int width = 0, height = 0;
  std::vector<Vec3> texels;  // linear RGB
  Vec3 mean{0.5f, 0.5f, 0.5f};
};
std::shared_ptr<const TextureImage> make_texture_image(const ImageU8& srgb);

struct Texture {
  Pattern pattern = Pattern::kFlat;
  Vec3 color_a{0.6f, 0.6f, 0.6f}, color_b{0.3f, 0.3f, 0.3f}, color_c{0.1f, 0.1f, 0.1f};
  float scale = 1.0f;       // pattern period in metres
  Vec3 axis{1, 0, 0};       // stripe / marble / wood orientation
  float turbulence = 0.5f;  // noise distortion of stripes and marble
  float detail = 0.3f;      // amplitude of the fine noise laid over every pattern
  std::uint32_t seed = 0;
  std::shared_ptr<const TextureImage> image;  // kImage only
};

struct SurfacePoint {
  Vec3 position;        // object-space hit point, metres
  float u = 0, v = 0;   // mesh uvs (metres)
  float footprint = 0;  // approximate width of the pixel on the surface, metres
};

// Linear RGB albedo in [0, 1].
Vec3 evaluate(const Texture& texture, const SurfacePoint& point);

// sRGB encode/decode of one channel (textures are authored in sRGB, shading is linear).
float srgb_to_linear(float c);

}  // namespace vidprobe::render

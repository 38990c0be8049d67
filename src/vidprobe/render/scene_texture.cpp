#include "vidprobe/render/scene_texture.h"

#include <cmath>

#include "vidprobe/render/scene_noise.h"

namespace vidprobe::render {
namespace {

// 1 where a feature of the given wavelength is resolved by the pixel, 0 where it is far below
// the pixel size (then the pattern shows its mean).
float resolve(float wavelength, float footprint) {
  return std::clamp(wavelength / (2.5f * std::max(footprint, 1e-6f)) - 0.4f, 0.0f, 1.0f);
}

// Square wave in [0, 1] with softened edges of width ~footprint.
float soft_square(float x, float period, float footprint) {
  const float phase = x / period - std::floor(x / period);  // [0, 1)
  const float edge = std::clamp(footprint / period, 0.002f, 0.5f);
  const float up = smoothstep(-edge, edge, phase) - smoothstep(0.5f - edge, 0.5f + edge, phase) +
                   smoothstep(1.0f - edge, 1.0f + edge, phase);
  return std::clamp(up, 0.0f, 1.0f);
}

Vec3 mix_by_resolution(Vec3 a, Vec3 b, float t, float resolution) {
  // Blend toward the pattern's mean when the pattern is below pixel size.
  const float mean_t = 0.5f;
  return lerp(a, b, mean_t + (t - mean_t) * resolution);
}

Vec3 sample_image(const TextureImage& image, float u, float v, float footprint_texels) {
  if (footprint_texels > 4.0f) return image.mean;  // far away: a texel average is all one sees
  const float x = u * static_cast<float>(image.width) - 0.5f;
  const float y = (1.0f - v) * static_cast<float>(image.height) - 0.5f;
  const float fx = std::floor(x), fy = std::floor(y);
  const float tx = x - fx, ty = y - fy;
  auto wrap = [](long i, int n) { return static_cast<int>(((i % n) + n) % n); };
  const int x0 = wrap(static_cast<long>(fx), image.width),
            x1 = wrap(static_cast<long>(fx) + 1, image.width);
  const int y0 = wrap(static_cast<long>(fy), image.height),
            y1 = wrap(static_cast<long>(fy) + 1, image.height);
  auto texel = [&](int xx, int yy) {
    return image.texels[static_cast<std::size_t>(yy) * image.width + xx];
  };
  const Vec3 top = lerp(texel(x0, y0), texel(x1, y0), tx);
  const Vec3 bottom = lerp(texel(x0, y1), texel(x1, y1), tx);
  const Vec3 sharp = lerp(top, bottom, ty);
  return lerp(sharp, image.mean, std::clamp((footprint_texels - 1.0f) / 3.0f, 0.0f, 1.0f));
}

}  // namespace

float srgb_to_linear(float c) {
  return c <= 0.04045f ? c / 12.92f : std::pow((c + 0.055f) / 1.055f, 2.4f);
}

std::shared_ptr<const TextureImage> make_texture_image(const ImageU8& srgb) {
  auto image = std::make_shared<TextureImage>();
  image->width = srgb.width;
  image->height = srgb.height;
  image->texels.resize(static_cast<std::size_t>(srgb.width) * srgb.height);
  float lut[256];
  for (int i = 0; i < 256; ++i) lut[i] = srgb_to_linear(static_cast<float>(i) / 255.0f);
  Vec3 sum{};
  for (int y = 0; y < srgb.height; ++y) {
    for (int x = 0; x < srgb.width; ++x) {
      Vec3 c;
      if (srgb.channels >= 3) {
        c = {lut[srgb.at(x, y, 0)], lut[srgb.at(x, y, 1)], lut[srgb.at(x, y, 2)]};
      } else {
        const float g = lut[srgb.at(x, y, 0)];
        c = {g, g, g};
      }
      image->texels[static_cast<std::size_t>(y) * srgb.width + x] = c;
      sum += c;
    }
  }
  if (!image->texels.empty()) image->mean = sum / static_cast<float>(image->texels.size());
  return image;
}

// Marble: a sine along the axis, warped by noise, with dark veins.
Vec3 marble_color(const Texture& texture, const SurfacePoint& point) {
  const float footprint = point.footprint;
  const Vec3 p = point.position;
  const float period = texture.scale;
  const float n = fractal_noise(p, 2.0f / period, 4, texture.seed, footprint);
  const float wave =
      0.5f +
      0.5f * std::sin(2 * kPi * (dot(p, texture.axis) / period + 3.0f * texture.turbulence * n));
  const float veins = std::pow(1.0f - wave, 6.0f);
  const float res = resolve(period * 0.3f, footprint);
  return lerp(lerp(texture.color_a, texture.color_b, n), texture.color_c,
              veins * res + 0.1f * (1 - res));
}

// Wood: rings around the axis, warped by stretched noise.
Vec3 wood_color(const Texture& texture, const SurfacePoint& point) {
  const float footprint = point.footprint;
  const Vec3 p = point.position;
  const float period = texture.scale;
  const Vec3 along = texture.axis;
  const Vec3 radial = p - along * dot(p, along);
  const float n = fractal_noise(p * Vec3{1, 1, 0.2f}, 1.5f / period, 3, texture.seed, footprint);
  const float rings = length(radial) / (0.15f * period) + 4.0f * texture.turbulence * n;
  const float t = std::pow(0.5f + 0.5f * std::sin(2 * kPi * rings), 3.0f);
  return mix_by_resolution(texture.color_a, texture.color_b, t, resolve(0.15f * period, footprint));
}

Vec3 bricks_color(const Texture& texture, const SurfacePoint& point) {
  const float footprint = point.footprint;
  const float period = texture.scale;
  // Running bond in the mesh's (u, v) plane: bricks of period x period/2, mortar colour_c.
  const float brick_h = period * 0.5f;
  const float row = std::floor(point.v / brick_h);
  const float u = point.u + (std::fmod(std::abs(row), 2.0f) > 0.5f ? period * 0.5f : 0.0f);
  const float fu = (u / period - std::floor(u / period)) * period;
  const float fv = (point.v / brick_h - row) * brick_h;
  const float mortar = 0.06f * period;
  const float in_mortar = std::max(1.0f - smoothstep(0, mortar, std::min(fu, period - fu)),
                                   1.0f - smoothstep(0, mortar, std::min(fv, brick_h - fv)));
  const float shade = hash_to_unit(hash_combine(
      texture.seed, static_cast<std::uint64_t>(static_cast<std::int64_t>(row) * 7919 +
                                               static_cast<std::int64_t>(std::floor(u / period)))));
  const Vec3 brick = lerp(texture.color_a, texture.color_b, shade);
  const float res = resolve(mortar * 2, footprint);
  return lerp(brick, texture.color_c, in_mortar * res + 0.15f * (1 - res));
}

Vec3 evaluate(const Texture& texture, const SurfacePoint& point) {
  const float footprint = point.footprint;
  const Vec3 p = point.position;
  const float period = texture.scale;
  Vec3 color = texture.color_a;
  switch (texture.pattern) {
    case Pattern::kFlat:
      break;
    case Pattern::kChecker: {
      const float sx = soft_square(p.x, period, footprint);
      const float sy = soft_square(p.y, period, footprint);
      const float sz = soft_square(p.z + 1e-3f, period, footprint);
      // XOR of three soft square waves.
      const float xy = sx + sy - 2 * sx * sy;
      const float t = xy + sz - 2 * xy * sz;
      color = mix_by_resolution(texture.color_a, texture.color_b, t, resolve(period, footprint));
      break;
    }
    case Pattern::kStripes: {
      float x = dot(p, texture.axis);
      if (texture.turbulence > 0) {
        x += texture.turbulence * period *
             (fractal_noise(p, 1.0f / period, 2, texture.seed, footprint) - 0.5f);
      }
      const float t = soft_square(x, period, footprint);
      color = mix_by_resolution(texture.color_a, texture.color_b, t, resolve(period, footprint));
      break;
    }
    case Pattern::kNoise: {
      const float n = fractal_noise(p, 1.0f / period, 4, texture.seed, footprint);
      const float t = smoothstep(0.3f, 0.7f, n);
      color = lerp(texture.color_a, texture.color_b, t);
      break;
    }
    case Pattern::kMarble:
      color = marble_color(texture, point);
      break;
    case Pattern::kWood:
      color = wood_color(texture, point);
      break;
    case Pattern::kBricks:
      color = bricks_color(texture, point);
      break;
    case Pattern::kImage: {
      if (texture.image) {
        const float texel_size = period / static_cast<float>(std::max(texture.image->width, 1));
        color = sample_image(*texture.image, point.u / period, point.v / period,
                             footprint / texel_size) *
                texture.color_a;
      }
      break;
    }
  }
  if (texture.detail > 0 && texture.pattern != Pattern::kImage) {
    // Fine grain on top of every pattern: gives flat areas texture a tracker can latch onto.
    const float grain = fractal_noise(p, 8.0f / period, 2, texture.seed ^ 0x5bd1e995u, footprint);
    color = color * (1.0f + texture.detail * (grain - 0.5f) * 1.5f);
  }
  return {std::clamp(color.x, 0.0f, 1.0f), std::clamp(color.y, 0.0f, 1.0f),
          std::clamp(color.z, 0.0f, 1.0f)};
}

}  // namespace vidprobe::render

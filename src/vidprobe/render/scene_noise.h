#pragma once
// Hash-based 3D value noise (smooth, in [0, 1]) and fractal sums of it. Pure functions of their
// inputs, so textures and shapes built from them are identical on every thread and run.
#include <cmath>
#include <cstdint>

#include "vidprobe/render/scene_math.h"

namespace vidprobe::render {

inline float lattice_value(std::int32_t x, std::int32_t y, std::int32_t z, std::uint32_t seed) {
  // 32-bit integer hash (cheap; quality is plenty for visual noise).
  std::uint32_t h = seed ^ (static_cast<std::uint32_t>(x) * 0x8da6b343u) ^
                    (static_cast<std::uint32_t>(y) * 0xd8163841u) ^
                    (static_cast<std::uint32_t>(z) * 0xcb1ab31fu);
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  h *= 0x846ca68bu;
  h ^= h >> 16;
  return static_cast<float>(h >> 8) * 0x1.0p-24f;
}

inline float value_noise(Vec3 p, std::uint32_t seed) {
  const float fx = std::floor(p.x), fy = std::floor(p.y), fz = std::floor(p.z);
  const auto ix = static_cast<std::int32_t>(fx), iy = static_cast<std::int32_t>(fy),
             iz = static_cast<std::int32_t>(fz);
  float tx = p.x - fx, ty = p.y - fy, tz = p.z - fz;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  tz = tz * tz * (3 - 2 * tz);
  auto edge = [&](std::int32_t dy, std::int32_t dz) {
    const float a = lattice_value(ix, iy + dy, iz + dz, seed);
    const float b = lattice_value(ix + 1, iy + dy, iz + dz, seed);
    return a + (b - a) * tx;
  };
  const float y0 = edge(0, 0) + (edge(1, 0) - edge(0, 0)) * ty;
  const float y1 = edge(0, 1) + (edge(1, 1) - edge(0, 1)) * ty;
  return y0 + (y1 - y0) * tz;
}

// Fractal sum normalised to [0, 1]; octaves finer than min_wavelength (world units, e.g. the
// pixel footprint) are replaced by their mean so distant surfaces do not alias.
inline float fractal_noise(Vec3 p, float frequency, int octaves, std::uint32_t seed,
                           float min_wavelength = 0.0f) {
  float sum = 0, amplitude = 1, total = 0;
  for (int o = 0; o < octaves; ++o) {
    const float wavelength = 1.0f / frequency;
    const float detail = min_wavelength > 0
                             ? std::clamp(wavelength / (2 * min_wavelength) - 0.5f, 0.0f, 1.0f)
                             : 1.0f;
    if (detail <= 0) {
      sum += 0.5f * amplitude;
    } else {
      const float n = value_noise(p * frequency, seed + 1013u * static_cast<std::uint32_t>(o));
      sum += (0.5f + (n - 0.5f) * detail) * amplitude;
    }
    total += amplitude;
    amplitude *= 0.5f;
    frequency *= 2.03f;
  }
  return sum / total;
}

}  // namespace vidprobe::render

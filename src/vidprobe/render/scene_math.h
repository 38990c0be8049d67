#pragma once
// Small vector maths and deterministic randomness for the synthetic scene generator.
// Randomness never comes from <random> distributions (their output differs between standard
// libraries): SplitMix64 streams and integer hashing give identical scenes on every platform.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace vidprobe::render {

struct Vec3 {
  float x = 0, y = 0, z = 0;
  constexpr Vec3() = default;
  constexpr Vec3(float x_, float y_, float z_) : x(x_), y(y_), z(z_) {}
  constexpr float operator[](int i) const { return i == 0 ? x : (i == 1 ? y : z); }
};

constexpr Vec3 operator+(Vec3 a, Vec3 b) {
  return {a.x + b.x, a.y + b.y, a.z + b.z};
}
constexpr Vec3 operator-(Vec3 a, Vec3 b) {
  return {a.x - b.x, a.y - b.y, a.z - b.z};
}
constexpr Vec3 operator-(Vec3 a) {
  return {-a.x, -a.y, -a.z};
}
constexpr Vec3 operator*(Vec3 a, float s) {
  return {a.x * s, a.y * s, a.z * s};
}
constexpr Vec3 operator*(float s, Vec3 a) {
  return a * s;
}
constexpr Vec3 operator*(Vec3 a, Vec3 b) {
  return {a.x * b.x, a.y * b.y, a.z * b.z};
}
constexpr Vec3 operator/(Vec3 a, float s) {
  return {a.x / s, a.y / s, a.z / s};
}
constexpr Vec3& operator+=(Vec3& a, Vec3 b) {
  return a = a + b;
}
constexpr float dot(Vec3 a, Vec3 b) {
  return a.x * b.x + a.y * b.y + a.z * b.z;
}
constexpr Vec3 cross(Vec3 a, Vec3 b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
inline float length(Vec3 a) {
  return std::sqrt(dot(a, a));
}
inline Vec3 normalize(Vec3 a) {
  const float n = length(a);
  return n > 0 ? a / n : Vec3{0, 0, 1};
}
constexpr Vec3 lerp(Vec3 a, Vec3 b, float t) {
  return a + (b - a) * t;
}
constexpr Vec3 min(Vec3 a, Vec3 b) {
  return {std::min(a.x, b.x), std::min(a.y, b.y), std::min(a.z, b.z)};
}
constexpr Vec3 max(Vec3 a, Vec3 b) {
  return {std::max(a.x, b.x), std::max(a.y, b.y), std::max(a.z, b.z)};
}

inline constexpr float kPi = std::numbers::pi_v<float>;
constexpr float radians(float degrees) {
  return degrees * kPi / 180.0f;
}
constexpr float smoothstep(float e0, float e1, float x) {
  const float t = std::clamp((x - e0) / (e1 - e0), 0.0f, 1.0f);
  return t * t * (3 - 2 * t);
}

// Stateless 64-bit mixing (SplitMix64 finaliser); hash_combine chains values into one key.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
constexpr std::uint64_t hash_combine(std::uint64_t seed, std::uint64_t value) {
  return mix64(seed ^ (value + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2)));
}
// Uniform float in [0, 1) from a hash.
constexpr float hash_to_unit(std::uint64_t h) {
  return static_cast<float>(h >> 40) * 0x1.0p-24f;
}

// Deterministic random stream (SplitMix64). fork() derives an independent stream for a sub-task
// so that adding draws in one part of the generator does not shift another part's numbers.
class Rng {
 public:
  explicit constexpr Rng(std::uint64_t seed) : state_(mix64(seed + 0x632be59bd9b4e019ULL)) {}
  constexpr std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  constexpr float uniform() { return hash_to_unit(next()); }
  constexpr float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  constexpr int integer(int lo, int hi_inclusive) {
    const auto span = static_cast<std::uint64_t>(hi_inclusive - lo + 1);
    return lo + static_cast<int>(next() % span);
  }
  constexpr bool chance(float p) { return uniform() < p; }
  float signed_unit() { return uniform(-1.0f, 1.0f); }
  Rng fork(std::uint64_t tag) { return Rng(hash_combine(next(), tag)); }

 private:
  std::uint64_t state_;
};

// Colour from hue/saturation/value, all in [0, 1]; linear RGB.
inline Vec3 hsv(float h, float s, float v) {
  h = (h - std::floor(h)) * 6.0f;
  const int sector = static_cast<int>(h) % 6;
  const float f = h - std::floor(h);
  const float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (sector) {
    case 0:
      return {v, t, p};
    case 1:
      return {q, v, p};
    case 2:
      return {p, v, t};
    case 3:
      return {p, q, v};
    case 4:
      return {t, p, v};
    default:
      return {v, p, q};
  }
}

}  // namespace vidprobe::render

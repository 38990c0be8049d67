#include "vidprobe/render/scene_materials.h"

#include <string>

#include "vidprobe/core/error.h"

namespace vidprobe::render {
namespace {

Vec3 random_axis(Rng& rng) {
  return normalize(Vec3{rng.signed_unit(), rng.signed_unit(), rng.signed_unit()});
}

// Two related colours (same hue family) plus a contrasting accent.
struct Palette {
  Vec3 a, b, c;
};

Palette random_palette(Rng& rng, float hue_centre, float hue_spread, float saturation,
                       float value) {
  const float hue = hue_centre + hue_spread * rng.signed_unit();
  const float s = std::clamp(saturation * rng.uniform(0.6f, 1.2f), 0.0f, 1.0f);
  const float v = std::clamp(value * rng.uniform(0.7f, 1.2f), 0.05f, 1.0f);
  Palette p;
  p.a = hsv(hue, s, v);
  p.b = hsv(hue + rng.uniform(-0.12f, 0.12f), std::clamp(s * rng.uniform(0.5f, 1.3f), 0.0f, 1.0f),
            v * rng.uniform(0.35f, 0.8f));
  p.c = hsv(hue + 0.5f + rng.uniform(-0.1f, 0.1f), s * 0.7f, v * rng.uniform(0.3f, 1.0f));
  return p;
}

// One look per style: the palette, the pattern and its scale, and the specular response. Each
// draws from rng in a fixed order.
Palette prop_look(Rng& rng, Material& material, bool patterned) {
  Texture& t = material.texture;
  Palette palette{};
  palette =
      random_palette(rng, rng.uniform(), 0.05f, rng.uniform(0.2f, 0.9f), rng.uniform(0.35f, 0.9f));
  static constexpr Pattern kChoices[] = {Pattern::kChecker, Pattern::kStripes, Pattern::kNoise,
                                         Pattern::kMarble,  Pattern::kWood,    Pattern::kBricks};
  t.pattern = patterned ? kChoices[rng.integer(0, 5)] : Pattern::kFlat;
  t.scale = rng.uniform(0.05f, 0.4f);
  material.specular = rng.uniform(0.0f, 0.5f);
  material.shininess = rng.uniform(8.0f, 80.0f);
  return palette;
}

Palette ground_look(Rng& rng, Material& material, bool patterned) {
  Texture& t = material.texture;
  Palette palette{};
  const int kind = rng.integer(0, 3);
  if (kind == 0) {  // grass / dirt
    palette = random_palette(rng, rng.uniform(0.08f, 0.3f), 0.03f, 0.5f, 0.45f);
    t.pattern = Pattern::kNoise;
    t.scale = rng.uniform(0.3f, 1.5f);
  } else if (kind == 1) {  // tiles
    palette = random_palette(rng, rng.uniform(), 0.05f, rng.uniform(0.05f, 0.4f), 0.7f);
    t.pattern = Pattern::kChecker;
    t.scale = rng.uniform(0.3f, 1.0f);
  } else if (kind == 2) {  // planks / paving stripes
    palette = random_palette(rng, rng.uniform(0.05f, 0.12f), 0.02f, 0.55f, 0.55f);
    t.pattern = Pattern::kStripes;
    t.axis = rng.chance(0.5f) ? Vec3{1, 0, 0} : Vec3{0, 1, 0};
    t.scale = rng.uniform(0.15f, 0.5f);
  } else {  // stone
    palette = random_palette(rng, rng.uniform(), 0.05f, 0.1f, 0.55f);
    t.pattern = Pattern::kMarble;
    t.scale = rng.uniform(0.5f, 3.0f);
  }
  if (!patterned && rng.chance(0.5f)) t.pattern = Pattern::kNoise;
  material.specular = rng.uniform(0.0f, 0.15f);
  return palette;
}

Palette wall_look(Rng& rng, Material& material, bool patterned) {
  Texture& t = material.texture;
  Palette palette{};
  palette =
      random_palette(rng, rng.uniform(), 0.04f, rng.uniform(0.05f, 0.5f), rng.uniform(0.5f, 0.9f));
  const int kind = rng.integer(0, 2);
  t.pattern = !patterned ? Pattern::kFlat
                         : (kind == 0   ? Pattern::kBricks
                            : kind == 1 ? Pattern::kStripes
                                        : Pattern::kNoise);
  if (t.pattern == Pattern::kStripes) t.axis = Vec3{rng.chance(0.5f) ? 1.0f : 0.0f, 0, 1};
  t.axis = normalize(t.axis);
  t.scale = t.pattern == Pattern::kBricks ? rng.uniform(0.2f, 0.45f) : rng.uniform(0.1f, 0.6f);
  material.specular = rng.uniform(0.0f, 0.1f);
  return palette;
}

Palette wood_look(Rng& rng, Material& material, bool patterned) {
  Texture& t = material.texture;
  Palette palette{};
  palette = random_palette(rng, rng.uniform(0.04f, 0.1f), 0.02f, rng.uniform(0.4f, 0.8f),
                           rng.uniform(0.3f, 0.7f));
  t.pattern = patterned ? Pattern::kWood : Pattern::kFlat;
  t.axis = rng.chance(0.5f) ? Vec3{1, 0, 0} : Vec3{0, 1, 0};
  t.scale = rng.uniform(0.3f, 1.0f);
  material.specular = rng.uniform(0.05f, 0.3f);
  material.shininess = 30;
  return palette;
}

Palette foliage_look(Rng& rng, Material& material, bool /*patterned*/) {
  Texture& t = material.texture;
  Palette palette{};
  palette = random_palette(rng, rng.uniform(0.2f, 0.38f), 0.03f, 0.6f, 0.4f);
  t.pattern = Pattern::kNoise;
  t.scale = rng.uniform(0.1f, 0.4f);
  t.detail = 0.5f;
  material.specular = 0.02f;
  return palette;
}

Palette stone_look(Rng& rng, Material& material, bool /*patterned*/) {
  Texture& t = material.texture;
  Palette palette{};
  palette = random_palette(rng, rng.uniform(0.05f, 0.15f), 0.05f, rng.uniform(0.0f, 0.25f), 0.5f);
  t.pattern = rng.chance(0.5f) ? Pattern::kNoise : Pattern::kMarble;
  t.scale = rng.uniform(0.2f, 1.0f);
  material.specular = 0.05f;
  return palette;
}

Palette style_look(MaterialStyle style, Rng& rng, Material& material, bool patterned) {
  switch (style) {
    case MaterialStyle::kProp:
      return prop_look(rng, material, patterned);
    case MaterialStyle::kGround:
      return ground_look(rng, material, patterned);
    case MaterialStyle::kWall:
      return wall_look(rng, material, patterned);
    case MaterialStyle::kWood:
      return wood_look(rng, material, patterned);
    case MaterialStyle::kFoliage:
      return foliage_look(rng, material, patterned);
    case MaterialStyle::kStone:
      return stone_look(rng, material, patterned);
  }
  throw Error("unknown material style " + std::to_string(static_cast<int>(style)));
}

}  // namespace

Material random_material(Rng& rng, MaterialStyle style, float richness,
                         const std::vector<std::shared_ptr<const TextureImage>>& images) {
  richness = std::clamp(richness, 0.0f, 1.0f);
  Material material;
  Texture& t = material.texture;
  t.seed = static_cast<std::uint32_t>(rng.next());
  t.axis = random_axis(rng);
  t.turbulence = rng.uniform(0.1f, 0.9f) * richness;
  t.detail = rng.uniform(0.05f, 0.25f) + 0.35f * richness * rng.uniform();
  const bool patterned = rng.chance(0.25f + 0.75f * richness);
  const Palette palette = style_look(style, rng, material, patterned);
  t.color_a = palette.a;
  t.color_b = palette.b;
  t.color_c = palette.c;
  if (!images.empty() && style != MaterialStyle::kFoliage &&
      rng.chance(0.35f * (0.5f + richness))) {
    t.pattern = Pattern::kImage;
    t.image = images[static_cast<std::size_t>(rng.integer(0, static_cast<int>(images.size()) - 1))];
    t.color_a = Vec3{1, 1, 1};
    t.scale = rng.uniform(0.5f, 2.0f);
  }
  return material;
}

}  // namespace vidprobe::render

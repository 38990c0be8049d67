#pragma once
// Random materials: per-object colour palettes and procedural patterns whose variety grows with
// the texture-richness knob (0: mostly flat colours, 1: every surface patterned and detailed).
#include <memory>
#include <vector>

#include "vidprobe/render/scene_description.h"

namespace vidprobe::render {

enum class MaterialStyle : std::uint8_t {
  kProp,     // any pattern, saturated palettes
  kGround,   // floors and terrain: tiles, planks, grass / dirt noise, stone
  kWall,     // bricks, plaster, stripes (wallpaper)
  kWood,     // furniture
  kFoliage,  // tree canopies and bushes
  kStone,    // rocks
};

// images: optional user textures (--texture), picked now and then for props, walls and grounds.
Material random_material(Rng& rng, MaterialStyle style, float richness,
                         const std::vector<std::shared_ptr<const TextureImage>>& images = {});

}  // namespace vidprobe::render

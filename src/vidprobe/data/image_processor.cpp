#include "vidprobe/data/image_processor.h"

#include <array>
#include <cstdint>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

const std::array<ImageProcessorSpec, 8>& known_specs() {
  static const std::array<ImageProcessorSpec, 8> specs{{
      {"hf-dinov2", PilFilter::kBicubic, ResizeRule::kShortestEdge, {}, 256, Size2{224, 224}},
      {"hf-videomae", PilFilter::kBilinear, ResizeRule::kShortestEdge, {}, 224, Size2{224, 224}},
      {"vidfm3d-wan", PilFilter::kLanczos, ResizeRule::kSquash, Size2{832, 480}, 0, std::nullopt},
      {"vidfm3d-cogvideox", PilFilter::kLanczos, ResizeRule::kSquash, Size2{720, 480}, 0,
       std::nullopt},
      {"vidfm3d-dinov2", PilFilter::kBicubic, ResizeRule::kSquash, Size2{728, 420}, 0,
       std::nullopt},
      {"vidfm3d-vjepa", PilFilter::kBilinear, ResizeRule::kSquash, Size2{832, 480}, 0,
       std::nullopt},
      {"vidfm3d-fast3r", PilFilter::kLanczos, ResizeRule::kSquash, Size2{512, 288}, 0,
       std::nullopt},
      {"vidfm3d-opensora", PilFilter::kBicubic, ResizeRule::kSquash, Size2{848, 480}, 0,
       std::nullopt},
  }};
  return specs;
}

std::string size_text(Size2 size) {
  return std::to_string(size.width) + "x" + std::to_string(size.height);
}

// transformers' get_resize_output_image_size(default_to_square=False): the longer side is
// int(shortest_edge * long / short), a float division truncated (exact for any frame size, as
// both operands are exact doubles and the quotient is correctly rounded).
Size2 shortest_edge_size(Size2 input, int shortest_edge) {
  const bool portrait = input.width <= input.height;
  const std::int64_t shorter = portrait ? input.width : input.height;
  const std::int64_t longer = portrait ? input.height : input.width;
  const auto scaled_longer =
      static_cast<int>(static_cast<double>(shortest_edge * longer) / static_cast<double>(shorter));
  return portrait ? Size2{shortest_edge, scaled_longer} : Size2{scaled_longer, shortest_edge};
}

}  // namespace

const ImageProcessorSpec& image_processor_spec(std::string_view name) {
  for (const ImageProcessorSpec& spec : known_specs())
    if (spec.name == name) return spec;
  std::string known;
  for (const std::string& each : image_processor_names())
    known += (known.empty() ? "" : ", ") + each;
  throw Error("unknown image processor '" + std::string(name) + "' (known: " + known + ")");
}

std::vector<std::string> image_processor_names() {
  std::vector<std::string> names;
  for (const ImageProcessorSpec& spec : known_specs()) names.push_back(spec.name);
  return names;
}

ProcessorGeometry processor_geometry(const ImageProcessorSpec& spec, Size2 input) {
  require(input.width > 0 && input.height > 0, [&] {
    return "image processor " + spec.name + ": input size must be positive, got " +
           size_text(input);
  });
  ProcessorGeometry geometry;
  geometry.input = input;
  if (spec.rule == ResizeRule::kShortestEdge) {
    require(spec.shortest_edge > 0, [&] {
      return "image processor " + spec.name + ": shortest edge must be positive, got " +
             std::to_string(spec.shortest_edge);
    });
    geometry.resized = shortest_edge_size(input, spec.shortest_edge);
  } else {
    geometry.resized = spec.size;
  }
  require(geometry.resized.width > 0 && geometry.resized.height > 0, [&] {
    return "image processor " + spec.name + ": resized size must be positive, got " +
           size_text(geometry.resized) + " for a " + size_text(input) + " input";
  });
  geometry.output = spec.center_crop.value_or(geometry.resized);
  const Size2 crop = geometry.output;
  require(crop.width > 0 && crop.height > 0 && crop.width <= geometry.resized.width &&
              crop.height <= geometry.resized.height,
          [&] {
            return "image processor " + spec.name + ": centre crop " + size_text(crop) +
                   " does not fit the resized " + size_text(geometry.resized) + " image";
          });
  // transformers' center_crop: (resized - crop) // 2, i.e. the odd pixel is dropped at the end.
  geometry.crop_x0 = (geometry.resized.width - crop.width) / 2;
  geometry.crop_y0 = (geometry.resized.height - crop.height) / 2;
  return geometry;
}

ImageU8 apply_processor(const ImageProcessorSpec& spec, const ImageU8& image) {
  const ProcessorGeometry geometry = processor_geometry(spec, {image.width, image.height});
  ImageU8 resized = pil_resize(image, geometry.resized.width, geometry.resized.height, spec.filter);
  if (geometry.output == geometry.resized) return resized;
  return crop_image(resized, geometry.crop_x0, geometry.crop_y0, geometry.output.width,
                    geometry.output.height);
}

Camera apply_processor(const ImageProcessorSpec& spec, const Camera& camera) {
  const ProcessorGeometry geometry = processor_geometry(spec, {camera.width, camera.height});
  const Camera scaled = scale_camera(camera, geometry.resized.width, geometry.resized.height);
  return crop_camera(scaled, geometry.crop_x0, geometry.crop_y0, geometry.output.width,
                     geometry.output.height);
}

}  // namespace vidprobe

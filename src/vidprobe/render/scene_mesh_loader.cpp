#include "vidprobe/render/scene_mesh_loader.h"

#include <tiny_gltf.h>
#include <tiny_obj_loader.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <map>
#include <optional>

#include "vidprobe/core/error.h"
#include "vidprobe/io/image.h"

namespace vidprobe::render {
namespace fs = std::filesystem;
namespace {

std::string quoted(const fs::path& path) {
  return "'" + path.string() + "'";
}

// Model files are y-up; the renderer's world is z-up.
Vec3 y_up_to_z_up(Vec3 p) {
  return {p.x, -p.z, p.y};
}

Material textured_material(Vec3 base_color, std::shared_ptr<const TextureImage> image) {
  Material material;
  material.specular = 0.1f;
  material.shininess = 32;
  material.texture.detail = 0.0f;
  if (image) {
    material.texture.pattern = Pattern::kImage;
    material.texture.image = std::move(image);
    material.texture.color_a = base_color;
    material.texture.scale = 1.0f;
  } else {
    material.texture.pattern = Pattern::kFlat;
    material.texture.color_a = base_color;
  }
  return material;
}

// Adds a triangle with its own three vertices; a missing normal becomes the face normal.
void add_triangle(TriangleMesh& mesh, const std::array<Vec3, 3>& p, const std::array<Vec3, 3>* n,
                  const std::array<std::array<float, 2>, 3>& uv) {
  const Vec3 face = normalize(cross(p[1] - p[0], p[2] - p[0]));
  const auto base = static_cast<std::uint32_t>(mesh.positions.size());
  for (int k = 0; k < 3; ++k) {
    mesh.positions.push_back(p[k]);
    mesh.normals.push_back(n ? normalize((*n)[k]) : face);
    mesh.uvs.push_back(uv[k]);
  }
  mesh.triangles.push_back({base, base + 1, base + 2});
}

void normalise(MeshAsset& asset, const fs::path& path) {
  require(!asset.parts.empty(), "model " + quoted(path) + " contains no triangles");
  Vec3 lo = asset.parts[0].mesh.bounds_min(), hi = asset.parts[0].mesh.bounds_max();
  for (const auto& part : asset.parts) {
    lo = min(lo, part.mesh.bounds_min());
    hi = max(hi, part.mesh.bounds_max());
  }
  const float extent = std::max({hi.x - lo.x, hi.y - lo.y, hi.z - lo.z});
  require(extent > 0 && std::isfinite(extent), "model " + quoted(path) + " has no extent");
  const Vec3 shift{-(lo.x + hi.x) / 2, -(lo.y + hi.y) / 2, -lo.z};
  for (auto& part : asset.parts) {
    for (Vec3& p : part.mesh.positions) p = (p + shift) / extent;
  }
}

MeshAsset load_obj(const fs::path& path) {
  tinyobj::ObjReaderConfig config;
  config.triangulate = true;
  config.vertex_color = false;
  config.mtl_search_path = path.parent_path().string();
  tinyobj::ObjReader reader;
  if (!reader.ParseFromFile(path.string(), config)) {
    throw Error("cannot load OBJ " + quoted(path) + ": " + reader.Error());
  }
  const auto& attrib = reader.GetAttrib();
  const auto& materials = reader.GetMaterials();
  std::vector<std::shared_ptr<const TextureImage>> images(materials.size());
  for (std::size_t m = 0; m < materials.size(); ++m) {
    if (materials[m].diffuse_texname.empty()) continue;
    const fs::path texture = path.parent_path() / materials[m].diffuse_texname;
    images[m] = make_texture_image(read_rgb(texture));
  }
  std::map<int, TriangleMesh> by_material;
  auto vertex = [&](int i) {
    require(i >= 0 && static_cast<std::size_t>(3 * i + 2) < attrib.vertices.size(),
            "OBJ " + quoted(path) + " has an out-of-range vertex index");
    return y_up_to_z_up(
        Vec3{attrib.vertices[3 * i], attrib.vertices[3 * i + 1], attrib.vertices[3 * i + 2]});
  };
  for (const auto& shape : reader.GetShapes()) {
    const auto& indices = shape.mesh.indices;
    for (std::size_t f = 0; f + 2 < indices.size(); f += 3) {
      const int material = shape.mesh.material_ids.empty() ? -1 : shape.mesh.material_ids[f / 3];
      std::array<Vec3, 3> p, n;
      std::array<std::array<float, 2>, 3> uv{};
      bool has_normals = true;
      for (int k = 0; k < 3; ++k) {
        const auto& index = indices[f + static_cast<std::size_t>(k)];
        p[k] = vertex(index.vertex_index);
        if (index.normal_index >= 0 &&
            static_cast<std::size_t>(3 * index.normal_index + 2) < attrib.normals.size()) {
          n[k] = y_up_to_z_up(Vec3{attrib.normals[3 * index.normal_index],
                                   attrib.normals[3 * index.normal_index + 1],
                                   attrib.normals[3 * index.normal_index + 2]});
        } else {
          has_normals = false;
        }
        if (index.texcoord_index >= 0 &&
            static_cast<std::size_t>(2 * index.texcoord_index + 1) < attrib.texcoords.size()) {
          uv[k] = {attrib.texcoords[2 * index.texcoord_index],
                   attrib.texcoords[2 * index.texcoord_index + 1]};
        }
      }
      add_triangle(by_material[material], p, has_normals ? &n : nullptr, uv);
    }
  }
  MeshAsset asset;
  asset.name = path.filename().string();
  for (auto& [material, mesh] : by_material) {
    Vec3 colour{0.7f, 0.7f, 0.7f};
    std::shared_ptr<const TextureImage> image;
    if (material >= 0 && static_cast<std::size_t>(material) < materials.size()) {
      const auto& d = materials[static_cast<std::size_t>(material)].diffuse;
      colour = Vec3{d[0], d[1], d[2]};
      image = images[static_cast<std::size_t>(material)];
      if (image) colour = Vec3{1, 1, 1};
    }
    asset.parts.push_back(SceneObject{asset.name, std::move(mesh), textured_material(colour, image),
                                      ObjectRole::kProp});
  }
  normalise(asset, path);
  return asset;
}

// Column-major 4 x 4 transforms, as glTF stores them.
using Matrix4 = std::array<double, 16>;
constexpr Matrix4 kIdentity{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};

Matrix4 multiply(const Matrix4& a, const Matrix4& b) {
  Matrix4 c{};
  for (int col = 0; col < 4; ++col) {
    for (int row = 0; row < 4; ++row) {
      double sum = 0;
      for (int k = 0; k < 4; ++k) sum += a[k * 4 + row] * b[col * 4 + k];
      c[col * 4 + row] = sum;
    }
  }
  return c;
}

Matrix4 node_matrix(const tinygltf::Node& node) {
  if (node.matrix.size() == 16) {
    Matrix4 m{};
    std::copy(node.matrix.begin(), node.matrix.end(), m.begin());
    return m;
  }
  Matrix4 translation = kIdentity, rotation = kIdentity, scale = kIdentity;
  if (node.translation.size() == 3) {
    for (int k = 0; k < 3; ++k) translation[12 + k] = node.translation[k];
  }
  if (node.rotation.size() == 4) {
    const double x = node.rotation[0], y = node.rotation[1], z = node.rotation[2],
                 w = node.rotation[3];
    rotation = {1 - 2 * (y * y + z * z),
                2 * (x * y + z * w),
                2 * (x * z - y * w),
                0,
                2 * (x * y - z * w),
                1 - 2 * (x * x + z * z),
                2 * (y * z + x * w),
                0,
                2 * (x * z + y * w),
                2 * (y * z - x * w),
                1 - 2 * (x * x + y * y),
                0,
                0,
                0,
                0,
                1};
  }
  if (node.scale.size() == 3) {
    for (int k = 0; k < 3; ++k) scale[k * 5] = node.scale[k];
  }
  return multiply(translation, multiply(rotation, scale));
}

// Reads accessor element i as up to 4 doubles (normalised integer types are scaled to [0, 1]).
class AccessorReader {
 public:
  AccessorReader(const tinygltf::Model& model, int accessor_index, const fs::path& path) {
    require(
        accessor_index >= 0 && static_cast<std::size_t>(accessor_index) < model.accessors.size(),
        "glTF " + quoted(path) + " references a missing accessor");
    accessor_ = &model.accessors[static_cast<std::size_t>(accessor_index)];
    require(accessor_->bufferView >= 0 &&
                static_cast<std::size_t>(accessor_->bufferView) < model.bufferViews.size(),
            "glTF " + quoted(path) + " has an accessor without a buffer view");
    const auto& view = model.bufferViews[static_cast<std::size_t>(accessor_->bufferView)];
    const auto& buffer = model.buffers.at(static_cast<std::size_t>(view.buffer));
    components_ = tinygltf::GetNumComponentsInType(static_cast<std::uint32_t>(accessor_->type));
    component_size_ =
        tinygltf::GetComponentSizeInBytes(static_cast<std::uint32_t>(accessor_->componentType));
    require(components_ > 0 && component_size_ > 0,
            "glTF " + quoted(path) + " has an unsupported accessor type");
    stride_ = accessor_->ByteStride(view);
    base_ = buffer.data.data() + view.byteOffset + accessor_->byteOffset;
    const std::size_t needed = accessor_->count == 0
                                   ? 0
                                   : static_cast<std::size_t>(stride_) * (accessor_->count - 1) +
                                         static_cast<std::size_t>(components_ * component_size_);
    require(view.byteOffset + accessor_->byteOffset + needed <= buffer.data.size(),
            "glTF " + quoted(path) + " has an accessor past the end of its buffer");
  }
  std::size_t count() const { return accessor_->count; }
  double get(std::size_t i, int component) const {
    const unsigned char* p = base_ + i * static_cast<std::size_t>(stride_) +
                             static_cast<std::size_t>(component * component_size_);
    switch (accessor_->componentType) {
      case TINYGLTF_COMPONENT_TYPE_FLOAT: {
        float v;
        std::memcpy(&v, p, 4);
        return v;
      }
      case TINYGLTF_COMPONENT_TYPE_UNSIGNED_BYTE:
        return accessor_->normalized ? *p / 255.0 : *p;
      case TINYGLTF_COMPONENT_TYPE_UNSIGNED_SHORT: {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        return accessor_->normalized ? v / 65535.0 : v;
      }
      case TINYGLTF_COMPONENT_TYPE_UNSIGNED_INT: {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        return v;
      }
      default:
        return 0.0;
    }
  }

 private:
  const tinygltf::Accessor* accessor_ = nullptr;
  int components_ = 0, component_size_ = 0, stride_ = 0;
  const unsigned char* base_ = nullptr;
};

// A triangle primitive's mesh in the asset's z-up world (empty for other modes or without
// positions).
TriangleMesh primitive_mesh(const tinygltf::Model& model, const tinygltf::Primitive& primitive,
                            const Matrix4& world, const fs::path& path) {
  if (primitive.mode != TINYGLTF_MODE_TRIANGLES && primitive.mode != -1) return {};
  const auto position_it = primitive.attributes.find("POSITION");
  if (position_it == primitive.attributes.end()) return {};
  const AccessorReader positions(model, position_it->second, path);
  std::optional<AccessorReader> normals, uvs, indices;
  if (auto it = primitive.attributes.find("NORMAL"); it != primitive.attributes.end())
    normals.emplace(model, it->second, path);
  if (auto it = primitive.attributes.find("TEXCOORD_0"); it != primitive.attributes.end())
    uvs.emplace(model, it->second, path);
  if (primitive.indices >= 0) indices.emplace(model, primitive.indices, path);
  auto transform_point = [&](std::size_t i) {
    const double x = positions.get(i, 0), y = positions.get(i, 1), z = positions.get(i, 2);
    return y_up_to_z_up(
        Vec3{static_cast<float>(world[0] * x + world[4] * y + world[8] * z + world[12]),
             static_cast<float>(world[1] * x + world[5] * y + world[9] * z + world[13]),
             static_cast<float>(world[2] * x + world[6] * y + world[10] * z + world[14])});
  };
  auto transform_normal = [&](std::size_t i) {
    // Uniform-scale assumption: rotate with the upper 3 x 3 (renormalised later).
    const double x = normals->get(i, 0), y = normals->get(i, 1), z = normals->get(i, 2);
    return y_up_to_z_up(Vec3{static_cast<float>(world[0] * x + world[4] * y + world[8] * z),
                             static_cast<float>(world[1] * x + world[5] * y + world[9] * z),
                             static_cast<float>(world[2] * x + world[6] * y + world[10] * z)});
  };
  TriangleMesh mesh;
  const std::size_t corner_count = indices ? indices->count() : positions.count();
  for (std::size_t c = 0; c + 2 < corner_count; c += 3) {
    std::array<Vec3, 3> p, n;
    std::array<std::array<float, 2>, 3> uv{};
    for (int k = 0; k < 3; ++k) {
      const auto vertex =
          static_cast<std::size_t>(indices ? indices->get(c + static_cast<std::size_t>(k), 0)
                                           : static_cast<double>(c + static_cast<std::size_t>(k)));
      require(vertex < positions.count(), "glTF " + quoted(path) + " has an out-of-range index");
      p[k] = transform_point(vertex);
      if (normals) n[k] = transform_normal(vertex);
      // glTF's v runs downward; TextureImage sampling expects OBJ's upward v.
      if (uvs)
        uv[k] = {static_cast<float>(uvs->get(vertex, 0)),
                 1.0f - static_cast<float>(uvs->get(vertex, 1))};
    }
    add_triangle(mesh, p, normals ? &n : nullptr, uv);
  }
  return mesh;
}

// The primitive's base colour factor and base colour texture (grey and untextured by default).
Material primitive_material(const tinygltf::Model& model, const tinygltf::Primitive& primitive,
                            const std::vector<std::shared_ptr<const TextureImage>>& images) {
  Vec3 colour{0.8f, 0.8f, 0.8f};
  std::shared_ptr<const TextureImage> image;
  if (primitive.material >= 0 &&
      static_cast<std::size_t>(primitive.material) < model.materials.size()) {
    const auto& pbr =
        model.materials[static_cast<std::size_t>(primitive.material)].pbrMetallicRoughness;
    if (pbr.baseColorFactor.size() >= 3) {
      colour = Vec3{static_cast<float>(pbr.baseColorFactor[0]),
                    static_cast<float>(pbr.baseColorFactor[1]),
                    static_cast<float>(pbr.baseColorFactor[2])};
    }
    const int texture = pbr.baseColorTexture.index;
    if (texture >= 0 && static_cast<std::size_t>(texture) < model.textures.size()) {
      const int source = model.textures[static_cast<std::size_t>(texture)].source;
      if (source >= 0 && static_cast<std::size_t>(source) < images.size())
        image = images[static_cast<std::size_t>(source)];
    }
  }
  return textured_material(colour, image);
}

MeshAsset load_gltf(const fs::path& path, bool binary) {
  tinygltf::TinyGLTF loader;
  tinygltf::Model model;
  std::string error, warning;
  const bool ok = binary ? loader.LoadBinaryFromFile(&model, &error, &warning, path.string())
                         : loader.LoadASCIIFromFile(&model, &error, &warning, path.string());
  require(ok, "cannot load glTF " + quoted(path) + ": " + error);

  std::vector<std::shared_ptr<const TextureImage>> images(model.images.size());
  for (std::size_t i = 0; i < model.images.size(); ++i) {
    const auto& image = model.images[i];
    if (image.image.empty() || image.bits != 8 || image.component < 1) continue;
    ImageU8 pixels(image.width, image.height, image.component);
    require(image.image.size() >= pixels.pixels.size(),
            "glTF " + quoted(path) + " has a truncated image");
    std::copy(image.image.begin(),
              image.image.begin() + static_cast<std::ptrdiff_t>(pixels.pixels.size()),
              pixels.pixels.begin());
    images[i] = make_texture_image(pixels);
  }

  MeshAsset asset;
  asset.name = path.filename().string();
  std::function<void(int, const Matrix4&)> visit = [&](int node_index, const Matrix4& parent) {
    require(node_index >= 0 && static_cast<std::size_t>(node_index) < model.nodes.size(),
            "glTF " + quoted(path) + " references a missing node");
    const auto& node = model.nodes[static_cast<std::size_t>(node_index)];
    const Matrix4 world = multiply(parent, node_matrix(node));
    if (node.mesh >= 0 && static_cast<std::size_t>(node.mesh) < model.meshes.size()) {
      for (const auto& primitive : model.meshes[static_cast<std::size_t>(node.mesh)].primitives) {
        TriangleMesh mesh = primitive_mesh(model, primitive, world, path);
        if (mesh.triangles.empty()) continue;
        asset.parts.push_back(SceneObject{asset.name, std::move(mesh),
                                          primitive_material(model, primitive, images),
                                          ObjectRole::kProp});
      }
    }
    for (int child : node.children) visit(child, world);
  };
  if (!model.scenes.empty()) {
    const auto scene_index = static_cast<std::size_t>(std::max(model.defaultScene, 0));
    for (int root : model.scenes.at(std::min(scene_index, model.scenes.size() - 1)).nodes)
      visit(root, kIdentity);
  } else {
    for (std::size_t n = 0; n < model.nodes.size(); ++n) visit(static_cast<int>(n), kIdentity);
  }
  normalise(asset, path);
  return asset;
}

}  // namespace

MeshAsset load_mesh_asset(const fs::path& path) {
  require(fs::is_regular_file(path), "mesh file " + quoted(path) + " does not exist");
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".obj") return load_obj(path);
  if (ext == ".gltf") return load_gltf(path, false);
  if (ext == ".glb") return load_gltf(path, true);
  throw Error("unsupported mesh format " + quoted(path) + " (expected .obj, .gltf or .glb)");
}

}  // namespace vidprobe::render

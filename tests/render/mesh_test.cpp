// Loading textured models and placing them in generated scenes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "render/render_test_util.h"
#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/render/scene_mesh_loader.h"

namespace vidprobe {
namespace {
namespace fs = std::filesystem;
using namespace render;

class RenderMeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_support::fresh_temp_dir(
        std::string("render_mesh_") +
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    // A y-up box 2 x 4 x 1 (x, y, z in the file) offset from the origin, two materials, one
    // with a red/blue image texture.
    std::ofstream obj(dir_ / "box.obj");
    obj << "mtllib box.mtl\n";
    for (float x : {1.0f, 3.0f})
      for (float y : {5.0f, 9.0f})
        for (float z : {-1.0f, 0.0f}) obj << "v " << x << " " << y << " " << z << "\n";
    obj << "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n";
    // Vertex index = 1 + 4 * ix + 2 * iy + iz.
    obj << "usemtl painted\n"
        << "f 1/1 5/2 7/3 3/4\n"  // x-y face at z = -1
        << "f 2/1 4/2 8/3 6/4\n"  // z = 0
        << "usemtl plain\n"
        << "f 1 2 6 5\nf 3 7 8 4\nf 1 3 4 2\nf 5 6 8 7\n";
    std::ofstream mtl(dir_ / "box.mtl");
    mtl << "newmtl painted\nKd 1 1 1\nmap_Kd stripes.png\nnewmtl plain\nKd 0.2 0.6 0.3\n";
    mtl.close();
    ImageU8 stripes(8, 8, 3);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        stripes.at(x, y, 0) = x < 4 ? 255 : 0;
        stripes.at(x, y, 2) = x < 4 ? 0 : 255;
      }
    write_png(dir_ / "stripes.png", stripes);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(RenderMeshTest, ObjIsNormalisedToZUpUnitSize) {
  const MeshAsset asset = load_mesh_asset(dir_ / "box.obj");
  EXPECT_EQ(asset.name, "box.obj");
  ASSERT_EQ(asset.parts.size(), 2u);
  Vec3 lo = asset.parts[0].mesh.bounds_min(), hi = asset.parts[0].mesh.bounds_max();
  std::size_t triangles = 0;
  for (const auto& part : asset.parts) {
    lo = min(lo, part.mesh.bounds_min());
    hi = max(hi, part.mesh.bounds_max());
    triangles += part.mesh.triangles.size();
  }
  EXPECT_EQ(triangles, 12u);
  // File extents: x 2, y (up) 4, z 1 -> world x 2, y 1, z 4; scaled by 1/4.
  EXPECT_NEAR(hi.x - lo.x, 0.5f, 1e-6f);
  EXPECT_NEAR(hi.y - lo.y, 0.25f, 1e-6f);
  EXPECT_NEAR(hi.z - lo.z, 1.0f, 1e-6f);
  EXPECT_NEAR(lo.z, 0.0f, 1e-6f);
  EXPECT_NEAR(lo.x + hi.x, 0.0f, 1e-6f);
  EXPECT_NEAR(lo.y + hi.y, 0.0f, 1e-6f);
  const auto textured =
      std::count_if(asset.parts.begin(), asset.parts.end(), [](const SceneObject& p) {
        return p.material.texture.pattern == Pattern::kImage && p.material.texture.image &&
               p.material.texture.image->width == 8;
      });
  EXPECT_EQ(textured, 1);
}

TEST_F(RenderMeshTest, MeshAppearsInRenderedObjectClips) {
  RenderSettings settings = testing_render::small_settings(Family::kObjects, 21, 2);
  settings.mesh_paths = {dir_ / "box.obj"};
  const RenderAssets assets = load_render_assets(settings);
  int with_mesh = 0;
  for (int i = 0; i < 4; ++i) {
    const Clip clip = render_clip(settings, assets, i);
    const std::string subject = clip.meta["scene"]["subject"];
    if (subject == "mesh:box.obj") {
      ++with_mesh;
      // The subject is centred in view: the centre pixel sees it at a finite depth.
      EXPECT_EQ(clip.frames[0].valid.at(32, 32), 1);
    }
    EXPECT_EQ(clip.meta["parameters"]["meshes"][0], (dir_ / "box.obj").string());
  }
  EXPECT_GE(with_mesh, 1);
}

TEST_F(RenderMeshTest, GltfWithNodeTransformIsLoaded) {
  // One triangle in a y-up file, in an external buffer, under a node translated by +5 in y.
  const float positions[9] = {0, 0, 0, 2, 0, 0, 0, 1, 0};
  write_file_atomically(dir_ / "tri.bin", std::string_view(reinterpret_cast<const char*>(positions),
                                                           sizeof positions));
  std::ofstream(dir_ / "tri.gltf") << R"({
    "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
    "nodes": [{"mesh": 0, "translation": [0, 5, 0]}],
    "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
    "buffers": [{"byteLength": 36, "uri": "tri.bin"}],
    "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 36}],
    "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                   "min": [0, 0, 0], "max": [2, 1, 0]}]})";
  const MeshAsset asset = load_mesh_asset(dir_ / "tri.gltf");
  ASSERT_EQ(asset.parts.size(), 1u);
  const TriangleMesh& mesh = asset.parts[0].mesh;
  ASSERT_EQ(mesh.triangles.size(), 1u);
  // File y (up) becomes world z; normalised by the largest extent (2), base at z = 0.
  const Vec3 lo = mesh.bounds_min(), hi = mesh.bounds_max();
  EXPECT_NEAR(hi.x - lo.x, 1.0f, 1e-6f);
  EXPECT_NEAR(hi.y - lo.y, 0.0f, 1e-6f);
  EXPECT_NEAR(hi.z - lo.z, 0.5f, 1e-6f);
  EXPECT_NEAR(lo.z, 0.0f, 1e-6f);
  // Without normals in the file, the face normal is used (the triangle lies in world xz).
  EXPECT_NEAR(std::abs(mesh.normals[0].y), 1.0f, 1e-6f);
}

TEST_F(RenderMeshTest, BadMeshFilesNameTheFile) {
  EXPECT_THAT([&] { load_mesh_asset(dir_ / "nothing.obj"); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("nothing.obj")));
  std::ofstream(dir_ / "model.stl") << "solid x\n";
  EXPECT_THAT([&] { load_mesh_asset(dir_ / "model.stl"); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("model.stl")));
  std::ofstream(dir_ / "empty.obj") << "# no faces\n";
  EXPECT_THAT([&] { load_mesh_asset(dir_ / "empty.obj"); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("empty.obj")));
  std::ofstream(dir_ / "broken.gltf") << "{ not gltf";
  EXPECT_THAT([&] { load_mesh_asset(dir_ / "broken.gltf"); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("broken.gltf")));
  fs::remove(dir_ / "stripes.png");
  EXPECT_THAT([&] { load_mesh_asset(dir_ / "box.obj"); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("stripes.png")));
}

}  // namespace
}  // namespace vidprobe

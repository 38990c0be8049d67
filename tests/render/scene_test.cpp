// Generated scenes and trajectories: smooth camera paths that never enter geometry, images with
// content, byte-identical determinism, and parameter validation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "render/render_test_util.h"
#include "vidprobe/core/error.h"
#include "vidprobe/render/scene_camera.h"
#include "vidprobe/render/scene_props.h"
#include "vidprobe/render/tracer.h"

namespace vidprobe {
namespace {
using namespace render;
using namespace testing_render;

class RenderFamily : public ::testing::TestWithParam<Family> {};

TEST_P(RenderFamily, TrajectoriesAreSmoothAndStayOutOfGeometry) {
  for (int clip_index = 0; clip_index < 6; ++clip_index) {
    GenerationParams params = small_settings(GetParam(), 7, 24).generation;
    const GeneratedClip clip = generate_clip(params, clip_index);
    const SceneTracer tracer(clip.scene);
    ASSERT_EQ(clip.cameras.size(), 24u);
    std::vector<double> steps;
    for (std::size_t i = 0; i + 1 < clip.cameras.size(); ++i) {
      steps.push_back(distance(centre(clip.cameras[i]), centre(clip.cameras[i + 1])));
    }
    const double longest = *std::max_element(steps.begin(), steps.end());
    const double mean =
        std::accumulate(steps.begin(), steps.end(), 0.0) / static_cast<double>(steps.size());
    SCOPED_TRACE("clip " + std::to_string(clip_index) + " " + clip.description.dump());
    // Bounded steps and no jumps: no step is far above the average step.
    EXPECT_LT(longest, 1.0);
    EXPECT_LE(longest, 3.0 * mean + 0.02);
    for (std::size_t i = 0; i + 1 < clip.cameras.size(); ++i) {
      EXPECT_LT(rotation_angle(clip.cameras[i], clip.cameras[i + 1]), radians(12)) << "frame " << i;
      // The segment between consecutive centres crosses no surface.
      const Vec3 a = camera_centre(clip.cameras[i]), b = camera_centre(clip.cameras[i + 1]);
      const float gap = length(b - a);
      if (gap > 1e-6f) {
        EXPECT_TRUE(std::isinf(tracer.first_hit(a, (b - a) / gap, gap))) << "frame " << i;
      }
    }
    for (std::size_t i = 0; i < clip.cameras.size(); ++i) {
      const Vec3 c = camera_centre(clip.cameras[i]);
      // Clearance in every direction of a 26-neighbourhood: the camera is not inside or touching
      // anything.
      float nearest = std::numeric_limits<float>::infinity();
      for (int dx = -1; dx <= 1; ++dx) {
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dz = -1; dz <= 1; ++dz) {
            if (dx == 0 && dy == 0 && dz == 0) continue;
            nearest = std::min(
                nearest,
                tracer.first_hit(c, normalize(Vec3{float(dx), float(dy), float(dz)}), 100.0f));
          }
        }
      }
      EXPECT_GT(nearest, 0.1f) << "frame " << i;
      for (const SceneObject& object : clip.scene.objects) {
        if (object.role != ObjectRole::kProp) continue;
        const Vec3 lo = object.mesh.bounds_min(), hi = object.mesh.bounds_max();
        const bool inside =
            c.x > lo.x && c.x < hi.x && c.y > lo.y && c.y < hi.y && c.z > lo.z && c.z < hi.z;
        EXPECT_FALSE(inside) << "frame " << i << " inside " << object.name;
      }
    }
  }
}

TEST_P(RenderFamily, ImagesHaveContentAndValidDepth) {
  for (std::uint64_t seed : {3u, 4u, 5u}) {
    const Clip clip = render_clip(small_settings(GetParam(), seed, 2), RenderAssets{}, 0);
    for (const Frame& frame : clip.frames) {
      double sum = 0, sum_sq = 0;
      for (std::uint8_t p : frame.rgb.pixels) {
        sum += p;
        sum_sq += static_cast<double>(p) * p;
      }
      const double n = static_cast<double>(frame.rgb.pixels.size());
      const double stddev = std::sqrt(sum_sq / n - (sum / n) * (sum / n));
      EXPECT_GT(stddev, 12.0) << "seed " << seed;
      const auto valid = std::count(frame.valid.pixels.begin(), frame.valid.pixels.end(), 1);
      EXPECT_GT(valid, static_cast<long>(frame.valid.pixels.size() / 4)) << "seed " << seed;
      for (std::size_t p = 0; p < frame.depth.pixels.size(); ++p) {
        const float z = frame.depth.pixels[p];
        ASSERT_TRUE(std::isfinite(z));
        ASSERT_EQ(z > 0, frame.valid.pixels[p] == 1);
      }
    }
  }
}

TEST_P(RenderFamily, SameSeedSameBytesAnyThreadCount) {
  RenderSettings one = small_settings(GetParam(), 11, 3);
  one.threads = 1;
  RenderSettings two = one;
  two.threads = 2;
  const Clip a = render_clip(one, RenderAssets{}, 2);
  const Clip b = render_clip(two, RenderAssets{}, 2);
  ASSERT_EQ(a.frames.size(), b.frames.size());
  for (std::size_t f = 0; f < a.frames.size(); ++f) {
    EXPECT_EQ(a.frames[f].rgb.pixels, b.frames[f].rgb.pixels);
    EXPECT_EQ(a.frames[f].depth.pixels, b.frames[f].depth.pixels);
    EXPECT_EQ(a.frames[f].valid.pixels, b.frames[f].valid.pixels);
    EXPECT_EQ(a.frames[f].camera.cam_from_world, b.frames[f].camera.cam_from_world);
  }
  EXPECT_EQ(a.meta, b.meta);
  // Another seed, or another clip index, gives other content.
  RenderSettings other = one;
  other.generation.seed = 12;
  EXPECT_NE(render_clip(other, RenderAssets{}, 2).frames[0].rgb.pixels, a.frames[0].rgb.pixels);
  EXPECT_NE(render_clip(one, RenderAssets{}, 3).frames[0].rgb.pixels, a.frames[0].rgb.pixels);
}

INSTANTIATE_TEST_SUITE_P(Families, RenderFamily,
                         ::testing::Values(Family::kObjects, Family::kScenes), family_test_name);

TEST(RenderScene, ClipContentDependsOnlyOnSeedFamilyAndIndex) {
  const GenerationParams params = small_settings(Family::kScenes, 5).generation;
  EXPECT_EQ(clip_seed(params, 4), clip_seed(params, 4));
  EXPECT_NE(clip_seed(params, 4), clip_seed(params, 5));
  GenerationParams objects = params;
  objects.family = Family::kObjects;
  EXPECT_NE(clip_seed(params, 4), clip_seed(objects, 4));
  EXPECT_EQ(clip_id(Family::kObjects, 42), "objects_00042");
}

TEST(RenderScene, CameraConventionLooksAlongForward) {
  const Camera camera = make_camera(64, 48, radians(90), {1, 2, 3}, {0, 1, 0}, 0.0f);
  // Principal point at the image centre, focal from the horizontal FOV.
  EXPECT_NEAR(camera.K[0], 32.0, 1e-4);
  EXPECT_DOUBLE_EQ(camera.K[2], 31.5);
  EXPECT_DOUBLE_EQ(camera.K[5], 23.5);
  // A point 5 m ahead projects to the principal point at depth 5; a point above is at v < cy.
  const Vec3d ahead = to_camera(camera, {1, 7, 3});
  EXPECT_NEAR(ahead[0], 0, 1e-6);
  EXPECT_NEAR(ahead[1], 0, 1e-6);
  EXPECT_NEAR(ahead[2], 5, 1e-6);
  EXPECT_LT(to_camera(camera, {1, 7, 4})[1], 0);  // +z world is up = -y image
  // Looking along +y with +z up, world +x is on the right: camera +x.
  EXPECT_GT(to_camera(camera, {2, 7, 3})[0], 0);
  const Vec3d c = centre(camera);
  EXPECT_NEAR(c[0], 1, 1e-6);
  EXPECT_NEAR(c[1], 2, 1e-6);
  EXPECT_NEAR(c[2], 3, 1e-6);
}

TEST(RenderScene, BadParametersAreRejectedWithTheirName) {
  GenerationParams params;
  params.fov_min_deg = 80;
  params.fov_max_deg = 40;
  EXPECT_THAT([&] { generate_clip(params, 0); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("field of view")));
  params = GenerationParams{};
  params.texture_richness = 2;
  EXPECT_THAT([&] { generate_clip(params, 0); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("--texture-richness")));
  EXPECT_THAT([] { parse_family("rooms"); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("rooms")));
}

TEST(RenderScene, ShadowsDarkenTheGroundBesideAnObject) {
  Scene scene;
  scene.objects.push_back(SceneObject{"ground",
                                      make_heightfield(20.0f, 1, [](float, float) { return 0.0f; }),
                                      Material{}, ObjectRole::kGround});
  scene.objects.push_back(SceneObject{"block", make_box({1, 1, 2}), Material{}, ObjectRole::kProp});
  scene.light.direction = normalize(Vec3{1, 0, 1});  // shadow falls toward -x
  scene.light.softness = 0;
  const SceneTracer tracer(scene);
  const Camera camera = make_camera(64, 64, radians(60), {0, 0, 8}, {0, 0.001f, -1}, 0.0f);
  ShadingOptions lit;
  ShadingOptions unlit;
  unlit.shadows = false;
  const Frame with = render_frames(tracer, {camera}, lit, 1)[0];
  const Frame without = render_frames(tracer, {camera}, unlit, 1)[0];
  // World point (-1.5, 0, 0) is in the shadow, (1.5, 0, 0) is not. Project them.
  auto pixel = [&](double x) {
    const Vec3d p = to_camera(camera, {x, 0, 0});
    return std::pair<int, int>{int(std::lround(camera.K[0] * p[0] / p[2] + camera.K[2])),
                               int(std::lround(camera.K[4] * p[1] / p[2] + camera.K[5]))};
  };
  const auto [su, sv] = pixel(-1.5);
  const auto [lu, lv] = pixel(1.5);
  EXPECT_LT(with.rgb.at(su, sv, 1) + 20, without.rgb.at(su, sv, 1));
  EXPECT_EQ(with.rgb.at(lu, lv, 1), without.rgb.at(lu, lv, 1));
}

}  // namespace
}  // namespace vidprobe

// Rendered depth against geometry computed independently: analytic planes and spheres, and
// multi-view consistency of whole generated clips.
#include <gtest/gtest.h>

#include <limits>

#include "render/render_test_util.h"
#include "vidprobe/render/scene_camera.h"
#include "vidprobe/render/tracer.h"

namespace vidprobe {
namespace {
using namespace render;
using namespace testing_render;

Scene plane_scene() {
  Scene scene;
  scene.objects.push_back(SceneObject{"ground",
                                      make_heightfield(50.0f, 1, [](float, float) { return 0.0f; }),
                                      Material{}, ObjectRole::kGround});
  return scene;
}

TEST(RenderDepth, GroundPlaneMatchesAnalyticDepth) {
  const Scene scene = plane_scene();
  const SceneTracer tracer(scene);
  // 2 m above the plane, pitched down 20 degrees, some roll.
  const Camera camera = make_camera(48, 40, radians(60), {1.0f, -2.0f, 2.0f},
                                    {std::cos(radians(20)), 0.2f, -std::sin(radians(20))}, 0.1f);
  const Frame frame = render_frames(tracer, {camera}, ShadingOptions{}, 1)[0];
  int checked = 0;
  for (int v = 0; v < camera.height; ++v) {
    for (int u = 0; u < camera.width; ++u) {
      // Ray C + s * d with d = R^T K^-1 [u, v, 1] (camera z = 1, so s is the z-depth).
      const Vec3d c = centre(camera);
      const Vec3d p1 = back_project(camera, u, v, 1.0);
      const double dz = p1[2] - c[2];
      const bool hits = dz < 0;
      const double s = hits ? -c[2] / dz : 0.0;
      const Vec3d hit{c[0] + s * (p1[0] - c[0]), c[1] + s * (p1[1] - c[1]), 0.0};
      const bool inside = hits && std::abs(hit[0]) < 49.0 && std::abs(hit[1]) < 49.0;
      if (!inside) continue;  // horizon / plane edge
      ASSERT_EQ(frame.valid.at(u, v), 1) << u << "," << v;
      EXPECT_NEAR(frame.depth.at(u, v), s, 1e-4 * s + 1e-5) << u << "," << v;
      ++checked;
    }
  }
  EXPECT_GT(checked, 48 * 40 / 3);
  // Rows above the horizon see the sky: invalid with zero depth.
  EXPECT_EQ(frame.valid.at(24, 0), 0);
  EXPECT_EQ(frame.depth.at(24, 0), 0.0f);
}

TEST(RenderDepth, SphereMatchesAnalyticDepth) {
  Scene scene;
  const float radius = 1.0f;
  const Vec3d sphere_centre{3.0, 0.5, 1.0};
  scene.objects.push_back(SceneObject{
      "ball",
      transformed(make_sphere(radius, 96, 192), Placement{{3.0f, 0.5f, 0.0f}, 0.3f, {1, 1, 1}}),
      Material{}, ObjectRole::kProp});
  const SceneTracer tracer(scene);
  const Camera camera =
      make_camera(64, 64, radians(50), {-1.0f, 0.0f, 1.4f}, {1.0f, 0.12f, -0.1f}, 0.0f);
  const Frame frame = render_frames(tracer, {camera}, ShadingOptions{}, 2)[0];
  int agree = 0, hits = 0, valid_mismatch = 0;
  for (int v = 0; v < 64; ++v) {
    for (int u = 0; u < 64; ++u) {
      const Vec3d c = centre(camera);
      const Vec3d p1 = back_project(camera, u, v, 1.0);
      const Vec3d d{p1[0] - c[0], p1[1] - c[1], p1[2] - c[2]};
      const Vec3d oc{c[0] - sphere_centre[0], c[1] - sphere_centre[1], c[2] - sphere_centre[2]};
      const double a = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
      const double b = 2 * (oc[0] * d[0] + oc[1] * d[1] + oc[2] * d[2]);
      const double cc = oc[0] * oc[0] + oc[1] * oc[1] + oc[2] * oc[2] - radius * radius;
      const double disc = b * b - 4 * a * cc;
      const bool analytic_hit = disc > 0;
      if (analytic_hit != (frame.valid.at(u, v) == 1)) {
        ++valid_mismatch;  // only possible on the tessellated silhouette
        continue;
      }
      if (!analytic_hit) continue;
      ++hits;
      const double s = (-b - std::sqrt(disc)) / (2 * a);
      // Tessellation error of a 192-segment sphere is below 0.02% of the radius... at the
      // silhouette the chord error grows, hence the small absolute slack.
      if (std::abs(frame.depth.at(u, v) - s) < 2e-3 * s) ++agree;
    }
  }
  EXPECT_GT(hits, 300);
  EXPECT_GE(agree, hits * 98 / 100);
  EXPECT_LT(valid_mismatch, 20);
}

// For many valid pixels of frame a: back-project, project into frame b, compare with b's depth
// around the projection. Occlusion makes b's depth smaller, never larger, so points that b sees
// something nearer in front of are skipped; agreement is counted among the rest.
double reprojection_agreement(const Clip& clip, std::size_t a, std::size_t b, int* considered) {
  const Frame& fa = clip.frames[a];
  const Frame& fb = clip.frames[b];
  int total = 0, agree = 0;
  for (int v = 0; v < fa.camera.height; v += 2) {
    for (int u = 0; u < fa.camera.width; u += 2) {
      if (!fa.valid.at(u, v)) continue;
      const Vec3d world = back_project(fa.camera, u, v, fa.depth.at(u, v));
      const Vec3d x = to_camera(fb.camera, world);
      if (x[2] <= 0.05) continue;
      const double ub = fb.camera.K[0] * x[0] / x[2] + fb.camera.K[2];
      const double vb = fb.camera.K[4] * x[1] / x[2] + fb.camera.K[5];
      // The point lies between four pixel centres. At 64 x 64 one pixel of a grazing floor
      // spans several percent of depth, so on a continuous patch (the four depths within 30%)
      // the point agrees if its depth lies in their range (+-2%); across an edge it must match
      // one of them within 2%.
      const long u0 = static_cast<long>(std::floor(ub)), v0 = static_cast<long>(std::floor(vb));
      if (u0 < 0 || v0 < 0 || u0 + 1 >= fb.camera.width || v0 + 1 >= fb.camera.height) continue;
      const long iu = std::lround(ub), iv = std::lround(vb);
      if (!fb.valid.at(static_cast<int>(iu), static_cast<int>(iv))) continue;
      double lo = std::numeric_limits<double>::infinity(), hi = 0;
      bool match = false;
      for (long dv = 0; dv <= 1; ++dv) {
        for (long du = 0; du <= 1; ++du) {
          const double zb = fb.depth.at(static_cast<int>(u0 + du), static_cast<int>(v0 + dv));
          if (zb <= 0) continue;
          lo = std::min(lo, zb);
          hi = std::max(hi, zb);
          match = match || std::abs(zb - x[2]) <= 0.02 * x[2];
        }
      }
      if (hi <= 1.3 * lo) match = match || (x[2] >= 0.98 * lo && x[2] <= 1.02 * hi);
      // Hidden behind something nearer in b (every neighbour is in front): occluded, not a
      // disagreement. Seeing *through* the point (b's depth larger) is a disagreement.
      if (!match && x[2] > 1.02 * hi) continue;
      ++total;
      if (match) ++agree;
    }
  }
  *considered = total;
  return total ? static_cast<double>(agree) / total : 0.0;
}

class RenderConsistency : public ::testing::TestWithParam<Family> {};

TEST_P(RenderConsistency, DepthReprojectsBetweenFrames) {
  for (std::uint64_t seed : {1u, 2u}) {
    const RenderSettings settings = small_settings(GetParam(), seed, 10, 64);
    const Clip clip = render_clip(settings, RenderAssets{}, 0);
    for (std::size_t a = 0; a + 1 < clip.frames.size(); ++a) {
      int considered = 0;
      const double agreement = reprojection_agreement(clip, a, a + 1, &considered);
      EXPECT_GT(considered, 100) << "seed " << seed << " frames " << a << "->" << a + 1;
      EXPECT_GT(agreement, 0.85) << "seed " << seed << " frames " << a << "->" << a + 1;
    }
    // The check can fail: store frame 1's pose inverted (world-from-camera, the classic
    // convention mix-up) and agreement collapses.
    Clip broken = clip;
    auto& E = broken.frames[1].camera.cam_from_world;
    const auto original = E;
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) E[r * 4 + c] = original[c * 4 + r];
    }
    for (int r = 0; r < 3; ++r) {
      E[r * 4 + 3] = -(original[0 * 4 + r] * original[3] + original[1 * 4 + r] * original[7] +
                       original[2 * 4 + r] * original[11]);
    }
    int considered = 0;
    EXPECT_LT(reprojection_agreement(broken, 0, 1, &considered), 0.6);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, RenderConsistency,
                         ::testing::Values(Family::kObjects, Family::kScenes), family_test_name);

}  // namespace
}  // namespace vidprobe

#pragma once
// Embree 3 ray tracer for a static Scene: the BVH is built once, then any number of cameras are
// rendered from it. Rendering is a pure function of (scene, camera, options): every pixel is
// computed independently (per-pixel hashing for shadow jitter), so the output bytes do not depend
// on the thread count or on the order in which tiles are rendered.
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "vidprobe/data/frame.h"
#include "vidprobe/render/scene_description.h"

namespace vidprobe::render {

struct ShadingOptions {
  bool shadows = true;
  int shadow_samples = 1;  // > 1 with a soft light: jittered shadow rays per pixel
};

class SceneTracer {
 public:
  explicit SceneTracer(const Scene& scene);  // keeps a reference: scene must outlive the tracer
  ~SceneTracer();
  SceneTracer(const SceneTracer&) = delete;
  SceneTracer& operator=(const SceneTracer&) = delete;

  // Renders rows [row_begin, row_end) of frame (whose images are already sized to the camera).
  void render_rows(const Camera& camera, const ShadingOptions& options, int row_begin, int row_end,
                   Frame& frame) const;
  // Distance to the first surface along origin + s * direction (unit), or +inf within max_distance.
  float first_hit(Vec3 origin, Vec3 direction, float max_distance) const;

  const Scene& scene() const { return scene_; }
  std::uint64_t rays_traced() const { return rays_traced_.load(); }

 private:
  struct Impl;
  const Scene& scene_;
  std::unique_ptr<Impl> impl_;
  mutable std::atomic<std::uint64_t> rays_traced_{0};
};

// Empty frame (images allocated, camera set) for camera.
Frame allocate_frame(const Camera& camera);

// The render threads `threads` asks for: itself, or for 0 all of this process's cores.
int render_threads(int threads);

// Renders every camera on render_threads(threads) threads (at most one per tile) pulling tiles
// of rows from a shared counter.
std::vector<Frame> render_frames(const SceneTracer& tracer, const std::vector<Camera>& cameras,
                                 const ShadingOptions& options, int threads);

}  // namespace vidprobe::render

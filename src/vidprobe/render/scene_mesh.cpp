#include "vidprobe/render/scene_mesh.h"

#include <limits>

#include "vidprobe/core/error.h"
#include "vidprobe/render/scene_noise.h"

namespace vidprobe::render {
namespace {

using Index = std::uint32_t;

Index add_vertex(TriangleMesh& mesh, Vec3 position, Vec3 normal, float u, float v) {
  mesh.positions.push_back(position);
  mesh.normals.push_back(normalize(normal));
  mesh.uvs.push_back({u, v});
  return static_cast<Index>(mesh.positions.size() - 1);
}

// A (rows + 1) x (columns + 1) vertex grid from a parametric surface; triangles wind so that
// the normal points along cross(d/du, d/dv).
void add_grid(TriangleMesh& mesh, int rows, int columns,
              const std::function<void(float, float, Vec3&, Vec3&, float&, float&)>& surface) {
  const auto base = static_cast<Index>(mesh.positions.size());
  for (int r = 0; r <= rows; ++r) {
    for (int c = 0; c <= columns; ++c) {
      Vec3 p, n;
      float u = 0, v = 0;
      surface(static_cast<float>(c) / columns, static_cast<float>(r) / rows, p, n, u, v);
      add_vertex(mesh, p, n, u, v);
    }
  }
  const auto stride = static_cast<Index>(columns + 1);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) {
      const Index a = base + static_cast<Index>(r) * stride + static_cast<Index>(c);
      const Index b = a + 1, d = a + stride, e = d + 1;
      mesh.triangles.push_back({a, b, e});
      mesh.triangles.push_back({a, e, d});
    }
  }
}

void add_quad(TriangleMesh& mesh, Vec3 origin, Vec3 edge_u, Vec3 edge_v) {
  const Vec3 normal = normalize(cross(edge_u, edge_v));
  const float lu = length(edge_u), lv = length(edge_v);
  const Index a = add_vertex(mesh, origin, normal, 0, 0);
  const Index b = add_vertex(mesh, origin + edge_u, normal, lu, 0);
  const Index c = add_vertex(mesh, origin + edge_u + edge_v, normal, lu, lv);
  const Index d = add_vertex(mesh, origin + edge_v, normal, 0, lv);
  mesh.triangles.push_back({a, b, c});
  mesh.triangles.push_back({a, c, d});
}

float polygon_area(const std::vector<std::array<float, 2>>& polygon) {
  float area = 0;
  for (std::size_t i = 0; i < polygon.size(); ++i) {
    const auto& p = polygon[i];
    const auto& q = polygon[(i + 1) % polygon.size()];
    area += p[0] * q[1] - q[0] * p[1];
  }
  return 0.5f * area;
}

// Ear clipping for a simple counter-clockwise polygon; returns index triples into polygon.
std::vector<std::array<Index, 3>> triangulate(const std::vector<std::array<float, 2>>& polygon) {
  std::vector<Index> remaining(polygon.size());
  for (std::size_t i = 0; i < polygon.size(); ++i) remaining[i] = static_cast<Index>(i);
  auto cross2 = [&](Index a, Index b, Index c) {
    const auto &pa = polygon[a], &pb = polygon[b], &pc = polygon[c];
    return (pb[0] - pa[0]) * (pc[1] - pa[1]) - (pb[1] - pa[1]) * (pc[0] - pa[0]);
  };
  std::vector<std::array<Index, 3>> out;
  while (remaining.size() > 3) {
    bool clipped = false;
    for (std::size_t i = 0; i < remaining.size(); ++i) {
      const Index a = remaining[(i + remaining.size() - 1) % remaining.size()];
      const Index b = remaining[i];
      const Index c = remaining[(i + 1) % remaining.size()];
      if (cross2(a, b, c) <= 0) continue;  // reflex corner
      bool contains_other = false;
      for (Index k : remaining) {
        if (k == a || k == b || k == c) continue;
        if (cross2(a, b, k) >= 0 && cross2(b, c, k) >= 0 && cross2(c, a, k) >= 0) {
          contains_other = true;
          break;
        }
      }
      if (contains_other) continue;
      out.push_back({a, b, c});
      remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(i));
      clipped = true;
      break;
    }
    require(clipped, "extrusion polygon is not simple");
  }
  out.push_back({remaining[0], remaining[1], remaining[2]});
  return out;
}

}  // namespace

void TriangleMesh::append(const TriangleMesh& other) {
  const auto base = static_cast<Index>(positions.size());
  positions.insert(positions.end(), other.positions.begin(), other.positions.end());
  normals.insert(normals.end(), other.normals.begin(), other.normals.end());
  uvs.insert(uvs.end(), other.uvs.begin(), other.uvs.end());
  for (const auto& t : other.triangles)
    triangles.push_back({t[0] + base, t[1] + base, t[2] + base});
}

Vec3 TriangleMesh::bounds_min() const {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  Vec3 lo{kInf, kInf, kInf};
  for (const Vec3& p : positions) lo = min(lo, p);
  return lo;
}

Vec3 TriangleMesh::bounds_max() const {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  Vec3 hi{-kInf, -kInf, -kInf};
  for (const Vec3& p : positions) hi = max(hi, p);
  return hi;
}

TriangleMesh transformed(TriangleMesh mesh, const Placement& placement) {
  const float c = std::cos(placement.yaw), s = std::sin(placement.yaw);
  const Vec3 k = placement.scale;
  for (Vec3& p : mesh.positions) {
    const Vec3 q = p * k;
    p = placement.position + Vec3{c * q.x - s * q.y, s * q.x + c * q.y, q.z};
  }
  // Normals transform with the inverse transpose: divide by the scale, then rotate.
  for (Vec3& n : mesh.normals) {
    const Vec3 q = normalize(Vec3{n.x / k.x, n.y / k.y, n.z / k.z});
    n = Vec3{c * q.x - s * q.y, s * q.x + c * q.y, q.z};
  }
  // Keep uvs in metres under scaling (approximately: the mean scale).
  if (placement.metric_uvs) {
    const float uv_scale = (k.x + k.y + k.z) / 3.0f;
    for (auto& uv : mesh.uvs) uv = {uv[0] * uv_scale, uv[1] * uv_scale};
  }
  return mesh;
}

TriangleMesh make_box(Vec3 size) {
  TriangleMesh mesh;
  const float hx = size.x / 2, hy = size.y / 2, h = size.z;
  const Vec3 o{-hx, -hy, 0};
  const Vec3 ex{size.x, 0, 0}, ey{0, size.y, 0}, ez{0, 0, h};
  add_quad(mesh, o, ey, ex);                    // bottom (-z)
  add_quad(mesh, o + ez, ex, ey);               // top (+z)
  add_quad(mesh, o, ex, ez);                    // front (-y)
  add_quad(mesh, o + ey + ex, ex * -1.0f, ez);  // back (+y)
  add_quad(mesh, o + ey, ey * -1.0f, ez);       // left (-x)
  add_quad(mesh, o + ex, ey, ez);               // right (+x)
  return mesh;
}

TriangleMesh make_sphere(float radius, int rings, int segments) {
  TriangleMesh mesh;
  add_grid(mesh, rings, segments, [&](float a, float b, Vec3& p, Vec3& n, float& u, float& v) {
    const float phi = 2 * kPi * a, theta = kPi * b;  // theta from the bottom pole up
    n = Vec3{std::sin(theta) * std::cos(phi), std::sin(theta) * std::sin(phi), -std::cos(theta)};
    p = Vec3{0, 0, radius} + n * radius;
    u = phi * radius;
    v = theta * radius;
  });
  return mesh;
}

TriangleMesh make_revolved(const std::vector<std::array<float, 2>>& profile, int segments) {
  require(profile.size() >= 2, "revolved profile needs at least two points");
  TriangleMesh mesh;
  // Arc length along the profile gives the v coordinate.
  std::vector<float> arc(profile.size(), 0.0f);
  for (std::size_t i = 1; i < profile.size(); ++i) {
    arc[i] = arc[i - 1] +
             std::hypot(profile[i][0] - profile[i - 1][0], profile[i][1] - profile[i - 1][1]);
  }
  const auto rows = static_cast<int>(profile.size()) - 1;
  add_grid(mesh, rows, segments, [&](float a, float b, Vec3& p, Vec3& n, float& u, float& v) {
    const auto i = static_cast<std::size_t>(std::lround(b * static_cast<float>(rows)));
    const std::size_t prev = i == 0 ? 0 : i - 1, next = std::min(i + 1, profile.size() - 1);
    const float dr = profile[next][0] - profile[prev][0], dz = profile[next][1] - profile[prev][1];
    const float phi = 2 * kPi * a;
    const float c = std::cos(phi), s = std::sin(phi);
    p = Vec3{profile[i][0] * c, profile[i][0] * s, profile[i][1]};
    n = Vec3{dz * c, dz * s, -dr};  // profile tangent rotated by -90 degrees
    u = phi * std::max(profile[i][0], 0.05f);
    v = arc[i];
  });
  return mesh;
}

TriangleMesh make_cylinder(float radius, float height, int segments, bool capped) {
  TriangleMesh mesh;
  add_grid(mesh, 1, segments, [&](float a, float b, Vec3& p, Vec3& n, float& u, float& v) {
    const float phi = 2 * kPi * a;
    n = Vec3{std::cos(phi), std::sin(phi), 0};
    p = Vec3{radius * n.x, radius * n.y, b * height};
    u = phi * radius;
    v = b * height;
  });
  if (capped) {
    for (int side = 0; side < 2; ++side) {
      const float z = side == 0 ? 0.0f : height;
      const Vec3 normal{0, 0, side == 0 ? -1.0f : 1.0f};
      const Index centre = add_vertex(mesh, {0, 0, z}, normal, 0, 0);
      const auto first = static_cast<Index>(mesh.positions.size());
      for (int k = 0; k < segments; ++k) {
        const float phi = 2 * kPi * static_cast<float>(k) / segments;
        const float x = radius * std::cos(phi), y = radius * std::sin(phi);
        add_vertex(mesh, {x, y, z}, normal, x, y);
      }
      for (int k = 0; k < segments; ++k) {
        const Index a = first + static_cast<Index>(k);
        const Index b = first + static_cast<Index>((k + 1) % segments);
        mesh.triangles.push_back(side == 0 ? std::array<Index, 3>{centre, b, a}
                                           : std::array<Index, 3>{centre, a, b});
      }
    }
  }
  return mesh;
}

TriangleMesh make_torus(float major_radius, float minor_radius, int rings, int segments) {
  TriangleMesh mesh;
  add_grid(mesh, rings, segments, [&](float a, float b, Vec3& p, Vec3& n, float& u, float& v) {
    const float phi = 2 * kPi * a, theta = -2 * kPi * b;
    const Vec3 radial{std::cos(phi), std::sin(phi), 0};
    n = radial * std::cos(theta) + Vec3{0, 0, std::sin(theta)};
    p = radial * major_radius + n * minor_radius + Vec3{0, 0, minor_radius};
    u = phi * major_radius;
    v = -theta * minor_radius;
  });
  return mesh;
}

TriangleMesh make_extrusion(const std::vector<std::array<float, 2>>& polygon_in, float height) {
  require(polygon_in.size() >= 3, "extrusion needs a polygon of at least three points");
  std::vector<std::array<float, 2>> polygon = polygon_in;
  if (polygon_area(polygon) < 0) std::reverse(polygon.begin(), polygon.end());
  TriangleMesh mesh;
  float perimeter = 0;
  for (std::size_t i = 0; i < polygon.size(); ++i) {
    const auto& p = polygon[i];
    const auto& q = polygon[(i + 1) % polygon.size()];
    const Vec3 a{p[0], p[1], 0}, b{q[0], q[1], 0};
    const Vec3 normal = normalize(Vec3{q[1] - p[1], p[0] - q[0], 0});
    const float len = length(b - a);
    const Index i0 = add_vertex(mesh, a, normal, perimeter, 0);
    const Index i1 = add_vertex(mesh, b, normal, perimeter + len, 0);
    const Index i2 = add_vertex(mesh, b + Vec3{0, 0, height}, normal, perimeter + len, height);
    const Index i3 = add_vertex(mesh, a + Vec3{0, 0, height}, normal, perimeter, height);
    mesh.triangles.push_back({i0, i1, i2});
    mesh.triangles.push_back({i0, i2, i3});
    perimeter += len;
  }
  const auto caps = triangulate(polygon);
  for (int side = 0; side < 2; ++side) {
    const float z = side == 0 ? 0.0f : height;
    const Vec3 normal{0, 0, side == 0 ? -1.0f : 1.0f};
    const auto first = static_cast<Index>(mesh.positions.size());
    for (const auto& p : polygon) add_vertex(mesh, {p[0], p[1], z}, normal, p[0], p[1]);
    for (const auto& t : caps) {
      mesh.triangles.push_back(
          side == 0 ? std::array<Index, 3>{first + t[0], first + t[2], first + t[1]}
                    : std::array<Index, 3>{first + t[0], first + t[1], first + t[2]});
    }
  }
  return mesh;
}

TriangleMesh make_heightfield(float half_extent, int cells,
                              const std::function<float(float, float)>& height) {
  TriangleMesh mesh;
  const float step = 2 * half_extent / static_cast<float>(cells);
  add_grid(mesh, cells, cells, [&](float a, float b, Vec3& p, Vec3& n, float& u, float& v) {
    const float x = -half_extent + 2 * half_extent * a, y = -half_extent + 2 * half_extent * b;
    p = Vec3{x, y, height(x, y)};
    const float e = 0.5f * step;
    const float dx = (height(x + e, y) - height(x - e, y)) / (2 * e);
    const float dy = (height(x, y + e) - height(x, y - e)) / (2 * e);
    n = Vec3{-dx, -dy, 1};
    u = x;
    v = y;
  });
  return mesh;
}

TriangleMesh make_blob(float radius, float roughness, std::uint64_t seed, int rings, int segments) {
  TriangleMesh mesh = make_sphere(radius, rings, segments);
  const auto noise_seed = static_cast<std::uint32_t>(seed);
  const Vec3 centre{0, 0, radius};
  for (std::size_t i = 0; i < mesh.positions.size(); ++i) {
    const Vec3 dir = mesh.normals[i];
    const float n = fractal_noise(dir * 1.3f, 1.0f, 3, noise_seed);
    mesh.positions[i] = centre + dir * (radius * (1.0f + roughness * (2 * n - 1)));
  }
  // Recompute vertex normals from the displaced faces (area-weighted).
  std::vector<Vec3> accumulated(mesh.positions.size(), Vec3{});
  for (const auto& t : mesh.triangles) {
    const Vec3 face = cross(mesh.positions[t[1]] - mesh.positions[t[0]],
                            mesh.positions[t[2]] - mesh.positions[t[0]]);
    for (Index k : t) accumulated[k] += face;
  }
  // (Seam vertices are duplicated, so the seam shows a faint crease; invisible on rough rocks.)
  for (std::size_t i = 0; i < mesh.positions.size(); ++i)
    mesh.normals[i] = normalize(accumulated[i]);
  const float lowest = mesh.bounds_min().z;
  for (Vec3& p : mesh.positions) p.z -= lowest;
  return mesh;
}

}  // namespace vidprobe::render

#include "vidprobe/report/viewer.h"

namespace vidprobe::report {

// The viewer's page script (three.js r111, global THREE). Points and cameras are in the OpenCV
// frame of the ground truth (x right, y down, z forward); a group flips y and z so three.js's
// camera (y up, looking down -z) starts behind the first camera. Orbit and zoom are a few lines
// here rather than three's examples/ OrbitControls, so the page needs three.min.js only. Its length
// is the script's: one string literal, kept whole so it reads as the browser gets it.
const char* viewer_script() {
  return R"JS(
(function () {
  const data = window.VIDPROBE_CLOUD;
  const canvas = document.getElementById('view');
  const renderer = new THREE.WebGLRenderer({canvas: canvas, antialias: true,
                                            preserveDrawingBuffer: true});
  renderer.setClearColor(0xffffff);
  const scene = new THREE.Scene();
  const world = new THREE.Group();
  world.scale.set(1, -1, -1);
  scene.add(world);

  function rampColour(t) {  // blue (0) -> yellow -> red (1)
    t = Math.min(1, Math.max(0, t));
    return t < 0.5 ? [t * 2, t * 2, 1 - t * 2] : [1, 2 - t * 2, 0];
  }
  function percentile(values, q) {
    const sorted = Array.from(values).sort(function (a, b) { return a - b; });
    return sorted.length ? sorted[Math.floor(q * (sorted.length - 1))] : 1;
  }
  const errorScale = percentile(data.error, 0.95) || 1;
  document.getElementById('error-top').textContent = errorScale.toPrecision(2);

  function cloud(positions, colourOf) {
    const n = positions.length / 3;
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.Float32BufferAttribute(positions, 3));
    const colours = new Float32Array(n * 3);
    for (let i = 0; i < n; ++i) colours.set(colourOf(i), i * 3);
    geometry.setAttribute('color', new THREE.BufferAttribute(colours, 3));
    const points = new THREE.Points(geometry, new THREE.PointsMaterial(
        {size: data.point_size, vertexColors: true}));
    world.add(points);
    return points;
  }
  const rgb = function (i) {
    return [data.rgb[i * 3] / 255, data.rgb[i * 3 + 1] / 255, data.rgb[i * 3 + 2] / 255];
  };
  const clouds = {
    gt: {rgb: cloud(data.gt, rgb), error: cloud(data.gt, function () { return [0.6, 0.6, 0.6]; })},
    pred: {rgb: cloud(data.pred, rgb),
           error: cloud(data.pred, function (i) { return rampColour(data.error[i] / errorScale); })}
  };

  function frusta(cameras, colour) {
    const K = data.intrinsics, w = data.width, h = data.height, depth = data.frustum_depth;
    const vertices = [];
    for (let c = 0; c < cameras.length / 12; ++c) {
      const m = cameras.slice(c * 12, c * 12 + 12);  // world-from-camera [R | C], row-major
      const k = K.slice(c * 9, c * 9 + 9);
      const toWorld = function (x, y, z) {
        return [m[0] * x + m[1] * y + m[2] * z + m[3], m[4] * x + m[5] * y + m[6] * z + m[7],
                m[8] * x + m[9] * y + m[10] * z + m[11]];
      };
      const centre = toWorld(0, 0, 0);
      const corners = [[0, 0], [w, 0], [w, h], [0, h]].map(function (uv) {
        return toWorld((uv[0] - k[2]) / k[0] * depth, (uv[1] - k[5]) / k[4] * depth, depth);
      });
      for (let i = 0; i < 4; ++i) {
        vertices.push.apply(vertices, centre.concat(corners[i]));
        vertices.push.apply(vertices, corners[i].concat(corners[(i + 1) % 4]));
      }
    }
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.Float32BufferAttribute(vertices, 3));
    const lines = new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({color: colour}));
    world.add(lines);
    return lines;
  }
  const cameras = {gt: frusta(data.gt_cameras, 0x1b9e3a), pred: frusta(data.pred_cameras, 0xe8702a)};

  const view = new THREE.PerspectiveCamera(50, canvas.width / canvas.height, 0.001, 1000);
  const target = new THREE.Vector3(data.centre[0], -data.centre[1], -data.centre[2]);
  let yaw = 0, pitch = 0, distance = data.radius * 2.5;
  function render() {
    const show = function (name) { return document.getElementById(name).checked; };
    const mode = document.getElementById('colour').value;
    for (const which of ['gt', 'pred']) {
      clouds[which].rgb.visible = show('show-' + which) && mode === 'rgb';
      clouds[which].error.visible = show('show-' + which) && mode === 'error';
      cameras[which].visible = show('show-' + which) && show('show-cameras');
    }
    document.getElementById('error-legend').hidden = mode !== 'error';
    view.position.set(target.x + distance * Math.sin(yaw) * Math.cos(pitch),
                      target.y + distance * Math.sin(pitch),
                      target.z + distance * Math.cos(yaw) * Math.cos(pitch));
    view.lookAt(target);
    renderer.render(scene, view);
  }
  let dragging = null;
  canvas.addEventListener('mousedown', function (e) { dragging = [e.clientX, e.clientY]; });
  window.addEventListener('mouseup', function () { dragging = null; });
  window.addEventListener('mousemove', function (e) {
    if (!dragging) return;
    yaw -= (e.clientX - dragging[0]) * 0.01;
    pitch = Math.max(-1.5, Math.min(1.5, pitch + (e.clientY - dragging[1]) * 0.01));
    dragging = [e.clientX, e.clientY];
    render();
  });
  canvas.addEventListener('wheel', function (e) {
    e.preventDefault();
    distance *= e.deltaY > 0 ? 1.1 : 1 / 1.1;
    render();
  }, {passive: false});
  for (const id of ['show-gt', 'show-pred', 'show-cameras', 'colour'])
    document.getElementById(id).addEventListener('change', render);
  render();
  window.VIDPROBE_VIEWER_READY = true;
  console.log('vidprobe viewer ready: ' + data.gt.length / 3 + ' points per cloud');
})();
)JS";
}

}  // namespace vidprobe::report

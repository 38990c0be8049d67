// Writes seed inputs for the fuzz targets, with vidprobe's own writers, for the formats that
// tests/fixtures holds no file of (COLMAP, CO3D, DL3DV, clips, JPEG, 16-bit PNG, gzip).
// scripts/fuzz-smoke.sh adds the fixtures' own files (safetensors, PNG, JSON configs).
// Usage: fuzz_make_seeds OUT_DIR SOURCE_DIR   (writes OUT_DIR/<target>/<name>; SOURCE_DIR is the
// repository, for the config fixtures)
// clang-format off
#include <cstddef>
#include <cstdio>
#include <jpeglib.h>  // needs size_t and FILE first
// clang-format on

#include <iostream>
#include <sstream>

#include "dataset_support.h"
#include "vidprobe/data/colmap.h"
#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors.h"

namespace fs = std::filesystem;
using namespace vidprobe;

namespace {

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string jpeg_bytes(int width, int height, int components) {
  jpeg_compress_struct info{};
  jpeg_error_mgr error{};
  info.err = jpeg_std_error(&error);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long length = 0;
  jpeg_mem_dest(&info, &buffer, &length);
  info.image_width = static_cast<JDIMENSION>(width);
  info.image_height = static_cast<JDIMENSION>(height);
  info.input_components = components;
  info.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&info);
  jpeg_start_compress(&info, TRUE);
  std::vector<unsigned char> row(static_cast<std::size_t>(width * components));
  while (info.next_scanline < info.image_height) {
    for (std::size_t i = 0; i < row.size(); ++i)
      row[i] = static_cast<unsigned char>(i * 13 + info.next_scanline * 31);
    JSAMPROW pointer = row.data();
    jpeg_write_scanlines(&info, &pointer, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::string bytes(reinterpret_cast<const char*>(buffer), length);
  std::free(buffer);
  return bytes;
}

ColmapModel colmap_model() {
  ColmapModel model;
  model.cameras[1] = {1, "PINHOLE", 4, 3, {2.0, 2.0, 2.0, 1.5}};
  model.cameras[2] = {2, "OPENCV", 4, 3, {2.0, 2.1, 2.0, 1.5, 0.01, 0.0, 0.0, 0.0}};
  model.cameras[3] = {3, "SIMPLE_RADIAL", 4, 3, {2.0, 2.0, 1.5, 0.02}};
  model.images.push_back({1, {1, 0, 0, 0}, {0, 0, 1}, 1, "frame_00001.png"});
  model.images.push_back({2, {0.9, 0.1, 0.3, 0.1}, {0.2, 0, 1}, 2, "frame_00002.png"});
  model.images.push_back({3, {0.7, 0.0, 0.7, 0.0}, {0, 0.1, 2}, 3, "frame_00003.png"});
  return model;
}

void colmap_seeds(const fs::path& out, const fs::path& work) {
  write_colmap_text(work / "text", colmap_model());
  fuzz::write_file(out / "colmap_text" / "model.txt", read_all(work / "text" / "cameras.txt") +
                                                          "\n----\n" +
                                                          read_all(work / "text" / "images.txt"));
  write_colmap_binary(work / "bin", colmap_model());
  const std::string cameras = read_all(work / "bin" / "cameras.bin");
  std::string prefix(4, '\0');
  for (int i = 0; i < 4; ++i) prefix[i] = static_cast<char>((cameras.size() >> (8 * i)) & 0xff);
  fuzz::write_file(out / "colmap_binary" / "model.bin",
                   prefix + cameras + read_all(work / "bin" / "images.bin"));
}

const char* kCo3dAnnotations = R"([
 {"sequence_name": "seq1", "frame_number": 0, "frame_timestamp": 0.0,
  "image": {"path": "img.png", "size": [3, 4]},
  "depth": {"path": "depth.png", "scale_adjustment": 1.5, "mask_path": "mask.png"},
  "mask": {"path": "mask.png", "mass": 10},
  "viewpoint": {"R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "T": [0.1, 0.2, 3.0],
                "focal_length": [2.0, 2.1], "principal_point": [0.0, 0.1],
                "intrinsics_format": "ndc_isotropic"}},
 {"sequence_name": "seq1", "frame_number": 1,
  "image": {"path": "img.png", "size": [3, 4]},
  "depth": {"path": "depth.png", "scale_adjustment": 1.0, "mask_path": null},
  "viewpoint": {"R": [[0, 1, 0], [-1, 0, 0], [0, 0, 1]], "T": [0, 0, 2],
                "focal_length": [1.5, 1.5], "principal_point": [0, 0]}},
 {"sequence_name": "seq2", "frame_number": 5,
  "image": {"path": "img.png", "size": [3, 4]}, "mask": {"path": "mask.png"},
  "viewpoint": {"R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "T": [0, 0, 1],
                "focal_length": [2, 2], "principal_point": [0, 0],
                "intrinsics_format": "ndc_norm_image_bounds"}}
])";

const char* kCo3dSetList =
    R"({"train": [["seq1", 0, "img.png"], ["seq1", 1, "img.png"]], "val": [], "test": [["seq2", 5, "img.png"]]})";

const char* kTransforms = R"({
 "camera_model": "OPENCV", "fl_x": 2.0, "fl_y": 2.0, "cx": 2.0, "cy": 1.5, "w": 4, "h": 3,
 "k1": 0.01, "k2": 0.0, "p1": 0.0, "p2": 0.0,
 "applied_transform": [[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0]],
 "frames": [
  {"file_path": "images/frame_00001.png",
   "transform_matrix": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 2], [0, 0, 0, 1]]},
  {"file_path": "images/frame_00002.png", "fl_x": 2.5, "w": 4, "h": 3,
   "transform_matrix": [[0, -1, 0, 0.1], [1, 0, 0, 0], [0, 0, 1, 2], [0, 0, 0, 1]]},
  {"file_path": "images/frame_00003.png", "camera_model": "PINHOLE",
   "transform_matrix": [[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 2], [0, 0, 0, 1]]}
 ]})";

void safetensors_seeds(const fs::path& out) {
  SafetensorsWriter writer;
  const std::vector<float> f32 = {1.0f, -2.0f, 0.5f, 4.0f, 8.0f, 0.25f};
  const std::vector<std::int64_t> i64 = {1, 2, 3};
  const std::vector<std::uint16_t> bf16 = {0x3f80, 0x4000};
  writer.add("a.weight", SafeDType::kF32, {2, 3}, std::as_bytes(std::span(f32)));
  writer.add("b.index", SafeDType::kI64, {3}, std::as_bytes(std::span(i64)));
  writer.add("c.half", SafeDType::kBF16, {1, 2}, std::as_bytes(std::span(bf16)));
  writer.add("d.empty", SafeDType::kF32, {0, 4}, {});
  writer.set_metadata("format", "pt");
  writer.write(out / "safetensors" / "three.safetensors");
}

// The configs target's input: a byte choosing the parser (fuzz_configs.cpp), then the JSON.
void config_seeds(const fs::path& out, const fs::path& source) {
  const auto seed = [&](const std::string& name, char parser, const nlohmann::json& json) {
    fuzz::write_file(out / "configs" / name, std::string(1, parser) + json.dump(1));
  };
  seed("probe.json", 0, read_json_file(source / "configs" / "demo-probe.json"));
  const auto wan = read_json_file(source / "tests/fixtures/wan/configs.json");
  seed("wan_dit.json", 1, wan.at("dit"));
  seed("wan_vae.json", 2, wan.at("vae"));
  seed("wan_umt5.json", 3, wan.at("umt5"));
  seed("cogvideox.json", 4,
       read_json_file(source / "tests/fixtures/cogvideox/configs.json").at("5b"));
  seed("fast3r.json", 5, read_json_file(source / "tests/fixtures/fast3r/config.json"));
  seed("opensora.json", 6, read_json_file(source / "tests/fixtures/opensora/config.json"));
  const auto cogvideox = source / "tests/fixtures/cogvideox";
  seed("cogvideox_vae.json", 7, read_json_file(cogvideox / "vae_config.json"));
  seed("cogvideox_scheduler.json", 8,
       read_json_file(cogvideox / "backbone_schedulers.json").at("5b-i2v").at("scheduler"));
  seed("vggt.json", 9,
       read_json_file(source / "tests/fixtures/backbones/vggt/meta.json").at("small"));
  seed("clip_text.json", 10,
       read_json_file(source / "tests/fixtures/opensora/text/clip/config.json"));
  seed("dinov2.json", 11,
       {{"model_type", "dinov2"},
        {"hidden_size", 384},
        {"num_hidden_layers", 12},
        {"mlp_ratio", 4},
        {"layer_norm_eps", 1e-6},
        {"use_swiglu_ffn", false}});
}

// The manifest CacheWriter writes (format, version, identity, channel count, build, the clips
// done and, while the extraction runs, the clips expected), and a metrics.json as `vidprobe eval`
// writes it (metrics, the constant predictor's baseline, the paper's block, the run and the
// features' identity). Both written by torch modules, so here by hand with the same keys.
void result_file_seeds(const fs::path& out) {
  const nlohmann::json identity = {
      {"backbone", "dinov2-vits14"}, {"layer", 4},  {"dataset_kind", "co3d"},
      {"temporal", "video"},         {"frames", 8}, {"dtype", "f16"}};
  const nlohmann::json manifest = {{"format", "vidprobe-feature-cache"},
                                   {"version", 1},
                                   {"identity", identity},
                                   {"feature_dim", 384},
                                   {"build", {{"version", "0.1.0"}, {"torch", "2.11.0"}}},
                                   {"clips", {"apple--110_13051_23361@0..7", "car--1_2@0-2-4"}},
                                   {"expected_clips", 3}};
  fuzz::write_file(out / "manifest" / "partial.json", manifest.dump(2));
  auto complete = manifest;
  complete.erase("expected_clips");
  fuzz::write_file(out / "manifest" / "complete.json", complete.dump(2));
  const nlohmann::json metrics = {{"camera.auc30", 0.41},  {"camera.rra30", 0.8},
                                  {"depth.abs_rel", 0.12}, {"depth.delta1", nullptr},
                                  {"points.err", 0.3},     {"points.chamfer", 0.05},
                                  {"num_clips", 2},        {"preset", "vidfm3d"}};
  auto eval = metrics;
  eval["baseline"] = metrics;
  eval["vidfm3d"] = {{"Auc_30", 0.4}, {"pmap_mse_aligned", 0.2}, {"paper_comparable", true}};
  eval["run"] = {{"label", "dinov2 L4"}, {"dataset", "co3d"}};
  eval["feature_manifest"] = {{"identity", identity}};
  fuzz::write_file(out / "metrics" / "eval.json", eval.dump(2));
  auto by_directory = metrics;
  by_directory["run"] = "runs/dinov2/L4";
  fuzz::write_file(out / "metrics" / "run_directory.json", by_directory.dump(2));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fuzz_make_seeds OUT_DIR SOURCE_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path work = fuzz::scratch();
  colmap_seeds(out, work);
  fuzz::write_file(out / "co3d" / "annotations.json", kCo3dAnnotations);
  fuzz::write_file(out / "co3d" / "with_set_list.json",
                   std::string(kCo3dAnnotations) + "\n----\n" + kCo3dSetList);
  write_gzip_file(out / "gzip_json" / "annotations.jgz", kCo3dAnnotations);
  fuzz::write_file(out / "json" / "annotations.json", kCo3dAnnotations);
  fuzz::write_file(out / "dl3dv" / "transforms.json", kTransforms);
  fuzz::write_file(out / "dl3dv" / "transforms_depth.json", std::string(kTransforms) + " ");
  fuzz::write_file(out / "json" / "transforms.json", kTransforms);
  write_synthetic_clip(work / "clips", fuzz::two_frame_clip());
  fuzz::write_file(out / "synthetic_clip" / "clip.json", read_all(work / "clips/clip/clip.json"));
  fuzz::write_frame_images(work / "images");
  for (const char* name : {"img.png", "depth.png", "mask.png"})
    fuzz::write_file(out / "png" / name, read_all(work / "images" / name));
  fuzz::write_file(out / "jpeg" / "rgb.jpg", jpeg_bytes(5, 3, 3));
  fuzz::write_file(out / "jpeg" / "gray.jpg", jpeg_bytes(3, 2, 1));
  safetensors_seeds(out);
  result_file_seeds(out);
  config_seeds(out, argv[2]);
  return 0;
}

#pragma once
// Checkpoints written by Python's torch.save (the zip format of PyTorch >= 1.6, e.g. the V-JEPA
// pre-training `.pth.tar` files), read with libtorch's own unpickler: it rebuilds dicts, lists,
// scalars and tensors only and executes no code (an unknown Python class is an error).
#include <filesystem>
#include <string>

#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe {

// True when the file starts like a zip archive (the torch.save format; safetensors files start
// with their header length).
bool is_torch_zip_file(const std::filesystem::path& path);

// Every tensor of the saved object, nested dicts flattened with "." between keys (integer keys
// written in decimal): {"encoder": {"module.backbone.norm.weight": t}} gives
// "encoder.module.backbone.norm.weight". Non-tensor values (numbers, strings, None, lists,
// tuples) are skipped. Throws vidprobe::Error naming the file for anything that is not a
// zip-format torch.save file or holds objects the unpickler cannot rebuild.
// Every tensor of the file is loaded into memory (optimizer state included).
TensorMap load_torch_zip_tensors(const std::filesystem::path& path);

}  // namespace vidprobe

#pragma once
// Extraction presets: named sets of extraction settings, applied to every option the user did not
// give. "vidfm3d" is the authors' extraction (zxhuang1698/VidFM3D features/*, docs/protocol.md):
//   every backbone   the whole frame squashed to the input size (no crop), GT 294 x 518 squashed
//                    the same way (VGGT's crop-mode size for 960 x 540 frames), the first 81
//                    consecutive frames of a sequence, whole clips kept (no --probe-frames);
//   wan2.1           block 20, the UniPC schedule of diffusers with flow shift 3 over 1000 steps at
//                    index 749 (sigma and fed timestep as diffusion_time.h computes them), the
//                    empty prompt padded to diffusers' 226 rows, float32, fresh noise per clip,
//                    input pixels PIL-LANCZOS-resized as diffusers' VideoProcessor (vidfm3d-wan);
//   dinov2           420 x 728 input PIL-BICUBIC-resized (vidfm3d-dinov2), tokens after the final
//                    LayerNorm, float32;
//   cogvideox        the first 97 consecutive frames fed as 2 interleaved clips of 49 sharing
//                    frame 0 (0, 1, 3, ..., 95 and 0, 2, ..., 96), both clips' 13 latent maps
//                    stored with the map their dataset reads per frame, 480 x 720 input
//                    PIL-LANCZOS-resized (vidfm3d-cogvideox), block 20 at DDIM index 749 of 1000
//                    (timestep 250), float16 (the VAE too: vae_dtype=fp16), fresh noise per
//                    clip;
//   aether           as cogvideox, but the first 81 frames as 2 clips of 41 (11 latent maps
//                    each) and bfloat16 (the VAE too, vae_dtype=bf16, and tiled: vae_tiling=on;
//                    the backbone runs the 4-step reconstruction per clip);
//   vjepa1           the first 76 consecutive frames as 5 clips of 16 sharing frame 0
//                    (spaced_clips=5), 480 x 832 input PIL-BILINEAR-resized (vidfm3d-vjepa), the
//                    last block without the final norm, float32;
//   fast3r           81 consecutive frames through the model at once, 288 x 512 input
//                    PIL-LANCZOS-resized (vidfm3d-fast3r: dust3r's load_images(size=512) of 16:9
//                    frames), the decoder's map 24 (dec_norm of the last block), bf16, fresh
//                    random image indices per clip.
//   opensora         129 consecutive frames fed, the 21 latent maps of the first 81 kept
//                    (--keep-first 81), 480 x 848 input PIL-BICUBIC-resized (vidfm3d-opensora),
//                    single_blocks[20] at t = 0.25 shifted, bf16 (the VAE too: vae_dtype=bf16),
//                    one noise draw for every clip.
#include <set>
#include <string>
#include <vector>

#include "vidprobe/features/extractor.h"

namespace vidprobe::features {

const std::vector<std::string>& extraction_preset_names();  // "none", "vidfm3d"

// `given` holds the long names of the options the user set ("frames", "gt-size", "layer",
// "timestep", "resize", "input-processor", "compute-dtype", "noise-per-clip", "sampling",
// "probe-frames", "keep-first", "interleaved-clips") and
// "backbone-opt:<key>" for every --backbone-opt key. Throws vidprobe::Error for an unknown preset.
void apply_extraction_preset(const std::string& preset, ExtractOptions& options,
                             const std::set<std::string>& given);

}  // namespace vidprobe::features

#pragma once
// The two PNG decoders behind read_png_u8 and read_png_u16 (image.h), for the tests, the fuzz
// target and the loader benchmark that compare them. read_png_* decode the formats datasets write
// (8- and 16-bit gray, gray + alpha, RGB and RGBA, not interlaced, without tRNS) with libdeflate,
// several times faster than libpng, and hand every other file to libpng; both give the same pixels.
#include <filesystem>

#include "vidprobe/io/image.h"

namespace vidprobe::png_decoders {

enum class PngDecoder { kLibdeflate, kLibpng };

// read_png_u8/u16, also saying which decoder decoded the file.
ImageU8 read_png_u8(const std::filesystem::path& path, PngDecoder* decoder);
ImageU16 read_png_u16(const std::filesystem::path& path, PngDecoder* decoder);

// libpng alone, whatever the format (the decoder before libdeflate).
ImageU8 read_png_u8_libpng(const std::filesystem::path& path);
ImageU16 read_png_u16_libpng(const std::filesystem::path& path);

// While forced, the fast path unfilters Paeth rows with its SSE2 code, which CPUs without SSE4.1
// take, so that the tests reach it on any machine (process-wide; false restores the choice by CPU).
void force_sse2_paeth(bool forced);

}  // namespace vidprobe::png_decoders

// PNG (libpng) and JPEG (libjpeg) codecs. Both libraries report errors through longjmp; every
// setjmp below sits in a function whose C++ objects were all constructed before the setjmp, and
// the callbacks between setjmp and longjmp hold no objects with destructors, so the jump skips
// no destructor. After a jump we throw vidprobe::Error naming the file.
#include "vidprobe/io/image.h"

#include <jpeglib.h>
// after jpeglib.h, which it needs
#include <jerror.h>
#include <png.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"

namespace vidprobe {
namespace fs = std::filesystem;
namespace {

// zlib level 3: about twice as fast as the default 6 for rendered frames, files ~10% larger.
constexpr int kPngCompressionLevel = 3;

struct PngIoState {
  const std::string* bytes = nullptr;  // input for reads
  std::size_t offset = 0;
  std::string* output = nullptr;  // output for writes
  char message[256] = {};
};

void png_error_to_jump(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngIoState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  png_longjmp(png, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}

void png_read_from_memory(png_structp png, png_bytep out, png_size_t length) {
  auto* state = static_cast<PngIoState*>(png_get_io_ptr(png));
  if (state->offset + length > state->bytes->size()) {
    png_error(png, "file is truncated");
  }
  std::memcpy(out, state->bytes->data() + state->offset, length);
  state->offset += length;
}

void png_write_to_memory(png_structp png, png_bytep data, png_size_t length) {
  auto* state = static_cast<PngIoState*>(png_get_io_ptr(png));
  state->output->append(reinterpret_cast<const char*>(data), length);
}

void png_flush_nothing(png_structp) {}

class PngReadHandle {
 public:
  explicit PngReadHandle(PngIoState* state) {
    png_ =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, state, png_error_to_jump, png_ignore_warning);
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngReadHandle() { png_destroy_read_struct(&png_, info_ ? &info_ : nullptr, nullptr); }
  PngReadHandle(const PngReadHandle&) = delete;
  PngReadHandle& operator=(const PngReadHandle&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

class PngWriteHandle {
 public:
  explicit PngWriteHandle(PngIoState* state) {
    png_ = png_create_write_struct(PNG_LIBPNG_VER_STRING, state, png_error_to_jump,
                                   png_ignore_warning);
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngWriteHandle() { png_destroy_write_struct(&png_, info_ ? &info_ : nullptr); }
  PngWriteHandle(const PngWriteHandle&) = delete;
  PngWriteHandle& operator=(const PngWriteHandle&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

std::string quoted(const fs::path& path) {
  return "'" + path.string() + "'";
}

// Decodes a PNG into Image<T>; T = uint8 expands/reduces everything to 8 bits, T = uint16 requires
// a 16-bit file. Channel count is kept (gray 1, gray+alpha 2, RGB 3, RGBA 4).
// Dataset frames are a few thousand pixels a side. A header claiming far more is a corrupt or
// hostile file (a few hundred bytes can declare gigabytes of pixels): refused before allocating.
constexpr std::uint64_t kMaxImagePixels = std::uint64_t{1} << 26;  // 8192 x 8192, 8K is 33 M

// `what` names the image (a quoted path) in the error.
void require_readable_size(const std::string& what, std::uint64_t width, std::uint64_t height) {
  require(width * height <= kMaxImagePixels,
          "image " + what + " declares " + std::to_string(width) + " x " + std::to_string(height) +
              " pixels, more than vidprobe reads (" + std::to_string(kMaxImagePixels) +
              "); the file is corrupt or not a video frame");
}

template <typename T>
Image<T> decode_png(const fs::path& path) {
  constexpr bool kWant16 = sizeof(T) == 2;
  const std::string bytes = read_file(path);
  require(
      bytes.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0,
      "not a PNG file: " + quoted(path));
  PngIoState state;
  state.bytes = &bytes;
  PngReadHandle handle(&state);
  require(handle.png() && handle.info(), "libpng could not allocate a reader for " + quoted(path));
  Image<T> image;
  std::vector<png_bytep> rows;
  if (setjmp(png_jmpbuf(handle.png()))) {
    throw Error("corrupt PNG " + quoted(path) + ": " + state.message);
  }
  png_structp png = handle.png();
  png_infop info = handle.info();
  png_set_read_fn(png, &state, png_read_from_memory);
  png_read_info(png, info);
  require_readable_size(quoted(path), png_get_image_width(png, info),
                        png_get_image_height(png, info));
  const int bit_depth = png_get_bit_depth(png, info);
  const int color_type = png_get_color_type(png, info);
  if (kWant16) {
    if (bit_depth != 16) {
      char message[64];
      std::snprintf(message, sizeof message, "expected a 16-bit PNG, found %d-bit", bit_depth);
      png_error(png, message);
    }
    png_set_swap(png);  // PNG stores 16-bit samples big-endian
  } else {
    png_set_expand(png);  // palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha
    if (bit_depth == 16) png_set_scale_16(png);
  }
  if (color_type == PNG_COLOR_TYPE_PALETTE && kWant16) png_error(png, "palette PNG is not 16-bit");
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int width = static_cast<int>(png_get_image_width(png, info));
  const int height = static_cast<int>(png_get_image_height(png, info));
  const int channels = png_get_channels(png, info);
  image = Image<T>(width, height, channels);
  rows.resize(static_cast<std::size_t>(height));
  for (int y = 0; y < height; ++y) {
    rows[y] = reinterpret_cast<png_bytep>(&image.at(0, y, 0));
  }
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  return image;
}

template <typename T>
void encode_png(const fs::path& path, const Image<T>& image) {
  constexpr int kBitDepth = sizeof(T) == 2 ? 16 : 8;
  require(image.width > 0 && image.height > 0, "cannot write empty image to " + quoted(path));
  require(image.channels >= 1 && image.channels <= 4,
          "cannot write a " + std::to_string(image.channels) + "-channel PNG to " + quoted(path));
  require(
      image.pixels.size() == static_cast<std::size_t>(image.width) * image.height * image.channels,
      "image buffer size does not match its shape for " + quoted(path));
  static constexpr int kColorTypes[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                        PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  std::string encoded;
  PngIoState state;
  state.output = &encoded;
  PngWriteHandle handle(&state);
  require(handle.png() && handle.info(), "libpng could not allocate a writer for " + quoted(path));
  std::vector<png_bytep> rows(static_cast<std::size_t>(image.height));
  for (int y = 0; y < image.height; ++y) {
    rows[y] = reinterpret_cast<png_bytep>(const_cast<T*>(&image.at(0, y, 0)));
  }
  if (setjmp(png_jmpbuf(handle.png()))) {
    throw Error("cannot encode PNG " + quoted(path) + ": " + state.message);
  }
  png_structp png = handle.png();
  png_infop info = handle.info();
  png_set_write_fn(png, &state, png_write_to_memory, png_flush_nothing);
  png_set_compression_level(png, kPngCompressionLevel);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width),
               static_cast<png_uint_32>(image.height), kBitDepth, kColorTypes[image.channels - 1],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  if (kBitDepth == 16) png_set_swap(png);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  write_file_atomically(path, encoded);
}

struct JpegErrorState {
  jpeg_error_mgr manager;  // first member: libjpeg passes a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
};

void jpeg_error_to_jump(j_common_ptr info) {
  auto* state = reinterpret_cast<JpegErrorState*>(info->err);
  info->err->format_message(info, state->message);
  std::longjmp(state->jump, 1);
}

// Warnings are ignored (cameras write benign ones, e.g. extraneous bytes before a marker) except
// the end of the data before the last scanline: libjpeg would fill the rest of the frame with
// gray and return it as if it were whole.
void jpeg_truncation_is_an_error(j_common_ptr info, int level) {
  if (level == -1 && info->err->msg_code == JWRN_JPEG_EOF) jpeg_error_to_jump(info);
}

class JpegDecompressHandle {
 public:
  explicit JpegDecompressHandle(JpegErrorState* errors) {
    info_.err = jpeg_std_error(&errors->manager);
    errors->manager.error_exit = jpeg_error_to_jump;
    errors->manager.emit_message = jpeg_truncation_is_an_error;
  }
  // Called once setjmp is armed: jpeg_create_decompress can itself fail.
  void create() {
    jpeg_create_decompress(&info_);
    created_ = true;
  }
  ~JpegDecompressHandle() {
    if (created_) jpeg_destroy_decompress(&info_);
  }
  JpegDecompressHandle(const JpegDecompressHandle&) = delete;
  JpegDecompressHandle& operator=(const JpegDecompressHandle&) = delete;
  jpeg_decompress_struct* get() { return &info_; }

 private:
  jpeg_decompress_struct info_{};
  bool created_ = false;
};

class JpegCompressHandle {
 public:
  explicit JpegCompressHandle(JpegErrorState* errors) {
    info_.err = jpeg_std_error(&errors->manager);
    errors->manager.error_exit = jpeg_error_to_jump;
  }
  // Called once setjmp is armed: jpeg_create_compress can itself fail.
  void create() {
    jpeg_create_compress(&info_);
    created_ = true;
  }
  ~JpegCompressHandle() {
    if (created_) jpeg_destroy_compress(&info_);
  }
  JpegCompressHandle(const JpegCompressHandle&) = delete;
  JpegCompressHandle& operator=(const JpegCompressHandle&) = delete;
  jpeg_compress_struct* get() { return &info_; }

 private:
  jpeg_compress_struct info_{};
  bool created_ = false;
};

// A libjpeg destination that appends to a string through a fixed buffer (jpeg_mem_dest would
// leak its own buffer when an error jumps out mid-image).
struct JpegStringDestination {
  jpeg_destination_mgr manager;  // first member: libjpeg passes a pointer to it
  std::string* output = nullptr;
  std::array<JOCTET, 16384> buffer{};
};

JpegStringDestination* string_destination(j_compress_ptr info) {
  return reinterpret_cast<JpegStringDestination*>(info->dest);
}

void jpeg_destination_reset(j_compress_ptr info) {
  auto* destination = string_destination(info);
  destination->manager.next_output_byte = destination->buffer.data();
  destination->manager.free_in_buffer = destination->buffer.size();
}

boolean jpeg_destination_flush_full(j_compress_ptr info) {
  auto* destination = string_destination(info);
  destination->output->append(reinterpret_cast<const char*>(destination->buffer.data()),
                              destination->buffer.size());
  jpeg_destination_reset(info);
  return TRUE;
}

void jpeg_destination_flush_rest(j_compress_ptr info) {
  auto* destination = string_destination(info);
  destination->output->append(reinterpret_cast<const char*>(destination->buffer.data()),
                              destination->buffer.size() - destination->manager.free_in_buffer);
}

void attach_string_destination(jpeg_compress_struct* info, JpegStringDestination* destination) {
  destination->manager.init_destination = jpeg_destination_reset;
  destination->manager.empty_output_buffer = jpeg_destination_flush_full;
  destination->manager.term_destination = jpeg_destination_flush_rest;
  info->dest = &destination->manager;
}

// Luma sampling factors against chroma's 1 x 1 (jpeg_set_defaults sets 2 x 2, i.e. 4:2:0).
void set_chroma_sampling(jpeg_compress_struct* info, JpegChroma chroma) {
  const int horizontal = chroma == JpegChroma::k444 ? 1 : 2;
  const int vertical = chroma == JpegChroma::k420 ? 2 : 1;
  info->comp_info[0].h_samp_factor = horizontal;
  info->comp_info[0].v_samp_factor = vertical;
}

void require_encodable(const ImageU8& image, const JpegEncodeOptions& options) {
  require(image.width > 0 && image.height > 0, "encode_jpeg: the image is empty");
  require(
      image.channels == 1 || image.channels == 3,
      "encode_jpeg: JPEG holds gray or RGB, got " + std::to_string(image.channels) + " channels");
  require(
      image.pixels.size() == static_cast<std::size_t>(image.width) * image.height * image.channels,
      "encode_jpeg: the pixel buffer does not match the image's shape");
  require(options.quality >= 1 && options.quality <= 100,
          "encode_jpeg: quality must be in [1, 100], got " + std::to_string(options.quality));
}

// Decodes a whole JPEG file held in memory; `what` names it in errors.
ImageU8 decode_jpeg_bytes(std::string_view bytes, const std::string& what) {
  require(bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
              static_cast<unsigned char>(bytes[1]) == 0xD8,
          "not a JPEG file: " + what);
  JpegErrorState errors;
  JpegDecompressHandle handle(&errors);
  ImageU8 image;
  if (setjmp(errors.jump)) {
    throw Error("corrupt JPEG " + what + ": " + errors.message);
  }
  handle.create();
  jpeg_decompress_struct* info = handle.get();
  jpeg_mem_src(info, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(info, TRUE);
  require_readable_size(what, info->image_width, info->image_height);
  if (info->jpeg_color_space == JCS_CMYK || info->jpeg_color_space == JCS_YCCK) {
    std::snprintf(errors.message, sizeof errors.message, "CMYK JPEGs are not supported");
    std::longjmp(errors.jump, 1);
  }
  info->out_color_space = info->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  // libjpeg's defaults, set so that they stay these: the pixels cv2.imread and Pillow decode.
  info->dct_method = JDCT_ISLOW;
  info->do_fancy_upsampling = TRUE;
  jpeg_start_decompress(info);
  image = ImageU8(static_cast<int>(info->output_width), static_cast<int>(info->output_height),
                  info->output_components);
  while (info->output_scanline < info->output_height) {
    JSAMPROW row = &image.at(0, static_cast<int>(info->output_scanline), 0);
    jpeg_read_scanlines(info, &row, 1);
  }
  jpeg_finish_decompress(info);
  return image;
}

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

ImageU8 read_png_u8(const fs::path& path) {
  return decode_png<std::uint8_t>(path);
}
ImageU16 read_png_u16(const fs::path& path) {
  return decode_png<std::uint16_t>(path);
}
void write_png(const fs::path& path, const ImageU8& image) {
  encode_png(path, image);
}
void write_png(const fs::path& path, const ImageU16& image) {
  encode_png(path, image);
}

ImageU8 read_jpeg(const fs::path& path) {
  return decode_jpeg_bytes(read_file(path), quoted(path));
}

ImageU8 decode_jpeg(std::string_view bytes) {
  return decode_jpeg_bytes(bytes, "(in-memory)");
}

std::string encode_jpeg(const ImageU8& image, const JpegEncodeOptions& options) {
  require_encodable(image, options);
  std::string encoded;
  JpegStringDestination destination;
  destination.output = &encoded;
  JpegErrorState errors;
  JpegCompressHandle handle(&errors);
  if (setjmp(errors.jump)) {
    throw Error(std::string("encode_jpeg: ") + errors.message);
  }
  handle.create();
  jpeg_compress_struct* info = handle.get();
  attach_string_destination(info, &destination);
  info->image_width = static_cast<JDIMENSION>(image.width);
  info->image_height = static_cast<JDIMENSION>(image.height);
  info->input_components = image.channels;
  info->in_color_space = image.channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(info);  // YCbCr 4:2:0, JDCT_ISLOW, standard Huffman tables, sequential
  jpeg_set_quality(info, options.quality, TRUE);  // TRUE: tables capped at baseline values
  if (image.channels == 3) set_chroma_sampling(info, options.chroma);
  jpeg_start_compress(info, TRUE);
  while (info->next_scanline < info->image_height) {
    auto* row = const_cast<JSAMPLE*>(&image.at(0, static_cast<int>(info->next_scanline), 0));
    jpeg_write_scanlines(info, &row, 1);
  }
  jpeg_finish_compress(info);
  return encoded;
}

ImageU8 jpeg_round_trip(const ImageU8& image, const JpegEncodeOptions& options) {
  return decode_jpeg(encode_jpeg(image, options));
}

ImageU8 read_rgb(const fs::path& path) {
  const std::string ext = lower_extension(path);
  ImageU8 source;
  if (ext == ".png") {
    source = read_png_u8(path);
  } else if (ext == ".jpg" || ext == ".jpeg") {
    source = read_jpeg(path);
  } else {
    throw Error("unsupported image extension '" + ext + "' for " + quoted(path) +
                " (expected .png, .jpg or .jpeg)");
  }
  if (source.channels == 3) return source;
  // Gray is replicated; alpha is dropped (datasets' RGBA frames are opaque).
  ImageU8 rgb(source.width, source.height, 3);
  const bool gray = source.channels <= 2;
  for (int y = 0; y < source.height; ++y) {
    for (int x = 0; x < source.width; ++x) {
      for (int c = 0; c < 3; ++c) rgb.at(x, y, c) = source.at(x, y, gray ? 0 : c);
    }
  }
  return rgb;
}

}  // namespace vidprobe

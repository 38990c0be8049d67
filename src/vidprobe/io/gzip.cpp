#include "vidprobe/io/gzip.h"

#include <zlib.h>

#include <array>
#include <fstream>
#include <vector>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"

namespace vidprobe {
namespace {

// windowBits 15 + 16 selects the gzip wrapper (header and CRC) instead of raw zlib.
constexpr int kGzipWindowBits = 15 + 16;

class InflateStream {
 public:
  InflateStream() {
    if (inflateInit2(&stream_, kGzipWindowBits) != Z_OK) throw Error("zlib: inflateInit2 failed");
  }
  ~InflateStream() { inflateEnd(&stream_); }
  InflateStream(const InflateStream&) = delete;
  InflateStream& operator=(const InflateStream&) = delete;
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_{};
};

class DeflateStream {
 public:
  DeflateStream() {
    if (deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      throw Error("zlib: deflateInit2 failed");
  }
  ~DeflateStream() { deflateEnd(&stream_); }
  DeflateStream(const DeflateStream&) = delete;
  DeflateStream& operator=(const DeflateStream&) = delete;
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_{};
};

bool has_gzip_extension(const std::filesystem::path& path) {
  const auto ext = path.extension().string();
  return ext == ".gz" || ext == ".jgz";
}

}  // namespace

std::string read_gzip_file(const std::filesystem::path& path) {
  require(std::filesystem::is_regular_file(path), "gzip file not found: " + path.string());
  const std::string compressed = read_file(path);
  require(!compressed.empty(), "empty gzip file: " + path.string());

  std::string output;
  std::array<char, 1 << 16> buffer{};
  std::size_t consumed = 0;
  // A gzip file may hold several members back to back; each needs a fresh inflate state.
  while (consumed < compressed.size()) {
    InflateStream inflater;
    z_stream* stream = inflater.get();
    stream->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data() + consumed));
    stream->avail_in = static_cast<uInt>(compressed.size() - consumed);
    int status = Z_OK;
    while (status != Z_STREAM_END) {
      stream->next_out = reinterpret_cast<Bytef*>(buffer.data());
      stream->avail_out = static_cast<uInt>(buffer.size());
      status = inflate(stream, Z_NO_FLUSH);
      if (status == Z_BUF_ERROR && stream->avail_in == 0)
        throw Error("truncated gzip file: " + path.string());
      if (status != Z_OK && status != Z_STREAM_END)
        throw Error("corrupt gzip file: " + path.string() + " (zlib: " +
                    (stream->msg ? stream->msg : "error " + std::to_string(status)) + ")");
      output.append(buffer.data(), buffer.size() - stream->avail_out);
    }
    consumed = compressed.size() - stream->avail_in;
  }
  return output;
}

void write_gzip_file(const std::filesystem::path& path, std::string_view bytes) {
  DeflateStream deflater;
  z_stream* stream = deflater.get();
  stream->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream->avail_in = static_cast<uInt>(bytes.size());
  std::string compressed;
  std::array<char, 1 << 16> buffer{};
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    stream->next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream->avail_out = static_cast<uInt>(buffer.size());
    status = deflate(stream, Z_FINISH);
    if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR)
      throw Error("zlib: deflate failed while writing " + path.string());
    compressed.append(buffer.data(), buffer.size() - stream->avail_out);
  }
  write_file_atomically(path, compressed);
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  const std::string text = has_gzip_extension(path) ? read_gzip_file(path) : [&] {
    require(std::filesystem::is_regular_file(path), "JSON file not found: " + path.string());
    return read_file(path);
  }();
  return parse_json(text, path.string());
}

}  // namespace vidprobe

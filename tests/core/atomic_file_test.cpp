#include "vidprobe/core/atomic_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <iterator>
#include <string>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {
namespace fs = std::filesystem;

fs::path read_file_dir() {
  const auto dir = fs::temp_directory_path() / ("vidprobe_read_file_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

TEST(ReadFile, ReadsWholeFilesOfEverySizeAndRefusesWhatIsNoFile) {
  const auto dir = read_file_dir();
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{65537}}) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i * 7 + 3);
    write_file_atomically(dir / "f", bytes);
    EXPECT_EQ(read_file(dir / "f"), bytes) << size << " bytes";
  }
  // A file whose size fstat does not know is read to its end all the same.
  EXPECT_THAT(read_file("/proc/self/status"), ::testing::HasSubstr("Pid:"));
  // Refused after opening: the descriptor must not leak (a hostile dataset can name thousands).
  const auto open_descriptors = [] {
    return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{});
  };
  const auto before = open_descriptors();
  for (int i = 0; i < 5; ++i)
    EXPECT_THAT([&] { read_file(dir); },
                ::testing::ThrowsMessage<Error>(::testing::HasSubstr("is a directory")));
  EXPECT_EQ(open_descriptors(), before);
  EXPECT_THAT([&] { read_file(dir / "missing"); },
              ::testing::ThrowsMessage<Error>(
                  ::testing::AllOf(::testing::HasSubstr("missing' for reading"),
                                   ::testing::HasSubstr("No such file or directory"))));
  fs::remove_all(dir);
}

TEST(ReadFile, ReadsIntoABufferOfTheFilesSizeAndOtherwiseReportsTheSize) {
  const auto dir = read_file_dir();
  write_file_atomically(dir / "f", "abcdef");
  std::array<std::byte, 6> exact{};
  EXPECT_EQ(read_file_into(dir / "f", exact), 6u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(exact.data()), exact.size()), "abcdef");
  std::array<std::byte, 5> shorter{};
  std::array<std::byte, 7> longer{};
  EXPECT_EQ(read_file_into(dir / "f", shorter), 6u);
  EXPECT_EQ(read_file_into(dir / "f", longer), 6u);
  EXPECT_THAT([&] { read_file_into(dir, exact); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("is a directory")));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe

#pragma once
// Progress for long work: items done / total, rate and ETA on one refreshed stderr line
// (a plain line every few seconds when stderr is not a terminal, so CI logs stay readable).
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace vidprobe {

class Progress {
 public:
  Progress(std::string label, std::size_t total, std::string unit = "items");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::size_t n = 1);  // thread-safe
  void set_note(std::string note);  // e.g. the current loss
  void finish();

  static void set_quiet(bool quiet);  // --quiet silences every bar

 private:
  void draw(bool final_line);

  std::string label_, unit_, note_;
  std::size_t total_, done_ = 0;
  std::size_t drawn_done_ = static_cast<std::size_t>(-1);  // count in the last line printed
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool finished_ = false, tty_;
  std::mutex mutex_;
};

std::string format_duration(double seconds);

}  // namespace vidprobe

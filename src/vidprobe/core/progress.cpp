#include "vidprobe/core/progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace vidprobe {
namespace {
std::atomic<bool> g_quiet{false};
}

void Progress::set_quiet(bool quiet) { g_quiet = quiet; }

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  const auto s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}

Progress::Progress(std::string label, std::size_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      tty_(::isatty(STDERR_FILENO) != 0) {}

Progress::~Progress() { finish(); }

void Progress::advance(std::size_t n) {
  std::lock_guard lock(mutex_);
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.2 : 5.0) || done_ == total_) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::set_note(std::string note) {
  std::lock_guard lock(mutex_);
  note_ = std::move(note);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  // A log (not a terminal) already holds a complete line for this count: don't print it twice.
  if (!tty_ && drawn_done_ == done_) return;
  draw(true);
}

void Progress::draw(bool final_line) {
  if (g_quiet) return;
  drawn_done_ = done_;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate : -1;
  std::fprintf(stderr, "%s%s %zu/%zu %s | %.2f %s/s | %s elapsed | ETA %s%s%s%s%s", tty_ ? "\r" : "",
               label_.c_str(), done_, total_, unit_.c_str(), rate, unit_.c_str(),
               format_duration(elapsed).c_str(), format_duration(final_line ? 0 : eta).c_str(),
               note_.empty() ? "" : " | ", note_.c_str(), tty_ ? "\033[K" : "",
               (final_line || !tty_) ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace vidprobe

#pragma once
// The one exception type vidprobe throws for bad input or failed I/O. Its message always names
// the file, key or value at fault, so the CLI can print it verbatim and exit non-zero.
#include <concepts>
#include <stdexcept>
#include <string>

namespace vidprobe {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error(message) when condition is false. Use for user input, not for invariants.
inline void require(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

// The same, with the message built only on failure: for checks inside per-pixel or per-element
// loops, where building the message every time would cost more than the work (an 81-frame
// 480 x 832 clip has 32 M pixels).
template <std::invocable MakeMessage>
inline void require(bool condition, MakeMessage&& make_message) {
  if (!condition) throw Error(make_message());
}

}  // namespace vidprobe

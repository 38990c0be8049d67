# Warning flags shared by every vidprobe target. -Wshadow=local (GCC): a local that hides another
# local or a parameter; the Clang compilers have no narrower form than -Wshadow, which also covers
# a local that hides a namespace-scope name.
add_library(vidprobe_warnings INTERFACE)
target_compile_options(vidprobe_warnings INTERFACE
  -Wall -Wextra -Wpedantic $<IF:$<CXX_COMPILER_ID:Clang,AppleClang,IntelLLVM>,-Wshadow,-Wshadow=local>
  -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  $<$<BOOL:${VIDPROBE_WERROR}>:-Werror>)
# GCC 12 reports impossible memcpy sizes inside std::string concatenation at -O2 (GCC bugs
# 105329 and 105651, fixed in GCC 13); those two checks are off for GCC 12 only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(vidprobe_warnings INTERFACE -Wno-restrict -Wno-stringop-overflow -Wno-array-bounds)
endif()

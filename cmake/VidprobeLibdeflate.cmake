# libdeflate (Debian libdeflate-dev): io/image.cpp inflates PNG image data with it, several times
# faster than zlib. Debian's 1.14 ships no CMake package, so the header and the library are found by
# name: on the system, under a CMAKE_PREFIX_PATH entry (the GPU machine's .gpu-deps/root/usr, which
# scripts/gpu-build.sh passes), or on the compiler's own search paths, which scripts/gpu-env.sh sets.
find_path(VIDPROBE_LIBDEFLATE_INCLUDE_DIR libdeflate.h HINTS ENV CPATH REQUIRED)
find_library(VIDPROBE_LIBDEFLATE_LIBRARY deflate HINTS ENV LIBRARY_PATH REQUIRED)
if(NOT TARGET vidprobe::libdeflate)
  add_library(vidprobe::libdeflate UNKNOWN IMPORTED)
  set_target_properties(vidprobe::libdeflate PROPERTIES
    IMPORTED_LOCATION "${VIDPROBE_LIBDEFLATE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${VIDPROBE_LIBDEFLATE_INCLUDE_DIR}")
endif()

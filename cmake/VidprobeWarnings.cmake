# Warning flags shared by every vidprobe target.
add_library(vidprobe_warnings INTERFACE)
target_compile_options(vidprobe_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  $<$<BOOL:${VIDPROBE_WERROR}>:-Werror>)

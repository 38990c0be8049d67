// Implemented by the renderer work (issue 3); placeholder keeps the core library non-empty.
#include "vidprobe/io/image.h"

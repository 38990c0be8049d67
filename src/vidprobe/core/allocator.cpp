#include "vidprobe/core/allocator.h"

#include <cstdlib>  // defines __GLIBC__ under glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace vidprobe {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  // 32 MB is the largest mmap threshold glibc accepts on 64-bit (half its heap size); larger
  // blocks would still be mapped, so mapping is turned off altogether. The main heap grows by
  // sbrk, whose space is not limited the way the 64 MB secondary heaps are.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  // One heap for every thread: a loader thread's own arena grows in heaps of at most 64 MB, which
  // glibc unmaps as soon as they are empty whatever the trim threshold, so a clip's frames were
  // faulted in afresh on every loader thread. The lock this shares is taken only by blocks too
  // big for the per-thread caches, a few hundred per clip.
  mallopt(M_ARENA_MAX, 1);
#endif
}

}  // namespace vidprobe

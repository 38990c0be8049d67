#pragma once
// vidprobe's data loops allocate and free buffers of megabytes per item (a 960 x 540 frame's RGB,
// depth and mask; a clip's tensors). glibc's malloc gives such blocks back to the kernel, through
// munmap or by trimming the top of a heap, so every new item faulted its pages in again, one per
// 4 kB: a third of a DINOv2 clip's load on the development machine (docs/perf.md).

namespace vidprobe {

// Called first thing in main(): every block is served from malloc's heap instead of its own
// mapping (blocks over 32 MB too: a training step's activations at batch 10 are hundreds of MB
// each, and mapped one by one they were faulted in again at every step), up to 512 MB freed at
// the heap's top stays for reuse, and every thread allocates from that one heap. The first two
// go together: the trim threshold alone also stops glibc from raising its 128 kB mmap threshold
// as it otherwise does, and made loading slower (docs/perf.md). No effect outside glibc.
void keep_freed_memory_for_reuse();

}  // namespace vidprobe

"""One GPU call's time for the bench/*_forms.py scripts: the median of per-call CUDA-event times,
each call synchronised, after a warm-up (cuDNN's and cuBLAS's plan choice, the allocator's first
blocks). bench/sdpa_backends.py times back-to-back calls instead (a throughput mean)."""
import statistics

import torch


def median_ms(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)

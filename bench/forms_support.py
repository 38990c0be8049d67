"""What the bench/*_forms.py scripts share: one GPU call's time (the median of per-call CUDA-event
times, each call synchronised, after a warm-up for cuDNN's and cuBLAS's plan choice and the
allocator's first blocks; bench/sdpa_backends.py times back-to-back calls instead, a throughput
mean) and the checks of their command lines."""
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


def checked_args(parser, tool):
    """parse_args, then a GPU and --reps >= 1, or an exit naming the fault."""
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit(f"{tool}: needs a CUDA GPU")
    if args.reps < 1:
        raise SystemExit(f"{tool}: --reps must be >= 1, got {args.reps}")
    return args


def names_from(text, known, tool, option):
    """A comma-separated option's names, each one of `known`, or an exit naming the stranger."""
    names = text.split(",")
    for name in names:
        if name not in known:
            raise SystemExit(f"{tool}: unknown {option} value '{name}' (known: {', '.join(known)})")
    return names

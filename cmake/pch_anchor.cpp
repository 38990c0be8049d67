// Anchor of the precompiled <torch/torch.h> that every torch module of vidprobe reuses.

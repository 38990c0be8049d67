"""Makes the official Open-Sora 2.0 modules importable on a CPU without their CUDA-only or
training-infrastructure dependencies (see make_opensora_fixtures.py for what stands in for what).
Only third-party modules are replaced; Open-Sora's own files are imported unchanged, and the
package's __init__ files that import every model family are skipped by registering the packages
as plain namespaces."""
import importlib.abc
import importlib.machinery
import pathlib
import sys
import types

import torch

STUBBED = ("colossalai", "mmengine", "tensornvme", "flash_attn",
           "liger_kernel", "peft", "pandas", "av", "cv2", "torchvision", "openai")


class _Anything:
    """Stands in for any attribute of a stubbed package (registries, boosters, kernels)."""

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]  # used as a decorator: keep the decorated function
        return _Anything()

    def __getattr__(self, name):
        return _Anything()

    def __mro_entries__(self, bases):
        return (object,)  # a stubbed base class (shardformer policies)


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in STUBBED:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def _flash_attn_func(q, k, v, *args, **kwargs):
    """flash_attn_func's definition on (B, L, H, D) tensors, without dropout or causal mask."""
    out = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)


class _LigerRope:
    @staticmethod
    def apply(q, k, cos, sin):
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb
        # Liger's kernel writes q and k in their own dtype; the float32 angles would otherwise
        # promote bf16 q and k (and SDPA refuses a float32 q with a bf16 v).
        q_out, k_out = apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1)
        return q_out.to(q.dtype), k_out.to(k.dtype)


def install(checkout):
    root = pathlib.Path(checkout).resolve()
    sys.meta_path.insert(0, _StubFinder())
    import flash_attn
    import liger_kernel.ops.rope

    flash_attn.flash_attn_func = _flash_attn_func
    liger_kernel.ops.rope.LigerRopeFunction = _LigerRope
    # Data loading (video decoders) is not needed by the sampler's tensor helpers.
    # Its __init__ (video I/O) is skipped; its submodules (aspect ratios) load from the checkout.
    datasets = _StubModule("opensora.datasets")
    datasets.__path__ = [str(root / "opensora/datasets")]
    sys.modules["opensora.datasets"] = datasets
    for name in ("opensora", "opensora.models", "opensora.utils", "opensora.acceleration"):
        package = types.ModuleType(name)
        package.__path__ = [str(root / name.replace(".", "/"))]
        sys.modules[name] = package
    from opensora.models.mmdit import layers

    layers.FusedRMSNorm.forward = layers.RMSNorm.forward

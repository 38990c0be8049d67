"""Import shim for the authors' code of "How Much 3D Do Video Foundation Models Encode?"
(github.com/zxhuang1698/VidFM3D) on a machine without Lightning / Hydra / PyTorch3D.

Used by tools/make_vidfm3d_fixtures.py and bench/vidfm3d_reference.py. Nothing of their code is
copied: `install_shims(checkout)` puts the checkout (the directory holding `vidfm3d/`) on sys.path
and registers stand-ins for modules that have nothing to do with the computed numbers, so that
`vidfm3d.models.components.probe_pixalign`, `vidfm3d.utils.loss` etc. import as they are.

Stand-ins (each listed in the returned {"stubs": [...]}):
  * `vidfm3d.utils`: a bare package pointing at their folder (its __init__ pulls hydra, lightning,
    rich, omegaconf), so vidfm3d.utils.loss / metrics / eval_utils / typing import without it;
  * eval_utils=True: `pytorch3d` (+ .ops, .ops.knn, .structures, .structures.pointclouds) and
    `trimesh` as empty modules (top-level imports of vidfm3d/utils/eval_utils.py, used only by its
    chamfer / ply helpers);
  * `huggingface_hub.PyTorchModelHubMixin`: the real package when installed, else an empty class
    (ProbeModelPA's hub-upload mixin; it adds no parameters);
  * typing_fallbacks=True, each only when the real package cannot be imported: `jaxtyping` (Float,
    Int, ... subscriptable, giving back the annotated type), `omegaconf.DictConfig` (an empty class)
    and `typeguard.typechecked` (identity). Their only importer on the probe / loss path is
    vidfm3d/utils/typing.py (star-imported by models/components/patchify.py, whose forward carries
    `Float[Tensor, "..."]` annotations; nothing is decorated with typechecked), so they never run.
"""
import pathlib
import sys
import types


def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def _importable(name: str) -> bool:
    try:
        __import__(name)
        return True
    except ImportError:
        return False


class _Annotation:
    """jaxtyping stand-in: `Float[Tensor, "B N"]` -> Tensor (annotations only, never checked)."""

    def __init__(self, name):
        self.__name__ = name

    def __getitem__(self, item):
        return item[0] if isinstance(item, tuple) else item


def _typing_fallbacks() -> list:
    stubs = []
    if not _importable("jaxtyping"):
        names = ("Bool", "Complex", "Float", "Inexact", "Int", "Integer", "Num", "Shaped", "UInt")
        _module("jaxtyping", **{n: _Annotation(n) for n in names})
        stubs.append("jaxtyping (annotations only)")
    if not _importable("omegaconf"):
        class DictConfig(dict):  # type name for annotations
            pass

        _module("omegaconf", DictConfig=DictConfig)
        stubs.append("omegaconf.DictConfig")
    if not _importable("typeguard"):
        def typechecked(func=None, **_):
            return func if func is not None else (lambda f: f)

        _module("typeguard", typechecked=typechecked)
        stubs.append("typeguard.typechecked (identity)")
    return stubs


def install_shims(checkout: pathlib.Path, *, eval_utils: bool = True, typing_fallbacks: bool = False) -> dict:
    """Stubs the imports unrelated to the computation; returns what was stubbed."""
    checkout = pathlib.Path(checkout)
    sys.path.insert(0, str(checkout))
    stubs = []
    if eval_utils:
        _module("pytorch3d")
        _module("pytorch3d.ops")
        _module("pytorch3d.ops.knn", knn_gather=None, knn_points=None)
        _module("pytorch3d.structures")

        class Pointclouds:  # placeholder type for an isinstance() in a chamfer helper
            pass

        _module("pytorch3d.structures.pointclouds", Pointclouds=Pointclouds)
        _module("trimesh")
        stubs += ["pytorch3d", "trimesh"]
    try:
        from huggingface_hub import PyTorchModelHubMixin  # noqa: F401
    except ImportError:
        class PyTorchModelHubMixin:  # hub upload mixin, no parameters
            pass

        _module("huggingface_hub", PyTorchModelHubMixin=PyTorchModelHubMixin)
        stubs.append("huggingface_hub.PyTorchModelHubMixin")
    if typing_fallbacks:
        stubs += _typing_fallbacks()

    import vidfm3d  # its __init__ is a licence comment

    utils = _module("vidfm3d.utils")
    utils.__path__ = [str(checkout / "vidfm3d" / "utils")]
    vidfm3d.utils = utils
    stubs.append("vidfm3d.utils (bare package, __init__ skipped)")
    return {"stubs": stubs}

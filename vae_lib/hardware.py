"""What this machine computes natively, and the precision to train in on it.

Mixed bfloat16 is faster only where the hardware multiplies bfloat16 itself: NVIDIA
GPUs of compute capability 8.0 or more (Ampere and later), and CPUs with the
AVX512-BF16 or AMX instructions. Elsewhere TensorFlow emulates it, and a CPU
with AVX2 alone has trained this book's model several times *slower* in
bfloat16 than in float32 (bench/README.md measures both). :func:`resolve_precision`
decides; :func:`describe_hardware` names what it decided from.

On x86, TensorFlow's CPU kernels come from oneDNN, and the environment variable
``ONEDNN_MAX_CPU_ISA`` (e.g. ``AVX2``), set before TensorFlow loads, keeps them
to an older instruction set. :func:`cpu_info` honours it: the flags it reports
are those the kernels may use, so "auto" picks what is fast under that cap too.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from vae_lib.config import PrecisionChoice
from vae_lib.model import Precision

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bfloat16 arithmetic
BF16_GPU_CAPABILITY = (8, 0)  # NVIDIA Ampere: the first GPUs with bfloat16 tensor cores
ISA_ENV = "ONEDNN_MAX_CPU_ISA"

# The flags describe_hardware names, as it names them.
NAMED_FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512F", "avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX"}

# Each ONEDNN_MAX_CPU_ISA value that is a cap on this book's flags → the prefixes of the flags it
# switches off. Any other value (DEFAULT, ALL, AVX512_CORE_AMX, ...) leaves every flag on.
_ISA_CAPS = {
    "SSE41": ("avx", "amx"),
    "AVX": ("avx2", "avx512", "amx"),
    "AVX2": ("avx512", "amx"),
    "AVX2_VNNI": ("avx512", "amx"),
    "AVX2_VNNI_2": ("avx512", "amx"),
    "AVX512_CORE": ("avx512_bf16", "avx512_fp16", "amx"),
    "AVX512_CORE_VNNI": ("avx512_bf16", "avx512_fp16", "amx"),
    "AVX512_CORE_BF16": ("avx512_fp16", "amx"),
    "AVX512_CORE_FP16": ("amx",),
}


@dataclass(frozen=True)
class CpuInfo:
    """The CPU's model name and the instruction-set flags TensorFlow's kernels may use on it."""

    model: str
    flags: frozenset[str]  # /proc/cpuinfo's flags, less those above ``max_isa``
    max_isa: str | None = None  # $ONEDNN_MAX_CPU_ISA, if it was set


@dataclass(frozen=True)
class GpuInfo:
    """A GPU as TensorFlow sees it; ``compute_capability`` is None where it is unknown (not NVIDIA)."""

    name: str
    compute_capability: tuple[int, int] | None


def cap_flags(flags: frozenset[str], max_isa: str | None) -> frozenset[str]:
    """``flags`` less those that ``ONEDNN_MAX_CPU_ISA=max_isa`` keeps oneDNN's kernels from using."""
    off = _ISA_CAPS.get((max_isa or "").upper(), ())
    return frozenset(f for f in flags if not f.startswith(off)) if off else flags


def cpu_info(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> CpuInfo:
    """This CPU, as ``/proc/cpuinfo`` describes it, with the flags above ``$ONEDNN_MAX_CPU_ISA`` removed.

    Without that file (macOS, Windows) the flags are empty, so that "auto" falls back to
    float32, and the name is :func:`platform.processor`'s.
    """
    model, flags = "", frozenset[str]()
    try:
        lines = Path(cpuinfo).read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:  # the first processor's entry is enough: all cores are alike
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name" and not model:
            model = value
        elif key in ("flags", "Features") and not flags:  # "Features" on ARM
            flags = frozenset(value.split())
    max_isa = os.environ.get(ISA_ENV) or None
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return CpuInfo(model, cap_flags(flags, max_isa), max_isa)


def gpu_info() -> list[GpuInfo]:
    """The GPUs TensorFlow sees, with their names and compute capabilities."""
    import tensorflow as tf

    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        capability = details.get("compute_capability")
        gpus.append(
            GpuInfo(details.get("device_name", device.name), tuple(capability) if capability else None)
        )
    return gpus


def native_bfloat16(cpu_flags: frozenset[str], gpus: list[GpuInfo]) -> tuple[bool, str]:
    """Whether the device that trains computes bfloat16 natively, and why.

    The device that trains is a GPU if there is one (any of compute capability 8.0 or
    more will do), else the CPU (avx512_bf16 or amx_bf16).
    """
    if gpus:
        fast = [g for g in gpus if g.compute_capability and g.compute_capability >= BF16_GPU_CAPABILITY]
        if fast:
            return True, f"GPU {fast[0].name} has compute capability {_capability(fast[0])}"
        need = ".".join(map(str, BF16_GPU_CAPABILITY))
        return (
            False,
            f"GPU {gpus[0].name} has compute capability {_capability(gpus[0])}, bfloat16 needs {need}",
        )
    if have := [flag for flag in BF16_CPU_FLAGS if flag in cpu_flags]:
        return True, f"this CPU has {have[0]}"
    return False, f"this CPU has neither {' nor '.join(BF16_CPU_FLAGS)}"


def resolve_precision(
    requested: PrecisionChoice,
    cpu_flags: frozenset[str] | None = None,
    gpus: list[GpuInfo] | None = None,
    saved: Precision | None = None,
) -> tuple[Precision, str]:
    """The precision to train in, and a one-line reason: the one place that decides it.

    ``"auto"`` gives ``"mixed_bfloat16"`` where the hardware computes bfloat16 natively
    (:func:`native_bfloat16`), else ``"float32"``; but a run being resumed keeps the
    precision it was ``saved`` with, so that its numbers do not change with the machine.
    An explicit choice is kept; mixed_bfloat16 without native bfloat16 gets a reason
    that starts with ``"warning:"``. The hardware is probed unless ``cpu_flags`` and
    ``gpus`` are given.
    """
    if requested not in get_args(PrecisionChoice):
        raise ValueError(
            f"precision must be one of {', '.join(get_args(PrecisionChoice))}, got {requested!r}"
        )
    cpu_flags = cpu_info().flags if cpu_flags is None else cpu_flags
    native, why = native_bfloat16(cpu_flags, gpu_info() if gpus is None else gpus)
    if requested == "auto":
        precision: Precision = "mixed_bfloat16" if native else "float32"
        if saved is not None and saved != precision:
            return saved, f"resuming with the run's own precision {saved} (auto would pick {precision} here)"
        return precision, f"auto → {precision}: {why}"
    if requested == "mixed_bfloat16" and not native:
        return requested, (
            f"warning: mixed_bfloat16 as asked, but {why}, so bfloat16 is emulated: expect training "
            "slower than float32, up to several times (use auto or float32)"
        )
    return requested, f"{requested} as asked ({why})"


def describe_hardware(cpu: CpuInfo | None = None, gpus: list[GpuInfo] | None = None) -> str:
    """One line: the CPU model and its flags that matter here, the GPUs, the TensorFlow version."""
    import tensorflow as tf

    cpu = cpu or cpu_info()
    gpus = gpu_info() if gpus is None else gpus
    flags = ", ".join(f"{name} {'yes' if flag in cpu.flags else 'no'}" for flag, name in NAMED_FLAGS.items())
    cap = f", capped by {ISA_ENV}={cpu.max_isa}" if cpu.max_isa else ""
    gpu_text = "; ".join(f"{g.name} (compute capability {_capability(g)})" for g in gpus) or "none"
    return (
        f"CPU: {cpu.model}, {os.cpu_count()} cores ({flags}{cap}); GPU: {gpu_text}; "
        f"TensorFlow {tf.__version__}"
    )


def _capability(gpu: GpuInfo) -> str:
    return ".".join(map(str, gpu.compute_capability)) if gpu.compute_capability else "unknown"

"""vae_lib.hardware: "auto" picks bfloat16 only where the hardware has it natively."""

from __future__ import annotations

from pathlib import Path

import pytest

from vae_lib.hardware import (
    CpuInfo,
    GpuInfo,
    cap_flags,
    cpu_info,
    describe_hardware,
    resolve_precision,
)

AVX2_ONLY = frozenset({"sse4_2", "avx", "avx2", "fma"})  # e.g. AMD Zen 2 or 3, most laptops before 2023
AVX512 = AVX2_ONLY | {
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512dq",
}  # e.g. Intel Skylake-SP
AVX512_BF16 = AVX512 | {"avx512_bf16"}  # e.g. AMD Zen 4, Intel Cooper Lake
AMX = AVX512_BF16 | {"amx_bf16", "amx_tile"}  # Intel Sapphire Rapids
A100 = GpuInfo("NVIDIA A100-SXM4-40GB", (8, 0))
T4 = GpuInfo("Tesla T4", (7, 5))


@pytest.mark.parametrize(
    ("flags", "gpus", "expected"),
    [
        (AVX2_ONLY, [], "float32"),
        (AVX512, [], "float32"),
        (AVX512_BF16, [], "mixed_bfloat16"),
        (frozenset({"avx2", "amx_bf16"}), [], "mixed_bfloat16"),
        (frozenset(), [], "float32"),  # no /proc/cpuinfo (macOS, Windows)
        (AVX2_ONLY, [A100], "mixed_bfloat16"),
        (AVX512_BF16, [T4], "float32"),  # the GPU trains, so the GPU decides
        (AVX2_ONLY, [T4, A100], "mixed_bfloat16"),
        (
            AVX512_BF16,
            [GpuInfo("some GPU", None)],
            "float32",
        ),  # capability unknown: not assumed
    ],
)
def test_auto_resolves_by_the_device_that_trains(flags: frozenset[str], gpus: list[GpuInfo], expected: str):
    precision, reason = resolve_precision("auto", flags, gpus)
    assert precision == expected
    assert reason.startswith(f"auto → {expected}: ")
    assert "\n" not in reason


def test_auto_names_what_it_decided_from():
    assert resolve_precision("auto", AVX512_BF16, [])[1] == "auto → mixed_bfloat16: this CPU has avx512_bf16"
    assert "A100" in resolve_precision("auto", AVX2_ONLY, [A100])[1]
    assert "7.5" in resolve_precision("auto", AVX2_ONLY, [T4])[1]


@pytest.mark.parametrize("flags", [AVX2_ONLY, AVX512_BF16])
@pytest.mark.parametrize("requested", ["float32", "mixed_bfloat16"])
def test_an_explicit_choice_is_kept(requested: str, flags: frozenset[str]):
    assert resolve_precision(requested, flags, [])[0] == requested
    assert resolve_precision(requested, flags, [T4])[0] == requested


def test_a_slow_explicit_choice_is_warned_about():
    for flags, gpus in [(AVX2_ONLY, []), (AVX512, []), (AVX512_BF16, [T4])]:
        precision, reason = resolve_precision("mixed_bfloat16", flags, gpus)
        assert precision == "mixed_bfloat16"
        assert reason.startswith("warning: ") and "slower than float32" in reason
        assert "\n" not in reason


def test_other_choices_are_not_warned_about():
    for requested, flags, gpus in [
        ("mixed_bfloat16", AVX512_BF16, []),
        ("mixed_bfloat16", AVX2_ONLY, [A100]),
        ("float32", AVX2_ONLY, []),
        ("float32", AVX512_BF16, []),
    ]:
        assert "warning" not in resolve_precision(requested, flags, gpus)[1]


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="float16"):
        resolve_precision("float16", AVX512_BF16, [])


def test_cpuinfo_is_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    path = tmp_path / "cpuinfo"
    path.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 9B14\n"
        "flags\t\t: fpu avx avx2 avx512f avx512_bf16\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 9B14\n"
        "flags\t\t: fpu avx avx2 avx512f avx512_bf16\n"
    )
    assert cpu_info(path) == CpuInfo(
        "AMD EPYC 9B14", frozenset({"fpu", "avx", "avx2", "avx512f", "avx512_bf16"})
    )


def test_without_proc_cpuinfo_there_are_no_flags_and_auto_is_float32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    cpu = cpu_info(tmp_path / "absent")
    assert cpu.flags == frozenset() and cpu.model
    assert resolve_precision("auto", cpu.flags, [])[0] == "float32"


@pytest.mark.parametrize(
    ("max_isa", "expected"),
    [
        ("AVX2", "float32"),
        ("avx512_core", "float32"),
        ("AVX512_CORE_BF16", "mixed_bfloat16"),
        ("DEFAULT", "mixed_bfloat16"),
        (None, "mixed_bfloat16"),
    ],
)
def test_onednn_isa_cap_switches_off_the_flags_above_it(max_isa: str | None, expected: str):
    flags = cap_flags(AMX, max_isa)
    assert resolve_precision("auto", flags, [])[0] == expected
    assert ("avx512f" in flags) == (max_isa not in ("AVX2",))
    assert "avx2" in flags


def test_cpu_info_honours_the_isa_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "cpuinfo"
    path.write_text("model name\t: Test CPU\nflags\t\t: " + " ".join(sorted(AVX512_BF16)) + "\n")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    cpu = cpu_info(path)
    assert cpu.flags == AVX2_ONLY and cpu.max_isa == "AVX2"
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in describe_hardware(cpu, [])


def test_describe_hardware_names_the_real_cpu_and_what_matters():
    line = describe_hardware()
    assert cpu_info().model in line
    for name in ("AVX2", "AVX-512F", "AVX512-BF16", "AMX", "TensorFlow"):
        assert name in line
    assert "\n" not in line
    assert "A100-SXM4-40GB (compute capability 8.0)" in describe_hardware(CpuInfo("x", AVX2_ONLY), [A100])


def test_a_resumed_run_keeps_the_precision_it_was_saved_with():
    precision, reason = resolve_precision("auto", AVX2_ONLY, [], saved="mixed_bfloat16")
    assert precision == "mixed_bfloat16"
    assert reason == "resuming with the run's own precision mixed_bfloat16 (auto would pick float32 here)"
    assert resolve_precision("auto", AVX512_BF16, [], saved="mixed_bfloat16")[1].startswith("auto → ")
    assert resolve_precision("float32", AVX512_BF16, [], saved="mixed_bfloat16")[0] == "float32"

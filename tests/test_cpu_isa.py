"""IGULN_CPU_ISA: the vector instructions of torch's CPU kernels, pinned before torch computes, only where the
processor has them; recorded, and part of a trained generator's store key."""

import os
import subprocess
import sys

import pytest
import torch

from iguln.core import cpu_isa
from iguln.jobs.originals import made_on

AVX2_FLAGS = "fpu sse sse2 avx avx2 fma f16c"
AVX512_FLAGS = AVX2_FLAGS + " avx512f avx512bw avx512vl avx512dq"


def test_the_default_pin_sets_each_library_s_variable_where_unset():
    environ = {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}  # a user's own setting stays
    done = cpu_isa.pin(environ, machine="x86_64", flags=AVX512_FLAGS)
    assert done == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert environ["MKL_ENABLE_INSTRUCTIONS"] == "SSE4_2"


@pytest.mark.parametrize(
    ("value", "machine", "flags", "effect"),
    [
        ("avx512", "x86_64", AVX512_FLAGS, "avx512"),
        ("avx512", "x86_64", AVX2_FLAGS, "native (the processor lacks avx512bw, avx512dq, avx512f, avx512vl)"),
        ("avx2", "x86_64", "fpu sse sse2 avx", "native (the processor lacks avx2, fma)"),
        ("avx2", "x86_64", "", "native (the processor's flags are unknown)"),
        ("avx2", "aarch64", AVX2_FLAGS, "native (not an x86 processor)"),
        ("default", "x86_64", "", "default"),
        ("native", "x86_64", AVX512_FLAGS, "native"),
        ("AVX2", "x86_64", AVX2_FLAGS, "avx2"),
    ],
)
def test_a_pin_runs_only_where_the_processor_has_its_instructions(value, machine, flags, effect):
    environ = {cpu_isa.VARIABLE: value}
    assert cpu_isa.in_effect(environ, machine, flags) == effect
    done = cpu_isa.pin(environ, machine, flags)
    assert bool(done) == (effect in ("avx512", "avx2", "default"))


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in cpu_isa.PINS["avx2"] and k != cpu_isa.VARIABLE}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True)


def test_importing_iguln_pins_torch_s_kernels_before_torch_computes():
    code = "import iguln, torch; print(torch.backends.cpu.get_cpu_capability())"
    assert run_python(code, IGULN_CPU_ISA="default").stdout.strip() == "DEFAULT"
    if cpu_isa.in_effect({cpu_isa.VARIABLE: "avx2"}) == "avx2":  # the user's own variable wins over the pin
        assert run_python(code, IGULN_CPU_ISA="default", ATEN_CPU_CAPABILITY="avx2").stdout.strip() == "AVX2"


def test_the_pin_changes_what_the_kernels_compute():
    """The pinned variables reach the kernels: the same matrix product rounds differently without vector code."""
    code = ("import iguln, torch; torch.manual_seed(0); a, b = torch.randn(257, 263), torch.randn(263, 129); "
            "print((torch.nn.functional.gelu(a) @ b).double().sum().item())")  # fmt: skip
    native, plain = run_python(code, IGULN_CPU_ISA="native"), run_python(code, IGULN_CPU_ISA="default")
    assert native.returncode == 0 and plain.returncode == 0
    if torch.backends.cpu.get_cpu_capability() == "DEFAULT":
        pytest.skip("this processor has no vector code to leave out")
    assert native.stdout != plain.stdout


def test_an_unknown_pin_is_refused_before_any_work():
    result = subprocess.run([sys.executable, "-m", "iguln", "train"], capture_output=True, text=True,
                            env={**os.environ, cpu_isa.VARIABLE: "avx9"})  # fmt: skip
    assert result.returncode == 2
    assert "IGULN_CPU_ISA='avx9' is not valid. Allowed: avx2, avx512, default, native." in result.stderr
    from iguln.cli import USAGE

    assert "IGULN_CPU_ISA" in USAGE  # iguln --help names it


def test_records_keep_the_pin_and_the_store_key_the_instructions(monkeypatch):
    from iguln.core.versions import package_versions

    versions = package_versions()
    assert versions["cpu_isa"] == cpu_isa.in_effect() and "aten_cpu_capability" in versions
    key = made_on(torch.device("cpu"))
    assert key["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert made_on(torch.device("cpu")) != key and made_on(torch.device("meta")) == {}

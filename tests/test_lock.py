"""The locked environment: make install installs requirements.lock, the installed packages are the locked ones,
and every record names the lock (its sha256) beside the versions."""

import hashlib
import subprocess
from pathlib import Path

from iguln.core.versions import LOCK, lock_status, package_versions, read_lock, source_commit

REPO = Path(__file__).parents[1]


def test_make_install_installs_the_lock_then_iguln_without_resolving_anything_else():
    recipe = subprocess.run(
        ["make", "-n", "-B", ".venv/.installed"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert "pip install --quiet -r requirements.lock" in recipe
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in recipe


def test_every_package_is_pinned_and_installed_at_its_locked_version():
    pins = read_lock()
    assert {"torch", "hydra-core", "torchmetrics", "numpy", "setuptools"} <= set(pins)
    assert all(v and v[0].isdigit() for v in pins.values())
    status = lock_status()
    assert status["matches"], status["differs"]


def test_records_name_the_lock():
    lock = package_versions()["lock"]
    assert lock["file"] == LOCK.name and lock["sha256"] == hashlib.sha256(LOCK.read_bytes()).hexdigest()


def test_records_name_the_cpu_threads():
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        versions = package_versions()
        assert versions["cpu_threads"] == 1
        assert versions["cpu_capability"] == torch.backends.cpu.get_cpu_capability() != ""
        assert isinstance(versions["cpu_model"], str) and versions["cpu_model"] != ""
    finally:
        torch.set_num_threads(before)


def test_a_lock_that_differs_is_reported(tmp_path):
    wrong = tmp_path / "requirements.lock"
    wrong.write_text("# a comment\ntorch==0.0.1\nno-such-package==1.0\n")
    status = lock_status(wrong)
    assert not status["matches"]
    assert any(d.startswith("torch: ") and d.endswith("(locked 0.0.1)") for d in status["differs"])
    assert "no-such-package: not installed (locked 1.0)" in status["differs"]


def test_records_name_the_commit_of_the_checkout(tmp_path):
    commit = package_versions()["commit"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=LOCK.parent, capture_output=True, text=True).stdout
    assert commit.removesuffix("+changes") == head.strip()
    assert source_commit(tmp_path) is None  # not a checkout: an installed wheel records none

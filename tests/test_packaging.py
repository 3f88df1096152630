"""The distribution: ``python -m build`` makes an sdist and a wheel; the wheel, installed in a
fresh virtual environment, imports and runs its example without the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What a checkout holds besides the sources (environments, build outputs, caches).
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "_build", "*.egg-info", "__pycache__", "*.pyc"
)


def _run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    """Build from a copy of the sources; install the wheel (no dependencies) in a new venv
    that takes its dependencies from the running environment's site-packages."""
    pytest.importorskip("build")
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES)
    dist = tmp / "dist"
    # --no-isolation: setuptools and wheel from this environment (the test extra), offline.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)])
    shutil.rmtree(source)  # from here on, no source tree exists anywhere near
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    wheels = sorted(dist.glob("*.whl"))
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
          "--no-index", str(wheels[0])])  # fmt: skip
    # The dependencies: the running environment's site-packages, added after the new
    # environment's own (.pth lines are appended to sys.path; their own .pth files, such as
    # an editable install of convnet, are not processed).
    new_site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(new_site.strip(), "_convnet_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    run_dir = tmp / "elsewhere"
    run_dir.mkdir()
    return {"dist": dist, "python": python, "bin": env_dir / "bin", "env": clean_env,
            "cwd": run_dir}  # fmt: skip


def _in_env(wheel_env, *args):
    return _run([*args], cwd=wheel_env["cwd"], env=wheel_env["env"])


@pytest.mark.slow
def test_build_makes_an_sdist_and_a_wheel_with_the_package(wheel_env):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    names = sorted(p.name for p in wheel_env["dist"].iterdir())
    assert names == [f"convnet-{version}-py3-none-any.whl", f"convnet-{version}.tar.gz"]
    with zipfile.ZipFile(wheel_env["dist"] / names[0]) as whl:
        files = set(whl.namelist())
        entry_points = whl.read(f"convnet-{version}.dist-info/entry_points.txt").decode()
    for name in ("convnet/__init__.py", "convnet/py.typed", "convnet/examples/mnist.py",
                 "convnet/training/tensorboard.py", "convnet/datasets/mnist.py"):  # fmt: skip
        assert name in files
    assert not any(name.startswith(("tests/", "examples/", "docs/")) for name in files)
    assert "convnet-mnist = convnet.examples.mnist:cli" in entry_points


@pytest.mark.slow
def test_installed_wheel_imports_and_reports_its_version(wheel_env):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = _in_env(
        wheel_env,
        wheel_env["python"],
        "-c",
        "import convnet; print(convnet.__version__); print(convnet.__file__)",
    )
    reported, location = out.split()
    assert reported == version
    assert Path(location).is_relative_to(wheel_env["python"].parents[1])  # not the sources


@pytest.mark.slow
def test_installed_wheel_runs_the_mnist_example(wheel_env):
    for command in (
        [wheel_env["python"], "-m", "convnet.examples.mnist", "--help"],
        [wheel_env["bin"] / "convnet-mnist", "--help"],
    ):
        out = _in_env(wheel_env, *command)
        assert "--tensorboard DIR" in out and "--download" in out
    # A dataset that is nowhere: the loader's message, not a traceback.
    env = dict(wheel_env["env"], CONVNET_DATA=str(wheel_env["cwd"] / "no-data"))
    result = subprocess.run(
        [wheel_env["bin"] / "convnet-mnist", "--dataset", "mnist", "--epochs", "1"],
        capture_output=True, text=True, cwd=wheel_env["cwd"], env=env,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "load_mnist: MNIST file(s) not found" in result.stderr
    assert "Looked in:" in result.stderr

"""A third-party package registers a strategy through the `harness.strategies` entry point; once
installed, `harness list` shows it and `harness run` runs it like a built-in."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).parent / "plugin"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """The plugin installed (a real wheel install, dist-info and entry points) into a folder put
    on PYTHONPATH, so the test environment itself is left untouched."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("source") / "plugin"
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    assert list(target.glob("harness_example_plugin-*.dist-info"))
    path = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def harness(env, *args):
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *map(str, args)],
                          capture_output=True, text=True, env=env)


def test_installed_plugin_is_listed_with_its_package(plugin_env):
    listing = harness(plugin_env, "list", "strategies")
    assert listing.returncode == 0, listing.stderr
    line = next(l for l in listing.stdout.splitlines() if l.startswith("naive-bayes"))
    assert "harness-example-plugin" in line and "naive Bayes" in line


def test_installed_plugin_runs_through_harness_run(plugin_env, data_dir, tmp_path):
    result = harness(plugin_env, "run", "-s", "naive-bayes,tfidf-logreg", "--task", "agnews",
                     "--data-dir", data_dir, "--n-train", 400, "--n-eval", 200,
                     "--out", tmp_path / "results", "--reports", tmp_path / "reports")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = {json.loads(p.read_text())["strategy"]: json.loads(p.read_text())
               for p in (tmp_path / "results").glob("*.json")}
    assert records["naive-bayes"]["status"] == "ok"
    assert records["naive-bayes"]["accuracy"] > 0.5  # chance is 0.25
    assert "naive-bayes" in (tmp_path / "reports" / "agnews.md").read_text()


def test_installed_generation_plugin_runs_on_a_generation_task(plugin_env, data_dir,
                                                               tiny_decoder, tmp_path):
    # Besides zero-shot on the same (tiny) decoder; naive-bayes, classification only, is
    # skipped with a note rather than failed.
    result = harness(plugin_env, "run", "-s", "style-preamble,zero-shot,naive-bayes", "--task",
                     "shakespeare", "--data-dir", data_dir, "--n-eval", 4, "--model",
                     f"decoder={tiny_decoder.source}", "--out", tmp_path / "results",
                     "--reports", tmp_path / "reports")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "naive-bayes: skipped on shakespeare, a generation task" in result.stdout
    records = {json.loads(p.read_text())["strategy"]: json.loads(p.read_text())
               for p in (tmp_path / "results").glob("*.json")}
    assert set(records) == {"style-preamble", "zero-shot"}
    assert all(r["status"] == "ok" and r["perplexity"] > 1 for r in records.values())
    assert "style-preamble" in (tmp_path / "reports" / "shakespeare.md").read_text()


def test_plugin_passes_the_contract_tests_it_ships(plugin_env):
    # What a plugin author runs in their own package: harness.api.testing's contract.
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(PLUGIN / "tests")], capture_output=True, text=True,
                            env=plugin_env, cwd=PLUGIN)
    assert result.returncode == 0, result.stdout[-2000:]

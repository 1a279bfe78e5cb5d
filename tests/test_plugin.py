"""A third-party package registers a strategy through the `harness.strategies` entry point; once
installed, `harness list` shows it and `harness run` runs it like a built-in. Two are installed:
the example plugin on `harness.api` (tests/plugin) and one written against the old module paths
(tests/plugin_legacy), which must keep working while those paths are kept."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).parent / "plugin"
LEGACY_PLUGIN = Path(__file__).parent / "plugin_legacy"
# What the old paths say when imported (harness/_compat.py).
MOVED_WARNING = r"harness\.\w+ moved to harness\."


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """Both plugins installed (a real wheel install, dist-info and entry points) into a folder
    put on PYTHONPATH, so the test environment itself is left untouched."""
    target = tmp_path_factory.mktemp("site")
    sources = tmp_path_factory.mktemp("source")
    for plugin in (PLUGIN, LEGACY_PLUGIN):
        # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
        shutil.copytree(plugin, sources / plugin.name,
                        ignore=shutil.ignore_patterns("build", "*.egg-info"))
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(sources / PLUGIN.name), str(sources / LEGACY_PLUGIN.name)],
        capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    assert list(target.glob("harness_example_plugin-*.dist-info"))
    assert list(target.glob("harness_legacy_plugin-*.dist-info"))
    path = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def harness(env, *args):
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *map(str, args)],
                          capture_output=True, text=True, env=env)


def test_installed_plugins_are_listed_with_their_packages(plugin_env):
    listing = harness(plugin_env, "list", "strategies")
    assert listing.returncode == 0, listing.stderr
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert "harness-example-plugin" in lines["naive-bayes"]
    assert "naive Bayes" in lines["naive-bayes"]
    assert "harness-legacy-plugin" in lines["legacy-naive-bayes"]
    settings = harness(plugin_env, "list", "settings", "naive-bayes")
    assert "additive smoothing of the word counts" in settings.stdout  # its field's help


def test_installed_plugins_run_through_harness_run(plugin_env, data_dir, tmp_path):
    result = harness(plugin_env, "run", "-s", "naive-bayes,legacy-naive-bayes,tfidf-logreg",
                     "--task", "agnews", "--data-dir", data_dir, "--n-train", 400,
                     "--n-eval", 200, "--out", tmp_path / "results",
                     "--reports", tmp_path / "reports")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = {json.loads(p.read_text())["strategy"]: json.loads(p.read_text())
               for p in (tmp_path / "results").glob("*.json")}
    assert records["naive-bayes"]["status"] == "ok"
    assert records["naive-bayes"]["accuracy"] > 0.5  # chance is 0.25
    # The same model on the old paths and on harness.api: the same rows, the same predictions.
    assert records["legacy-naive-bayes"]["status"] == "ok"
    assert records["legacy-naive-bayes"]["accuracy"] == records["naive-bayes"]["accuracy"]
    report = (tmp_path / "reports" / "agnews.md").read_text()
    assert "naive-bayes" in report and "legacy-naive-bayes" in report


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


@pytest.mark.parametrize("plugin", [PLUGIN, LEGACY_PLUGIN], ids=["api", "old-paths"])
def test_plugin_passes_the_contract_tests_it_ships(plugin_env, plugin):
    # What a plugin author runs in their own package: harness.api.testing's contract (imported
    # as harness.testing by the plugin on the old paths).
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(plugin / "tests")], capture_output=True, text=True,
                            env=plugin_env, cwd=plugin)
    assert result.returncode == 0, result.stdout[-2000:]
    # Every test the plugin ships ran and passed: none skipped, none left uncollected
    shipped = sum(path.read_text().count("\ndef test_")
                  for path in (plugin / "tests").glob("test_*.py"))
    assert shipped >= 1 and f"{shipped} passed" in result.stdout, result.stdout[-2000:]
    assert "skipped" not in result.stdout


@pytest.mark.parametrize(("package", "warns"), [("harness_example_plugin", False),
                                                ("harness_legacy_plugin", True)])
def test_only_the_old_paths_warn_that_they_moved(plugin_env, package, warns):
    # Turned into errors, the moved-path warnings fail the old plugin's import and only it's.
    code = (f"import warnings; warnings.filterwarnings('error', {MOVED_WARNING!r}, "
            f"DeprecationWarning); import {package}")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=plugin_env)
    assert (result.returncode != 0) == warns, result.stderr[-2000:]
    if warns:
        assert "DeprecationWarning: harness.data moved to harness.inputs.data" in result.stderr

"""Bad input from the command line: one clear line, a non-zero exit, and nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from test_data import crafted_archive

from cifarcmp.data import archive as cifar_archive
from cifarcmp.data import synthetic


@pytest.fixture(scope="module")
def small_arrays():
    return synthetic.generate(100, 20)


def _nothing_written(out):
    return not out.exists() and not out.with_name(out.name + ".incomplete").exists()


def test_help_describes_every_option():
    shown = run_cli("train", "--help")
    assert shown.returncode == 0
    for option in ("--model", "--profile", "--data", "--weights", "--seed", "--precision", "--out", "--force"):
        assert option in shown.stdout


def test_unknown_model_and_profile(tmp_path):
    out = tmp_path / "run"
    assert_one_line_error(run_cli("train", "--model", "vgg", "--out", out), "unknown model", "resnet50")
    assert_one_line_error(run_cli("train", "--model", "cnn", "--profile", "fast", "--out", out), "unknown profile")
    assert_one_line_error(
        run_cli("train", "--model", "cnn", "--precision", "half", "--out", out), "unknown precision", "mixed"
    )
    assert _nothing_written(out)


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
@pytest.mark.parametrize("case", ["missing", "truncated", "garbage", "crafted"])
def test_bad_data_is_refused_before_anything_is_written(tmp_path, small_arrays, case):
    archive = tmp_path / "cifar-10-python.tar.gz"
    if case == "truncated":
        cifar_archive.write_archive(archive, small_arrays)
        archive.write_bytes(archive.read_bytes()[:2000])
    elif case == "garbage":
        archive.write_bytes(np.random.default_rng(0).bytes(5000))
    elif case == "crafted":
        archive = crafted_archive(tmp_path, small_arrays, tmp_path / "pwned")
    out = tmp_path / "results" / "cnn" / "seed-0"
    result = run_cli("train", "--model", "cnn", "--profile", "smoke", "--data", archive, "--out", out)
    assert_one_line_error(result, str(archive))
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "pwned").exists()


def test_data_command_describes_the_data_set(tmp_path, small_arrays):
    cifar_archive.write_archive(tmp_path, small_arrays, "binary")
    described = run_cli("data", "--data", tmp_path)
    assert described.returncode == 0, described.stderr
    assert "binary layout" in described.stdout and "sha256" in described.stdout
    assert "synthetic-3" in described.stdout


def test_weights_file_with_wrong_shapes(tmp_path):
    weights = tmp_path / "not-resnet.weights.h5"
    weights.write_bytes(b"this is not an HDF5 file")
    out = tmp_path / "run"
    result = run_cli("train", "--model", "resnet50", "--profile", "smoke", "--weights", weights, "--out", out)
    assert_one_line_error(result, "--weights", "not ResNet50 notop weights")
    assert _nothing_written(out)
    # (a real HDF5 file of other weights is refused by Keras' loader: test_models.py)


def test_output_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("train", "--model", "cnn", "--profile", "smoke", "--out", blocker / "run")
    assert_one_line_error(result, "cannot write there")


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_offline_download_fails_fast_with_the_way_out(tmp_path, monkeypatch):
    # A port nothing listens on stands for a machine without internet, even on one that has it.
    monkeypatch.setenv("CIFARCMP_CIFAR10_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    out = tmp_path / "run"
    result = run_cli("train", "--model", "cnn", "--profile", "quick", "--out", out, timeout=120)
    assert_one_line_error(result, "cannot download CIFAR-10", "--data PATH", "--data synthetic")
    assert _nothing_written(out)


def test_evaluate_recomputes_a_finished_run_and_refuses_an_unfinished_one(tmp_path):
    from fixtures import write_fixture_run

    run_dir = tmp_path / "cnn" / "seed-0"
    write_fixture_run(run_dir, "cnn")
    evaluated = run_cli("evaluate", tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "95% interval" in evaluated.stdout and (run_dir / "evaluation.json").is_file()
    unfinished = tmp_path / "resnet50" / "seed-0.incomplete"
    unfinished.mkdir(parents=True)
    assert_one_line_error(run_cli("evaluate", unfinished), "unfinished")

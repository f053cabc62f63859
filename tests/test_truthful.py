"""Every page tells what the runs behind it were: no ImageNet weights, a model at chance, one class
for every image, and the seed report identified with its figures labelled as its own.

Built on the hand-made fixture runs (tests/fixtures.py), so each test renders in about a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fixtures import write_fixture_run, write_fixture_study

from cifarcmp.report import narrative
from cifarcmp.report.render import render

TITLE = "A Comparative Analysis of Transfer Learning derived CNN model"


def _render(root: Path, **resnet) -> Path:
    """Smoke-like fixture runs (synthetic, ResNet50 without ImageNet weights), rendered."""
    write_fixture_run(root / "results" / "resnet50" / "seed-0", "resnet50", **resnet)
    write_fixture_run(root / "results" / "cnn" / "seed-0", "cnn", test_accuracy=0.65)
    out = root / "generated"
    render(root / "results", out)
    return out


def _single_class(run: Path, class_index: int = 3) -> None:
    """Make a run predict one class for every test image (its accuracy is then that class's share)."""
    with np.load(run / "predictions.npz") as stored:
        arrays = dict(stored)
    probabilities = np.full(arrays["probabilities"].shape, 0.05, np.float32)
    probabilities[:, class_index] = 0.55
    arrays["probabilities"] = probabilities
    np.savez(run / "predictions.npz", **arrays)


def test_a_build_without_imagenet_weights_says_so_and_tests_no_transfer_claim(tmp_path):
    specs = [
        {"arm": "resnet50", "epochs": 6, "best_epoch": 1, "correct": np.arange(200) < 180},
        {"arm": "resnet50-random", "epochs": 6, "best_epoch": 5, "correct": np.arange(200) < 150},
        {"arm": "cnn", "epochs": 10, "best_epoch": 8, "correct": np.arange(200) < 120},
    ]
    write_fixture_study(tmp_path / "studies-results", "arms", specs)  # synthetic: weights "none"
    out = _render(tmp_path)
    question = (out / "snippets" / "question.md").read_text()
    assert "No ImageNet weights were loaded in this build" in question
    assert "ResNet50: random initial weights (no ImageNet weights loaded), 32 × 32 px inputs, 1 epoch run" in question
    claims_page = (out / "claims.md").read_text()
    assert "Verdict: not supported" not in claims_page and "Verdict: supported" not in claims_page
    assert "No studies were run" not in claims_page and "Not tested: no ImageNet weights were loaded" in claims_page
    assert claims_page.count("**Verdict: not tested.**") == 4
    assert "come with the ImageNet weights" not in claims_page
    background = (out / "snippets" / "background-runs.md").read_text()
    assert "Not done in this build: no ImageNet weights were loaded" in background
    method = (out / "method.md").read_text()
    assert "Random initial weights instead of ImageNet's" in method
    assert "1,000 of the 10,000 test images, not all of them" in method and "test_subset" not in method
    discussion = (out / "discussion.md").read_text()
    assert "this build does not test transfer learning" in discussion


def test_a_model_at_chance_is_called_so_and_gets_no_overfitting_reading(tmp_path):
    out = _render(tmp_path, test_accuracy=0.10, overfit_gap=0.0)
    headline = (out / "snippets" / "headline.md").read_text()
    assert "its test accuracy cannot be told apart from chance" in headline
    discussion = (out / "discussion.md").read_text()
    resnet_line = next(line for line in discussion.splitlines() if line.startswith("- **ResNet50**: "))
    overfitting = discussion.split("## Overfitting")[1].split("## Convergence")[0]
    assert "little sign of overfitting" not in overfitting.split("\n\n", 2)[2], resnet_line
    assert "the model is at chance" in overfitting
    assert "stayed at chance, so the gap says only that it did not learn" in discussion
    assert "cannot be told apart from chance" in (out / "comparison.md").read_text()


def test_a_seed_that_predicts_one_class_is_named_on_evidence(tmp_path):
    root = tmp_path / "results"
    write_fixture_run(root / "resnet50" / "seed-0", "resnet50", correct=np.arange(200) < 20)
    _single_class(root / "resnet50" / "seed-0", class_index=0)
    write_fixture_run(root / "cnn" / "seed-0", "cnn")
    render(root, tmp_path / "generated")
    evidence = (tmp_path / "generated" / "snippets" / "evidence-accuracy.md").read_text()
    assert "**Seed 0 predicts airplane for every test image**" in evidence
    assert "**At chance:**" in evidence
    headline = (tmp_path / "generated" / "snippets" / "headline.md").read_text()
    assert "seed 0 predicts airplane for every test image" in headline


def test_the_seed_report_is_identified_with_its_figures_labelled(tmp_path):
    out = _render(tmp_path)
    home = (Path(__file__).resolve().parents[1] / "docs" / "index.md").read_text()
    for snippet in ("question", "seed-figures"):
        assert f'--8<-- "generated/snippets/{snippet}.md"' in home
    question = (out / "snippets" / "question.md").read_text()
    assert TITLE in question and "Gaurav Kumar" in question
    references = (out / "references.md").read_text()
    assert TITLE in references and "Gaurav Kumar" in references
    assert "On Calibration of Modern Neural Networks" in references  # Guo et al., 2017, cited on Evidence
    assert references.count("https://") >= 9 + 5
    for page in (out / "references.md", out / "comparison.md", out / "snippets" / "seed-figures.md"):
        text = page.read_text()
        block = text.split("Reference values: the seed report's published figures, not this build's")[1]
        for figure in (
            "95.33 %",
            "0.1792",
            "77 %",
            "0.6967",
            "26,215,818",
            "1,250,858",
            "epoch 17 of 50",
            "6 of its 6",
        ):
            assert figure in block, (page.name, figure)
        assert "not comparable with its numbers" in block  # synthetic runs
    # Never in our columns: the synthetic comparison table has no seed column.
    table = (out / "comparison.md").read_text().split("Reference values")[0]
    assert "95.33" not in table and "Seed report" not in table


def test_model_sizes_come_from_the_parameter_counts():
    assert round(narrative.size_mib(26_215_818), 2) == 100.01  # the seed's "100.01 MB", as Keras counts
    assert round(narrative.size_mib(1_250_858), 2) == 4.77

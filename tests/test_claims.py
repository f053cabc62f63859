"""The "Claims tested" verdicts, the studies' loading, figures and pages, from hand-built studies.

Each study is written as cifarcmp.study writes it: runs from tests/fixtures.py under
<root>/<study>/<arm>/... and a summary.json whose rows repeat the runs' metrics, so a test can
dictate the numbers (which arm converges first, which is right on which test image).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures import write_fixture_run, write_fixture_study

from cifarcmp.analysis import claims, comparison, measures
from cifarcmp.analysis.claims import INCONCLUSIVE, NOT_SUPPORTED, NOT_TESTED, SUPPORTED
from cifarcmp.analysis.runs import data_efficiency_series, gradcam_panels, load_groups, load_studies
from cifarcmp.errors import UserError
from cifarcmp.report import figure_data
from cifarcmp.report.figures import data_efficiency_curve, gradcam_grid
from cifarcmp.report.render import render
from cifarcmp.report.site import load_studies_site


def _mask(right: int, total: int = 200) -> np.ndarray:
    """The first `right` of `total` test images answered correctly."""
    return np.arange(total) < right


def _arms(root: Path, resnet: dict, cnn: dict, **others: dict) -> Path:
    # Real data (ImageNet weights) unless a spec says otherwise: see RESNET_FAST.
    specs = [{"arm": "resnet50", "synthetic": False, **resnet}, {"arm": "cnn", "synthetic": False, **cnn}] + [
        {"arm": arm, "synthetic": False, **spec} for arm, spec in others.items()
    ]
    write_fixture_study(root, "arms", specs)
    return root


# Real-data runs (the paper profile: ImageNet weights loaded), so a verdict can be reached; a
# synthetic smoke run's ResNet50 starts from random weights, and then no transfer claim is tested.
RESNET_FAST = dict(epochs=6, best_epoch=1, correct=_mask(180), synthetic=False)  # at its best after epoch 1
CNN_SLOW = dict(epochs=10, best_epoch=8, correct=_mask(120), synthetic=False)


def _verdicts(root: Path | None) -> dict[str, str]:
    found = claims.build_claims(load_studies(root), synthetic=True)
    return {claim.key: claim.verdict for claim in found["claims"]}


def test_transfer_learning_wins_every_claim_when_the_numbers_say_so(tmp_path):
    root = _arms(tmp_path, RESNET_FAST, CNN_SLOW)
    verdicts = _verdicts(root)
    assert verdicts["convergence"] == SUPPORTED
    assert verdicts["generalisation"] == SUPPORTED
    assert verdicts["compute"] == SUPPORTED  # 1 of 6 epochs at 4.9e8 FLOPs vs 10 epochs at 1.25e8
    assert verdicts["scarce-data"] == NOT_TESTED  # no data-efficiency study


def test_verdicts_flip_when_the_cnn_converges_faster_and_is_more_accurate(tmp_path):
    root = _arms(
        tmp_path, dict(epochs=6, best_epoch=6, correct=_mask(120)), dict(epochs=6, best_epoch=1, correct=_mask(180))
    )
    verdicts = _verdicts(root)
    assert verdicts["convergence"] == NOT_SUPPORTED
    assert verdicts["generalisation"] == NOT_SUPPORTED
    assert verdicts["compute"] == NOT_SUPPORTED  # ResNet50 never reaches the CNN's best


def test_identical_predictions_are_inconclusive(tmp_path):
    root = _arms(tmp_path, dict(RESNET_FAST, correct=_mask(150)), dict(CNN_SLOW, correct=_mask(150)))
    assert _verdicts(root)["generalisation"] == INCONCLUSIVE


def test_compute_verdict_follows_the_counted_flops(tmp_path):
    expensive = _arms(tmp_path / "a", dict(RESNET_FAST, training_flops=1e18), CNN_SLOW)
    assert _verdicts(expensive)["compute"] == NOT_SUPPORTED
    found = claims.build_claims(load_studies(expensive), synthetic=True)
    assert "PFLOP" in " ".join(next(c for c in found["claims"] if c.key == "compute").findings)


def test_measurements_on_a_history():
    history = [
        {"epoch": 1, "val_accuracy": 0.5, "seconds": 10.0},
        {"epoch": 2, "val_accuracy": 0.76, "seconds": 11.0},
        {"epoch": 3, "val_accuracy": 0.8, "seconds": 12.0},
        {"epoch": 4, "val_accuracy": 0.79, "seconds": 9.0},
    ]
    assert measures.converged_epoch(history) == 3  # the best (0.8); epoch 2's 0.76 is 4 pp short of it
    assert measures.seconds_to_epoch(history, 2) == 21.0
    assert claims.flops_to_reach(history, 4e12, 0.78) == (3, 3e12)
    assert claims.flops_to_reach(history, 4e12, 0.9) is None
    assert claims.separated((0.1, 0.2), (0.3, 0.4)) == "b"
    assert claims.separated((1, 1), (3, 3), higher_is_better=False) == "a"
    assert claims.separated((0.1, 0.35), (0.3, 0.4)) is None


def test_data_scarcity_uses_the_smallest_fraction_and_the_better_resnet_on_validation(tmp_path):
    write_fixture_study(
        tmp_path,
        "data-efficiency",
        [
            {"arm": "resnet50", "fraction": 0.01, "correct": _mask(60), "synthetic": False},
            {"arm": "resnet50-frozen", "fraction": 0.01, "correct": _mask(170), "synthetic": False},
            {"arm": "cnn", "fraction": 0.01, "correct": _mask(60), "synthetic": False},
            {"arm": "resnet50", "fraction": 1.0, "correct": _mask(180), "synthetic": False},
            {"arm": "cnn", "fraction": 1.0, "correct": _mask(120), "synthetic": False},
        ],
    )
    found = claims.build_claims(load_studies(tmp_path), synthetic=True)
    scarce = next(claim for claim in found["claims"] if claim.key == "scarce-data")
    assert scarce.verdict == SUPPORTED
    assert "ResNet50 (frozen features)" in scarce.findings[0] and "1 %" in scarce.findings[0]
    assert {claim.key: claim.verdict for claim in found["claims"]}["convergence"] == NOT_TESTED
    assert [row[1] for row in scarce.table.rows] == ["1 %", "100 %", "1 %", "1 %", "100 %"]


def test_separation_sentence_names_both_contributions(tmp_path):
    root = _arms(tmp_path, RESNET_FAST, CNN_SLOW, **{"resnet50-random": dict(epochs=6, correct=_mask(130))})
    sentence = claims.build_claims(load_studies(root), synthetic=True)["separation"]
    assert "+30.0 pp" in sentence and "+25.0 pp" in sentence and "+5.0 pp" in sentence
    assert claims.separation(None).startswith("Not tested")


def test_no_studies_means_every_claim_is_not_tested(tmp_path):
    assert load_studies(None) is None
    (tmp_path / "empty").mkdir()
    assert load_studies(tmp_path / "empty") is None
    assert set(_verdicts(None).values()) == {NOT_TESTED}


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda root: (root / "arms" / "summary.json").write_text("{not json"), "unreadable"),
        (lambda root: _edit(root, lambda summary: summary["runs"][0].pop("test_accuracy")), "lacks test_accuracy"),
        (
            lambda root: _edit(root, lambda summary: summary.update(study="gradcam")),
            "not the summary of the arms study",
        ),
        (
            lambda root: _edit(root, lambda summary: summary["runs"][0].update(run="arms/cnn/seed-9")),
            "missing or unfinished",
        ),
        (
            lambda root: _edit(root, lambda summary: summary["runs"][0].update(run="../elsewhere")),
            "inside the studies folder",
        ),
        (
            lambda root: (root / "arms/cnn/seed-0/manifest.json").write_text('{"status": "running"}'),
            "missing or unfinished",
        ),
    ],
)
def test_bad_summaries_stop_with_one_line_naming_the_file(tmp_path, damage, fragment):
    root = _arms(tmp_path, RESNET_FAST, CNN_SLOW)
    damage(root)
    with pytest.raises(UserError) as error:
        load_studies(root)
    message = str(error.value)
    assert fragment in message and "\n" not in message
    assert str(root / "arms") in message


def _edit(root: Path, change) -> None:
    path = root / "arms" / "summary.json"
    summary = json.loads(path.read_text())
    change(summary)
    path.write_text(json.dumps(summary))


def test_data_efficiency_curve_has_one_line_per_arm_and_a_log_axis():
    series = {
        arm: {
            "fraction": np.array([0.01, 0.1, 1.0]),
            "mean": np.array([0.2, 0.4, 0.7]),
            "std": np.array([np.nan, 0.02, 0.01]),
            "n": np.array([1, 3, 3]),
        }
        for arm in ("resnet50", "resnet50-frozen", "cnn")
    }
    figure = data_efficiency_curve(series)
    (axis,) = figure.axes
    assert axis.get_xscale() == "log"
    assert axis.get_legend_handles_labels()[1] == [
        "ResNet50 (fine-tuned)",
        "ResNet50 (frozen features)",
        "CNN (scratch)",
    ]
    assert len(axis.containers) == 3  # one set of error bars per arm, only where n > 1


def test_gradcam_grid_shows_each_image_then_each_arm():
    images = np.zeros((3, 32, 32, 3), dtype=np.uint8)
    heatmaps = {"resnet50": np.random.default_rng(0).random((3, 7, 7)), "cnn": np.zeros((3, 13, 13))}
    predicted = {"resnet50": np.array([0, 1, 2]), "cnn": np.array([0, 0, 0])}
    figure = gradcam_grid(images, np.array([0, 1, 2]), heatmaps, predicted, [f"class {i}" for i in range(10)])
    assert len(figure.axes) == 10  # nine panels and the shared colour scale
    assert figure.axes[5].get_xlabel() == "class 0 ✗"  # image 2, CNN: predicted class 0 for class 1
    assert figure.axes[4].get_xlabel() == "class 1 ✓"  # image 2, ResNet50: right
    assert "Grad-CAM weight" in figure.axes[-1].get_xlabel()


def _main_runs(tmp_path: Path) -> Path:
    """One run of each model under tmp_path/main; its studies go in tmp_path/studies-main."""
    write_fixture_run(tmp_path / "main" / "resnet50" / "seed-0", "resnet50")
    write_fixture_run(tmp_path / "main" / "cnn" / "seed-0", "cnn")
    return tmp_path / "main"


def test_render_without_studies_says_how_to_run_them(tmp_path):
    out = tmp_path / "generated"
    render(_main_runs(tmp_path), out)
    page = (out / "claims.md").read_text()
    assert "No studies were run" in page and "make report STUDIES=arms,data-efficiency,gradcam" in page
    assert page.count("not tested") >= 4 and "data-efficiency" in page
    assert "No studies were run" in (out / "studies.md").read_text()
    assert json.loads((out / "studies.json").read_text())["studies_root"] is None
    assert load_studies_site(out).ran == [] and load_studies_site(out).data_efficiency is None
    assert (out / "tables" / "claims.csv").is_file()


def test_render_with_studies_writes_verdicts_tables_and_downloads(tmp_path):
    root = _arms(tmp_path / "studies-main", dict(RESNET_FAST, gallery=True), CNN_SLOW)
    write_fixture_study(
        root,
        "data-efficiency",
        [
            {"arm": "resnet50", "fraction": 0.1, **RESNET_FAST},
            {"arm": "cnn", "fraction": 0.1, **CNN_SLOW},
            {"arm": "resnet50", **RESNET_FAST},
            {"arm": "cnn", **CNN_SLOW},
        ],
    )
    out = tmp_path / "generated"
    render(_main_runs(tmp_path), out)
    claims_page, studies_page = (out / "claims.md").read_text(), (out / "studies.md").read_text()
    assert "Synthetic data — not CIFAR-10 results" in claims_page and "Provenance" in claims_page
    assert "**Verdict: supported.**" in claims_page and "No studies were run" not in claims_page
    assert "(synthetic data — not CIFAR-10 results)" in studies_page
    for name in (
        "claims",
        "claims-convergence",
        "claims-generalisation",
        "claims-compute",
        "studies-arms",
        "studies-data-efficiency",
    ):
        assert (out / "tables" / f"{name}.csv").is_file(), name
    assert "tables/studies-arms.csv" in studies_page
    # What the study-figures page reads: render's figure data, the same as the studies give.
    site = load_studies_site(out)
    assert site.ran == ["arms", "data-efficiency"] and "Synthetic data" in site.banner_html
    series = site.data_efficiency
    assert list(series) == ["resnet50", "cnn"] and list(series["cnn"]["fraction"]) == [0.1, 1.0]
    expected = data_efficiency_series(load_studies(root))
    assert np.array_equal(series["cnn"]["mean"], expected["cnn"]["mean"])
    assert np.array_equal(series["cnn"]["std"], expected["cnn"]["std"], equal_nan=True)
    assert site.gradcam is None and gradcam_panels(load_studies(root)) is None  # no gradcam study


def test_gradcam_panels_pair_the_same_test_images_across_arms(tmp_path):
    root = _arms(tmp_path, RESNET_FAST, CNN_SLOW)
    for arm, size, shift in (("resnet50", 7, 0), ("cnn", 13, 5)):
        indices = np.arange(20) + shift  # the CNN's maps cover other images, as with other test subsets
        np.savez(
            root / "arms" / arm / "seed-0" / "gradcam.npz",
            images=np.zeros((20, 32, 32, 3), np.uint8),
            heatmaps=np.full((20, size, size), 0.5, np.float32),
            labels=indices % 10,
            predicted=np.zeros(20, np.int64),
            indices=indices,
        )
    write_fixture_study(root, "gradcam", [{"arm": "resnet50", **RESNET_FAST}, {"arm": "cnn", **CNN_SLOW}])
    panels = gradcam_panels(load_studies(root), per_class=1)
    assert panels["arms"] == ["resnet50", "cnn"] and len(panels["images"]) == 10
    assert panels["heatmaps"]["cnn"].shape == (10, 13, 13)
    assert list(panels["labels"]) == list(range(10))  # every class, in class order
    # Shared images are 5..19: classes 5-9 have two each, classes 0-4 one (10..14).
    assert len(gradcam_panels(load_studies(root), per_class=2)["images"]) == 15
    # What the study-figures page reads back from render's figure data: the same panels.
    main = tmp_path / "main"
    for model in ("resnet50", "cnn"):
        write_fixture_run(main / model / "seed-0", model)
    groups = load_groups(main)
    figure_data.write(tmp_path, groups, load_studies(root), comparison.evidence(groups, True)["evaluations"])
    _, read = figure_data.read_studies(tmp_path)
    drawn = gradcam_panels(load_studies(root))
    assert (
        read["arms"] == drawn["arms"]
        and read["arm_labels"]["cnn"] == "CNN (scratch)"
        and np.array_equal(read["labels"], drawn["labels"])
    )
    assert np.array_equal(read["heatmaps"]["cnn"], drawn["heatmaps"]["cnn"])
    assert np.array_equal(read["predicted"]["resnet50"], drawn["predicted"]["resnet50"])


def test_a_resnet_stuck_at_chance_for_one_epoch_does_not_converge_faster(tmp_path):
    # As in the smoke profile: one epoch at chance, and another test subset (here disjoint).
    smoke = dict(synthetic=True)  # random weights, one epoch
    root = _arms(tmp_path, dict(test_accuracy=0.09, index_offset=200, **smoke), dict(test_accuracy=0.6, **smoke))
    found = claims.build_claims(load_studies(root), synthetic=True)
    convergence = next(claim for claim in found["claims"] if claim.key == "convergence")
    assert convergence.verdict == NOT_TESTED and '"not supported"' in convergence.findings[0]
    assert any("never rose clearly above chance" in finding for finding in convergence.findings)
    assert any("single epoch" in note for note in found["caveats"])
    generalisation = next(claim for claim in found["claims"] if claim.key == "generalisation")
    assert generalisation.verdict == NOT_TESTED and generalisation.table.rows[0][7] == "0"
    assert "no paired test is possible" in generalisation.findings[1]
    # With ImageNet weights loaded the same numbers are measured as they are.
    pretrained = _arms(tmp_path / "paper", dict(test_accuracy=0.09, index_offset=200), dict(test_accuracy=0.6))
    verdicts = _verdicts(pretrained)
    assert verdicts["convergence"] == NOT_SUPPORTED and verdicts["generalisation"] == INCONCLUSIVE


def test_a_transfer_arm_without_imagenet_weights_is_called_out(tmp_path):
    smoke = (dict(RESNET_FAST, synthetic=True), dict(CNN_SLOW, synthetic=True))  # weights "none"
    offline = claims.caveats(load_studies(_arms(tmp_path / "smoke", *smoke)))
    assert any("No ImageNet weights were loaded" in note for note in offline)
    pretrained = claims.caveats(load_studies(_arms(tmp_path / "paper", RESNET_FAST, CNN_SLOW)))
    assert not any("does not test transfer learning" in note for note in pretrained)


def test_without_imagenet_weights_no_transfer_claim_is_supported_or_not_supported(tmp_path):
    # The numbers favour ResNet50 on every claim (as in the first test), but it loaded no weights.
    smoke = (dict(RESNET_FAST, synthetic=True), dict(CNN_SLOW, synthetic=True))
    root = _arms(tmp_path, *smoke, **{"resnet50-random": dict(epochs=6, best_epoch=5, correct=_mask(150))})
    write_fixture_study(
        root,
        "data-efficiency",
        [{"arm": "resnet50", "fraction": 0.1, **smoke[0]}, {"arm": "cnn", "fraction": 0.1, **smoke[1]}],
    )
    found = claims.build_claims(load_studies(root), synthetic=True)
    assert {claim.verdict for claim in found["claims"]} == {NOT_TESTED}
    for claim in found["claims"]:
        assert claim.findings[0].startswith("Not tested: no ImageNet weights were loaded"), claim.key
    # The measurement is still described, and says what it would have read.
    convergence = next(claim for claim in found["claims"] if claim.key == "convergence")
    assert '"supported"' in convergence.findings[0] and convergence.table is not None
    # Nothing is credited to weights that were never loaded.
    assert found["separation"].startswith("Not tested: no ImageNet weights were loaded")
    assert "come with the ImageNet weights" not in found["separation"]
    assert "75.00 %" in found["separation"]  # the random-initialisation arm's own accuracy is still given

"""Rendering from hand-built results: pages, computed sentences, tables, and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from fixtures import write_fixture_run, write_fixture_seeds

from cifarcmp import stats
from cifarcmp.analysis.formatting import COUNT, PERCENT, Table, format_flops, format_percent, format_stat, number
from cifarcmp.errors import UserError
from cifarcmp.report.render import render
from cifarcmp.report.tables import describe_rates, to_latex, to_markdown

PAGES = ("data.md", "method.md", "architectures.md", "comparison.md", "discussion.md", "references.md", "cite.md")
# The evidence page's sections, shown on docs/evidence.md; each also gets an .html twin.
EVIDENCE = (
    "evidence-accuracy",
    "evidence-paired",
    "evidence-per-class",
    "evidence-confusion",
    "evidence-calibration",
    "evidence-mistakes",
)


def _results(root: Path, resnet50: float = 0.90, cnn: float = 0.70, **options) -> Path:
    write_fixture_run(root / "resnet50" / "seed-0", "resnet50", test_accuracy=resnet50, **options)
    write_fixture_run(root / "cnn" / "seed-0", "cnn", test_accuracy=cnn, **options)
    return root


def _render(tmp_path: Path, **options) -> Path:
    out = tmp_path / "generated"
    render(_results(tmp_path / "results", **options), out)
    return out


def test_render_writes_pages_snippets_tables_and_run_file(tmp_path):
    out = _render(tmp_path)
    for page in PAGES:
        assert (out / page).is_file(), page
    for snippet in (
        "banner.md",
        "banner.html",
        "headline.md",
        *(f"{name}.md" for name in EVIDENCE),
        *(f"{name}.html" for name in EVIDENCE),
    ):
        assert (out / "snippets" / snippet).is_file(), snippet
    assert (out / "figures" / "samples.png").stat().st_size > 1000
    for suffix in (".csv", ".tex", ".md.txt"):
        assert (out / "tables" / f"comparison{suffix}").is_file()
    site = json.loads((out / "run.json").read_text())
    assert [run["model"] for run in site["runs"]] == ["resnet50", "cnn"]
    assert (out / site["runs"][0]["path"]).resolve() == (tmp_path / "results" / "resnet50" / "seed-0").resolve()


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_comparison_holds_metrics_and_the_seed_reference(tmp_path):
    out = _render(tmp_path / "real", resnet50=0.9123, cnn=0.6543, synthetic=False)
    text = (out / "comparison.md").read_text()
    assert "| Test accuracy | 91.23 % | 95.33 % | 65.43 % | 77 % |" in text
    assert "| Seeds (runs) | 1 | — | 1 | — |" in text and "CNN: seed report (reference)" in text
    assert "26,215,818" in text and "1,250,858" in text
    # Synthetic results are never set beside the seed report's CIFAR-10 figures.
    synthetic = (_render(tmp_path / "synthetic", resnet50=0.9123, cnn=0.6543) / "comparison.md").read_text()
    assert "| Test accuracy | 91.23 % | 65.43 % |" in synthetic and "seed report (reference)" not in synthetic


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_comparison_sets_accuracy_against_counted_compute(tmp_path):
    results = _results(tmp_path / "results", resnet50=0.9, cnn=0.7)
    metrics_file = results / "cnn" / "seed-0" / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    cnn_flops = metrics["compute"]["training_flops"]
    render(results, tmp_path / "generated")
    row = next(
        line
        for line in (tmp_path / "generated" / "comparison.md").read_text().splitlines()
        if line.startswith("| Test accuracy per training PFLOP |")
    )
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    # Synthetic runs: Quantity, ResNet50, CNN (no reference columns). Above 100, no decimals.
    per_petaflop = 70.0 / (cnn_flops / 1e15)
    assert cells[2] == (
        f"{per_petaflop:,.0f} % per PFLOP" if per_petaflop >= 100 else f"{per_petaflop:,.1f} % per PFLOP"
    )
    # A run from before FLOPs were counted says so instead of leaving a blank.
    metrics.pop("compute")
    metrics_file.write_text(json.dumps(metrics))
    render(results, tmp_path / "generated")
    text = (tmp_path / "generated" / "comparison.md").read_text()
    assert "| Training compute (counted FLOPs) |" in text and "not recorded" in text


def test_synthetic_runs_are_marked_on_every_page_and_caption(tmp_path):
    out = _render(tmp_path)
    for page in (*PAGES, "snippets/banner.md"):
        assert '!!! warning "Synthetic data — not CIFAR-10 results"' in (out / page).read_text(), page
    assert "Synthetic data — not CIFAR-10 results" in (out / "snippets" / "banner.html").read_text()
    for page in (*PAGES, *(f"snippets/{name}.md" for name in EVIDENCE)):
        for line in (out / page).read_text().splitlines():
            if line.lstrip().startswith("**Table:"):
                assert "synthetic data — not CIFAR-10 results" in line, (page, line)
    for download in (out / "tables").iterdir():
        assert "synthetic data" in download.read_text(), download.name
        # Published results are CIFAR-10 figures whatever our runs used: their caption says ours
        # cannot be set against them, and their CSV's flag stays false (none of its numbers is synthetic).
        if download.suffix == ".csv" and download.stem != "published":
            assert "\n# synthetic: true\n" in download.read_text(), download.name


def test_real_data_runs_carry_no_synthetic_warning(tmp_path):
    out = _render(tmp_path, synthetic=False)
    for page in (*PAGES, *(f"snippets/{name}.md" for name in EVIDENCE)):
        assert "Synthetic data" not in (out / page).read_text()
        assert "synthetic data" not in (out / page).read_text()
    assert "matches the official CIFAR-10 checksum" in (out / "snippets" / "banner.md").read_text()


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_discussion_names_the_winner_from_the_numbers(tmp_path):
    resnet_wins = (_render(tmp_path / "a", resnet50=0.90, cnn=0.70) / "discussion.md").read_text()
    assert "**ResNet50 wins**" in resnet_wins and "ahead by 20.0 pp" in resnet_wins
    assert "CNN wins" not in resnet_wins

    cnn_wins = (_render(tmp_path / "b", resnet50=0.60, cnn=0.75) / "discussion.md").read_text()
    assert "**CNN wins**" in cnn_wins and "ahead by 15.0 pp" in cnn_wins
    assert "ResNet50 wins" not in cnn_wins

    level = (_render(tmp_path / "c", resnet50=0.80, cnn=0.80) / "discussion.md").read_text()
    assert "**level**" in level and "wins**" not in level


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_discussion_overfitting_and_convergence_follow_the_numbers(tmp_path):
    wide = (_render(tmp_path / "a", overfit_gap=0.10) / "discussion.md").read_text()
    assert "a gap of 10.0 pp: a clear overfitting gap" in wide
    root = tmp_path / "b" / "results"
    write_fixture_run(root / "resnet50" / "seed-0", "resnet50", test_accuracy=0.90, overfit_gap=0.0)
    # Six epochs (smoke's CNN has four): the fixture CNN then stops early, at 5 of 6.
    write_fixture_run(root / "cnn" / "seed-0", "cnn", test_accuracy=0.70, overfit_gap=0.0, epochs=6)
    render(root, tmp_path / "b" / "generated")
    narrow = (tmp_path / "b" / "generated" / "discussion.md").read_text()
    assert "a gap of 0.0 pp: little sign of overfitting" in narrow
    assert "clear overfitting gap." not in narrow
    assert "stopped early by its validation loss" in narrow
    # The fixture ResNet50 runs its profile's single epoch: no claim either way about improving.
    assert "its only epoch, so the run says nothing yet about whether it was still improving" in narrow
    longer = (_render(tmp_path / "c", overfit_gap=0.0, epochs=3) / "discussion.md").read_text()
    assert "the last epoch it ran, so it was still improving" in longer  # ResNet50: best = last of 3


def test_several_seeds_are_reported_as_mean_and_spread(tmp_path):
    root = tmp_path / "results"
    write_fixture_run(root / "resnet50" / "seed-0", "resnet50", test_accuracy=0.90, seed=0)
    write_fixture_run(root / "resnet50" / "seed-1", "resnet50", test_accuracy=0.92, seed=1)
    write_fixture_run(root / "cnn" / "seed-0", "cnn", test_accuracy=0.70)
    render(root, tmp_path / "out")
    text = (tmp_path / "out" / "comparison.md").read_text()
    assert "| Seeds (runs) | 2 | 1 |" in text
    # One number per cell; what it stands for is in its tooltip, and the caption says how to read it.
    assert '<span class="spread" title="mean of 2 runs; std 1.41 %; min 90.00 %, max 92.00 %">91.00 %</span>' in text
    assert "Values over several seeds are means" in text


def test_three_seeds_show_spread_n_min_and_max_in_every_table(tmp_path):
    root = tmp_path / "results"
    write_fixture_seeds(root, "resnet50", [0.90, 0.92, 0.91], synthetic=False)
    write_fixture_seeds(root, "cnn", [0.70, 0.74, 0.72], synthetic=False)
    render(root, tmp_path / "out")
    comparison = (tmp_path / "out" / "comparison.md").read_text()
    spread = '<span class="spread" title="mean of 3 runs; std 1.00 %; min 90.00 %, max 92.00 %">91.00 %</span>'
    assert f"| Test accuracy | {spread} | 95.33 % |" in comparison
    assert 'title="mean of 3 runs; std 2.00 %; min 70.00 %, max 74.00 %">72.00 %</span>' in comparison
    headline = (tmp_path / "out" / "tables" / "headline.md.txt").read_text()
    assert "| ResNet50 | 91.00 ± 1.00 % |" in headline and "the CSV also has n, min and max" in headline
    headline_csv = (tmp_path / "out" / "tables" / "headline.csv").read_text().splitlines()
    header = headline_csv[4].split(",")
    resnet = dict(zip(header, headline_csv[5].split(",")))
    assert resnet["Test accuracy mean (%)"] == "91" and resnet["Test accuracy std (%)"] == "1"
    assert (resnet["Test accuracy n"], resnet["Test accuracy min (%)"], resnet["Test accuracy max (%)"]) == (
        "3",
        "90",
        "92",
    )
    accuracy = (tmp_path / "out" / "snippets" / "evidence-accuracy.md").read_text()
    assert "91.00 ± 1.00 % (n = 3; min 90.00, max 92.00)" in accuracy  # the sentence
    assert "| ResNet50 | 3 | 91.00 % | 1.00 % | 90.00 % | 92.00 % |" in accuracy  # the summary table
    assert "| ResNet50 | 0 |" in accuracy and "| ResNet50 | 2 |" in accuracy  # an interval for each seed
    calibration = (tmp_path / "out" / "snippets" / "evidence-calibration.md").read_text()
    assert calibration.count('title="mean of 3 runs') == 4  # ECE and NLL of both models
    paired = (tmp_path / "out" / "snippets" / "evidence-paired.md").read_text()
    for seed in (0, 1, 2):
        assert f"**Seed {seed}**: **the difference is significant" in paired
    assert "Significant at the 5 % level for 3 of 3 seeds." in paired


def test_one_seed_says_single_run_and_invents_no_spread(tmp_path):
    out = _render(tmp_path)
    for text in (
        (out / "comparison.md").read_text(),
        (out / "snippets" / "evidence-accuracy.md").read_text(),
        (out / "snippets" / "evidence-calibration.md").read_text(),
    ):
        assert "±" not in text.split("Table:")[1] and 'class="spread"' not in text
    assert format_stat([0.5]) == "0.50" and format_stat([4.0, 6.0], 1) == "5.0 ± 1.4 (n = 2; min 4, max 6)"
    # Runs that agree have no spread to show: a constant is one value.
    assert format_stat([4.0, 4.0], 1) == "4.0" and format_flops([0.163e9] * 3) == "0.163 GFLOP"


def _paired(tmp_path: Path, resnet50_correct, cnn_correct, cnn_options=None) -> str:
    """Render one run per model that gets exactly the given test images right; the paired section."""
    root = tmp_path / "results"
    write_fixture_run(root / "resnet50" / "seed-0", "resnet50", correct=resnet50_correct)
    write_fixture_run(root / "cnn" / "seed-0", "cnn", correct=cnn_correct, **(cnn_options or {}))
    render(root, tmp_path / "out")
    return (tmp_path / "out" / "snippets" / "evidence-paired.md").read_text()


def test_mcnemar_favours_the_cnn_when_it_is_much_better_on_the_same_images(tmp_path):
    cnn = np.ones(200, dtype=bool)
    cnn[:10] = False  # right on 190 images
    resnet50 = np.zeros(200, dtype=bool)
    resnet50[:120] = True  # right on 120, all but 10 of which the CNN also gets right
    text = _paired(tmp_path, resnet50, cnn)
    assert "the difference is significant at the 5 % level, in favour of CNN" in text
    assert "ResNet50 alone was right on 10 and CNN alone on 80" in text
    assert stats.mcnemar(resnet50, cnn)["p_value"] < 1e-4
    assert "&#60; 0.0001" in text and not re.search(r"\de-\d", text)  # plain form, never "1.1e-14"
    assert "| 0 | 200 | 10 | 80 | &#60; 0.0001 |" in text and "significant, favours CNN" in text
    assert "| Seed | Test images | b: only ResNet50 right | c: only CNN right | p-value |" in text
    assert "not significant" not in text
    discussion = (tmp_path / "out" / "discussion.md").read_text()
    assert "**CNN wins**" in discussion and "finds the difference\nsignificant at the 5 % level" in discussion


def test_identical_predictions_are_not_significant(tmp_path):
    correct = np.arange(200) % 4 != 0  # the same 150 images right for both models
    text = _paired(tmp_path, correct, correct)
    assert "**the difference is not significant at the 5 % level** (p = 1.000)" in text
    assert "the two models got exactly the same images right" in text
    assert "is significant" not in text
    discussion = (tmp_path / "out" / "discussion.md").read_text()
    assert "**not significant** at the 5 % level" in discussion


def test_runs_on_different_test_images_get_no_paired_test(tmp_path):
    correct = np.ones(200, dtype=bool)
    text = _paired(tmp_path, correct, correct, cnn_options={"index_offset": 1000})
    assert "do not share the same test images" in text and "no paired test" in text
    assert "significant at" not in text


def test_evidence_sections_hold_intervals_per_class_calibration_and_confusion(tmp_path):
    out = _render(tmp_path, resnet50=0.90, cnn=0.70)
    accuracy = (out / "snippets" / "evidence-accuracy.md").read_text()
    lower, upper = stats.binomial_interval(180, 200)
    assert f"{lower * 100:.2f} – {upper * 100:.2f} %" in accuracy and "Clopper–Pearson" in accuracy
    assert "| ResNet50 | 0 | 180 | 200 | 90.00 % |" in accuracy
    per_class = (out / "snippets" / "evidence-per-class.md").read_text()
    assert "| Class | ResNet50 precision | ResNet50 recall | ResNet50 F1 | CNN precision |" in per_class
    assert "The 3 classes where the two models' F1 differ most:" in per_class
    assert per_class.count("ResNet50 ahead by") + per_class.count("CNN ahead by") == 3
    calibration = (out / "snippets" / "evidence-calibration.md").read_text()
    assert "| Model | Seeds | ECE | NLL (nats) |" in calibration
    for model in ("resnet50", "cnn"):
        for kind in ("counts", "normalised"):
            for suffix in (".csv", ".tex", ".md.txt"):
                assert (out / "tables" / f"confusion-{kind}-{model}{suffix}").is_file()
    lines = (out / "tables" / "confusion-counts-resnet50.csv").read_text().splitlines()
    counts = [line for line in lines if not line.startswith("#")]
    assert counts[0].startswith("True \\ predicted,airplane,automobile")
    assert sum(int(cell) for line in counts[1:] for cell in line.split(",")[1:]) == 200
    html = (out / "snippets" / "evidence-accuracy.html").read_text()
    assert "<table>" in html and 'id="table-evidence-accuracy"' in html
    assert (
        'href="../generated/tables/evidence-accuracy.csv" download' in html
        or 'download href="../generated/tables/evidence-accuracy.csv"' in html
    )


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_the_gallery_is_used_when_recorded_and_named_missing_otherwise(tmp_path):
    out = _render(tmp_path)  # the fixtures write no gallery.npz by default
    text = (out / "snippets" / "evidence-mistakes.md").read_text()
    assert text.count("not recorded for this run") == 2
    (tmp_path / "results").rename(tmp_path / "old")
    write_fixture_run(tmp_path / "results" / "resnet50" / "seed-0", "resnet50", gallery=True)
    write_fixture_run(tmp_path / "results" / "cnn" / "seed-0", "cnn")
    render(tmp_path / "results", out)
    text = (out / "snippets" / "evidence-mistakes.md").read_text()
    assert "**ResNet50, seed 0**: the 16 most confident mistakes are shown below" in text
    assert text.count("not recorded for this run") == 1


def test_a_damaged_gallery_names_its_file(tmp_path):
    root = _results(tmp_path / "results")
    (root / "cnn" / "seed-0" / "gallery.npz").write_bytes(b"garbage")
    message = _one_line_error(root, tmp_path / "out")
    assert "gallery.npz" in message and "unreadable" in message


def test_unfinished_runs_are_never_rendered(tmp_path):
    root = tmp_path / "results"
    write_fixture_run(root / "resnet50" / "seed-0", "resnet50")
    write_fixture_run(root / "cnn" / "seed-0.incomplete", "cnn")
    render(root, tmp_path / "out")
    # Our runs only: the seed report's reference values below the table name its CNN, not ours.
    ours = (tmp_path / "out" / "comparison.md").read_text().split("Reference values:")[0]
    assert "CNN" not in ours
    assert "seed-0.incomplete" not in (tmp_path / "out" / "run.json").read_text()


def _one_line_error(root: Path, out: Path) -> str:
    with pytest.raises(UserError) as caught:
        render(root, out)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_bad_results_directories_stop_with_one_line(tmp_path):
    assert "no such results directory" in _one_line_error(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    assert "no finished runs" in _one_line_error(tmp_path / "empty", tmp_path / "out")
    write_fixture_run(tmp_path / "only-unfinished" / "cnn" / "seed-0.incomplete", "cnn")
    assert "no finished runs" in _one_line_error(tmp_path / "only-unfinished", tmp_path / "out")


@pytest.mark.parametrize(
    ("damage", "file_named", "problem"),
    [
        (lambda run: (run / "metrics.json").write_text("{not json"), "metrics.json", "not valid JSON"),
        (lambda run: (run / "history.csv").unlink(), "history.csv", "missing"),
        (lambda run: (run / "predictions.npz").write_bytes(b"garbage"), "predictions.npz", "unreadable"),
        (lambda run: _edit(run / "manifest.json", status="running"), "manifest.json", "not 'complete'"),
        (lambda run: _edit(run / "metrics.json", test_accuracy=None), "metrics.json", "test_accuracy"),
        (lambda run: _edit(run / "metrics.json", test_accuracy=91.0), "metrics.json", "fraction"),
        (lambda run: _edit(run / "metrics.json", epochs_run=99), "history.csv", "epochs_run"),
        (lambda run: _edit(run / "summary.json", layers=None), "summary.json", "layers"),
    ],
)
def test_a_damaged_run_names_its_file_and_keeps_the_old_pages(tmp_path, damage, file_named, problem):
    root = _results(tmp_path / "results")
    out = tmp_path / "generated"
    render(root, out)
    before = (out / "comparison.md").read_text()
    damage(root / "cnn" / "seed-0")
    message = _one_line_error(root, out)
    assert file_named in message and problem in message, message
    assert (out / "comparison.md").read_text() == before  # the failed render changed nothing
    # and left no half-written directory (the lock file of `render` stays, empty)
    assert [path.name for path in tmp_path.glob(".generated.*")] == [".generated.lock"]


def _edit(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def test_table_writers():
    table = Table(
        "demo",
        "A caption with 50% & more.",
        ["Name", "Value"],
        [["a_b", number([0.009, 0.011], PERCENT)], ["c|d", number(2, COUNT)]],
        synthetic=True,
    )
    latex = to_latex(table)
    assert r"\toprule" in latex and r"\bottomrule" in latex
    assert r"a\_b & 1.00 $\pm$ 0.14 \% \\" in latex
    assert r"50\% \& more. Values over several seeds are mean $\pm$ std" in latex
    assert r"(synthetic data --- not CIFAR-10 results)." in latex
    assert "| c&#124;d |" in to_markdown(table)  # a pipe in a cell is text, not a column
    with pytest.raises(ValueError):
        Table("demo", "x", ["one", "two"], [["only one"]])


def test_formatting_helpers():
    assert format_percent([0.9533]) == "95.33 %"
    assert format_percent([0.90, 0.92]) == "91.00 ± 1.41 % (n = 2; min 90.00, max 92.00)"
    assert describe_rates([0.01, 0.01, 0.01, 0.00904837]) == "0.01 (epochs 1–3), 0.009048 (epoch 4)"


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_only_real_data_runs_are_set_against_the_seed_reports_figures(tmp_path):
    synthetic = _render(tmp_path / "synthetic")
    assert "Against the seed report" not in (synthetic / "discussion.md").read_text()
    real = _render(tmp_path / "real", resnet50=0.9433, synthetic=False)
    text = (real / "discussion.md").read_text()
    assert "Against the seed report: ResNet50 reached 94.33 % here,\n-1.0 pp from the seed report's figure;" in text

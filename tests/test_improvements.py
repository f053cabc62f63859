"""The improvement studies: their plans (which runs, which are copies of main runs, the smoke forms,
one-line refusals), the cost estimate, their tables and the Improvements page, all from fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures import write_fixture_run, write_improvement_studies

from cifarcmp import cli, config, estimate, plan, results, schema
from cifarcmp.analysis import ensembles, improvements
from cifarcmp.analysis.runs import load_studies
from cifarcmp.errors import UserError
from cifarcmp.report import figures
from cifarcmp.report.published import PUBLISHED
from cifarcmp.report.render import render
from cifarcmp.report.tables import published_table
from cifarcmp.studies import STUDIES, augmentation, backbones, distillation, learning_rate
from cifarcmp.studies.study import Request


def _plan(tmp_path: Path, profile: str, studies: tuple[str, ...], seeds: int = 2, **settings) -> plan.Plan:
    return plan.build(plan.PlanSettings(profile, seeds=seeds, studies=studies, results_root=tmp_path, **settings))


def _group(built: plan.Plan, study: str) -> list[tuple[str, str, int, bool]]:
    """(arm, variant, seed, trained here) of each run the study lists."""
    return [(run.arm, run.variant, run.seed, run.same_as is None) for run in built.groups[study]]


def _cli(capsys, *arguments) -> tuple[int, str, str]:
    code = cli.main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(code: int, err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("cifarcmp: error:")]
    assert code != 0 and len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# Plans -----------------------------------------------------------------------------------------------


def test_backbones_train_every_other_backbone_and_copy_resnet50(tmp_path):
    built = _plan(tmp_path, "paper", ("backbones",), seeds=2)
    listed = _group(built, "backbones")
    assert [arm for arm, _, seed, _ in listed if seed == 0] == ["resnet50", *backbones.BACKBONES]
    assert len(backbones.BACKBONES) == 5
    # ResNet50's runs are the main runs: copied into the study, never trained again.
    assert [trained for arm, _, _, trained in listed if arm == "resnet50"] == [False, False]
    assert all(trained for arm, _, _, trained in listed if arm != "resnet50")
    assert {run.config.model for run in built.groups["backbones"]} == {"resnet50", *backbones.BACKBONES}


def test_backbones_smoke_form_is_one_backbone_one_seed_unless_asked(tmp_path):
    listed = _group(_plan(tmp_path, "smoke", ("backbones",), seeds=2), "backbones")
    assert listed == [("resnet50", "", 0, False), ("mobilenetv3large", "", 0, True)]
    asked = _plan(tmp_path, "smoke", ("backbones",), backbones=backbones.parse_backbones("densenet121,resnet50v2"))
    assert [arm for arm, *_ in _group(asked, "backbones")] == ["resnet50", "densenet121", "resnet50v2"]


def test_resolution_trains_the_other_sizes_and_copies_the_profiles_own(tmp_path):
    paper = _group(_plan(tmp_path, "paper", ("resolution",), seeds=1), "resolution")
    assert paper == [
        ("resnet50", "32 px", 0, True),
        ("resnet50", "64 px", 0, True),
        ("resnet50", "128 px", 0, True),
        ("resnet50", "224 px", 0, False),  # the seed's 224 px: the main run
    ]
    smoke = _plan(tmp_path, "smoke", ("resolution",), seeds=2)
    assert _group(smoke, "resolution") == [("resnet50", "32 px", 0, False), ("resnet50", "64 px", 0, True)]
    assert "--upsampling" in smoke.groups["resolution"][1].train_arguments()


def test_learning_rate_grid_copies_the_seeds_rate_and_shrinks_in_smoke(tmp_path):
    paper = _plan(tmp_path, "paper", ("learning-rate",), seeds=1)
    listed = _group(paper, "learning-rate")
    assert [variant for arm, variant, _, _ in listed if arm == "cnn"] == [
        "lr 0.001",
        "lr 0.003",
        "lr 0.01",
        "lr 0.03",
        "lr 0.1",
    ]
    assert [trained for _, variant, _, trained in listed if variant == "lr 0.01"] == [False, False]
    assert len([run for run in paper.runs if run.variant]) == 8  # 4 rates x 2 models trained
    smoke = _group(_plan(tmp_path, "smoke", ("learning-rate",), seeds=2), "learning-rate")
    assert smoke == [("resnet50", "lr 0.01", 0, False), ("resnet50", "lr 0.1", 0, True)]
    run = next(run for run in paper.runs if run.variant == "lr 0.003")
    assert run.config.learning_rate == 0.003 and run.train_arguments()[-4:-2] == ["--learning-rate", "0.003"]


def test_ensembles_train_nothing_and_refuse_one_seed(tmp_path, capsys):
    built = _plan(tmp_path, "smoke", ("ensembles",), seeds=2)
    assert [run.same_as for run in built.groups["ensembles"]] == [
        "smoke/resnet50/seed-0",
        "smoke/resnet50/seed-1",
        "smoke/cnn/seed-0",
        "smoke/cnn/seed-1",
    ]
    assert len(built.runs) == 4  # the main runs only
    code, out, err = _cli(capsys, "plan", "--profile", "smoke", "--studies", "ensembles", "--results-root", tmp_path)
    _one_line_error(code, err, "ensembles", "SEEDS=2")
    assert not (tmp_path / "smoke").exists()


def test_augmentation_and_distillation_ask_for_their_runs():
    # Their RunConfig fields (augmentation, teacher) arrive with the training side; their runs as asked:
    request = Request([0, 1], (1.0,), Path("/r/studies-smoke"), profile="paper", main=Path("/r/paper"))
    wanted = augmentation.STUDY.runs(request)
    assert [(entry.arm, entry.variant, dict(entry.changes)) for entry in wanted if entry.seed == 0][:4] == [
        ("resnet50", "none (the seed's)", {}),  # the seed's protocol: no change, so the main run's copy
        ("resnet50", "flip and crop", {"augmentation": "flip-crop"}),
        ("resnet50", "RandAugment", {"augmentation": "randaugment"}),
        ("resnet50", "MixUp", {"augmentation": "mixup"}),
    ]
    assert len(wanted) == 16
    smoke = augmentation.STUDY.runs(Request([0, 1], (1.0,), Path("/r"), profile="smoke"))
    assert [(entry.arm, entry.seed) for entry in smoke] == [("resnet50", 0)] * 4  # every variant, once
    students = [entry for entry in distillation.STUDY.runs(request) if entry.changes]
    assert [(entry.arm, entry.seed, entry.changes["teacher"]) for entry in students] == [
        ("cnn", 0, "/r/paper/resnet50/seed-0"),
        ("cnn", 1, "/r/paper/resnet50/seed-1"),
    ]


EVERY_STUDY = ",".join(STUDIES)


def test_the_whole_smoke_plan_with_every_study_trains_each_configuration_once(tmp_path, capsys):
    code, out, err = _cli(capsys, "plan", "--profile", "smoke", "--seeds", "2", "--studies", EVERY_STUDY,
                          "--json", "--results-root", tmp_path)  # fmt: skip
    assert code == 0, err
    document = json.loads(out)
    runs = document["runs"]
    trained = {run["name"] for run in runs}
    arguments = [tuple(argument for argument in run["arguments"] if argument != run["out"]) for run in runs]
    assert len(set(arguments)) == len(arguments)  # no configuration is trained twice
    copies = document["copies"]
    assert copies and all(copy["same_as"] in trained for copy in copies)  # shared runs come from one trained run
    augmentation_none = next(copy for copy in copies if "/augmentation/" in copy["name"] and "/none/" in copy["name"])
    assert augmentation_none["same_as"] == "smoke/resnet50/seed-0"  # the seed's protocol is the main run itself
    (student,) = [run for run in runs if "--teacher" in run["arguments"]]
    assert student["status"] == "waiting"
    assert student["arguments"][student["arguments"].index("--teacher") + 1] == str(tmp_path / "smoke/resnet50/seed-0")
    assert document["counts"]["waiting"] == 1 and document["counts"]["missing"] == len(runs) - 1


def test_an_interrupted_student_is_planned_again_once_its_teacher_is_done(tmp_path, capsys):
    write_fixture_run(tmp_path / "smoke" / "resnet50" / "seed-0", "resnet50")
    built = _plan(tmp_path, "smoke", ("distillation",), seeds=1)
    (student,) = [run for run in built.runs if run.config.teacher]
    assert student.status == "missing"
    partial = tmp_path / "studies-smoke" / "distillation" / "distilled" / "seed-0.incomplete"
    partial.mkdir(parents=True)
    (partial / "config.json").write_text(json.dumps(student.config.to_dict()))
    assert [run.status for run in _plan(tmp_path, "smoke", ("distillation",), seeds=1).runs if run.config.teacher] == [
        "interrupted"
    ]
    (partial / "config.json").write_text(json.dumps({**student.config.to_dict(), "distillation_alpha": 0.2}))
    code, _, err = _cli(capsys, "plan", "--profile", "smoke", "--studies", "distillation", "--results-root", tmp_path)
    _one_line_error(code, err, "seed-0.incomplete: holds a run with other settings than the plan (distillation_alpha)")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--backbones", "resnet50v2,vgg16", "unknown backbone vgg16"),
        ("--learning-rates", "0.01,-0.1", "'-0.1' is not a positive number"),
        ("--learning-rates", "0.01,fast", "'fast' is not a positive number"),
        ("--learning-rates", "0", "'0' is not a positive number"),
        ("--learning-rates", "nan", "not a positive number"),
        ("--learning-rates", ",", "none given"),
    ],
)
def test_bad_backbones_and_rates_are_one_line(tmp_path, capsys, option, value, fragment):
    study = "backbones" if option == "--backbones" else "learning-rate"
    code, _, err = _cli(
        capsys, "plan", "--profile", "smoke", "--studies", study, option, value, "--results-root", tmp_path
    )
    _one_line_error(code, err, fragment)


def test_parsed_rates_are_sorted_and_distinct():
    assert learning_rate.parse_rates("0.1, 1e-3,0.1") == (0.001, 0.1)
    with pytest.raises(UserError):
        learning_rate.parse_rates("inf")


# The cost estimate -------------------------------------------------------------------------------------


def test_counted_flops_are_the_models_own():
    # The counts every run's metrics.json holds (tests/fixtures.py records them for the seed's two).
    assert estimate.FLOPS["resnet50@224"][0] == 7_727_692_298
    assert estimate.FLOPS["cnn@32"][0] == 41_569_546
    for model in ("resnet50", *backbones.BACKBONES):
        for size in (32, 64, 224):
            forward, training = estimate.FLOPS[f"{model}@{size}"]
            assert training == pytest.approx(3 * forward, rel=0.01)  # every layer trains
    frozen_forward, frozen_training = estimate.FLOPS["resnet50-frozen@224"]
    assert frozen_training < 1.01 * frozen_forward  # the base only runs forward


def test_estimate_matches_readmes_measured_paper_runs():
    # README.md's speed section: 182 s for ResNet50's paper run, 95 s for the CNN's 50 epochs.
    resnet = estimate.run_cost(config.resolve("resnet50", "paper"))
    cnn = estimate.run_cost(config.resolve("cnn", "paper"))
    assert resnet.seconds == pytest.approx(182, rel=0.15)
    assert cnn.seconds == pytest.approx(95, rel=0.15)
    smaller = estimate.run_cost(config.resolve("resnet50", "paper", upsampling=2))
    assert smaller.flops < resnet.flops / 10  # 64 px: an eighth of the side squared and then some


def test_a_students_estimate_adds_its_teachers_forward_passes_at_a_backbones_rate():
    alone = config.resolve("cnn", "paper")
    student = config.resolve("cnn", "paper", teacher="/r/paper/resnet50/seed-0")
    teacher_forward, _ = estimate.flops_per_image("resnet50", 224)
    teacher_flops = alone.epochs * (50_000 - alone.validation_size) * teacher_forward
    assert estimate.run_cost(student).flops == pytest.approx(estimate.run_cost(alone).flops + teacher_flops)
    extra_seconds = estimate.run_cost(student).seconds - estimate.run_cost(alone).seconds
    assert extra_seconds == pytest.approx(teacher_flops / estimate.TRANSFER_FLOPS_PER_SECOND["float32"])


def test_plan_prints_each_groups_cost_counting_shared_runs_once(tmp_path, capsys):
    code, out, _ = _cli(
        capsys,
        "plan",
        "--profile",
        "paper",
        "--seeds",
        "2",
        "--studies",
        "resolution,learning-rate,ensembles",
        "--results-root",
        tmp_path,
    )
    assert code == 0
    assert "estimated time on one NVIDIA H100 80GB (float32; from counted FLOPs and README.md's measured rates" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "4 runs" in lines["main"] and "0 runs" in lines["ensembles"] and "4 shared" in lines["ensembles"]
    assert "6 runs" in lines["resolution"] and "2 shared" in lines["resolution"]
    built = _plan(tmp_path, "paper", ("resolution", "learning-rate", "ensembles"), seeds=2)
    costs = estimate.plan_costs(built)
    assert sum(cost.trained for cost in costs) == len(built.runs)
    assert sum(cost.seconds for cost in costs) == pytest.approx(
        sum(estimate.run_cost(run.config, run.changes).seconds for run in built.runs)
    )
    document = json.loads(
        _cli(capsys, "plan", "--profile", "paper", "--studies", "resolution", "--json", "--results-root", tmp_path)[1]
    )
    assert [cost["group"] for cost in document["estimate"]] == ["main", "resolution"]


def _bench_rows(transfer_tflops: float, cnn_images: float) -> list[dict]:
    """Rows as `make bench` measures them (train/bench.py's measure), with the two rates given."""
    return [
        {"model": "resnet50", "image_size": 64, "train_tflops_per_second": 1.0, "train_images_per_second": 9.0},
        {
            "model": "resnet50",
            "image_size": 224,
            "train_tflops_per_second": transfer_tflops,
            "train_images_per_second": 5.0,
        },
        {"model": "cnn", "image_size": 32, "train_tflops_per_second": 0.1, "train_images_per_second": cnn_images},
    ]


def test_make_bench_rates_time_the_plan_on_this_machine(tmp_path, capsys):
    # Half the H100's rates: every run's GPU seconds less its start-up doubles.
    rows = _bench_rows(
        estimate.TRANSFER_FLOPS_PER_SECOND["float32"] / 2e12, estimate.CNN_IMAGES_PER_SECOND["float32"] / 2
    )
    kept = estimate.keep_rates(tmp_path, "NVIDIA T4 <b>", "float32", rows)
    assert kept == tmp_path / "bench.json"
    rates = estimate.machine_rates(tmp_path, "float32")
    assert rates.gpu == "NVIDIA T4 <b>" and rates.source.startswith("`make bench` on this machine, 20")
    assert estimate.machine_rates(tmp_path, "mixed") == estimate.readme_rates("mixed")  # not measured: README's
    run = config.resolve("resnet50", "paper")
    readme, here = estimate.run_cost(run), estimate.run_cost(run, rates=rates)
    start = estimate.START_SECONDS["transfer"]
    assert here.seconds - start == pytest.approx(2 * (readme.seconds - start))
    code, out, _ = _cli(capsys, "plan", "--profile", "paper", "--results-root", tmp_path)
    assert code == 0 and "estimated time on NVIDIA T4 <b> (float32; from counted FLOPs and `make bench`" in out
    estimate.keep_rates(tmp_path, "NVIDIA T4 <b>", "mixed", rows)  # the other precision joins the same machine's file
    assert set(json.loads(kept.read_text())["rates"]) == {"float32", "mixed"}


@pytest.mark.parametrize(
    "content", ["not json", '{"device": "x", "measured": "y", "rates": {"float32": {"transfer_flops_per_second": -1, '
                '"cnn_images_per_second": 5}}}', '{"rates": []}', "x" * 200_000]
)  # fmt: skip
def test_a_bench_file_that_is_not_benchs_is_one_line(tmp_path, capsys, content):
    (tmp_path / "bench.json").write_text(content)
    code, _, err = _cli(capsys, "plan", "--profile", "paper", "--results-root", tmp_path)
    _one_line_error(code, err, "bench.json: not the figures `make bench` writes")


# Tables and the page -----------------------------------------------------------------------------------


@pytest.fixture
def studies(tmp_path):
    root = write_improvement_studies(tmp_path / "studies-smoke")
    return load_studies(root)


def _row(table, *first_cells) -> list:
    return next(row for row in table.rows if row[: len(first_cells)] == list(first_cells))


def _text(table, row) -> list[str]:
    return [text for text, _ in table.shown()[table.rows.index(row)]]


def test_summary_rows_carry_their_variant_and_the_contract_checks_it(studies):
    rows = studies.rows("augmentation", "cnn")
    assert {row["variant"] for row in rows} == {"none (the seed's)", "flip and crop", "MixUp"}
    rules = schema.study_summary("augmentation", augmentation.STUDY.row_rules)
    bad = {**studies.summaries["augmentation"]}
    bad["runs"] = [{**rows[0], "variant": 7}]
    assert "variant" in schema.problem(bad, rules)
    assert schema.problem({**bad, "runs": [{k: v for k, v in rows[0].items() if k != "variant"}]}, rules) is None


def test_augmentation_table_pairs_each_variant_with_no_augmentation(studies):
    table = improvements.augmentation_table(studies, True)
    flip = _row(table, "CNN", "flip and crop")
    shown = _text(table, flip)
    assert shown[3] == "80.00 %" and shown[4] == "+10.0 pp" and shown[6] == "< 0.0001"
    assert _text(table, _row(table, "CNN", "none (the seed's)"))[4] == "—"
    assert table.synthetic and "synthetic" in table.full_caption


def test_learning_rate_table_reads_test_accuracy_for_the_chosen_rate_only(studies):
    table = improvements.learning_rate_table(studies, True)
    assert improvements.chosen_rates(studies) == {"resnet50": 0.01, "cnn": 0.003}
    chosen = [row for row in table.rows if row[5] == "chosen"]
    assert [(row[0], row[1].mean) for row in chosen] == [("ResNet50", 0.01), ("CNN", 0.003)]
    for row in table.rows:
        assert (row[6] == "not read") == (row[5] != "chosen")
    assert _text(table, chosen[1])[7] == "+5.0 pp"  # 0.003 against the seed's 0.01, paired


def test_resolution_backbones_distillation_and_ensembles_tables(studies):
    resolution = improvements.resolution_table(studies, True)
    assert _text(resolution, resolution.rows[0])[:2] == ["32 px (the main runs')", "2"]
    assert _text(resolution, resolution.rows[1])[3] == "-5.0 pp"
    backbone = improvements.backbones_table(studies, True)
    assert _text(backbone, _row(backbone, "MobileNetV3Large"))[3] == "75.60 %"  # ImageNet top-1, Keras' figure
    distilled = improvements.distillation_table(studies, True)
    assert _text(distilled, _row(distilled, "CNN distilled from ResNet50"))[6] == "40.00 %"  # 8 of 20 points
    ensemble = improvements.ensembles_table(studies, True)
    methods = [row[1] for row in ensemble.rows if row[0] == "CNN"]
    assert methods == [
        "single run (each of 2)",
        "flip TTA",
        "ensemble of 2 seeds",
        "ensemble of 2 seeds + flip TTA",
    ]
    assert [_text(ensemble, row)[6] for row in ensemble.rows if row[0] == "CNN"] == [
        "1.00 ×",
        "2.00 ×",
        "2.00 ×",
        "4.00 ×",
    ]


def test_ensembles_without_flipped_predictions_show_no_test_time_augmentation(tmp_path):
    studies = load_studies(write_improvement_studies(tmp_path / "studies-smoke", flipped=False))
    assert [row[1] for row in improvements.ensembles_table(studies, True).rows if row[0] == "CNN"] == [
        "single run (each of 2)",
        "ensemble of 2 seeds",
    ]


def test_ensemble_accuracy_is_the_averaged_probabilities(studies):
    (resnet, cnn) = improvements.ensemble_results(studies)
    labels, stack, _ = improvements.aligned_members([studies.run(row) for row in cnn.rows])
    expected = float(np.mean(ensembles.ensemble_predictions(stack) == labels))
    method = next(method for method in cnn.methods if method["name"] == "ensemble of 2 seeds")
    assert method["accuracy"] == [expected]


def test_summary_and_pareto_front(studies):
    entries = improvements.summary_entries(studies)
    assert [entry.improvement for entry in entries if entry.baseline] == ["the seed's protocol"] * 2
    table = improvements.summary_table(entries, True)
    ensemble = _row(table, "ensemble of 2 seeds", "CNN")
    assert _text(table, ensemble)[8] == "2.00 ×"  # two runs' training
    drawn = improvements.pareto_points(entries)
    costs = [point["flops"] for point in drawn["points"]]
    accuracies = [point["accuracy"] for point in drawn["points"]]
    assert drawn["front"] == ensembles.pareto_front(costs, accuracies) and drawn["front"]
    for index in drawn["front"]:  # nothing cheaper is as accurate
        assert not any(c <= costs[index] and a > accuracies[index] for c, a in zip(costs, accuracies))
    figure = figures.accuracy_against_compute(drawn["points"], drawn["front"])
    axis = figure.axes[0]
    assert axis.get_xscale() == "log"
    assert "Pareto front" in [line.get_label() for line in axis.get_lines()]
    # Plain-text FLOP ticks in view, even though these points lie within one decade.
    labels = [tick.get_text() for tick in axis.get_xticklabels()]
    assert len(labels) >= 2 and all(label.endswith("FLOP") and "$" not in label for label in labels), labels


def test_findings_say_what_helped_what_did_not_and_what_was_not_run(studies):
    entries = improvements.summary_entries(studies)
    sentences = improvements.findings(entries, ["augmentation", "learning-rate"], True, None)
    assert sentences[0].startswith("These runs trained and tested on synthetic images")
    assert any(
        s.startswith("Augmentation with flip and crop for the CNN raised test accuracy by +10.0 pp") for s in sentences
    )
    assert any("lowered test accuracy" in s and "MixUp" in s for s in sentences)
    assert "Not run: backbones, resolution, ensembles, distillation." in sentences
    assert not any("published" in s for s in sentences)  # synthetic runs are not set against them


def test_findings_at_chance_and_against_the_published_ceiling(tmp_path):
    root = tmp_path / "studies-paper"
    from fixtures import write_fixture_study

    write_fixture_study(
        root,
        "augmentation",
        [
            {"arm": "cnn", "variant": "none (the seed's)", "test_accuracy": 0.10, "synthetic": False},
            {"arm": "cnn", "variant": "MixUp", "test_accuracy": 0.11, "synthetic": False},
        ],
    )
    entries = improvements.summary_entries(load_studies(root))
    ceilings = {"cnn": {"model": "BiT", "accuracy": 0.972, "accuracy_high": 0.974}}
    sentences = improvements.findings(entries, ["augmentation"], False, ceilings)
    assert any("at chance" in s for s in sentences)
    assert not any("raised" in s for s in sentences)
    assert sentences[-1].startswith("CNN's best result here, augmentation with MixUp at 11.00 %, is 86.2 pp below")
    assert "97.2 to 97.4 % (BiT)" in sentences[-1]
    assert not any("published" in s for s in improvements.findings(entries, ["augmentation"], True, ceilings))


def test_published_table_has_every_source_and_no_run_of_ours():
    table = published_table()
    assert len(table.rows) == len(PUBLISHED) and not table.synthetic
    assert [row[0] for row in table.rows] == [entry.model for entry in PUBLISHED]
    assert "synthetic" not in table.full_caption
    beside = published_table(beside_synthetic=True)
    assert not beside.synthetic and "synthetic data — not CIFAR-10 results" in beside.full_caption


def _results(tmp_path: Path, synthetic: bool = True) -> Path:
    results = tmp_path / ("smoke" if synthetic else "paper")
    for model, accuracy in (("resnet50", 0.9), ("cnn", 0.7)):
        for seed in (0, 1):
            write_fixture_run(results / model / f"seed-{seed}", model, accuracy, synthetic=synthetic, seed=seed)
    return results


def test_improvements_page_renders_with_its_tables_figure_and_published_results(tmp_path):
    results = _results(tmp_path)
    write_improvement_studies(tmp_path / "studies-smoke")
    out = tmp_path / "generated"
    render(results, out)
    page = (out / "improvements.md").read_text()
    assert page.startswith("# Improvements") and "Synthetic data — not CIFAR-10 results" in page
    assert "Our runs cannot be compared with these" in page
    assert "{: #table-improvements }" in page and "{: #table-published }" in page
    for name in improvements.IMPROVEMENT_STUDIES:
        assert f"{{: #table-improvements-{name} }}" in page, name
        assert (out / "tables" / f"improvements-{name}.csv").is_file()
    for entry in PUBLISHED:  # every source linked below the table
        assert f"]({entry.source})" in page
    assert (out / "figures" / "improvements-compute.png").is_file()
    assert "![Test accuracy against counted training FLOPs" in page and "Pareto front" in page
    assert "# commit: 0123456789" in (out / "tables" / "improvements.csv").read_text()


def test_improvements_page_without_studies_still_shows_the_published_results(tmp_path):
    out = tmp_path / "generated"
    render(_results(tmp_path, synthetic=False), out)
    page = (out / "improvements.md").read_text()
    assert "No improvement study was run" in page and "{: #table-published }" in page
    assert "Our runs cannot be compared" not in page  # CIFAR-10 runs: the reader may set them side by side
    assert not (out / "figures" / "improvements-compute.png").exists()


def test_flipped_predictions_of_the_wrong_shape_are_refused_in_one_line(tmp_path):
    root = write_improvement_studies(tmp_path / "studies-smoke")
    path = root / "ensembles" / "cnn" / "own" / "seed-1" / "predictions.npz"
    with np.load(path) as stored:
        arrays = {key: stored[key] for key in stored.files}
    np.savez(path, **{**arrays, "flipped_probabilities": arrays["flipped_probabilities"][:5]})
    with pytest.raises(
        UserError, match=r"seed-1/predictions.npz: flipped_probabilities are float32 \(5, 10\), expected"
    ):
        improvements.ensembles_table(load_studies(root), True)


# End to end ------------------------------------------------------------------------------------------


@pytest.mark.slow  # trains seven smoke runs (about five minutes on two cores), then renders the page
def test_every_training_study_runs_its_smoke_form_and_the_page_renders_from_it(tmp_path, trained_smoke_runs):
    # The session's main runs (seed 0) are the seed's protocol of every study; each study trains
    # only its changes, as `make report PROFILE=smoke STUDIES=...` does. One seed, so the ensembles
    # study (which needs two) is left to its fixture tests above.
    from conftest import copy_smoke_runs, run_cli

    from cifarcmp.train import evaluate

    copy_smoke_runs(trained_smoke_runs, tmp_path)
    studies = "augmentation,backbones,resolution,distillation,learning-rate"
    finished = run_cli("study", "--profile", "smoke", "--studies", studies, "--results-root", tmp_path, timeout=1800)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "9 runs planned: 2 done, 7 to train" in finished.stdout, finished.stdout
    root = tmp_path / "studies-smoke"
    for study in studies.split(","):
        rows = json.loads((root / study / "summary.json").read_text())["runs"]
        assert rows and all(row["synthetic"] for row in rows), study
    # The distilled run: the seed's CNN, taught by the session's ResNet50, keeps its own model.
    student_row = next(
        row
        for row in json.loads((root / "distillation" / "summary.json").read_text())["runs"]
        if "distilled" in row["variant"]
    )
    student_folder = root / student_row["run"]
    student, teacher = results.load_run(student_folder), results.load_run(tmp_path / "smoke" / "resnet50" / "seed-0")
    assert student.config["teacher"] == str(teacher.path)
    assert student.manifest["teacher"]["model_sha256"] == teacher.manifest["model"]["sha256"]
    assert student.metrics["parameters"]["total"] == 1_250_858
    assert evaluate.kept_model(student).count_params() == 1_250_858
    assert (student_folder / results.MODEL_FILE).stat().st_size < (teacher.path / results.MODEL_FILE).stat().st_size / 4
    # Its training compute counts the teacher's forward pass on every image it saw.
    per_image = student.metrics["compute"]["training_flops"] / student.metrics["train_images"]
    assert per_image > teacher.metrics["compute"]["forward_flops_per_image"]
    assert results.FLIPPED in student.predictions  # test-time augmentation needs no retraining
    assert not (student_folder.parent / "seed-0.incomplete").exists()  # published; checkpoints (with the teacher) gone
    out = tmp_path / "site"
    rendered = run_cli("render", tmp_path / "smoke", "--out", out)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    page = (out / "improvements.md").read_text()
    for shown in ("flip and crop", "RandAugment", "MixUp", "MobileNetV3Large", "64 px", "distillation from ResNet50"):
        assert shown in page, shown
    assert "learning rate 0.1" in page or "learning rate 0.01 (chosen)" in page
    assert "Synthetic data" in page and "cannot be compared" in page  # the published table, honestly qualified
    assert (out / "figures" / "improvements-compute.png").stat().st_size > 10_000

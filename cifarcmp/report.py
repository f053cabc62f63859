"""Render the report's pages from finished results directories.

`render(results_root, out_dir)` reads every finished run under `results_root`
(`<model>/seed-<N>/`), checks it, groups the runs by model, and writes into `out_dir`
(normally `docs/generated/`): the Jinja-rendered pages, the snippets every hand-written page
includes (synthetic warning, provenance, headline table), the downloadable tables, the static
figures, and `run.json`, which tells the executed notebook pages where the results are.

Nothing here trains or imports TensorFlow; the site only ever sees what this module wrote.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2
import markdown

from cifarcmp import evidence, paths, plots
from cifarcmp.errors import UserError
from cifarcmp.results import Run, find_runs, load_run
from cifarcmp.studies_report import default_studies_root, render_studies
from cifarcmp.tables import SEED_REPORT, build_tables, mean, to_markdown, write_table

MODEL_ORDER = ("resnet50", "cnn")

# What each file must hold for the report, beyond what `load_run` already checks.
_REQUIRED = {
    "metrics.json": ("train_accuracy", "train_loss", "val_accuracy", "val_loss", "test_accuracy",
                     "test_loss", "best_epoch", "epochs_run", "stopped_early", "wall_seconds",
                     "train_images_per_second", "test_images", "parameters"),
    "summary.json": ("total_params", "trainable_params", "non_trainable_params", "layers"),
    "manifest.json": ("git", "versions", "device", "finished_at", "data"),
    "config.json": ("model", "profile", "seed", "learning_rate", "momentum", "batch_size", "epochs",
                    "lr_constant_epochs", "lr_decay_per_epoch", "early_stopping_patience",
                    "validation_size", "train_subset", "test_subset", "image_size", "lr_schedule",
                    "deviations"),
}


@dataclass
class ModelGroup:
    """All finished runs of one model (one per seed)."""

    model: str
    runs: list[Run]

    @property
    def label(self) -> str:
        return plots.MODEL_LABELS.get(self.model, self.model)

    @property
    def count(self) -> int:
        return len(self.runs)

    @property
    def config(self) -> dict:
        """The first seed's configuration; seeds share everything else."""
        return self.runs[0].config

    @property
    def seeds(self) -> list[int]:
        return [run.config["seed"] for run in self.runs]

    def metric(self, key: str) -> list[float]:
        return [float(run.metrics[key]) for run in self.runs]


def render(results_root: Path | str, out_dir: Path | str = paths.GENERATED_DIR,
           templates_dir: Path | str = paths.TEMPLATES_DIR) -> None:
    """Render every page and download into `out_dir`, replacing it only once all are written."""
    results_root, out_dir = Path(results_root).resolve(), Path(out_dir).resolve()
    groups = load_groups(results_root)
    work = out_dir.with_name(f".{out_dir.name}.rendering")
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.mkdir(parents=True)
        _render_into(work, groups, results_root, out_dir, Path(templates_dir))
        _swap(work, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load_groups(results_root: Path) -> list[ModelGroup]:
    """Every finished run under `results_root`, checked, grouped by model in report order."""
    runs = [load_run(path) for path in find_runs(results_root)]
    if not runs:
        raise UserError(
            f"{results_root}: no finished runs (expected <model>/seed-<N>/ directories with a "
            "complete manifest.json; run `cifarcmp train` first)"
        )
    for run in runs:
        check_run(run)
    by_model: dict[str, list[Run]] = {}
    for run in sorted(runs, key=lambda run: run.config["seed"]):
        by_model.setdefault(run.model, []).append(run)
    order = [model for model in MODEL_ORDER if model in by_model]
    order += sorted(set(by_model) - set(order))
    return [ModelGroup(model, by_model[model]) for model in order]


def check_run(run: Run) -> None:
    """Raise UserError naming the file when a run lacks something the report shows."""
    contents = {"metrics.json": run.metrics, "summary.json": run.summary,
                "manifest.json": run.manifest, "config.json": run.config}
    for name, keys in _REQUIRED.items():
        missing = [key for key in keys if key not in contents[name]]
        if missing:
            raise UserError(f"{run.path / name}: missing {', '.join(missing)}")
    for key in ("train_accuracy", "val_accuracy", "test_accuracy"):
        value = run.metrics[key]
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise UserError(f"{run.path / 'metrics.json'}: {key} is {value!r}, expected a fraction in 0..1")
    epochs = len(run.history)
    if run.metrics["epochs_run"] != epochs:
        raise UserError(
            f"{run.path / 'history.csv'}: holds {epochs} epochs but metrics.json says "
            f"epochs_run is {run.metrics['epochs_run']}"
        )
    if not 1 <= run.metrics["best_epoch"] <= epochs:
        raise UserError(f"{run.path / 'metrics.json'}: best_epoch {run.metrics['best_epoch']} is not in 1..{epochs}")
    counts = run.manifest["data"].get("counts", {})
    if set(counts) != {"train", "validation", "test"}:
        raise UserError(f"{run.path / 'manifest.json'}: data.counts needs train, validation and test")


def provenance(groups: list[ModelGroup]) -> dict:
    """What made these numbers, per run and summarised (distinct values joined)."""
    entries = []
    for group in groups:
        for run in group.runs:
            manifest, data = run.manifest, run.manifest["data"]
            versions = manifest["versions"]
            entries.append({
                "model": group.label,
                "seed": run.config["seed"],
                "profile": run.config["profile"],
                "data": data["source"],
                "synthetic": bool(data["synthetic"]),
                "sha256": data.get("sha256", ""),
                "verified": bool(data.get("verified", False)),
                "commit": manifest["git"]["commit"][:10] + (" (dirty)" if manifest["git"].get("dirty") else ""),
                "keras": versions.get("keras"),
                "backend": versions.get("backend") or "tensorflow",
                "tensorflow": versions.get("tensorflow"),
                "device": f"{manifest['device']['name']} ({manifest['device']['kind'].upper()})",
                "finished": manifest["finished_at"],
            })

    def distinct(key: str) -> str:
        return ", ".join(dict.fromkeys(str(entry[key]) for entry in entries))

    return {
        "runs": entries,
        "profile": distinct("profile"),
        "data": distinct("data"),
        "device": distinct("device"),
        "commit": distinct("commit"),
        "date": max(entry["finished"] for entry in entries)[:10],
        "synthetic": any(entry["synthetic"] for entry in entries),
    }


def discussion_facts(groups: list[ModelGroup]) -> dict:
    """The numbers behind every factual sentence of the Discussion page.

    Percentages are percentage points (pp) of accuracy. Thresholds for the wording (a 2 pp and a
    5 pp train-validation gap, a 1 pp "converged" band) are the report's, stated on the page.
    """
    models = []
    for group in groups:
        histories = [run.history for run in group.runs]
        # Rounded as printed, so the words never disagree with the number shown beside them.
        gap = round(mean([(run.metrics["train_accuracy"] - run.metrics["val_accuracy"]) * 100
                          for run in group.runs]), 1)
        if gap > 5:
            gap_words = "a clear overfitting gap"
        elif gap > 2:
            gap_words = "a moderate gap"
        elif gap >= -2:
            gap_words = "little sign of overfitting"
        else:
            gap_words = "validation accuracy above training accuracy"
        # A synthetic run's accuracy says nothing about CIFAR-10: no comparison with the seed's.
        synthetic = any(run.synthetic for run in group.runs)
        reference = None if synthetic else SEED_REPORT.get(group.model, {}).get("test_accuracy_value")
        test = mean(group.metric("test_accuracy"))
        models.append({
            "label": group.label,
            "count": group.count,
            "test": test * 100,
            "val": mean(group.metric("val_accuracy")) * 100,
            "train": mean(group.metric("train_accuracy")) * 100,
            "gap": gap,
            "gap_words": gap_words,
            "best_epoch": mean(group.metric("best_epoch")),
            "epochs_run": mean(group.metric("epochs_run")),
            "max_epochs": group.config["epochs"],
            "stopped_early": sum(bool(run.metrics["stopped_early"]) for run in group.runs),
            "best_is_last": all(run.metrics["best_epoch"] == run.metrics["epochs_run"] for run in group.runs),
            "converged_epoch": mean([converged_epoch(history) for history in histories]),
            "vs_seed": None if reference is None else (test - reference) * 100,
            "profile": group.config["profile"],
            "parameters": group.runs[0].metrics["parameters"]["total"],
            "wall": mean(group.metric("wall_seconds")),
        })
    facts = {"models": models, "single": all(model["count"] == 1 for model in models), "pair": None}
    if len(models) >= 2:
        ranked = sorted(models[:2], key=lambda model: model["test"], reverse=True)
        winner, loser = ranked
        margin = winner["test"] - loser["test"]
        bigger, smaller = sorted(models[:2], key=lambda model: model["parameters"], reverse=True)
        facts["pair"] = {
            "winner": winner, "loser": loser, "margin": margin,
            # Below 0.05 pp the printed difference rounds to 0.0: call it level.
            "level": margin < 0.05,
            "bigger": bigger, "smaller": smaller,
            "parameter_ratio": bigger["parameters"] / max(1, smaller["parameters"]),
            "time_ratio": bigger["wall"] / smaller["wall"] if smaller["wall"] > 0 else None,
        }
    return facts


def converged_epoch(history: list[dict], band: float = 0.01) -> int:
    """First epoch whose validation accuracy is within `band` (a fraction) of the run's best."""
    best = max(row["val_accuracy"] for row in history)
    return next(row["epoch"] for row in history if row["val_accuracy"] >= best - band)


def _render_into(work: Path, groups: list[ModelGroup], results_root: Path, out_dir: Path,
                 templates_dir: Path) -> None:
    origin = provenance(groups)
    tables = build_tables(groups, origin["synthetic"])
    test_evidence = evidence.build(groups, origin["synthetic"])
    tables.update({table.name: table for table in test_evidence["tables"]})
    downloads = {name: write_table(table, work / "tables") for name, table in tables.items()}

    first = groups[0].runs[0]
    samples = first.samples
    plots.save(plots.sample_grid(samples["images"][:40], samples["labels"][:40],
                                 first.manifest["data"]["class_names"]), work / "figures" / "samples.png")

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        undefined=jinja2.StrictUndefined,  # a missing number fails the render, never prints blank
        keep_trailing_newline=True,
        autoescape=False,  # the output is Markdown; HTML snippets escape explicitly with |e
    )
    environment.globals["markdown_table"] = to_markdown
    context = {
        "groups": groups,
        "provenance": origin,
        "synthetic": origin["synthetic"],
        "tables": tables,
        "downloads": downloads,
        "facts": discussion_facts(groups),
        "evidence": test_evidence["facts"],
        "sample_source": f"{plots.MODEL_LABELS.get(first.model, first.model)}, seed {first.config['seed']}",
    }
    for template_path in sorted(templates_dir.glob("*.j2")):
        if template_path.name.startswith("_"):
            continue  # partials and macros, included by the pages
        target = work / template_path.name.removesuffix(".j2")
        if template_path.name.startswith("snippet-"):
            # Snippets are pulled into hand-written pages by pymdownx.snippets; they are no pages.
            target = work / "snippets" / template_path.name.removeprefix("snippet-").removesuffix(".j2")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = environment.get_template(template_path.name).render(context)
        except jinja2.TemplateError as error:
            raise UserError(f"{template_path}: cannot render ({error})") from None
        target.write_text(text, encoding="utf-8")
        twin = target.with_suffix(".html")
        if target.parent.name == "snippets" and target.suffix == ".md" and \
                not (templates_dir / f"snippet-{twin.name}.j2").exists():
            twin.write_text(snippet_html(text), encoding="utf-8")

    # Paths relative to the final out_dir, so a committed docs/generated/ works on any checkout.
    site = {
        "results_root": os.path.relpath(results_root, out_dir),
        "runs": [{"model": group.model, "seed": run.config["seed"], "path": os.path.relpath(run.path, out_dir)}
                 for group in groups for run in group.runs],
        "synthetic": origin["synthetic"],
    }
    (work / "run.json").write_text(json.dumps(site, indent=2) + "\n")
    # The claims and study pages, from results/studies-<tag>/ beside the results (or a page that
    # says how to run the studies, when there are none).
    render_studies(default_studies_root(results_root), work, environment, context)


def snippet_html(text: str) -> str:
    """A Markdown snippet as HTML, for the executed notebook pages.

    nbconvert renders notebook output, not MkDocs, so a snippet shown there must already be HTML.
    The extensions are those of mkdocs.yml that the snippets use (tables, the `{ download }` and
    `{: #id }` attributes, the warning admonition, collapsible blocks), so the markup matches what
    Material styles on the other pages.
    """
    return markdown.markdown(text, extensions=["tables", "attr_list", "admonition", "pymdownx.details"])


def _swap(work: Path, out_dir: Path) -> None:
    """Put the finished `work` where `out_dir` is; the old pages go only once the new are there."""
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    work.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


# For the executed notebook pages -----------------------------------------------------------


@dataclass
class Site:
    groups: list[ModelGroup]
    banner_html: str
    synthetic: bool
    directory: Path  # docs/generated/

    def snippet(self, name: str) -> str:
        """The HTML of `snippets/<name>.html`, written by `render` from its Markdown snippet."""
        return (self.directory / "snippets" / f"{name}.html").read_text(encoding="utf-8")


def load_site(generated_dir: Path | str | None = None) -> Site:
    """The runs the pages were rendered from, found through `run.json`.

    mkdocs-jupyter runs a Markdown notebook with the directory `mkdocs build` was started in as
    its working directory (the project root), so `docs/generated/` is looked up from there.
    """
    candidates = [Path(generated_dir)] if generated_dir else [Path.cwd() / "docs" / "generated",
                                                               paths.GENERATED_DIR]
    for directory in candidates:
        site_file = directory / "run.json"
        if site_file.is_file():
            break
    else:
        raise UserError(f"{candidates[0] / 'run.json'}: missing; run `cifarcmp render RESULTS_DIR` first")
    site = json.loads(site_file.read_text())
    runs = [load_run((directory / entry["path"]).resolve()) for entry in site["runs"]]
    by_model: dict[str, list[Run]] = {}
    for run in runs:
        by_model.setdefault(run.model, []).append(run)
    groups = [ModelGroup(model, members) for model, members in by_model.items()]
    banner = (directory / "snippets" / "banner.html").read_text(encoding="utf-8")
    return Site(groups, banner, bool(site["synthetic"]), directory)

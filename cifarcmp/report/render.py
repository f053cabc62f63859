"""The one renderer: every page, snippet, table download and static figure from finished results.

`render(results_root, out_dir)` reads the main runs under `results_root` (`<model>/seed-<N>/`)
and the studies beside them (`results/studies-<tag>/`, when any ran), builds one Jinja context,
and renders every template under docs/templates/ into `out_dir` (normally `docs/generated/`):

- `pages/*.md.j2` -> `<page>.md`, the generated pages of the site;
- `snippets/*.md.j2` -> `snippets/<name>.md`, pulled into the hand-written pages by
  pymdownx.snippets, each with an `.html` twin for the executed notebook pages;
- `partials/` hold what the others include (the banner, the table that `{{ table(name) }}` shows); they render nothing.

It also writes `run.json` and `studies.json`, which tell the executed pages where the results
are. Everything is written into a fresh folder and swapped into place at the end, so the site never
sees half a rendering. Nothing here trains or imports Keras; the site only sees what this wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import jinja2
import markdown
import numpy as np

from cifarcmp import paths
from cifarcmp.analysis import claims, comparison, formatting
from cifarcmp.analysis.measures import CONVERGENCE_BAND_TEXT
from cifarcmp.analysis.runs import (
    RunGroup,
    Studies,
    default_studies_root,
    gradcam_rows,
    load_groups,
    load_studies,
    provenance,
)
from cifarcmp.errors import UserError
from cifarcmp.lock import hold
from cifarcmp.report import figures
from cifarcmp.report.pinned import pinned_versions
from cifarcmp.report.tables import arms_table, build_tables, escape_markup, to_markdown, write_table

STUDIES_COMMAND = "make report STUDIES=arms,data-efficiency,gradcam"
STUDY_DESCRIPTIONS = {
    "arms": "ResNet50 fine-tuned (the seed's), ResNet50 as a frozen feature extractor, ResNet50 from random "
    "initialisation, and the CNN, on the same split",
    "data-efficiency": "the fine-tuned, frozen and scratch arms on stratified fractions of the training split "
    "(1 %, 10 %, 100 % by default)",
    "gradcam": "Grad-CAM heat maps of two test images per class for every arm",
}
# Number formatting in templates goes through the same functions as the tables' cells.
FILTERS = {
    "count": formatting.format_count,
    "pp": formatting.format_pp,
    "accuracy": formatting.format_accuracy,
    "epoch": formatting.format_epoch,
    "ratio": formatting.format_ratio,
    "decimals": formatting.format_decimals,
    "fraction": formatting.format_fraction,
}


# Written into every rendering: render replaces only a folder holding it (or an empty one), so
# `--out` pointing at the results, a home folder or a user's notes can never be deleted.
MARKER = ".cifarcmp-generated"
# What render writes besides the pages: a folder of only these (and pages) is a rendering made
# before the marker existed, and is replaced as before.
_RENDERED = {"snippets", "tables", "figures", "run.json", "studies.json"}


def render(
    results_root: Path | str, out_dir: Path | str = paths.GENERATED_DIR, templates_dir: Path | str = paths.TEMPLATES_DIR
) -> None:
    """Render every page and download into `out_dir`, replacing it only once all are written.

    One render per folder at a time (a lock beside it); a second one gets one line and waits for
    nothing. Anything that goes wrong leaves the previous rendering as it was and no temporary folder.
    """
    results_root, out_dir = Path(results_root).resolve(), Path(out_dir).resolve()
    templates_dir = Path(templates_dir)
    groups = load_groups(results_root)
    studies = load_studies(default_studies_root(results_root))
    _check_out_dir(out_dir, [results_root, *([studies.root.resolve()] if studies else [])], templates_dir)
    work = out_dir.with_name(f".{out_dir.name}.rendering")
    try:
        with hold(out_dir.with_name(f".{out_dir.name}.lock"), f"{out_dir} (another render)"):
            shutil.rmtree(work, ignore_errors=True)  # left by a render that was killed
            try:
                work.mkdir(parents=True)
                (work / MARKER).write_text("Written by `cifarcmp render`; the next render replaces this folder.\n")
                _render_into(work, groups, studies, results_root, out_dir, templates_dir)
                _swap(work, out_dir)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    except OSError as error:
        # A full disk, a read-only folder: the old pages are still in place, the work folder gone.
        where = error.filename or out_dir
        raise UserError(
            f"{where}: cannot write the rendering ({error.strerror or error}); {out_dir} is unchanged"
        ) from None


def _check_out_dir(out_dir: Path, inputs: list[Path], templates_dir: Path) -> None:
    """Refuse an --out that render must not replace: the root, the inputs, a user's folder."""
    if out_dir == Path(out_dir.anchor):
        raise UserError(f"--out {out_dir}: refusing to replace the root of the file system")
    for source in inputs:
        if out_dir == source or out_dir in source.parents:
            raise UserError(f"--out {out_dir}: holds the results {source}; choose a folder of its own")
        if source in out_dir.parents:
            raise UserError(f"--out {out_dir}: lies inside the results {source}; choose a folder outside them")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir}: a file, not a folder; choose another --out")
    if not out_dir.is_dir() or (out_dir / MARKER).is_file():
        return
    pages = {path.name.removesuffix(".j2") for path in (templates_dir / "pages").glob("*.md.j2")}
    foreign = sorted(entry.name for entry in out_dir.iterdir() if entry.name not in _RENDERED | pages)
    if foreign:
        raise UserError(
            f"--out {out_dir}: not a folder `cifarcmp render` made (it holds {', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); choose an empty or new folder"
        )


def environment(templates_dir: Path | str = paths.TEMPLATES_DIR) -> jinja2.Environment:
    """The Jinja environment every template renders in: strict, with the number filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        undefined=jinja2.StrictUndefined,  # a missing number fails the render, never prints blank
        keep_trailing_newline=True,
        autoescape=False,  # the output is Markdown
        # Every value printed comes from results or data; its `<`, `>`, `[` and `]` become
        # entities, so no value can open a tag (Markdown passes raw HTML through) or a link in the
        # published pages. Only a table, which templates wrote, is printed as it is.
        finalize=_escape_values,
    )
    env.filters.update(FILTERS)
    env.globals["markdown_table"] = to_markdown
    env.globals["table"] = table
    return env


class TemplateMarkdown(str):
    """Markdown that a template wrote, its values escaped already: printed as it is."""


@jinja2.pass_context
def table(context, name: str, prefix: str = "", indent: int = 0) -> TemplateMarkdown:
    """`{{ table(name, prefix) }}`: the table, its caption and its downloads (partials/table.md.j2),
    every line indented by `indent` spaces (inside an admonition or a content tab)."""
    partial = context.environment.get_template("partials/table.md.j2")
    files = context["downloads"][name]
    text = partial.render(t=context["tables"][name], files=files, name=name, prefix=prefix)
    return TemplateMarkdown(textwrap.indent(text, " " * indent))


def _escape_values(value) -> str:
    return value if isinstance(value, TemplateMarkdown) else escape_markup(value)


def build_context(groups: list[RunGroup], studies: Studies | None) -> dict:
    """Everything the templates show: the main runs' tables and facts, and the studies' (if run)."""
    origin = provenance(groups)
    synthetic = origin["synthetic"]
    tables = build_tables(groups, synthetic)
    evidence = comparison.evidence(groups, synthetic)
    tables.update({table.name: table for table in evidence["tables"]})
    first = groups[0].runs[0]
    context = {
        "groups": groups,
        "provenance": origin,
        "synthetic": synthetic,
        "tables": tables,
        "facts": comparison.discussion_facts(groups),
        "convergence_band": CONVERGENCE_BAND_TEXT,
        "evidence": evidence["facts"],
        "sample_source": f"{groups[0].label}, seed {first.config['seed']}",
        "studies": _studies_context(studies, synthetic, tables),
        # The banner says where a run's Keras or TensorFlow is not the pinned one (a Colab run's is Colab's).
        "pinned": pinned_versions(),
    }
    return context


def _studies_context(studies: Studies | None, main_synthetic: bool, tables: dict) -> dict:
    """The Claims and Studies pages' part of the context; its tables join `tables`."""
    synthetic = studies.synthetic if studies else main_synthetic
    before = set(tables)
    found = claims.build_claims(studies, synthetic)
    tables.update(found["tables"])
    if studies and "arms" in studies.summaries:
        tables["studies-arms"] = arms_table(studies, synthetic)
    if studies and "data-efficiency" in studies.summaries:
        tables["studies-data-efficiency"] = claims.data_efficiency_table(studies, synthetic)
    return {
        "ran": list(studies.summaries) if studies else [],
        "all": STUDY_DESCRIPTIONS,
        "root": _reader_path(studies.root) if studies else None,
        "profile": studies.profile if studies else None,
        "command": STUDIES_COMMAND,
        "gradcam": bool(gradcam_rows(studies)),
        "synthetic": synthetic,
        # The banner of these pages describes the study runs, not the main ones.
        "provenance": provenance(studies.groups()) if studies else None,
        "claims": found["claims"],
        "separation": found["separation"],
        "caveats": found["caveats"],
        # The tables made from the studies, whose downloads name the studies' commits.
        "tables": sorted(set(tables) - before),
    }


def _table_commit(context: dict, name: str) -> str:
    """The short commit(s) of the runs behind table `name`: the studies' for theirs, else the main runs'."""
    studies = context["studies"]
    if name in studies["tables"] and studies["provenance"]:
        return studies["provenance"]["commit"]
    return context["provenance"]["commit"]


def _reader_path(path: Path) -> str:
    """A path as a reader may see it: relative to the project, or just its folder name, never absolute."""
    path = path.resolve()
    if path.is_relative_to(paths.PROJECT_ROOT):
        return path.relative_to(paths.PROJECT_ROOT).as_posix()
    return path.name


def _render_into(
    work: Path, groups: list[RunGroup], studies: Studies | None, results_root: Path, out_dir: Path, templates_dir: Path
) -> None:
    context = build_context(groups, studies)
    context["downloads"] = {
        name: write_table(table, work / "tables", commit=_table_commit(context, name))
        for name, table in context["tables"].items()
    }

    first = groups[0].runs[0]
    samples = first.samples
    # The stored samples are sorted by class: the first few of every class, not the first 40.
    chosen = np.concatenate([np.flatnonzero(samples["labels"] == value)[:4] for value in np.unique(samples["labels"])])
    figures.save(
        figures.sample_grid(
            samples["images"][chosen], samples["labels"][chosen], first.manifest["data"]["class_names"]
        ),
        work / "figures" / "samples.png",
    )

    env = environment(templates_dir)
    for kind in ("pages", "snippets"):
        for template_path in sorted((templates_dir / kind).glob("*.md.j2")):
            name = f"{kind}/{template_path.name}"
            try:
                text = env.get_template(name).render(context)
            except jinja2.TemplateError as error:
                raise UserError(f"{template_path}: cannot render ({error})") from None
            target = work / template_path.name.removesuffix(".j2")
            if kind == "snippets":
                target = work / "snippets" / target.name
                target.parent.mkdir(parents=True, exist_ok=True)
                # nbconvert renders notebook output, not MkDocs: the executed pages need HTML.
                target.with_suffix(".html").write_text(snippet_html(text), encoding="utf-8")
            target.write_text(text, encoding="utf-8")

    # Paths relative to the final out_dir, so a committed docs/generated/ works on any checkout.
    site = {
        "results_root": os.path.relpath(results_root, out_dir),
        "runs": [
            {"model": group.model, "seed": run.config["seed"], "path": os.path.relpath(run.path, out_dir)}
            for group in groups
            for run in group.runs
        ],
        "synthetic": context["synthetic"],
    }
    (work / "run.json").write_text(json.dumps(site, indent=2) + "\n")
    record = {
        "studies_root": os.path.relpath(studies.root.resolve(), out_dir) if studies else None,
        "studies": list(studies.summaries) if studies else [],
        "synthetic": context["studies"]["synthetic"],
    }
    (work / "studies.json").write_text(json.dumps(record, indent=2) + "\n")


def snippet_html(text: str) -> str:
    """A Markdown snippet as HTML, for the executed notebook pages.

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
    try:
        work.rename(out_dir)
    except OSError:
        if old.exists():
            old.rename(out_dir)  # put the previous pages back
        raise
    shutil.rmtree(old, ignore_errors=True)

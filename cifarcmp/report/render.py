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

import importlib
import json
import os
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

import jinja2
import markdown
import numpy as np

from cifarcmp import paths
from cifarcmp.analysis import claims, comparison, formatting, improvements
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
from cifarcmp.errors import UserError, terminal_line
from cifarcmp.lock import hold
from cifarcmp.report import citation, figure_data, figures, narrative
from cifarcmp.report.pinned import pinned_versions
from cifarcmp.report.published import PUBLISHED
from cifarcmp.report.site import DRAWN_LIST, PAGE_FIGURES
from cifarcmp.report.tables import build_tables, published_table, to_markdown, write_table
from cifarcmp.studies import STUDIES
from cifarcmp.studies.study import Study
from cifarcmp.text import escape_markup, one_line

# What runs the studies of the seed's claims (the Studies and Claims pages); the Improvements page
# names its own, which needs several seeds (an ensemble is of seeds).
STUDIES_COMMAND = f"make report STUDIES={','.join(name for name, study in STUDIES.items() if study.page == 'studies')}"
IMPROVEMENTS_COMMAND = (
    f"make report SEEDS=3 STUDIES={','.join(name for name, study in STUDIES.items() if study.page == 'improvements')}"
)
# The pages studies put their sections on (each study's `page`).
STUDY_PAGES = ("studies", "improvements")
# The Improvements page's figure, drawn by render (report.figures.accuracy_against_compute).
IMPROVEMENTS_FIGURE = "improvements-compute.png"
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


# Written into every rendering, with the list of every file and folder render put there: render
# replaces only a folder holding it, and only while that folder holds nothing else, so `--out`
# pointing at the results, a home folder or a user's notes can never be deleted.
MARKER = ".cifarcmp-generated"
MARKER_HEADING = "Written by `cifarcmp render`; the next render replaces this folder. It wrote:"
# Render's own folders beside --out (the new rendering, the previous one) get names no one else
# can hold: a fixed prefix, then a part tempfile.mkdtemp makes unique, and a marker inside.
WORK_PREFIX = "rendering-"
PREVIOUS_PREFIX = "previous-"


def render(
    results_root: Path | str, out_dir: Path | str = paths.GENERATED_DIR, templates_dir: Path | str = paths.TEMPLATES_DIR
) -> None:
    """Render every page and download into `out_dir`, replacing it only once all are written.

    One render per folder at a time (a lock beside it); a second one gets one line and waits for
    nothing. Anything that goes wrong leaves the previous rendering as it was and no temporary folder.
    """
    given = Path(out_dir).absolute()
    if given.is_symlink():
        # Replacing the link's target would follow it out of the folder the user named.
        raise UserError(
            f"--out {given}: a symbolic link (to {os.readlink(given)}); give a real folder, which render replaces"
        )
    results_root, out_dir = Path(results_root).resolve(), given.resolve()
    templates_dir = Path(templates_dir)
    groups = load_groups(results_root)
    for group in groups:
        for copy, kept in group.ignored:
            # Said, not silent: the reader's n is one less than the folders they may count.
            print(
                terminal_line(
                    f"cifarcmp: note: {copy} holds the same run as {kept} (same configuration, seed and data); "
                    f"counted once, {copy} ignored"
                ),
                file=sys.stderr,
            )
    studies = load_studies(default_studies_root(results_root))
    _check_out_dir(out_dir, [results_root, *([studies.root.resolve()] if studies else [])], templates_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        with hold(out_dir.with_name(f".{out_dir.name}.lock"), f"{out_dir} (another render)"):
            _remove_leftovers(out_dir)  # of a render that was killed
            work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.{WORK_PREFIX}", dir=out_dir.parent))
            try:
                (work / MARKER).write_text(MARKER_HEADING + "\n")
                _render_into(work, groups, studies, results_root, out_dir, templates_dir)
                _write_marker(work)
                _check_out_dir(out_dir, [], templates_dir)  # again: a user may have written there meanwhile
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
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise UserError(f"--out {out_dir}: a file, not a folder; choose another --out")
    if not out_dir.is_dir():
        return
    marker = out_dir / MARKER
    if marker.is_symlink() or not marker.is_file():
        # No marker: a user's folder, however much its names look like render's (figures/, tables/).
        # Only its top level is listed: --out may be a home folder of millions of files.
        top = sorted(entry.name for entry in out_dir.iterdir())
        if top:
            raise UserError(
                f"--out {out_dir}: not a folder `cifarcmp render` made (it holds {_listed(top)}); "
                "choose an empty or new folder"
            )
        return
    written = _marker_list(marker)
    foreign = _foreign_entries(
        _entries(out_dir), None if written is None else {**written, **_drawn_by_pages(out_dir)}, templates_dir
    )
    if foreign:
        raise UserError(
            f"--out {out_dir}: holds files `cifarcmp render` did not write ({_listed(foreign)}), which replacing "
            "it would delete; move them away or choose another --out"
        )


def _listed(names: list[str]) -> str:
    return f"{', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"


def _foreign_entries(entries: dict[str, str], written: dict[str, str] | None, templates_dir: Path) -> list[str]:
    """The entries of a rendering that render did not write (a file a user put there, a link)."""
    if written is None:
        # A marker from before render listed its files: only render's own top-level names.
        pages = {path.name.removesuffix(".j2") for path in (templates_dir / "pages").glob("*.md.j2")}
        allowed = _RENDERED_BEFORE_LISTS | pages
        return sorted(name for name, kind in entries.items() if name.split("/")[0] not in allowed or kind == "link")
    return sorted(name for name, kind in entries.items() if written.get(name) != kind)


def _drawn_by_pages(out_dir: Path) -> dict[str, str]:
    """The figures the executed pages drew into a rendering during a site build, as they listed
    them (report.site.show_figure): the site's, which the next render may replace. Only PNGs
    straight inside figures/ count, whatever the list says."""
    try:
        names = (out_dir / PAGE_FIGURES / DRAWN_LIST).read_text(errors="replace").splitlines()
    except OSError:
        return {}
    drawn = {f"{PAGE_FIGURES}/{name}": "file" for name in names if name.endswith(".png") and "/" not in name}
    return {**drawn, f"{PAGE_FIGURES}/{DRAWN_LIST}": "file"}


# The top-level names a marker without a list vouches for (the renders that wrote such markers).
_RENDERED_BEFORE_LISTS = {
    "snippets",
    "tables",
    "figures",
    figure_data.FOLDER,
    "run.json",
    "studies.json",
    "cite.bib",
    MARKER,
}


def _entries(folder: Path) -> dict[str, str]:
    """Every entry below `folder` (relative path -> "file", "folder" or "link"), following no link."""
    found = {}
    for parent, folders, files in os.walk(folder, followlinks=False):
        for name in folders + files:
            path = Path(parent) / name
            kind = "link" if path.is_symlink() else "folder" if path.is_dir() else "file"
            found[path.relative_to(folder).as_posix()] = kind
    return found


def _marker_list(marker: Path) -> dict[str, str] | None:
    """The entries a marker says render wrote, or None for a marker that lists none (older renders)."""
    lines = marker.read_text(errors="replace").splitlines()
    if not lines or lines[0] != MARKER_HEADING:
        return None
    listed = {}
    for line in lines[1:]:
        kind, _, name = line.partition(" ")
        if kind in ("file", "folder") and name:
            listed[name] = kind
    listed[MARKER] = "file"
    return listed


def _write_marker(work: Path) -> None:
    entries = _entries(work)
    lines = [MARKER_HEADING, *(f"{kind} {name}" for name, kind in sorted(entries.items()) if name != MARKER)]
    (work / MARKER).write_text("\n".join(lines) + "\n")


def _remove_leftovers(out_dir: Path) -> None:
    """Render's own folders beside `out_dir` that a killed render left: unique names, marker inside."""
    for prefix in (WORK_PREFIX, PREVIOUS_PREFIX):
        for leftover in out_dir.parent.glob(f".{out_dir.name}.{prefix}*"):
            if leftover.is_symlink() or not leftover.is_dir() or not (leftover / MARKER).is_file():
                continue
            if prefix == PREVIOUS_PREFIX and not out_dir.exists() and (leftover / out_dir.name).is_dir():
                (leftover / out_dir.name).rename(out_dir)  # a render killed mid-swap: the previous pages return
            shutil.rmtree(leftover, ignore_errors=True)


def environment(templates_dir: Path | str = paths.TEMPLATES_DIR) -> jinja2.Environment:
    """The Jinja environment every template renders in: strict, with the number filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        undefined=jinja2.StrictUndefined,  # a missing number fails the render, never prints blank
        keep_trailing_newline=True,
        autoescape=False,  # the output is Markdown
        # Every value printed comes from results, data or a path: it is printed as one line of
        # inert text (cifarcmp.text.escape_markup), so no value can open a tag, a link, an
        # attribute list, a block or a Jinja expression for any later pass over the page (the
        # print-site plugin renders the cover again with Jinja). Only what templates wrote (a
        # table, a `code` span) is printed as it is.
        finalize=_escape_values,
    )
    env.filters.update(FILTERS)
    env.filters["code"] = code
    env.filters["verbatim"] = verbatim
    env.globals["markdown_table"] = markdown_table
    env.globals["table"] = table
    env.globals["study_section"] = study_section
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


def markdown_table(table) -> TemplateMarkdown:
    """`{{ markdown_table(t) }}`: a pipe table whose cells `to_markdown` has escaped already."""
    return TemplateMarkdown(to_markdown(table))


def code(value) -> TemplateMarkdown:
    """`{{ value|code }}`: a value in monospace. An HTML code element, not a Markdown code span,
    because the escaped value's entities must show as their characters, which a span would not do."""
    return TemplateMarkdown(f"<code>{escape_markup(value)}</code>")


def verbatim(value) -> TemplateMarkdown:
    """`{{ value|verbatim }}`: a value inside a fenced code block, where Markdown shows every
    character as it is (entities too) and only a line starting with a fence could end the block:
    one line, without the braces that would unbalance the BibTeX, the backticks of a fence or the
    angle brackets of a tag (which the block would show, but a copied citation should not hold)."""
    return TemplateMarkdown("".join(character for character in one_line(value) if character not in "{}`\\<>"))


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
        "evaluations": evidence["evaluations"],  # every run's, once: the tables' and the figures' source
        "sample_source": f"{groups[0].label}, seed {first.config['seed']}",
        "studies": _studies_context(studies, synthetic, tables),
        # The banner says where a run's Keras or TensorFlow is not the pinned one (a Colab run's is Colab's).
        "pinned": pinned_versions(),
        # The Cite page's BibTeX (also written as cite.bib), with the site's address when the build knows it.
        "citation": {
            "bibtex": TemplateMarkdown(
                citation.bibtex(origin, synthetic, citation.site_url(os.environ.get("SITE_URL")))
            ),
            "file": citation.BIB_FILE,
        },
    }
    context["improvements"] = _improvements_context(studies, context["studies"], tables)
    # The prose about the models (what they were, what they can say, the seed report): report.narrative.
    context["narrative"] = narrative.narrative_context(groups, context["facts"], context["evidence"], synthetic)
    return context


def _studies_context(studies: Studies | None, main_synthetic: bool, tables: dict) -> dict:
    """The Claims and Studies pages' part of the context; its tables join `tables`."""
    synthetic = studies.synthetic if studies else main_synthetic
    before = set(tables)
    found = claims.build_claims(studies, synthetic)
    tables.update(found["tables"])
    titles = {name: study.title or name for name, study in STUDIES.items()}
    sections = {}  # each study that ran: what its section on its page shows
    for name in studies.summaries if studies else []:
        study = STUDIES[name]
        table_name = ""
        if study.table:
            built = study_table_builder(study)(studies, synthetic)
            tables[built.name] = built
            table_name = built.name
        sections[name] = {"name": name, "title": titles[name], "table": table_name}
    return {
        "ran": list(studies.summaries) if studies else [],
        "all": {name: study.description for name, study in STUDIES.items()},
        "titles": titles,
        # The studies each page lists, in the registry's order, whether they ran or not.
        "on_page": {page: [name for name, study in STUDIES.items() if study.page == page] for page in STUDY_PAGES},
        "sections": sections,
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


def _improvements_context(studies: Studies | None, studies_context: dict, tables: dict) -> dict:
    """The Improvements page's part of the context: its summary table (joining `tables`, and the
    studies' tables, whose downloads name the studies' commits), its figure's points, the published
    results with their sources, and its sentences."""
    synthetic = studies_context["synthetic"]
    entries = improvements.summary_entries(studies)
    ran = [name for name in improvements.IMPROVEMENT_STUDIES if studies and name in studies.summaries]
    published = published_table(beside_synthetic=synthetic)
    tables[published.name] = published
    summary = ""
    if entries:
        built = improvements.summary_table(entries, synthetic)
        tables[built.name] = built
        studies_context["tables"] = sorted({*studies_context["tables"], built.name})
        summary = built.name
    figure = improvements.pareto_points(entries)
    # The best published result of each seed model's kind: ImageNet transfer for ResNet50, and for
    # the CNN the very network (Keras' cifar10_cnn.py example) as its authors trained it.
    ceilings = {
        model: max(kind, key=lambda entry: entry.accuracy_high or entry.accuracy)
        for model, kind in (
            ("resnet50", [entry for entry in PUBLISHED if entry.pretraining != "none"]),
            ("cnn", [entry for entry in PUBLISHED if "cifar10_cnn" in entry.source]),
        )
    }
    return {
        "ran": ran,
        "table": summary,
        "published": published.name,
        "sources": [
            {"model": entry.model, "work": entry.work, "source": entry.source, "where": entry.where, "note": entry.note}
            for entry in PUBLISHED
        ],
        "figure": (
            {
                "file": f"{PAGE_FIGURES}/{IMPROVEMENTS_FIGURE}",
                "description": figures.compute_figure_description(figure["points"], figure["front"], synthetic),
                "points": figure["points"],
                "front": figure["front"],
            }
            if figure["points"]
            else None
        ),
        "findings": improvements.findings(
            entries,
            ran,
            synthetic,
            {
                model: {"model": entry.model, "accuracy": entry.accuracy, "accuracy_high": entry.accuracy_high}
                for model, entry in ceilings.items()
            },
        ),
        "synthetic": synthetic,
        "command": IMPROVEMENTS_COMMAND,
    }


def study_table_builder(study: Study):
    """The function a study names for its table ("module:function"), imported here, in the report stage."""
    module, _, function = study.table.partition(":")
    return getattr(importlib.import_module(module), function)


@jinja2.pass_context
def study_section(context, name: str) -> TemplateMarkdown:
    """`{{ study_section(name) }}`: the study's section (its module's `section`), rendered with the
    page's context and `this`, the study's own part of it (its name, title and table name)."""
    template = context.environment.from_string(STUDIES[name].section)
    return TemplateMarkdown(template.render({**context.get_all(), "this": context["studies"]["sections"][name]}))


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

    (work / citation.BIB_FILE).write_text(context["citation"]["bibtex"], encoding="utf-8")

    first = groups[0].runs[0]
    samples = first.samples
    # The stored samples are sorted by class: the first few of every class, not the first 40.
    chosen = np.concatenate([np.flatnonzero(samples["labels"] == value)[:4] for value in np.unique(samples["labels"])])
    figures.save(
        figures.sample_grid(
            samples["images"][chosen], samples["labels"][chosen], first.manifest["data"]["class_names"]
        ),
        work / PAGE_FIGURES / "samples.png",
    )

    drawn = context["improvements"]["figure"]
    if drawn:
        figures.save(
            figures.accuracy_against_compute(drawn["points"], drawn["front"]), work / PAGE_FIGURES / IMPROVEMENTS_FIGURE
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
    # Copies of a run found beside it and counted once (see analysis.runs.distinct_runs).
    ignored = [
        {"path": os.path.relpath(copy, out_dir), "same_as": os.path.relpath(kept, out_dir)}
        for group in groups
        for copy, kept in group.ignored
    ]
    if ignored:
        site["ignored"] = ignored
    (work / "run.json").write_text(json.dumps(site, indent=2) + "\n")
    record = {
        "studies_root": os.path.relpath(studies.root.resolve(), out_dir) if studies else None,
        "studies": list(studies.summaries) if studies else [],
        "synthetic": context["studies"]["synthetic"],
        "command": STUDIES_COMMAND,
    }
    (work / "studies.json").write_text(json.dumps(record, indent=2) + "\n")
    figure_data.write(work, groups, studies, context["evaluations"])  # all the executed pages draw


def snippet_html(text: str) -> str:
    """A Markdown snippet as HTML, for the executed notebook pages.

    The extensions are those of mkdocs.yml that the snippets use (tables, the `{ download }` and
    `{: #id }` attributes, the warning admonition, collapsible blocks), so the markup matches what
    Material styles on the other pages.
    """
    return markdown.markdown(text, extensions=["tables", "attr_list", "admonition", "pymdownx.details"])


def _swap(work: Path, out_dir: Path) -> None:
    """Put the finished `work` where `out_dir` is; the old pages go only once the new are there."""
    if not out_dir.exists():
        work.rename(out_dir)
        return
    # The previous rendering waits inside a folder of a unique name, marked as render's own.
    previous = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.{PREVIOUS_PREFIX}", dir=out_dir.parent))
    moved = previous / out_dir.name
    try:
        (previous / MARKER).write_text(MARKER_HEADING + "\n")
        out_dir.rename(moved)
        try:
            work.rename(out_dir)
        except OSError:
            moved.rename(out_dir)  # put the previous pages back
            raise
    finally:
        if out_dir.exists():  # else the previous pages are still in `previous`: the next render restores them
            shutil.rmtree(previous, ignore_errors=True)

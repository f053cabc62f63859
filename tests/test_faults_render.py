"""Issue 19, class 1: render never deletes what it did not write.

It replaces only a folder carrying its marker, and only while that folder holds nothing but what
the marker lists; it follows no symlink out of the folder it was given; its temporary, previous-copy
and lock files beside --out can never be a user's. All cheap: fixture runs, no training.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli
from fixtures import write_fixture_results, write_fixture_run

from cifarcmp.errors import UserError
from cifarcmp.lock import hold
from cifarcmp.report.render import MARKER, render


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("render-faults") / "results"
    return write_fixture_results(root)


def _files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def _users_folder(folder: Path) -> dict[str, bytes]:
    """A paper in progress whose folders happen to be named like render's."""
    (folder / "figures").mkdir(parents=True)
    (folder / "tables").mkdir()
    (folder / "figures" / "plot.png").write_bytes(b"my figure")
    (folder / "tables" / "results.csv").write_text("a,b\n1,2\n")
    (folder / "snippets").mkdir()
    (folder / "run.json").write_text('{"mine": true}')
    return _files(folder)


def test_a_users_folder_named_like_renders_own_is_refused_untouched(results, tmp_path):
    out = tmp_path / "paper"
    before = _users_folder(out)
    result = run_cli("render", results, "--out", out)
    assert_one_line_error(result, "not a folder `cifarcmp render` made", "figures")
    assert _files(out) == before


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_a_symlinked_out_is_refused_and_its_target_kept(results, tmp_path):
    docs = tmp_path / "docs"
    before = _users_folder(docs)
    link = tmp_path / "generated"
    link.symlink_to(docs)
    assert_one_line_error(run_cli("render", results, "--out", link), "symbolic link")
    assert _files(docs) == before and link.is_symlink()
    # Even a link to a folder render made: the link is not the folder.
    render(results, tmp_path / "made")
    (tmp_path / "made-link").symlink_to(tmp_path / "made")
    with pytest.raises(UserError, match="symbolic link"):
        render(results, tmp_path / "made-link")


def test_files_a_user_added_to_a_rendering_are_kept(results, tmp_path):
    out = tmp_path / "generated"
    render(results, out)
    (out / "figures" / "my-plot.png").write_bytes(b"mine")
    (out / "notes").mkdir()
    with pytest.raises(UserError, match="did not write") as error:
        render(results, out)
    assert "figures/my-plot.png" in str(error.value)
    assert (out / "figures" / "my-plot.png").read_bytes() == b"mine" and (out / "notes").is_dir()
    # A link put inside is not followed, nor deleted.
    (out / "figures" / "my-plot.png").unlink()
    (out / "notes").rmdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep.txt").write_text("keep")
    (out / "tables").rename(tmp_path / "tables-moved")
    (out / "tables").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UserError, match="did not write"):
        render(results, out)
    assert (tmp_path / "elsewhere" / "keep.txt").read_text() == "keep" and (out / "tables").is_symlink()


def test_renders_own_folder_is_replaced_again_and_again(results, tmp_path):
    out = tmp_path / "generated"
    render(results, out)
    (out / "comparison.md").write_text("edited by hand")  # a file render wrote: replaced
    render(results, out)
    assert (out / "comparison.md").read_text() != "edited by hand"
    assert sorted(entry.name for entry in tmp_path.iterdir()) == [".generated.lock", "generated"]


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_a_rendering_whose_marker_lists_no_files_is_still_replaced(results, tmp_path):
    # Renders before this one wrote a marker without the list: their folders hold only render's names.
    out = tmp_path / "generated"
    render(results, out)
    (out / MARKER).write_text("Written by `cifarcmp render`; the next render replaces this folder.\n")
    render(results, out)
    (out / MARKER).write_text("Written by `cifarcmp render`; the next render replaces this folder.\n")
    (out / "mine.txt").write_text("mine")
    with pytest.raises(UserError, match="mine.txt"):
        render(results, out)
    assert (out / "mine.txt").read_text() == "mine"


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
@pytest.mark.parametrize(
    "name", [".generated.rendering", ".generated.old", ".generated.rendering-x", ".generated.previous-x"]
)
def test_folders_beside_out_with_renders_old_or_lookalike_names_are_kept(results, tmp_path, name):
    beside = tmp_path / name
    beside.mkdir()
    (beside / "thesis.tex").write_text("years of work")
    render(results, tmp_path / "generated")
    render(results, tmp_path / "generated")
    assert (beside / "thesis.tex").read_text() == "years of work"
    assert sorted(entry.name for entry in tmp_path.iterdir()) == sorted([".generated.lock", "generated", name])


def test_a_render_killed_mid_swap_gets_its_previous_pages_back(results, tmp_path):
    out = tmp_path / "generated"
    render(results, out)
    before = _files(out)
    # What a kill between the two renames leaves: the pages inside render's own previous-copy folder.
    previous = tmp_path / ".generated.previous-abc123"
    previous.mkdir()
    (previous / MARKER).write_text("marker")
    out.rename(previous / "generated")
    leftover = tmp_path / ".generated.rendering-def456"
    leftover.mkdir()
    (leftover / MARKER).write_text("marker")
    render(results, out)
    assert _files(out) == before
    assert sorted(entry.name for entry in tmp_path.iterdir()) == [".generated.lock", "generated"]


@pytest.mark.parametrize("kind", ["text", "link"])
def test_a_users_file_at_the_lock_name_is_kept(results, tmp_path, kind):
    lock = tmp_path / ".generated.lock"
    target = tmp_path / "diary.txt"
    target.write_text("dear diary")
    if kind == "text":
        lock.write_text("my own file")
    else:
        lock.symlink_to(target)
    assert_one_line_error(run_cli("render", results, "--out", tmp_path / "generated"), "not a lock file")
    assert target.read_text() == "dear diary"
    assert lock.is_symlink() if kind == "link" else lock.read_text() == "my own file"
    assert not (tmp_path / "generated").exists()


def test_a_lock_file_cifarcmp_made_is_reused(tmp_path):
    lock = tmp_path / "x.lock"
    with hold(lock, "x"):
        assert lock.read_text().startswith("process ")
    assert lock.read_text() == ""
    with hold(lock, "x"):
        pass


def test_train_replacing_a_finished_run_keeps_a_users_folder_named_like_its_old_copy(tmp_path):
    # The same rule where `train --force` replaces a finished run: its old copy's folder is its own.
    from cifarcmp.results import publish

    final = write_fixture_run(tmp_path / "seed-0", "cnn")
    work = write_fixture_run(tmp_path / "seed-0.incomplete", "cnn", test_accuracy=0.6)
    users = tmp_path / "seed-0.replaced"
    users.mkdir()
    (users / "mine.txt").write_text("mine")
    publish(work, final)
    assert (users / "mine.txt").read_text() == "mine"
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["seed-0", "seed-0.replaced"]
    assert '"test_accuracy": 0.6' in (final / "metrics.json").read_text()

"""Output folders appear whole or not at all (`atomic_folder`), and what an interrupted write leaves is recognised
and removed."""

from __future__ import annotations

import os
import stat

import pytest

from cyberbudget.reports.folders import (
    atomic_folder,
    is_partial,
    remove_partial_folders,
    write_bytes_atomic,
    write_text_atomic,
)


def names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_folder_appears_only_when_the_block_ends(tmp_path):
    target = tmp_path / "out" / "baseline"
    with atomic_folder(target) as tmp:
        (tmp / "a.csv").write_text("a", encoding="utf-8")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.html").write_text("b", encoding="utf-8")
        assert not target.exists()  # nothing visible while it is written
        assert tmp.parent == target.parent and tmp.name.startswith(".baseline.tmp-")
    assert names(tmp_path / "out") == ["baseline"]
    assert (target / "sub" / "b.html").read_text(encoding="utf-8") == "b"


def test_an_existing_folder_is_replaced_whole(tmp_path):
    target = tmp_path / "baseline"
    target.mkdir()
    (target / "old.txt").write_text("old", encoding="utf-8")
    with atomic_folder(target) as tmp:
        (tmp / "new.txt").write_text("new", encoding="utf-8")
        assert names(target) == ["old.txt"]  # the old report stays complete until the switch
    assert names(target) == ["new.txt"]
    assert names(tmp_path) == ["baseline"]  # the old folder is gone, nothing hidden left


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_a_failure_leaves_nothing_and_the_previous_folder_untouched(tmp_path, error):
    target = tmp_path / "baseline"
    target.mkdir()
    (target / "report.html").write_text("previous", encoding="utf-8")
    with pytest.raises(type(error)), atomic_folder(target) as tmp:
        (tmp / "report.html").write_text("half", encoding="utf-8")
        raise error
    assert names(tmp_path) == ["baseline"]
    assert (target / "report.html").read_text(encoding="utf-8") == "previous"


def test_a_failure_on_a_new_folder_creates_nothing(tmp_path):
    with pytest.raises(ValueError), atomic_folder(tmp_path / "new"):
        raise ValueError("bad input")
    assert names(tmp_path) == []


def test_the_written_folder_has_the_usual_permissions_not_the_private_ones_of_a_temporary_folder(tmp_path):
    mask = os.umask(0o022)
    try:
        with atomic_folder(tmp_path / "r") as tmp:
            (tmp / "f.txt").write_text("x", encoding="utf-8")
            (tmp / "d").mkdir(mode=0o700)
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "r").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "r" / "d").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "r" / "f.txt").stat().st_mode) == 0o644


def test_a_relative_target_is_fixed_when_the_block_starts(tmp_path, monkeypatch):
    """papermill changes the working directory while a notebook runs: the folder still lands where asked."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    with atomic_folder("out/baseline") as tmp:
        os.chdir(tmp_path / "elsewhere")
        (tmp / "x").write_text("x", encoding="utf-8")
    assert (tmp_path / "out" / "baseline" / "x").is_file()


def test_leftovers_of_a_killed_process_are_recognised_and_removed(tmp_path):
    for name in (".baseline.tmp-1a2b3c4d", ".baseline.old-9z8y7x6w", ".capped.tmp-00000000", "baseline",
                 ".hidden", ".baseline.failed.tmp-abcdefgh"):
        (tmp_path / name).mkdir()
    assert is_partial(tmp_path / ".baseline.tmp-1a2b3c4d") and not is_partial(tmp_path / "baseline")
    assert not is_partial(tmp_path / ".hidden")
    removed = remove_partial_folders(tmp_path, ["baseline"])
    assert sorted(p.name for p in removed) == [".baseline.failed.tmp-abcdefgh", ".baseline.old-9z8y7x6w",
                                              ".baseline.tmp-1a2b3c4d"]
    assert names(tmp_path) == [".capped.tmp-00000000", ".hidden", "baseline"]  # other scenarios' are not ours


def test_a_file_written_atomically_replaces_the_old_one_whole_or_not_at_all(tmp_path):
    path = tmp_path / "batch.json"
    write_text_atomic(path, "{}\n")
    assert path.read_bytes() == b"{}\n"
    with pytest.raises(TypeError):
        write_bytes_atomic(path, "not bytes")  # fails mid-write (write_text_atomic writes through it)
    assert path.read_bytes() == b"{}\n" and names(tmp_path) == ["batch.json"]

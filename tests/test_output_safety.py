"""Output folders: atomic replacement, races, signals, leftovers, permissions, safe cells."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rnaheat.io import output
from rnaheat.io.output import atomic_output, check_output_folder, write_table
from test_bad_inputs import BASE_FILES, RUN, _write

REPO = Path(__file__).resolve().parents[1]
RECORD = {"format_version": "1", "versions": {"rnaheat": "0"}}


def _result(folder: Path, marker: str) -> Path:
    """A folder that looks like an rnaheat result."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(RECORD))
    (folder / "marker.txt").write_text(marker)
    return folder


def _dead_pid() -> int:
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(process.stdout)


def test_a_result_that_appeared_meanwhile_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    refused = pytest.raises(ValueError, match="appeared while this run was computing")
    with refused, atomic_output(out, force=False) as first:
        (first / "marker.txt").write_text("first")
        # A second run to the same new folder finishes while the first is computing.
        with atomic_output(out, force=False) as second:
            (second / "run.json").write_text(json.dumps(RECORD))
            (second / "marker.txt").write_text("second")
    assert (out / "marker.txt").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_force_replaces_an_rnaheat_result_in_one_step(tmp_path):
    out = _result(tmp_path / "out", "old")
    with atomic_output(out, force=True) as tmp:
        (tmp / "marker.txt").write_text("new")
    assert (out / "marker.txt").read_text() == "new" and not (out / "run.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_without_an_atomic_exchange_two_renames_still_replace(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "_renameat2", lambda *args: False)
    out = _result(tmp_path / "out", "old")
    with atomic_output(out, force=True) as tmp:
        (tmp / "marker.txt").write_text("new")
    assert (out / "marker.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_leftovers_of_killed_runs_are_removed_and_a_moved_result_restored(tmp_path, caplog):
    out = tmp_path / "out"
    dead = _dead_pid()
    (tmp_path / f".out.tmp-{dead}-abc" / "tables").mkdir(parents=True)
    _result(tmp_path / f".out.old-{dead}-def" / "previous", "kept")
    live = tmp_path / f".out.tmp-{os.getpid()}-ghi"
    live.mkdir()
    with caplog.at_level(logging.INFO, logger="rnaheat"):
        output._remove_leftovers(out)
    assert (out / "marker.txt").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "out"]
    assert f"removed {tmp_path}/.out.tmp-{dead}-abc, left by an interrupted run" in caplog.text
    assert "restored" in caplog.text


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)])
def test_output_folder_follows_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        with atomic_output(tmp_path / "out", force=False) as tmp:
            (tmp / "tables").mkdir()
    finally:
        os.umask(previous)
    assert (tmp_path / "out").stat().st_mode & 0o777 == mode
    assert (tmp_path / "out" / "tables").stat().st_mode & 0o777 == mode


def test_an_empty_folder_is_replaced_and_a_precious_one_never(tmp_path):
    (tmp_path / "empty").mkdir()
    check_output_folder(tmp_path / "empty", force=False)
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "run.json").write_text("[]")
    with pytest.raises(ValueError, match="not an rnaheat result"):
        check_output_folder(precious, force=True)


def test_gene_cells_are_written_so_spreadsheets_do_not_evaluate_them(tmp_path):
    table = pd.DataFrame(
        {
            "gene_id": ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "ENSG1"],
            "symbol": ["=HYPERLINK(A1)", "A", None, "B", "-C"],
            "condition": ["+dox", "-dox", "+dox", "-dox", "+dox"],
            "log2fc": [-1.5, 2.0, -0.5, 1.0, 0.0],
        }
    )
    write_table(table, tmp_path / "t.tsv")
    lines = (tmp_path / "t.tsv").read_text().splitlines()
    cells = [line.split("\t") for line in lines[1:]]
    assert [c[0] for c in cells] == ["'=cmd|' /C calc'!A0", "'+1", "'-2", "'@SUM(A1)", "ENSG1"]
    assert [c[1] for c in cells] == ["'=HYPERLINK(A1)", "A", "NA", "B", "'-C"]
    # Design levels and numbers are the user's values, written as they are.
    assert [c[2] for c in cells] == ["+dox", "-dox", "+dox", "-dox", "+dox"]
    assert cells[0][3] == "-1.5"


_SLOW_RUN = """
import pathlib, sys, time
from rnaheat.pipeline import outputs
from rnaheat.cli import main

def write_slowly(*args, **kwargs):
    pathlib.Path(sys.argv[1]).touch()  # the temporary folder exists now
    time.sleep(120)

outputs.write_table = write_slowly
sys.exit(main(sys.argv[2:]))
"""


def _start_slow_run(folder: Path) -> subprocess.Popen:
    _write(folder, BASE_FILES)
    marker = folder / "writing"
    argv = [a.replace("{d}", str(folder)) for a in RUN]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MPLBACKEND": "Agg"}
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_RUN, str(marker), *argv, "-q"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(1200):
        if marker.exists() or process.poll() is not None:
            break
        time.sleep(0.1)
    assert marker.exists(), process.stderr.read() if process.poll() is not None else "no start"
    return process


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".out."))


def test_sigterm_is_a_clean_stop(tmp_path):
    process = _start_slow_run(tmp_path)
    assert _leftovers(tmp_path)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert err.strip().splitlines()[-1] == "rnaheat: terminated; nothing was written"
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_sigkill_leftovers_are_removed_by_the_next_run(tmp_path, caplog):
    process = _start_slow_run(tmp_path)
    process.kill()
    process.communicate(timeout=60)
    left = _leftovers(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".out.tmp-{process.pid}-")
    logged = caplog.at_level(logging.INFO, logger="rnaheat")
    with logged, atomic_output(tmp_path / "out", force=False) as tmp:
        (tmp / "marker.txt").write_text("next")
    assert f"removed {tmp_path / left[0]}, left by an interrupted run" in caplog.text
    assert _leftovers(tmp_path) == [] and (tmp_path / "out" / "marker.txt").is_file()

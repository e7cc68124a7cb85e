"""Writing outputs: atomic folders, tables, reproducible figures, checksums, JSON."""

from __future__ import annotations

import hashlib
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from rnaheat.io.output import (
    _freeze_layout,
    atomic_output,
    check_output_folder,
    file_checksums,
    output_checksums,
    save_figure,
    write_json,
    write_matrix,
    write_table,
)


def test_output_folder_rules(tmp_path):
    check_output_folder(tmp_path / "new", force=False)
    (tmp_path / "empty").mkdir()
    check_output_folder(tmp_path / "empty", force=False)
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(ValueError, match="use --force"):
        check_output_folder(full, force=False)
    # --force replaces only an rnaheat result.
    with pytest.raises(ValueError, match="not an rnaheat result"):
        check_output_folder(full, force=True)
    (full / "run.json").write_text('{"format_version": "1", "versions": {"rnaheat": "0"}}')
    check_output_folder(full, force=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_output_folder(tmp_path / "file", force=True)


def test_atomic_output_moves_a_finished_folder_into_place(tmp_path):
    out = tmp_path / "out"
    with atomic_output(out, force=False) as tmp:
        (tmp / "a.txt").write_text("new")
        assert not out.exists()
    assert (out / "a.txt").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failure_leaves_the_previous_result_and_no_temporary_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("previous")
    (out / "run.json").write_text('{"format_version": "1", "versions": {"rnaheat": "0"}}')
    with pytest.raises(RuntimeError), atomic_output(out, force=True) as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("stage failed")
    assert sorted(p.name for p in out.iterdir()) == ["old.txt", "run.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    with atomic_output(out, force=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_tables_keep_full_precision_and_write_na(tmp_path):
    table = pd.DataFrame({"gene_id": ["a", "b"], "padj": [1 / 3, np.nan]})
    path = tmp_path / "tables" / "t.tsv"
    write_table(table, path)
    assert path.read_text() == f"gene_id\tpadj\na\t{1 / 3!r}\nb\tNA\n"
    back = pd.read_csv(path, sep="\t")
    assert back["padj"][0] == 1 / 3


def test_matrices_are_written_at_fixed_precision(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1, (301, 5)) * [1, 1e-3, 1e3, 1e6, 1]
    values[2, 1], values[3, 0], values[4, 4] = np.nan, -0.00001, -12.5
    matrix = pd.DataFrame(values, index=[f"g{i}" for i in range(301)], columns=list("ABCDE"))
    matrix.index = matrix.index.where(np.arange(301) != 5, "=cmd|x\ty")
    path = write_matrix(matrix, tmp_path / "m.tsv", decimals=4)
    lines = path.read_text().splitlines()
    assert lines[0] == "gene_id\tA\tB\tC\tD\tE"
    assert lines[3].split("\t")[2] == "NA" and lines[5].split("\t")[5] == "-12.5000"
    assert lines[4].split("\t")[1] == f"{-0.00001:.4f}"
    assert lines[6].startswith('"\'=cmd|x\ty"\t')
    # Every value as %.4f writes it (up to the last digit's rounding of a tie).
    expected = [f"{v:.4f}" for v in values[10]]
    assert lines[11].split("\t")[1:] == expected
    compressed = write_matrix(matrix, tmp_path / "m.tsv", decimals=4, compress=True)
    assert compressed.name == "m.tsv.gz"
    for read in (path, compressed):
        back = pd.read_csv(read, sep="\t", index_col=0)
        assert back.index[5] == "'=cmd|x\ty"
        np.testing.assert_allclose(back.to_numpy(), values, rtol=0, atol=5.0001e-5)


def _figure():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    return fig


def test_the_same_figure_gives_the_same_bytes(tmp_path):
    first = save_figure(_figure(), tmp_path / "a" / "fig", dpi=50)
    second = save_figure(_figure(), tmp_path / "b" / "fig", dpi=50)
    assert [p.suffix for p in first] == [".png", ".pdf", ".svg"]
    for a, b in zip(first[:2], second[:2], strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert plt.get_fignums() == []  # saved figures are closed


def test_a_laid_out_figure_is_drawn_once_per_file(tmp_path):
    def laid_out():
        fig, ax = plt.subplots(figsize=(2, 2), layout="constrained")
        ax.plot([0, 1], [1, 0])
        ax.set_title("title")
        fig.colorbar(ax.imshow([[0, 1]]), ax=ax)
        return fig, ax

    # The engine run alone places the axes where a drawing of the figure would.
    (drawn, drawn_ax), (fig, ax) = laid_out(), laid_out()
    drawn.set_dpi(50)
    drawn.draw_without_rendering()
    _freeze_layout(fig, dpi=50)
    np.testing.assert_array_equal(ax.get_position().bounds, drawn_ax.get_position().bounds)
    plt.close(drawn)
    draws = []
    draw = fig.draw
    fig.draw = lambda renderer: draws.append(1) or draw(renderer)
    paths = save_figure(fig, tmp_path / "fig", dpi=50)
    # Once per format: the layout needs no drawing, and no save draws an extra time first.
    assert len(draws) == len(paths) == 3


def test_checksums_of_files_and_folders(tmp_path):
    (tmp_path / "c.csv").write_bytes(b"gene,s1\n")
    folder = tmp_path / "htseq"
    folder.mkdir()
    (folder / "s1.txt").write_bytes(b"g\t1\n")
    sums = file_checksums({"counts": tmp_path / "c.csv", "folder": folder, "genes": None})
    assert sums["counts"] == {
        "path": str(tmp_path / "c.csv"),
        "sha256": hashlib.sha256(b"gene,s1\n").hexdigest(),
    }
    assert sums["folder"]["files"] == {"s1.txt": hashlib.sha256(b"g\t1\n").hexdigest()}
    assert "genes" not in sums


def test_output_checksums_name_every_written_file_in_path_order(tmp_path):
    contents = {"tables/de.tsv": b"x" * 5_000_000, "b.txt": b"b", "figures/a.png": b"png" * 10}
    for name, data in contents.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "link").symlink_to(tmp_path / "b.txt")
    sums = output_checksums(tmp_path)
    assert list(sums) == sorted(contents)
    assert sums == {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}


def test_json_is_indented_and_paths_become_text(tmp_path):
    path = tmp_path / "run.json"
    write_json({"out": tmp_path, "n": 1}, path)
    assert json.loads(path.read_text()) == {"out": str(tmp_path), "n": 1}
    assert path.read_text().startswith('{\n  "out"')


def test_matrix_bytes_are_those_of_a_percent_f_writer(tmp_path, monkeypatch):
    """Every byte as a plain ``%.4f`` tab-separated writer gives them, across several blocks."""
    # Many blocks, formatted two at a time.
    monkeypatch.setattr("rnaheat.io.output._BLOCK_VALUES", 900)
    rng = np.random.default_rng(7)
    values = rng.normal(0, 1, (700, 9)) * [1, 1e-3, 1e3, 1e6, 1, 10, 100, 0.1, 5]
    values[rng.random(values.shape) < 0.02] = np.nan
    values[0, :3] = (-0.00001, np.inf, 0.0)
    matrix = pd.DataFrame(values, index=[f"g{i}" for i in range(700)], columns=list("ABCDEFGHI"))
    written = write_matrix(matrix, tmp_path / "m.tsv").read_bytes()
    expected = matrix.replace([np.inf, -np.inf], np.nan).rename_axis("gene_id")
    reference = expected.to_csv(sep="\t", float_format="%.4f", na_rep="NA", lineterminator="\n")
    assert written == reference.encode()

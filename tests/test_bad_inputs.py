"""Bad inputs and settings, table-driven: one line naming the problem, exit 2, nothing written.

Each case gives files to write (over a small valid input set), the command's flags, the exit
status and a regular expression the error line must match. The whole folder is compared before
and after the run: a refused run writes and deletes nothing.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest

from rnaheat.cli import main

GENES = [f"G{i:02d}" for i in range(30)]
SAMPLES = ["S1", "S2", "S3", "S4", "S5", "S6"]
FULLWIDTH_EVAL = "\uff45\uff56\uff41\uff4c"  # ｅｖａｌ, which NFKC turns into eval


def _counts(values: dict[tuple[int, int], str] | None = None) -> str:
    rng = np.random.default_rng(0)
    table = rng.integers(5, 500, size=(len(GENES), len(SAMPLES))).astype(str)
    for (row, col), value in (values or {}).items():
        table[row, col] = value
    lines = ["gene_id," + ",".join(SAMPLES)]
    lines += [f"{g}," + ",".join(row) for g, row in zip(GENES, table, strict=True)]
    return "\n".join(lines) + "\n"


def _sheet(condition: list[str] | None = None) -> str:
    condition = condition or ["A", "A", "A", "B", "B", "B"]
    batch = ["x", "y", "x", "y", "x", "y"]
    rows = [f"{s},{c},{b}" for s, c, b in zip(SAMPLES, condition, batch, strict=True)]
    return "sample,condition,batch\n" + "\n".join(rows) + "\n"


def _de_table(cell: tuple[int, str, str] | None = None) -> str:
    rows = {g: ["100", "1.5", "0.2", "7.5", "0.001", "0.01"] for g in GENES}  # baseMean .. padj
    header = ["", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
    if cell is not None:
        row, column, value = cell
        rows[GENES[row]][header.index(column) - 1] = value
    return "\n".join(["\t".join(header), *("\t".join([g, *v]) for g, v in rows.items())]) + "\n"


BASE_FILES = {
    "counts.csv": _counts(),
    "samples.csv": _sheet(),
    "genes.csv": "gene_id,symbol\n" + "".join(f"{g},SYM{g}\n" for g in GENES),
}
RUN = [
    "run",
    "--counts",
    "{d}/counts.csv",
    "--samples",
    "{d}/samples.csv",
    "--design",
    "~ condition",
    "--contrast",
    "condition",
    "B",
    "A",
    "--out",
    "{d}/out",
]


def _truncated_gzip(text: str) -> bytes:
    data = gzip.compress(text.encode())
    return data[: len(data) // 2]


def _design(formula: str):
    return {}, ["--design", formula]


def _flags(*flags: str):
    return {}, list(flags)


def _file_flag(name: str, content: str | bytes, flag: str):
    return {name: content}, [flag, f"{{d}}/{name}"]


CASES: list[tuple[str, dict, list[str], int, str]] = []


def _case(case_id: str, spec: tuple[dict, list[str]], status: int, pattern: str) -> None:
    CASES.append((case_id, spec[0], spec[1], status, pattern))


# The design grammar: code never runs, every stray token is named.
_case("design-trailing-plus", _design("~ condition +"), 2, r"ends after '\+'")
_case(
    "design-fullwidth-eval",
    _design(f"~ condition + I({FULLWIDTH_EVAL}(chr(95)))"),
    2,
    r"'ｅ' \(U\+FF45\) at position 17 is not allowed",
)
_case("design-fullwidth-name", _design("~ \uff43ondition"), 2, r"U\+FF43")
_case("design-script-e", _design("~ condition + \u212fval"), 2, r"U\+212F")
_case("design-roman-numeral", _design("~ condition + \u2160"), 2, r"U\+2160")
_case("design-import", _design("~ __import__(os)"), 2, r"the call __import__\(\.\.\.\)")
_case("design-quoted-import", _design("~ __import__('os')"), 2, r"\"'\" at position 14")
_case("design-attribute", _design("~ condition.__class__"), 2, r"'\.' at position 12")
_case("design-lambda", _design("~ (lambda: 1)()"), 2, r"'\(' at position 3")
_case("design-fstring", _design("~ f'{condition}'"), 2, r"\"'\" at position 4")
_case("design-identity", _design("~ I(condition)"), 2, r"the call I\(\.\.\.\)")
_case("design-call", _design("~ condition + log(batch)"), 2, r"the call log\(\.\.\.\)")
_case("design-no-tilde", _design("condition"), 2, r"expected '~'")
_case("design-number", _design("~ condition + 2"), 2, r"'2' at position 15")
_case("design-unclosed-c", _design("~ C(condition"), 2, r"'\)' closing C")
_case("design-semicolon", _design("~ condition; import os"), 2, r"';' at position 12")
_case("design-newline", _design("~ condition\nbatch"), 2, r"'\\n' at position 12")
_case("design-empty-rhs", _design("~"), 2, r"ends after '~'")
_case("design-no-terms", _design("~ 0"), 2, r"no terms and no intercept")
_case("design-unknown-column", _design("~ genotype"), 2, r"'genotype', which is not a column")
_case("design-column-and-c", _design("~ batch + condition + C(batch)"), 2, r"both as a number")
# Contrasts.
_case("contrast-two-values", _flags("--contrast", "condition", "B"), 2, r"VARIABLE NUMERATOR")
# Several contrasts: every one is checked before anything runs.
_case(
    "contrast-second-unknown-level",
    _flags("--contrast", "condition", "C", "A"),
    2,
    r"contrast level 'C' does not exist in column 'condition'; its levels are: A, B",
)
_case("contrast-given-twice", _flags("--contrast", "condition", "B", "A"), 2, r"given twice")
_case(
    "contrasts-unknown-reference",
    _flags("--contrasts", "condition", "each-vs-reference", "C"),
    2,
    r"reference level 'C' does not exist in column 'condition'; its levels are: A, B",
)
_case(
    "contrasts-unknown-mode",
    _flags("--contrasts", "condition", "all"),
    2,
    r"--contrasts condition all: give VARIABLE each-vs-reference REFERENCE, or VARIABLE pairwise",
)
_case(
    "contrasts-unknown-column",
    _flags("--contrasts", "genotype", "pairwise"),
    2,
    r"--contrasts names 'genotype', which is not a column",
)
_case(
    "contrasts-file-name-clash",
    (
        {"samples.csv": _sheet(["A", "A", "B", "B", "a b", "a_b"])},
        ["--contrasts", "condition", "each-vs-reference", "A"],
    ),
    2,
    r"contrasts 'condition: a b vs A' and 'condition: a_b vs A' would both be written to "
    r"tables/de_condition_a_b_vs_A\.tsv",
)
_case(
    "contrast-unknown-level",
    _flags("--contrast", "condition", "B", "Z"),
    2,
    r"contrast level 'Z' does not exist in column 'condition'",
)
_case(
    "contrast-outside-design",
    _flags("--contrast", "batch", "x", "y"),
    2,
    r"contrast variable 'batch' is not in the design",
)
_case("contrast-same-level", _flags("--contrast", "condition", "B", "B"), 2, r"the same level")
# Settings, checked before any work.
_case("alpha-above-one", _flags("--alpha", "2"), 2, r"alpha = 2\.0: must be between 0 and 1")
_case("alpha-nan", _flags("--alpha", "nan"), 2, r"alpha = nan: must be between 0 and 1")
_case("filter-alpha-zero", _flags("--filter-alpha", "0"), 2, r"filter_alpha = 0\.0")
_case("engine-unknown", _flags("--engine", "edger"), 2, r"unknown DE engine 'edger'")
_case("clip-inf", _flags("--clip", "inf"), 2, r"heatmap\.clip = inf: allowed is 0\.01 to 100")
_case("clip-zero", _flags("--clip", "0"), 2, r"heatmap\.clip = 0\.0")
_case("clip-negative", _flags("--clip", "-1"), 2, r"heatmap\.clip = -1\.0")
_case(
    "max-samples-small",
    _flags("--max-samples", "2"),
    2,
    r"heatmap\.max_samples = 2: allowed is 3 to 1,000,000 \(--max-samples\)$",
)
_case("lfc-threshold-nan", _flags("--lfc-threshold", "nan"), 2, r"lfc_threshold = nan")
_case("lfc-threshold-negative", _flags("--lfc-threshold", "-1"), 2, r"lfc_threshold = -1\.0")
_case("seed-negative", _flags("--seed", "-1"), 2, r"seed = -1: allowed is 0 to 4,294,967,295")
_case("seed-huge", _flags("--seed", str(2**70)), 2, r"seed = \d+: allowed is 0 to")
_case("bootstrap-negative", _flags("--n-bootstrap", "-1"), 2, r"n_bootstrap = -1: allowed")
_case("bootstrap-huge", _flags("--n-bootstrap", "10001"), 2, r"n_bootstrap = 10001: .*10,000")
_case("max-genes-zero", _flags("--max-genes", "0"), 2, r"max_genes = 0")
_case("top-variance-zero", _flags("--top-variance", "0"), 2, r"top_variance = 0")
_case("qc-top-genes-one", _flags("--qc-top-genes", "1"), 2, r"top_genes = 1")
_case("n-modules-zero", _flags("--n-modules", "0"), 2, r"n_modules = 0")
_case("permutations-zero", _flags("--gsea-permutations", "0"), 2, r"permutations = 0")
_case(
    "set-sizes-crossed",
    _flags("--min-set-size", "50", "--max-set-size", "10"),
    2,
    r"min_set_size = 50 is above enrich\.max_set_size = 10",
)
_case(
    "display-remove-unknown",
    _flags("--display-remove", "lane"),
    2,
    r"--display-remove lane: not a column of samples\.csv; its columns are: condition, batch",
)
_case("group-samples-unknown", _flags("--group-samples", "lane"), 2, r"--group-samples lane")
_case("annotate-unknown", _flags("--annotate", "batch", "lane"), 2, r"--annotate lane: not a")
_case(
    "contrast-levels-of-numeric",
    (
        {"samples.csv": _sheet(["1", "1", "1", "2", "2", "2"])},
        ["--contrast", "condition", "2", "1"],
    ),
    2,
    r"'condition' is numeric, so it has a slope, not levels; .*C\(condition\)",
)
_case(
    "sheet-infinite-covariate",
    ({"samples.csv": _sheet(["1", "inf", "1", "2", "2", "2"])}, ["--contrast", "condition"]),
    2,
    r"'condition' is not a finite number for sample\(s\) S2",
)
# Flags the parser refuses: one line too, no usage dump.
_case("flag-seed-text", _flags("--seed", "abc"), 2, r"argument --seed: invalid int value: 'abc'")
_case("flag-metric", _flags("--metric", "manhattan"), 2, r"argument --metric: invalid choice")
_case("flag-contrast-empty", _flags("--contrast"), 2, r"argument --contrast: expected at least")
_case("flag-unknown", _flags("--desing", "~ x"), 2, r"unrecognized arguments: --desing")
# The output folder.
_case("out-dot", _flags("--out", "."), 2, r"--out \.: is the current folder")
_case("out-dotdot", _flags("--out", ".."), 2, r"is the current folder or one of its parents")
_case("out-input-folder", _flags("--out", "{d}"), 2, r"holds the input .*counts\.csv")
_case(
    "out-parent-of-input",
    ({"a/b/counts.csv": _counts()}, ["--counts", "{d}/a/b/counts.csv", "--out", "{d}/a"]),
    2,
    r"holds the input .*a/b/counts\.csv",
)
_case("out-is-input-file", _flags("--out", "{d}/counts.csv"), 2, r"holds the input")
_case("out-is-a-file", ({"note.txt": "x"}, ["--out", "{d}/note.txt"]), 2, r"is a file")
_case("out-under-a-file", ({"note.txt": "x"}, ["--out", "{d}/note.txt/out"]), 2, r"is a file")
_case(
    "out-not-empty",
    ({"thesis/chapter1.tex": "x"}, ["--out", "{d}/thesis"]),
    2,
    r"not empty; use --force",
)
_case(
    "out-force-precious",
    ({"thesis/chapter1.tex": "x"}, ["--out", "{d}/thesis", "--force"]),
    2,
    r"not an rnaheat result .*--force will not replace it",
)
_case(
    "out-force-fake-record",
    ({"thesis/run.json": '{"note": 1}'}, ["--out", "{d}/thesis", "--force"]),
    2,
    r"not an rnaheat result",
)
_case("out-force-input-folder", _flags("--out", "{d}", "--force"), 2, r"holds the input .*counts")
_case("out-name-too-long", _flags("--out", "{d}/" + "r" * 230), 2, r"230 bytes long; at most 200")
_case("out-dangling-link", ({"@link": "nowhere"}, ["--out", "{d}/link"]), 2, r"symbolic link")
_case(
    "out-link-loop",
    ({"@loop1": "loop2", "@loop2": "loop1"}, ["--out", "{d}/loop1"]),
    2,
    r"loop1: is a loop of symbolic links",
)
# Input files.
_case("counts-missing", _flags("--counts", "{d}/nope.csv"), 2, r"nope\.csv: no such counts file")
_case("counts-empty-folder", ({"empty/": ""}, ["--counts", "{d}/empty"]), 2, r"no HTSeq-count")
_case("samples-folder", ({"empty/": ""}, ["--samples", "{d}/empty"]), 2, r"is a folder, expected")
_case("counts-fifo", ({"|fifo.csv": ""}, ["--counts", "{d}/fifo.csv"]), 2, r"not a regular file")


def _hdf5(datasets: dict[str, np.ndarray]) -> bytes:
    """An HDF5 file holding ``datasets``, as bytes."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        for name, values in datasets.items():
            h5[name] = values
    return buffer.getvalue()


# Corrupt or foreign HDF5: AnnData's readers raise many kinds of errors, each one line here.
_NOT_ANNDATA = r"counts\.h5ad: cannot be read as an AnnData \.h5ad file"
_case("h5ad-not-hdf5", _file_flag("counts.h5ad", _counts(), "--counts"), 2, _NOT_ANNDATA)
_case(
    "h5ad-truncated",
    _file_flag("counts.h5ad", b"\x89HDF\r\n\x1a\n" + bytes(256), "--counts"),
    2,
    _NOT_ANNDATA,
)
_case(
    "h5ad-other-layout",
    _file_flag("counts.h5ad", _hdf5({"foo": np.arange(3)}), "--counts"),
    2,
    _NOT_ANNDATA,
)
_case(
    "h5ad-x-not-a-matrix",
    _file_flag("counts.h5ad", _hdf5({"X": np.arange(3), "obs": np.arange(3)}), "--counts"),
    2,
    _NOT_ANNDATA,
)
_case(
    "kallisto-h5-corrupt",
    (
        {
            **{f"quant/{s}/abundance.h5": b"\x89HDF\r\n\x1a\n" + bytes(64) for s in SAMPLES},
            "t2g.csv": "transcript_id,gene_id\nT1,G00\n",
        },
        ["--counts", "{d}/quant", "--tx2gene", "{d}/t2g.csv"],
    ),
    2,
    r"quant/S1/abundance\.h5: cannot be read as kallisto HDF5 output",
)
_case("samples-device", _flags("--samples", "/dev/zero"), 2, r"/dev/zero: is not a regular file")
_case("genes-fifo", ({"|g.csv": ""}, ["--genes", "{d}/g.csv"]), 2, r"g\.csv: is not a regular")
_case("gene-sets-folder", ({"sets/": ""}, ["--gene-sets", "{d}/sets"]), 2, r"sets: is a folder")
_case("controls-missing", _flags("--controls", "{d}/c.csv"), 2, r"no such controls file")
for _name, _flag in [
    ("counts.csv.gz", "--counts"),
    ("samples.csv.gz", "--samples"),
    ("genes.csv.gz", "--genes"),
    ("sets.gmt.gz", "--gene-sets"),
    ("controls.csv.gz", "--controls"),
    ("de.tsv.gz", "--de-table"),
    ("list.txt.gz", "--gene-list"),
]:
    _case(
        f"truncated-gzip-{_flag[2:]}",
        _file_flag(_name, _truncated_gzip(_counts()), _flag),
        2,
        rf"{re.escape(_name)}: gzip-compressed but truncated or damaged",
    )
_case(
    "count-above-2-53",
    ({"counts.csv": _counts({(3, 1): str(2**53 + 2)})}, []),
    2,
    r"count too large \(9007199254740994\) for gene 'G03' \(line 5\), sample 'S2'; the "
    r"largest count allowed is 9,007,199,254,740,992",
)
_case(
    "count-beyond-int64",
    ({"counts.csv": _counts({(0, 0): "99999999999999999999999"})}, []),
    2,
    r"count too large .* gene 'G00'",
)
_case("count-negative", ({"counts.csv": _counts({(2, 2): "-3"})}, []), 2, r"negative count")
_case("count-fraction", ({"counts.csv": _counts({(2, 2): "1.5"})}, []), 2, r"not a whole")
_case("count-inf", ({"counts.csv": _counts({(2, 2): "inf"})}, []), 2, r"infinite count")
_case("count-missing", ({"counts.csv": _counts({(2, 2): "NA"})}, []), 2, r"missing count")
_case("count-text", ({"counts.csv": _counts({(2, 2): "ten"})}, []), 2, r"'ten' is not a number")
_case(
    "sample-all-zero",
    ({"counts.csv": _counts({(r, 4): "0" for r in range(len(GENES))})}, []),
    2,
    r"sample\(s\) 'S5' have zero counts for every gene; drop them by deleting their rows from "
    r"samples\.csv",
)
_case(
    "sheet-na-design-value",
    ({"samples.csv": _sheet(["A", "NA", "A", "B", "B", "B"])}, []),
    2,
    r"'condition' is empty for sample\(s\) S2 \(blank or NA\);",
)
_case(
    "sheet-empty-design-value",
    ({"samples.csv": _sheet(["A", "A", "", "B", "B", ""])}, []),
    2,
    r"'condition' is empty for sample\(s\) S3, S6 \(blank or NA\);",
)
_case(
    "sheet-unknown-sample",
    ({"samples.csv": _sheet().replace("S6,", "S7,")}, []),
    2,
    r"not columns of counts\.csv: 'S7'",
)
_case("counts-not-utf8", ({"counts.csv": b"gene_id,S1\n\xff\xfe,1\n"}, []), 2, r"not UTF-8")
_case(
    "counts-duplicate-gene",
    ({"counts.csv": _counts().replace("G01,", "G00,")}, []),
    2,
    r"duplicate gene id 'G00'",
)
for _column, _value, _pattern in [
    ("padj", "1.5", r"padj is 1\.5 for gene 'G04'; allowed is between 0 and 1 or NA"),
    ("pvalue", "-0.1", r"pvalue is -0\.1 for gene 'G04'"),
    ("log2FoldChange", "Inf", r"log2fc is inf for gene 'G04'; allowed is a finite number"),
    ("baseMean", "-5", r"base_mean is -5 for gene 'G04'"),
    ("lfcSE", "-inf", r"lfc_se is -inf for gene 'G04'"),
]:
    _case(
        f"de-table-{_column}-{_value}",
        _file_flag("de.tsv", _de_table((4, _column, _value)), "--de-table"),
        2,
        _pattern,
    )
_case(
    "de-table-header-only",
    _file_flag("de.tsv", "\tbaseMean\tlog2FoldChange\tpvalue\tpadj\n", "--de-table"),
    2,
    r"de\.tsv: the DE table has a header but no genes",
)
# Settings from a TOML file (a config someone sent you) get the same checks.
_TOML = 'out = "out"\n[inputs]\ncounts = "counts.csv"\nsamples = "samples.csv"\n'
_TOML_DE = '[de]\ndesign = "~ condition"\ncontrast = ["condition", "B", "A"]\n'
_case(
    "config-fullwidth-design",
    _file_flag(
        "c.toml",
        _TOML
        + f'[de]\ndesign = "~ condition + I({FULLWIDTH_EVAL}(1))"\ncontrast = ["condition"]\n',
        "--config",
    ),
    2,
    r"U\+FF45",
)
_case(
    "config-force-precious",
    (
        {
            "c.toml": 'out = "thesis"\nforce = true\n' + _TOML.split("\n", 1)[1] + _TOML_DE,
            "thesis/chapter1.tex": "x",
        },
        ["--config", "{d}/c.toml"],
    ),
    2,
    r"thesis: not an rnaheat result",
)
_case(
    "config-out-own-folder",
    _file_flag("c.toml", 'out = "."\n' + _TOML.split("\n", 1)[1] + _TOML_DE, "--config"),
    2,
    r"holds the input",
)
_case(
    "config-clip-inf",
    _file_flag("c.toml", _TOML + _TOML_DE + "[heatmap]\nclip = inf\n", "--config"),
    2,
    r"heatmap\.clip = inf",
)
_case(
    "config-bootstrap",
    _file_flag("c.toml", _TOML + _TOML_DE + "[modules]\nn_bootstrap = 20000\n", "--config"),
    2,
    r"n_bootstrap = 20000",
)
_case(
    "config-unknown-key",
    _file_flag("c.toml", _TOML + _TOML_DE + "[de]\nformula = 1\n", "--config"),
    2,
    r"c\.toml: not a valid TOML",
)
_case(
    "config-unknown-setting",
    _file_flag("c.toml", _TOML + "[de]\nformula = '~ x'\n", "--config"),
    2,
    r"unknown setting 'formula' in \[de\]",
)
_case("config-folder", ({"conf/": ""}, ["--config", "{d}/conf"]), 2, r"conf: is a folder")


def _write(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        if name.endswith("/"):
            (folder / name).mkdir(parents=True)
            continue
        if name.startswith("@"):
            (folder / name[1:]).symlink_to(folder / str(content))
            continue
        if name.startswith("|"):
            os.mkfifo(folder / name[1:])
            continue
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def _run(folder: Path, flags: list[str], capsys) -> tuple[int, list[str], str]:
    argv = [a.replace("{d}", str(folder)) for a in [*RUN, *flags]]
    if "--config" in flags:
        # A config carries its own inputs, design and output folder.
        argv = ["run", *(a.replace("{d}", str(folder)) for a in flags)]
    try:
        code = main(argv)
    except SystemExit as stop:  # a flag the parser refuses
        code = stop.code
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.startswith("rnaheat: error")], err


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("files", "flags", "status", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_gives_one_line_and_writes_nothing(
    tmp_path, monkeypatch, capsys, files, flags, status, pattern
):
    folder = tmp_path / "work"
    folder.mkdir()
    _write(folder, {**BASE_FILES, **files})
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    code, errors, err = _run(folder, flags, capsys)
    assert code == status, err
    assert len(errors) == 1, err
    assert re.search(pattern, errors[0]), errors[0]
    assert "Traceback" not in err and "Warning:" not in err
    assert _snapshot(tmp_path) == before


def test_h5ad_obs_with_missing_design_values_names_the_samples(tmp_path, capsys):
    counts = pd.read_csv(io.StringIO(_counts()), index_col=0)
    obs = pd.DataFrame({"condition": ["A", None, "A", "B", "B", "B"]}, index=SAMPLES)
    ad.AnnData(X=counts.T.to_numpy().astype(np.int64), obs=obs).write_h5ad(tmp_path / "x.h5ad")
    code = main(
        [
            "run",
            "--counts",
            str(tmp_path / "x.h5ad"),
            "--design",
            "~ condition",
            "--contrast",
            "condition",
            "B",
            "A",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "'condition' is empty for sample(s) S2 (blank or NA);" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("flags", "pattern"),
    [
        (["--seed", "-1"], r"seed = -1: allowed is 0"),
        (["--n-genes", "5"], r"--n-genes 5: allowed is 100"),
        (["--out", "."], r"is the current folder"),
    ],
    ids=["seed", "n-genes", "out-dot"],
)
def test_demo_settings_are_checked_first(tmp_path, monkeypatch, capsys, flags, pattern):
    monkeypatch.chdir(tmp_path)
    code = main(["demo", "--out", "demo", *flags])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert code == 2 and len(errors) == 1 and re.search(pattern, errors[0]), errors
    assert list(tmp_path.iterdir()) == []


def _fullwidth(text: str) -> str:
    """ASCII letters as their full-width forms, which NFKC normalises back."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c for c in text)


def _payloads(sentinel: Path) -> list[str]:
    """Designs that would create ``sentinel`` if any part of them were run as Python."""
    touch = f"__import__('pathlib').Path({str(sentinel)!r}).touch()"
    chars = "+".join(f"{_fullwidth('chr')}({ord(c)})" for c in touch)
    return [
        f"~ condition + I({_fullwidth('eval')}({chars}))",
        f"~ condition + {_fullwidth('__import__')}('pathlib').Path({str(sentinel)!r}).touch()",
        f"~ condition + I({touch})",
        f"~ condition + {touch}",
        f"~ condition + (lambda: {touch})()",
        f'~ condition + I(f"{{{touch}}}")',
        f"~ condition + condition.__class__.__init__.__globals__['__builtins__']({touch})",
        f"~ condition + `x` + I({touch})",
        f"~ C({touch})",
    ]


@pytest.mark.parametrize("route", ["flag", "config"])
def test_no_design_text_is_ever_run(tmp_path, monkeypatch, capsys, route):
    folder = tmp_path / "work"
    folder.mkdir()
    _write(folder, BASE_FILES)
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "SENTINEL"
    for formula in _payloads(sentinel):
        if route == "flag":
            code, errors, err = _run(folder, ["--design", formula], capsys)
        else:
            # A JSON string is a valid TOML basic string.
            toml = _TOML + f"[de]\ndesign = {json.dumps(formula)}\ncontrast = ['condition']\n"
            (folder / "c.toml").write_text(toml)
            code, errors, err = _run(folder, ["--config", "{d}/c.toml"], capsys)
        assert code == 2, (formula, err)
        assert len(errors) == 1 and "is not allowed" in errors[0], (formula, err)
        assert not sentinel.exists(), formula
    assert not (folder / "out").exists()

"""Settings: declared once (default, flag, help), read from TOML and from the command line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rnaheat.cli import _parser, _run_config
from rnaheat.config import (
    DemoConfig,
    RunConfig,
    flagged_settings,
    from_dict,
    load_config,
    override,
    to_dict,
)


def _run_args(*flags: str):
    return _parser().parse_args(["run", *flags])


def test_every_flag_is_declared_once_on_its_setting():
    flags = [spec.metadata["flag"] for _, spec in flagged_settings(RunConfig)]
    assert len(flags) == len(set(flags))
    assert {"--counts", "--design", "--no-ranked", "--vst-design", "--seed", "--out"} <= set(flags)
    assert all(spec.metadata["help"] for _, spec in flagged_settings(RunConfig))
    help_text = _parser()._subparsers._group_actions[0].choices["run"].format_help()
    # The default shown in the help is the field's default.
    assert "(default 0.05)" in help_text and "(default 2000)" in help_text


def test_flags_set_their_fields_and_absent_flags_leave_the_defaults():
    assert _run_config(_run_args()) == RunConfig()
    flags = (
        "--counts c.csv --contrast condition Hypoxia Normoxia --gene-sets a.gmt --gene-sets b.gmt "
        "--max-genes 7 --no-ranked --vst-design --force --seed 3 --metric spearman "
        "--markers CA9 VEGFA --alpha 0.01"
    )
    config = _run_config(_run_args(*flags.split()))
    assert config.inputs.counts == Path("c.csv")
    assert config.inputs.gene_sets == (Path("a.gmt"), Path("b.gmt"))
    assert config.de.contrast == ("condition", "Hypoxia", "Normoxia")
    assert config.de.alpha == 0.01
    assert config.select.max_genes == 7
    assert config.enrich.ranked is False and config.vst.blind is False
    assert config.force is True and config.random_state == 3
    assert config.modules.metric == "spearman"
    assert config.heatmap.markers == ("CA9", "VEGFA")


def test_choices_come_from_the_setting():
    with pytest.raises(SystemExit):
        _run_args("--linkage", "single")
    config = dataclasses.replace(
        RunConfig(out=Path("o"), inputs=from_dict({"inputs": {"counts": "c"}}).inputs),
        de=from_dict({"de": {"design": "~ a", "contrast": ["a", "x", "y"]}}).de,
    )
    assert config.validate() is config
    bad = override(config, modules={"linkage": "single"})
    with pytest.raises(ValueError, match="modules.linkage = 'single': allowed are average"):
        bad.validate()


def test_toml_keys_are_the_field_names_and_paths_are_relative_to_the_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        'out = "res"\nrandom_state = 4\n[inputs]\ncounts = "data/c.csv"\n'
        'gene_sets = ["h.gmt"]\n[de]\ndesign = "~ condition"\n'
        'contrast = ["condition", "b", "a"]\n[select]\nsignificant = false\n'
        "[enrich]\npermutations = 500\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.out == tmp_path / "res"
    assert config.inputs.counts == tmp_path / "data" / "c.csv"
    assert config.inputs.gene_sets == (tmp_path / "h.gmt",)
    assert config.de.contrast == ("condition", "b", "a")
    assert config.select.significant is False
    assert config.enrich.permutations == 500
    # A flag given on the command line wins over the file; an absent one keeps it.
    merged = _run_config(_run_args("--config", str(path), "--gsea-permutations", "900"))
    assert merged.enrich.permutations == 900 and merged.random_state == 4


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"nope": 1}, "unknown setting 'nope' in the top level; allowed: out, force"),
        ({"de": {"alpha": "x"}}, "de.alpha must be a number, got 'x'"),
        ({"select": {"max_genes": 1.5}}, "select.max_genes must be a whole number"),
        ({"inputs": {"gene_sets": "a.gmt"}}, "inputs.gene_sets must be a list of text values"),
        ({"vst": {"blind": "yes"}}, "vst.blind must be true or false"),
        ({"de": 3}, r"\[de\] must be a table"),
    ],
)
def test_bad_toml_values_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        from_dict(values)


def test_settings_round_trip_through_plain_values():
    config = RunConfig(
        out=Path("o"),
        inputs=from_dict({"inputs": {"counts": "c.csv", "gene_sets": ["a", "b"]}}).inputs,
    )
    plain = to_dict(config)
    assert plain["inputs"]["gene_sets"] == ["a", "b"] and plain["out"] == "o"
    assert from_dict(plain) == config


def test_override_ignores_unset_values():
    config = RunConfig()
    assert override(config, top={"out": None}, de={"alpha": None}) == config
    assert override(config, de={"alpha": 0.1}).de.alpha == 0.1


def test_defaults_are_the_librarys():
    import inspect

    from rnaheat.de import test
    from rnaheat.display import display_matrix
    from rnaheat.enrich import gene_set_enrichment
    from rnaheat.modules import ModuleOptions
    from rnaheat.qc import sample_qc
    from rnaheat.select import select_genes
    from rnaheat.transform import vst

    config = RunConfig()
    shared = [
        (select_genes, "max_genes", config.select.max_genes),
        (select_genes, "alpha", config.de.alpha),
        (gene_set_enrichment, "n_perm", config.enrich.permutations),
        (gene_set_enrichment, "min_set_size", config.enrich.min_set_size),
        (test, "filter_alpha", config.de.filter_alpha),
        (test, "shrink", config.de.shrink),
        (vst, "blind", config.vst.blind),
        (sample_qc, "n_top", config.qc.top_genes),
        (display_matrix, "clip", config.heatmap.clip),
        (ModuleOptions, "n_bootstrap", config.modules.n_bootstrap),
        (ModuleOptions, "random_state", config.random_state),
    ]
    for function, parameter, setting in shared:
        assert inspect.signature(function).parameters[parameter].default == setting, parameter


def test_demo_settings_share_the_run_flags():
    args = _parser().parse_args(["demo", "--out", "d", "--seed", "2", "--n-genes", "300"])
    assert (args.out, args.random_state, args.n_genes) == (Path("d"), 2, 300)
    assert DemoConfig().n_genes == 5000 and DemoConfig().random_state == RunConfig().random_state

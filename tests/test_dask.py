"""DE on Dask equals the in-memory engine bit for bit; a lost worker changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from rnaheat import de
from rnaheat.de.deseq2 import run_deseq2_contrasts
from rnaheat.de.engine import EngineResult
from rnaheat.demo import simulate_experiment
from rnaheat.experiment import Experiment

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
from rnaheat.de.distributed import DaskBackend, cluster  # noqa: E402
from rnaheat.io.convert import convert  # noqa: E402

# Small chunks, so that the simulated set spans many of them.
CHUNK = 4_000


@pytest.fixture(scope="module")
def client():
    """One 2-worker LocalCluster (processes) shared by this module's tests.

    Reached by its address, as ``--scheduler`` reaches a running cluster.
    """
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as local,
        cluster(scheduler=local.scheduler_address),
    ):
        yield distributed.default_client()


@pytest.fixture(scope="module")
def outlier_sim():
    """Counts of 7 + 7 samples with planted outliers (replaced and refitted) and zero genes."""
    sim = simulate_experiment(n_genes=800, n_replicates=7, random_state=3)
    counts = np.ascontiguousarray(sim.experiment.counts.to_numpy())
    rng = np.random.default_rng(1)
    counts[rng.integers(0, 800, 20), rng.integers(0, 14, 20)] *= 40
    counts[:4] = 0
    design = np.column_stack([np.ones(14), np.repeat([0.0, 1.0], 7)])
    return counts, design


def _assert_identical(a: EngineResult, b: EngineResult) -> None:
    for f in fields(EngineResult):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        elif isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


def _engine(counts, design, **options) -> EngineResult:
    return run_deseq2_contrasts(
        counts, design, contrasts=np.array([[0.0, 1.0]]), chunk_elements=CHUNK, **options
    )[0]


def test_cluster_equals_the_in_memory_engine_across_several_chunks(client, outlier_sim):
    counts, design = outlier_sim
    expected = _engine(counts, design)
    assert expected.info["n_refit"] > 0  # the outlier replacement path is exercised
    assert counts.size > 2 * CHUNK  # several chunks
    stored = da.from_array(counts, chunks=(211, 5))  # store chunks unlike the engine's
    got = _engine(stored, design, backend=DaskBackend(parallel=2))
    _assert_identical(got, expected)


def test_chunked_experiment_in_stored_gene_order_gives_the_same_table(tmp_path):
    """Genes stored in another order than sorted: the engine still sums in sorted order."""
    sim = simulate_experiment(n_genes=600, n_replicates=3, random_state=5)
    counts = sim.experiment.counts.sample(frac=1.0, random_state=0)  # shuffled gene order
    sheet = sim.experiment.samples
    memory = Experiment.from_frames(counts, sheet)
    lazy = Experiment.from_chunked(
        da.from_array(counts.to_numpy(), chunks=(97, 6)), counts.index, sheet
    )
    options = {"design": "~ condition", "contrast": ("condition", "Hypoxia", "Normoxia")}
    expected = de.test(memory, shrink="none", **options)
    got = de.test(lazy, shrink="none", **options)
    pd.testing.assert_frame_equal(got.table, expected.table, check_exact=True)
    pd.testing.assert_series_equal(got.size_factors, expected.size_factors, check_exact=True)


@pytest.mark.parametrize("method", ["apeglm", "normal"])
def test_shrinkage_on_the_cluster_equals_the_in_memory_one(client, method):
    """The posteriors of each chunk of genes are tasks on the workers, with the same numbers."""
    sim = simulate_experiment(n_genes=400, n_replicates=3, random_state=7)
    counts, sheet = sim.experiment.counts, sim.experiment.samples
    lazy = Experiment.from_chunked(
        da.from_array(counts.to_numpy(), chunks=(97, 6)), counts.index, sheet
    )
    options = {"design": "~ condition", "contrast": ("condition", "Hypoxia", "Normoxia")}
    expected = de.test(Experiment.from_frames(counts, sheet), shrink=method, **options)
    with distributed.get_task_stream() as stream:
        got = de.test(lazy, shrink=method, **options)
    ran = {
        task["key"][0] if isinstance(task["key"], tuple) else task["key"] for task in stream.data
    }
    assert any(f"_{method}_chunk" in str(key) for key in ran)
    assert got.table["log2fc_shrunk"].notna().sum() > 300
    pd.testing.assert_frame_equal(got.table, expected.table, check_exact=True)


def test_without_dask_flags_dask_is_not_needed(tmp_path):
    """An ordinary run reads and tests with Dask blocked from importing (as when it is absent).

    anndata itself imports ``dask.array`` when it is installed, so the check blocks Dask
    rather than looking for it in ``sys.modules``; ``distributed`` is never loaded either way.
    """
    sim = simulate_experiment(n_genes=300, n_replicates=3, random_state=2)
    counts_file = tmp_path / "counts.csv"
    sheet_file = tmp_path / "samples.csv"
    sim.experiment.counts.to_csv(counts_file)
    sim.experiment.samples.to_csv(sheet_file)
    script = (
        "import sys\n"
        "sys.modules.update(dask=None, distributed=None)  # any import of them now fails\n"
        "from rnaheat.io import read_experiment; from rnaheat import de\n"
        f"e = read_experiment({str(counts_file)!r}, {str(sheet_file)!r})\n"
        "de.test(e, design='~ condition', contrast=('condition', 'Hypoxia', 'Normoxia'))\n"
        "ours = [m for m in ('rnaheat.de.distributed', 'rnaheat.io.chunked') if m in sys.modules]\n"
        "assert not ours, ours\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_gse106305_on_the_cluster_equals_the_in_memory_run(client, gse106305, tmp_path):
    from rnaheat.io import read_experiment

    store = tmp_path / "counts.zarr"
    convert(gse106305 / "counts.csv.gz", store)
    options = {
        "design": "~ cell_line + condition",
        "contrast": ("condition", "Hypoxia", "Normoxia"),
    }
    expected = de.test(
        read_experiment(gse106305 / "counts.csv.gz", gse106305 / "samples.csv"), **options
    )
    lazy = read_experiment(store, gse106305 / "samples.csv")
    got = de.test(lazy, **options)
    pd.testing.assert_frame_equal(got.table, expected.table, check_exact=True)
    pd.testing.assert_frame_equal(got.dispersions, expected.dispersions, check_exact=True)


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_retried_and_the_result_is_unchanged(outlier_sim):
    counts, design = outlier_sim
    expected = _engine(counts, design)
    with cluster(workers=2) as backend:
        client = distributed.default_client()
        pids = list(client.run(os.getpid).values())
        done = {}
        # Many small tasks, so that the run is still going when a worker dies.
        run = threading.Thread(
            target=lambda: done.update(
                result=run_deseq2_contrasts(
                    da.from_array(counts, chunks=(100, -1)),
                    design,
                    contrasts=np.array([[0.0, 1.0]]),
                    chunk_elements=400,
                    backend=backend,
                )[0]
            )
        )
        run.start()
        while not any(k.startswith("_gene_wise_chunk") for k in _memory_keys(client)):
            time.sleep(0.05)
        assert run.is_alive()  # the worker dies mid-run, holding finished chunks
        os.kill(pids[0], signal.SIGKILL)
        run.join(timeout=600)
        assert "result" in done
        assert pids[0] not in client.run(os.getpid).values()  # a new worker took its place
    _assert_identical(done["result"], expected)


def _memory_keys(client) -> list[str]:
    """Keys held in the workers' memory (a task's key is its function's name and a token)."""
    return [str(k) for keys in client.has_what().values() for k in keys]


def test_chunked_counts_on_an_engine_that_needs_memory_is_one_clear_error():
    sim = simulate_experiment(n_genes=200, n_replicates=3, random_state=1)
    counts = sim.experiment.counts
    lazy = Experiment.from_chunked(
        da.from_array(counts.to_numpy()), counts.index, sim.experiment.samples
    )
    with pytest.raises(ValueError, match="engine 'pydeseq2' needs the counts in memory"):
        de.test(
            lazy,
            design="~ condition",
            contrast=("condition", "Hypoxia", "Normoxia"),
            engine="pydeseq2",
        )


@pytest.mark.slow
def test_local_workers_keep_glibc_defaults_and_are_waited_for_not_killed(capfd, monkeypatch):
    """Local workers run without Dask's 64 KiB trim threshold (which makes every temporary
    array page-fault afresh), and closing the cluster waits for workers that need longer than
    distributed's 4 seconds."""
    import atexit

    # distributed writes its workers' settings into this process's environment when it starts
    # them (the module's other cluster did), and a worker inherits that environment.
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with cluster(workers=2):
        client = distributed.default_client()
        # A lambda, so the environment is read on the worker (os.environ.get would carry
        # this process's environment along).
        trims = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        client.run(atexit.register, time.sleep, 6)
    assert list(trims.values()) == [None, None]
    assert "killing" not in capfd.readouterr().err


@pytest.mark.slow
def test_cli_run_on_a_zarr_store_with_workers_writes_the_same_de_table(tmp_path, capfd):
    from rnaheat.cli import main

    sim = simulate_experiment(n_genes=800, n_replicates=3, random_state=4)
    sim.experiment.counts.to_csv(tmp_path / "counts.csv")
    sim.experiment.samples.to_csv(tmp_path / "samples.csv")
    assert main(["convert", str(tmp_path / "counts.csv"), str(tmp_path / "counts.zarr")]) == 0
    common = ["--samples", str(tmp_path / "samples.csv"), "--design", "~ condition"]
    common += ["--contrast", "condition", "Hypoxia", "Normoxia", "-q", "--no-h5ad"]
    csv = ["--counts", str(tmp_path / "counts.csv"), "--out", str(tmp_path / "a")]
    store = ["--counts", str(tmp_path / "counts.zarr"), "--out", str(tmp_path / "b")]
    assert main(["run", *csv, *common]) == 0
    capfd.readouterr()
    assert main(["run", *store, "--workers", "2", *common]) == 0
    assert capfd.readouterr().err == ""  # a quiet run on a cluster prints nothing
    tables = [(tmp_path / run / "tables" / "de.tsv").read_bytes() for run in "ab"]
    assert tables[0] == tables[1]


def test_lrt_two_contrasts_and_normalisation_factors_on_dask_threads():
    """The other paths of the engine (LRT, several contrasts, genes × samples factors)."""
    sim = simulate_experiment(n_genes=600, n_replicates=4, random_state=3)
    counts = np.ascontiguousarray(sim.experiment.counts.to_numpy())
    design = np.column_stack([np.ones(8), np.repeat([0.0, 1.0], 4), np.tile([0.0, 1.0], 4)])
    factors = np.random.default_rng(0).uniform(0.5, 2.0, counts.shape)
    options = {
        "contrasts": np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        "reduced": design[:, :2],
        "size_factors": factors,
        "chunk_elements": 1000,
    }
    expected = run_deseq2_contrasts(counts, design, **options)
    got = run_deseq2_contrasts(
        da.from_array(counts, chunks=(77, 8)), design, backend=DaskBackend(parallel=2), **options
    )
    for a, b in zip(got, expected, strict=True):
        _assert_identical(a, b)


def test_glm_means_and_count_tables_recomputed_on_dask_give_the_same_bits():
    """A design the gene-wise step fits by the GLM, with enough samples for count tables.

    Dask chunks drop their fitted means and count tables after the gene-wise pass and compute
    them again for the testing pass; the in-memory engine keeps them.
    """
    rng = np.random.default_rng(11)
    n = 20
    design = np.column_stack(
        [np.ones(n), np.repeat([0.0, 1.0], n // 2), rng.normal(size=n)]
    )  # a covariate: no design groups, so the means come from the NB GLM
    mu = rng.gamma(1.0, 50.0, (300, 1)) * np.exp(design[:, 1] * rng.normal(0, 1, (300, 1)))
    counts = rng.negative_binomial(5, 5 / (5 + mu))
    options = {"contrasts": np.array([[0.0, 1.0, 0.0]]), "chunk_elements": 1200}
    expected = run_deseq2_contrasts(counts, design, **options)[0]
    got = run_deseq2_contrasts(
        da.from_array(counts, chunks=(53, 7)), design, backend=DaskBackend(parallel=2), **options
    )[0]
    assert counts.size > 3 * options["chunk_elements"]
    _assert_identical(got, expected)

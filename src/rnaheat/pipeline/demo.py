"""The built-in demo: a simulated experiment with planted truth, analysed by the same run."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from rnaheat.config import DemoConfig, DESettings, Inputs, RunConfig
from rnaheat.demo import simulate_experiment, write_demo_inputs
from rnaheat.io.output import check_output_folder
from rnaheat.pipeline.analysis import Analysis
from rnaheat.pipeline.run import run

__all__ = ["run_demo"]

logger = logging.getLogger("rnaheat")


def run_demo(config: DemoConfig, /, *, command: list[str] | None = None) -> Analysis:
    """Simulate an experiment, write its input files and analyse them with :func:`run`.

    The output folder holds the simulated inputs (and the planted truth) under ``inputs/``,
    and the run record names them there.
    """
    if config.out is None:
        raise ValueError("set the output folder with --out, e.g. rnaheat demo --out demo")
    # Settings first, before the simulation: the same ranges as a run.
    RunConfig(random_state=config.random_state).check_ranges()
    if not 100 <= config.n_genes <= 1_000_000:
        raise ValueError(f"--n-genes {config.n_genes}: allowed is 100 to 1,000,000")
    check_output_folder(config.out, force=config.force)
    with tempfile.TemporaryDirectory(prefix="rnaheat-demo-") as staging:
        logger.info("simulating %d genes (seed %d)", config.n_genes, config.random_state)
        sim = simulate_experiment(n_genes=config.n_genes, random_state=config.random_state)
        folder = Path(staging) / "inputs"
        files = write_demo_inputs(sim, folder)
        run_config = RunConfig(
            out=config.out,
            force=config.force,
            random_state=config.random_state,
            inputs=Inputs(
                counts=files["counts"],
                samples=files["samples"],
                genes=files["genes"],
                gene_sets=(files["gene_sets"],),
                controls=files["controls"],
            ),
            de=DESettings(design=sim.design, contrast=sim.contrast),
        )
        return run(run_config, command=command, bundle=folder)

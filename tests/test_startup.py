"""Start-up: the command line and its settings load without the compute libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("matplotlib", "scipy", "pandas", "anndata", "pydeseq2")

# Builds the parser and a default run config, then lists which heavy libraries got imported.
_PROBE = f"""
import json, sys
import rnaheat.cli
rnaheat.cli._parser()
rnaheat.cli.RunConfig()
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))))
"""


def test_the_parser_and_settings_import_no_heavy_library():
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(out.stdout) == []


def test_the_probe_sees_a_heavy_import():
    # The same probe after importing the pipeline does list them: the check above can fail.
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    probe = _PROBE.replace("import rnaheat.cli\n", "import rnaheat.cli, rnaheat.pipeline\n")
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert "pandas" in json.loads(out.stdout)

"""The Airflow 2 branch of ``connector/integrations/_airflow_compat.py``, under a stand-in Airflow 2.10 tree.

Airflow 2 cannot share a venv with the Airflow 3 of the extras' tests, and a venv of its own would double the
extras' install time; so this runs in the main suite, in a subprocess whose ``airflow`` package is a
stand-in with Airflow 2.10's module layout (no ``airflow.sdk``; ``Dataset`` in ``airflow.datasets``) and
checks that the shim picks those names and the extract operator declares ``Dataset`` outlets. The Airflow 3
branch is checked against the real Airflow in ``test_airflow.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Where Airflow 2.10 keeps each name the shim imports (apache/airflow v2-10-stable), as small stand-ins.
STAND_IN = {
    "airflow/__init__.py": "",
    "airflow/datasets/__init__.py": """
        class Dataset:
            def __init__(self, uri, extra=None):
                self.uri, self.extra = uri, extra
            def __eq__(self, other):
                return isinstance(other, Dataset) and other.uri == self.uri
            def __hash__(self):
                return hash(self.uri)
        """,
    "airflow/exceptions.py": """
        class AirflowException(Exception):
            pass
        class AirflowFailException(AirflowException):
            pass
        """,
    "airflow/hooks/__init__.py": "",
    "airflow/hooks/base.py": """
        class BaseHook:
            def __init__(self, **kwargs):
                pass
        """,
    "airflow/models/__init__.py": "",
    "airflow/models/baseoperator.py": """
        class BaseOperator:
            def __init__(self, *, task_id, outlets=None, **kwargs):
                self.task_id, self.outlets = task_id, list(outlets or [])
        """,
}

PROBE = """
import json
import airflow.datasets, airflow.exceptions, airflow.hooks.base, airflow.models.baseoperator
from connector.integrations import _airflow_compat as compat
from connector.integrations.airflow import AttioExtractOperator, output_assets

op = AttioExtractOperator(task_id="x", output_path="s3://lake/attio/date={{ ds }}", tables="meetings,transcript_segments")
print(json.dumps({
    "picked": {
        "Asset": compat.Asset is airflow.datasets.Dataset,
        "BaseHook": compat.BaseHook is airflow.hooks.base.BaseHook,
        "BaseOperator": compat.BaseOperator is airflow.models.baseoperator.BaseOperator,
        "AirflowException": compat.AirflowException is airflow.exceptions.AirflowException,
        "AirflowFailException": compat.AirflowFailException is airflow.exceptions.AirflowFailException,
    },
    "outlets": [[type(o).__name__, o.uri] for o in op.outlets],
    "single": [type(a).__name__ for a in output_assets("/data/m.parquet").values()],
}))
"""


def test_the_shim_picks_airflow_2_names_when_there_is_no_task_sdk(tmp_path: Path) -> None:
    for name, text in STAND_IN.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}

    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["picked"] == dict.fromkeys(result["picked"], True) and len(result["picked"]) == 5
    assert result["outlets"] == [
        ["Dataset", "s3://lake/attio/date=*/meetings.parquet"],
        ["Dataset", "s3://lake/attio/date=*/transcript_segments.parquet"],
    ]
    assert result["single"] == ["Dataset"]

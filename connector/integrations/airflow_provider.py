"""Airflow provider metadata, kept apart from :mod:`.airflow` so that Airflow can read it while it starts.

Airflow calls this through the ``apache_airflow_provider`` entry point during provider discovery, before
its own operator classes can be imported: importing :mod:`.airflow` from here would be circular.
"""

from __future__ import annotations

from typing import Any

import connector


def get_provider_info() -> dict[str, Any]:
    """Provider metadata: makes ``attio`` a connection type in Airflow's UI."""
    return {
        "package-name": "connector",
        "name": "Attio meetings connector",
        "description": "Extract Attio meetings to Parquet and load spreadsheets into Attio.",
        "connection-types": [
            {"connection-type": "attio", "hook-class-name": "connector.integrations.airflow.AttioHook"}
        ],
        "versions": [connector.__version__],
    }

"""The five Airflow names the integration uses: Airflow 3's Task SDK, else their Airflow 2.10 homes.

Only where they are imported from differs (Airflow 2 calls an ``Asset`` a ``Dataset``); the integration
uses them the same way on both. Airflow 2 has no ``airflow.sdk``, so its failed import picks the second
set. ``tests/integrations/test_airflow_compat.py`` imports this module under a stand-in Airflow 2 tree.
"""

try:  # Airflow 3
    from airflow.sdk import Asset, BaseHook, BaseOperator
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 2.10
    from airflow.datasets import Dataset as Asset
    from airflow.exceptions import AirflowException, AirflowFailException
    from airflow.hooks.base import BaseHook
    from airflow.models.baseoperator import BaseOperator

__all__ = ["AirflowException", "AirflowFailException", "Asset", "BaseHook", "BaseOperator"]

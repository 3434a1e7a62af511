"""Orchestrator integrations, each behind its extra: ``connector[airflow]`` and ``connector[dagster]``.

Import the one you use (``connector.integrations.airflow`` or ``connector.integrations.dagster``); this
package imports neither, so ``import connector`` never needs an orchestrator installed. Both are thin:
they turn the orchestrator's connection/resource into a :class:`connector.ClientConfig`, call the same
extract and load functions that library users call, and hand the returned report to the orchestrator
(XCom, materialization metadata).
"""

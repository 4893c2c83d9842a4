"""Provider metadata read by Airflow's ProvidersManager through the entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_tiktok import __version__
from airflow_provider_tiktok.hooks.connection_forms import CONNECTION_TYPES


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: its connection types, hooks, operators, transfers and links.

    The quota wait uses Airflow's own ``DateTimeTrigger``, so no trigger is listed.
    """
    return {
        "package-name": "airflow-provider-tiktok",
        "name": "TikTok",
        "description": (
            "Fetch TikTok user profiles through EnsembleData and the TikTok Research API."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "EnsembleData",
                "external-doc-url": "https://ensembledata.com/",
                "tags": ["service"],
            },
            {
                "integration-name": "TikTok Research API",
                "external-doc-url": "https://developers.tiktok.com/products/research-api/",
                "tags": ["service"],
            },
        ],
        "hooks": [
            {
                "integration-name": "EnsembleData",
                "python-modules": ["airflow_provider_tiktok.hooks.ensembledata"],
            },
            {
                "integration-name": "TikTok Research API",
                "python-modules": ["airflow_provider_tiktok.hooks.research"],
            },
        ],
        "operators": [
            {
                "integration-name": "EnsembleData",
                "python-modules": ["airflow_provider_tiktok.operators.user_info"],
            },
            {
                "integration-name": "TikTok Research API",
                "python-modules": ["airflow_provider_tiktok.operators.user_info"],
            },
        ],
        "transfers": [
            {
                "source-integration-name": "EnsembleData",
                "target-integration-name": "Common SQL",
                "python-module": "airflow_provider_tiktok.transfers.tiktok_to_sql",
            },
            {
                "source-integration-name": "TikTok Research API",
                "target-integration-name": "Common SQL",
                "python-module": "airflow_provider_tiktok.transfers.tiktok_to_sql",
            },
        ],
        "connection-types": CONNECTION_TYPES,
        "extra-links": ["airflow_provider_tiktok.links.TikTokProfileLink"],
    }

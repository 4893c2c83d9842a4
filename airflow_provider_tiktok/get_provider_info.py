"""Provider metadata read by Airflow's ProvidersManager through the entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_tiktok import __version__
from airflow_provider_tiktok.hooks.connection_forms import CONNECTION_TYPES


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: its connection types, hooks, operators and extra links."""
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
                "python-modules": [
                    "airflow_provider_tiktok.operators.user_info",
                    "airflow_provider_tiktok.operators.sql",
                ],
            },
            {
                "integration-name": "TikTok Research API",
                "python-modules": [
                    "airflow_provider_tiktok.operators.user_info",
                    "airflow_provider_tiktok.operators.sql",
                ],
            },
        ],
        "triggers": [
            {
                "integration-name": "TikTok Research API",
                "python-modules": ["airflow_provider_tiktok.triggers.quota_reset"],
            },
            {
                "integration-name": "EnsembleData",
                "python-modules": ["airflow_provider_tiktok.triggers.quota_reset"],
            },
        ],
        "connection-types": CONNECTION_TYPES,
        "extra-links": ["airflow_provider_tiktok.links.TikTokProfileLink"],
    }

"""Provider metadata read by Airflow's ProvidersManager through the entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_tiktok import __version__
from airflow_provider_tiktok.hooks.connection_forms import CONNECTION_TYPES


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: its connection types, hooks, operators, transfers, links and
    settings.

    The quota wait uses Airflow's own ``DateTimeTrigger``, so no trigger is listed. The one
    setting, ``[tiktok] quota_deferral_seconds``, is read by
    :func:`airflow_provider_tiktok.operators.base.quota_resume_time`.
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
        "config": {
            "tiktok": {
                "description": "Options of the TikTok provider.",
                "options": {
                    "quota_deferral_seconds": {
                        "description": (
                            "How long a task deferred for a spent daily quota (Research API "
                            "requests, EnsembleData units) waits before it resumes, in "
                            "seconds. Unset or empty, the default, it resumes at 00:05 UTC, "
                            "just after the quotas reset. Meant for tests against a stand-in "
                            "of the APIs whose quota is reset by hand: never set it against "
                            "the real APIs, where an earlier resumption only finds the quota "
                            "still spent and defers again."
                        ),
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "30",
                        "default": None,
                    },
                },
            },
        },
        "connection-types": CONNECTION_TYPES,
        "extra-links": ["airflow_provider_tiktok.links.TikTokProfileLink"],
    }

"""Apache Airflow provider for TikTok user profiles (EnsembleData and the TikTok Research API)."""

from __future__ import annotations

__version__ = "0.1.0"

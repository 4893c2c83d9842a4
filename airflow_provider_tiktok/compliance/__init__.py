"""Keeping TikTok Research API data compliant: refresh within 15 days, delete, and prove it.

The Research API's terms oblige a researcher to refresh the data at least every fifteen
days, to delete what the API no longer returns at each refresh, and to certify deletion on
request. This package holds what the compliance operators
(:mod:`airflow_provider_tiktok.operators.research_compliance`) are made of:

* :mod:`~.rules`: the fifteen-day rule, the daily quota, and the plan of one run;
* :mod:`~.research_rows`: the Research rows of a snapshot table: what is due, what lapsed,
  and their deletion;
* :mod:`~.avatar_purge`: deleting a user's archived avatars from object storage;
* :mod:`~.audit`: the deletions table (keyed hashes, never a username) and the
  certification summary.
"""

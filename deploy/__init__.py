"""A local Airflow deployment on 127.0.0.1, for trying the provider as users run it.

``make cluster`` (``python -m deploy up``) starts PostgreSQL (the metadata database and a
separate warehouse database), Redis, the Airflow api-server, scheduler, dag-processor,
triggerer, two Celery workers and the TikTok API stand-in, with ``example_dags/`` as the DAGs
folder; ``make cluster-down`` (``python -m deploy down``) stops them. Everything lives in one
state directory (``.cluster/`` by default): the databases, the logs, the Airflow home and
``cluster.json``, which records every port and every process id, so that stopping signals
exactly the processes it started, by process group, never by name.

Every server binds 127.0.0.1 only, on ports picked free at start. This is a test and demo
deployment: the API and the UI are open to anyone on the machine without a login.

:mod:`deploy.cluster` is the entry point; the deployment test suite (``tests/deployment``)
drives the same class.
"""

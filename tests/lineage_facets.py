"""Reading the OpenLineage facets an operator returns, as the OpenLineage provider sends them."""

from __future__ import annotations

import json
from typing import Any


def names(datasets: list[Any]) -> list[tuple[str, str]]:
    """``(namespace, name)`` of each dataset, in order."""
    return [(dataset.namespace, dataset.name) for dataset in datasets]


def schema_fields(dataset: Any) -> dict[str, str]:
    """The schema facet's fields of a dataset, name to type."""
    return {field.name: field.type for field in dataset.facets["schema"].fields}


def as_sent(lineage: Any) -> str:
    """Every dataset and facet as the JSON the OpenLineage client would send."""
    from openlineage.client.serde import Serde

    return json.dumps(
        {
            "inputs": [json.loads(Serde.to_json(dataset)) for dataset in lineage.inputs],
            "outputs": [json.loads(Serde.to_json(dataset)) for dataset in lineage.outputs],
            "run": {key: json.loads(Serde.to_json(f)) for key, f in lineage.run_facets.items()},
            "job": {key: json.loads(Serde.to_json(f)) for key, f in lineage.job_facets.items()},
        }
    )

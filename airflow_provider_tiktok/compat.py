"""The imports that moved between Airflow 2 and Airflow 3, resolved once.

Every other module imports these names from here, so the provider runs unchanged on
Airflow 2.10 through the newest 3.x.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.triggers.base import BaseTrigger

try:
    from airflow.sdk import BaseOperator, BaseOperatorLink, Context
except ImportError:  # Airflow 2
    from airflow.models.baseoperator import BaseOperator  # type: ignore[no-redef,import-not-found,attr-defined,assignment,unused-ignore]
    from airflow.models.baseoperatorlink import (  # type: ignore[no-redef,import-not-found,attr-defined,assignment,unused-ignore]
        BaseOperatorLink,
    )
    from airflow.utils.context import Context  # type: ignore[no-redef,import-not-found,attr-defined,assignment,unused-ignore]

try:
    from airflow.sdk import BaseHook
except ImportError:  # Airflow 2 and 3.0
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,import-not-found,attr-defined,assignment,unused-ignore]

try:
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        TaskDeferred,
    )
except ImportError:  # Airflow 2
    from airflow.exceptions import (  # type: ignore[no-redef,import-not-found,attr-defined,assignment,unused-ignore]
        AirflowException,
        AirflowFailException,
        TaskDeferred,
    )

try:
    from airflow.sdk import Asset
except ImportError:  # Airflow 2: assets were called datasets
    from airflow.datasets import Dataset as Asset  # type: ignore[no-redef,import-not-found,attr-defined,assignment,unused-ignore]

try:
    from airflow.sdk.execution_time.xcom import XCom
except ImportError:  # Airflow 2
    from airflow.models.xcom import XCom  # type: ignore[no-redef,import-not-found,attr-defined,assignment,unused-ignore]

try:
    from airflow.sdk import ObjectStoragePath
except ImportError:  # Airflow 2
    from airflow.io.path import ObjectStoragePath  # type: ignore[no-redef,import-not-found,attr-defined,assignment,unused-ignore]

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow 2, and 3.x releases whose Task SDK has no configuration module
    from airflow.configuration import conf  # type: ignore[no-redef,import-not-found,attr-defined,assignment,unused-ignore]

try:
    from airflow.sdk.log import mask_secret as _mask_secret
except ImportError:  # Airflow 2
    from airflow.utils.log.secrets_masker import (  # type: ignore[no-redef,import-not-found,attr-defined,assignment,unused-ignore]
        mask_secret as _mask_secret,
    )


def mask_secret(secret: str | None) -> None:
    """Register ``secret`` with Airflow's secrets masker, ignoring empty values.

    :param secret: the credential to hide from every log Airflow writes.
    """
    if secret:
        _mask_secret(secret)


def date_time_trigger(moment: dt.datetime) -> BaseTrigger:
    """Airflow's own ``DateTimeTrigger``, firing at ``moment``.

    Imported only when a task defers, so defining and running operators never loads it.
    It lives in the standard provider on Airflow 3 (a dependency of Airflow itself there)
    and in Airflow on 2.10.

    :param moment: when to fire (timezone-aware).
    """
    try:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger
    except ImportError:  # Airflow 2.10
        from airflow.triggers.temporal import (  # type: ignore[no-redef,import-not-found,unused-ignore]
            DateTimeTrigger,
        )
    return DateTimeTrigger(moment)


__all__ = [
    "AirflowException",
    "AirflowFailException",
    "Asset",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "Context",
    "ObjectStoragePath",
    "TaskDeferred",
    "XCom",
    "conf",
    "date_time_trigger",
    "mask_secret",
]

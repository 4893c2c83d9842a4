"""Archiving avatars: the operators against the stand-in over real HTTP, into ``file://``."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.avatars import (
    AvatarArchive,
    extension_for,
    public_url,
    storage_path,
)
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.image_hosts import ImageHostPolicy
from airflow_provider_tiktok.lookups import Lookup
from airflow_provider_tiktok.mapping import failed_lookup
from airflow_provider_tiktok.operators.user_info import (
    EnsembleDataUserInfoOperator,
    TikTokResearchUserInfoOperator,
)
from airflow_provider_tiktok.record import TikTokUser
from airflow_provider_tiktok.sources import EnsembleDataUserSource
from airflow_provider_tiktok.testing import (
    EXPIRED_AVATAR_USER,
    MISSING_USER,
    NOT_IMAGE_AVATAR_USER,
    OVERSIZE_AVATAR_USER,
    PNG_AVATAR_USER,
    StandInServer,
    user_for_username,
)
from airflow_provider_tiktok.testing.stand_in.avatars import STAND_IN_AVATAR_HOSTS
from airflow_provider_tiktok.testing.stand_in.images import AVATAR_JPEG, AVATAR_PNG
from tests.loopback_guard import LoopbackGuard
from tests.private_network import private_network_server

JPEG_SHA256 = hashlib.sha256(AVATAR_JPEG).hexdigest()
PNG_SHA256 = hashlib.sha256(AVATAR_PNG).hexdigest()


def stored_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by path relative to it."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def avatar_requests(server: StandInServer) -> list[Any]:
    return [record for record in server.request_log if record.path.startswith("/avatars/")]


def ensembledata_operator(storage: Path | str | None, **kwargs: Any) -> Any:
    url = storage.as_uri() if isinstance(storage, Path) else storage
    kwargs.setdefault("avatar_allowed_hosts", list(STAND_IN_AVATAR_HOSTS))
    return EnsembleDataUserInfoOperator(task_id="users", avatar_storage=url, **kwargs)


def by_key(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {record["lookup_key"]: record for record in records}


def test_avatars_are_stored_content_addressed_and_recorded(
    tiktok_stand_in: StandInServer, tmp_path: Path, context: dict[str, Any]
) -> None:
    alice = user_for_username("alice")
    png = user_for_username(PNG_AVATAR_USER)

    records = by_key(
        ensembledata_operator(tmp_path, usernames=["alice", PNG_AVATAR_USER]).execute(context)
    )

    assert stored_files(tmp_path) == {
        f"ensembledata/{alice.user_id}/{JPEG_SHA256}.jpg": AVATAR_JPEG,
        f"ensembledata/{png.user_id}/{PNG_SHA256}.png": AVATAR_PNG,
    }
    assert records["alice"]["avatar_path"] == (
        f"{tmp_path.as_uri()}/ensembledata/{alice.user_id}/{JPEG_SHA256}.jpg"
    )
    for record in records.values():
        stored = Path(record["avatar_path"].removeprefix("file://")).read_bytes()
        assert record["avatar_sha256"] == hashlib.sha256(stored).hexdigest()
        assert record["avatar_error"] is None and record["status"] == "found"


def test_research_avatars_go_under_the_lookup_key(
    tiktok_stand_in: StandInServer, tmp_path: Path, context: dict[str, Any]
) -> None:
    operator = TikTokResearchUserInfoOperator(
        task_id="users",
        usernames=["alice"],
        avatar_storage=str(tmp_path),
        avatar_allowed_hosts=list(STAND_IN_AVATAR_HOSTS),
    )

    [record] = operator.execute(context)

    assert record["user_id"] is None  # the Research API has no numeric id
    assert stored_files(tmp_path) == {f"tiktok_research/alice/{JPEG_SHA256}.jpg": AVATAR_JPEG}
    assert record["avatar_path"] == f"{tmp_path.as_uri()}/tiktok_research/alice/{JPEG_SHA256}.jpg"
    assert record["avatar_sha256"] == JPEG_SHA256


def test_an_unchanged_avatar_is_written_once(
    tiktok_stand_in: StandInServer, tmp_path: Path, context: dict[str, Any]
) -> None:
    [first] = ensembledata_operator(tmp_path, usernames=["alice"]).execute(context)
    stored = Path(first["avatar_path"].removeprefix("file://"))
    os.utime(stored, ns=(1_000_000_000, 1_000_000_000))  # a write would move the mtime

    [second] = ensembledata_operator(tmp_path, usernames=["alice"]).execute(context)

    assert len(avatar_requests(tiktok_stand_in)) == 2  # downloaded again: the URL may change
    assert second["avatar_path"] == first["avatar_path"]
    assert second["avatar_sha256"] == first["avatar_sha256"]
    assert stored.stat().st_mtime_ns == 1_000_000_000
    assert len(stored_files(tmp_path)) == 1


def test_a_partly_written_avatar_is_written_again(
    tiktok_stand_in: StandInServer, tmp_path: Path, context: dict[str, Any]
) -> None:
    alice = user_for_username("alice")
    partial = tmp_path / "ensembledata" / alice.user_id / f"{JPEG_SHA256}.jpg"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(AVATAR_JPEG[:50])

    ensembledata_operator(tmp_path, usernames=["alice"]).execute(context)

    assert partial.read_bytes() == AVATAR_JPEG


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        (OVERSIZE_AVATAR_USER, "is 6291456 bytes, more than 5242880: refused"),
        (NOT_IMAGE_AVATAR_USER, "sent 'text/html', not an image: refused"),
        (EXPIRED_AVATAR_USER, "refused the download; a signed avatar URL is refused once"),
    ],
)
def test_a_failed_avatar_is_recorded_and_the_user_stays_found(
    tiktok_stand_in: StandInServer,
    tmp_path: Path,
    context: dict[str, Any],
    username: str,
    reason: str,
) -> None:
    records = by_key(
        ensembledata_operator(tmp_path, usernames=[username, "alice"]).execute(context)
    )

    failed = records[username]
    assert failed["status"] == "found"
    assert failed["follower_count"] is not None and failed["avatar_url"]
    assert failed["avatar_path"] is None and failed["avatar_sha256"] is None
    assert failed["avatar_error"].startswith("Download failed: ")
    assert reason in failed["avatar_error"]
    assert records["alice"]["avatar_sha256"] == JPEG_SHA256  # the others are archived
    assert list(stored_files(tmp_path)) == [
        f"ensembledata/{user_for_username('alice').user_id}/{JPEG_SHA256}.jpg"
    ]


def test_a_smaller_avatar_max_bytes_refuses_the_usual_avatar(
    tiktok_stand_in: StandInServer, tmp_path: Path, context: dict[str, Any]
) -> None:
    [record] = ensembledata_operator(tmp_path, usernames=["alice"], avatar_max_bytes=100).execute(
        context
    )

    assert record["status"] == "found"
    assert f"is {len(AVATAR_JPEG)} bytes, more than 100: refused" in record["avatar_error"]
    assert stored_files(tmp_path) == {}


def test_a_storage_error_is_recorded_not_raised(
    tiktok_stand_in: StandInServer, tmp_path: Path, context: dict[str, Any]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"not a folder")

    [record] = ensembledata_operator(blocker / "avatars", usernames=["alice"]).execute(context)

    assert record["status"] == "found"
    assert record["avatar_path"] is None
    assert record["avatar_error"].startswith(f"Could not store {blocker.as_uri()}/avatars/")


def test_no_credential_reaches_the_image_host(
    tiktok_stand_in: StandInServer, tmp_path: Path, context: dict[str, Any]
) -> None:
    ensembledata_operator(tmp_path, usernames=["alice"]).execute(context)
    TikTokResearchUserInfoOperator(
        task_id="research",
        usernames=["bob"],
        avatar_storage=tmp_path.as_uri(),
        avatar_allowed_hosts=list(STAND_IN_AVATAR_HOSTS),
    ).execute(context)

    api_calls = [r for r in tiktok_stand_in.request_log if not r.path.startswith("/avatars/")]
    assert any(r.query.get("token") == tiktok_stand_in.ensembledata_token for r in api_calls)
    assert any(r.headers.get("Authorization", "").startswith("Bearer ") for r in api_calls)
    downloads = avatar_requests(tiktok_stand_in)
    assert len(downloads) == 2
    for download in downloads:
        assert "token" not in download.query
        assert "Authorization" not in download.headers
        assert tiktok_stand_in.ensembledata_token not in repr(download)


def test_without_avatar_storage_nothing_is_downloaded(
    tiktok_stand_in: StandInServer, context: dict[str, Any]
) -> None:
    [record] = EnsembleDataUserInfoOperator(task_id="users", usernames=["alice"]).execute(context)

    assert (record["avatar_path"], record["avatar_sha256"], record["avatar_error"]) == (
        None,
        None,
        None,
    )
    assert avatar_requests(tiktok_stand_in) == []


def test_failed_lookups_are_not_archived(
    tiktok_stand_in: StandInServer, tmp_path: Path, context: dict[str, Any]
) -> None:
    [record] = ensembledata_operator(tmp_path, usernames=[MISSING_USER]).execute(context)

    assert record["status"] == "not_found"
    assert record["avatar_error"] is None
    assert avatar_requests(tiktok_stand_in) == []


def test_a_storage_without_its_filesystem_fails_before_any_request(
    tiktok_stand_in: StandInServer, context: dict[str, Any]
) -> None:
    operator = ensembledata_operator(
        "s3://bucket/prefix", avatar_storage_conn_id="aws_default", usernames=["alice"]
    )

    with pytest.raises(ValueError, match="avatar_storage 's3://bucket/prefix' cannot be opened"):
        operator.execute(context)
    assert len(tiktok_stand_in.request_log) == 0


def test_avatar_storage_is_templated() -> None:
    for operator in (
        EnsembleDataUserInfoOperator(task_id="a", usernames=["alice"]),
        TikTokResearchUserInfoOperator(task_id="b", usernames=["alice"]),
    ):
        assert {"avatar_storage", "avatar_storage_conn_id"} <= set(operator.template_fields)


@pytest.mark.parametrize(
    ("content_type", "extension"),
    [
        ("image/jpeg", "jpg"),
        ("IMAGE/JPEG; charset=binary", "jpg"),
        ("image/png", "png"),
        ("image/webp", "webp"),
        ("image/gif", "gif"),
        ("image/avif", "avif"),
        ("image/svg+xml", "svg"),
        ("image/x.weird-thing", "img"),
    ],
)
def test_extension_for(content_type: str, extension: str) -> None:
    assert extension_for(content_type) == extension


@pytest.mark.parametrize("lookup_key", ["..", ".", "a/b"])
def test_a_key_that_could_leave_the_folder_becomes_a_hash(tmp_path: Path, lookup_key: str) -> None:
    archive = AvatarArchive(storage_path(tmp_path.as_uri()))
    user = failed_lookup(
        source="tiktok_research",
        lookup_type="username",
        lookup_key=lookup_key,
        status="error",
        error="x",
    )

    path = archive.path_for(user, JPEG_SHA256, "jpg")

    owner = "key-" + hashlib.sha256(lookup_key.encode()).hexdigest()[:40]
    assert str(path) == f"{tmp_path.as_uri()}/tiktok_research/{owner}/{JPEG_SHA256}.jpg"


def test_the_archive_is_none_without_a_url() -> None:
    assert AvatarArchive.open(None) is None
    assert AvatarArchive.open("") is None


def test_the_stored_url_leaves_out_the_connection_id() -> None:
    archive = AvatarArchive(storage_path("s3://bucket/prefix", "aws_default"))
    user = TikTokUser.from_dict(
        {
            "source": "ensembledata",
            "lookup_type": "username",
            "lookup_key": "alice",
            "status": "found",
            "user_id": "6800000000000000001",
            "fetched_at": "2026-11-01T00:00:00+00:00",
        }
    )

    path = archive.path_for(user, JPEG_SHA256, "jpg")

    assert (
        public_url(path) == f"s3://bucket/prefix/ensembledata/6800000000000000001/{JPEG_SHA256}.jpg"
    )


def test_by_default_only_tiktoks_image_hosts_are_fetched_and_a_refusal_is_the_avatar_error(
    tiktok_stand_in: StandInServer, tmp_path: Path, context: dict[str, Any]
) -> None:
    operator = ensembledata_operator(
        tmp_path, usernames=["alice", "bob"], avatar_allowed_hosts=None
    )

    records = operator.execute(context)

    assert [record["status"] for record in records] == ["found", "found"]
    for record in records:
        assert record["avatar_path"] is None
        assert "names an IP address, not an allowed image host: refused" in record["avatar_error"]
    assert avatar_requests(tiktok_stand_in) == []
    assert stored_files(tmp_path) == {}


def test_an_avatar_pointing_into_the_private_network_gets_no_connection(
    tiktok_stand_in: StandInServer, tmp_path: Path, loopback_guard: LoopbackGuard
) -> None:
    archive = AvatarArchive(
        storage_path(tmp_path.as_uri()),
        allowed_hosts=ImageHostPolicy.from_entries(STAND_IN_AVATAR_HOSTS),
    )
    hook = EnsembleDataHook()
    with private_network_server() as private_network:
        user = dataclasses.replace(user_from_stand_in("alice"), avatar_url=private_network.url())
        connects_before = list(loopback_guard.attempts)

        archived = archive.archive(user, hook)

        assert private_network.connections == 0
    assert archived.status == "found"
    assert archived.avatar_error is not None
    assert "127.0.0.2" in archived.avatar_error and "refused" in archived.avatar_error
    assert loopback_guard.attempts == connects_before
    assert archive.failed == 1
    hook.close()


def user_from_stand_in(username: str) -> TikTokUser:
    """A found record as the stand-in's EnsembleData would give it, fetched for real."""
    hook = EnsembleDataHook()
    try:
        return EnsembleDataUserSource(hook).fetch(Lookup("username", username))
    finally:
        hook.close()

from __future__ import annotations

from pathlib import Path

from airflow_provider_tiktok.compliance.avatar_purge import AvatarPurge


def test_every_object_in_the_owner_folders_and_every_referred_object_is_deleted(
    tmp_path: Path,
) -> None:
    root = tmp_path / "avatars"
    mine = root / "tiktok_research" / "bob"
    mine.mkdir(parents=True)
    (mine / "a.jpg").write_bytes(b"a")
    (mine / "b.jpg").write_bytes(b"b")
    elsewhere = tmp_path / "old" / "c.jpg"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"c")
    kept = root / "tiktok_research" / "alice" / "d.jpg"
    kept.parent.mkdir()
    kept.write_bytes(b"d")
    purge = AvatarPurge(root.as_uri())

    deleted = purge.delete(
        "tiktok_research", ["bob"], [elsewhere.as_uri(), (mine / "a.jpg").as_uri()]
    )

    assert deleted == 3
    assert not mine.exists()
    assert not elsewhere.exists()
    assert kept.exists()
    assert purge.delete("tiktok_research", ["bob"], [elsewhere.as_uri()]) == 0


def test_without_a_root_only_referred_objects_go(tmp_path: Path) -> None:
    image = tmp_path / "x.jpg"
    image.write_bytes(b"x")

    assert AvatarPurge(None).delete("tiktok_research", ["x"], [image.as_uri()]) == 1
    assert not image.exists()

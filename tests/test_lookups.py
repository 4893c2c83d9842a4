"""Normalizing and checking usernames, sec_uids and list arguments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from airflow_provider_tiktok.lookups import (
    SEC_UID_MAX_LENGTH,
    SEC_UID_MIN_LENGTH,
    USERNAME_MAX_LENGTH,
    as_list,
    build_lookups,
    normalize_sec_uid,
    normalize_username,
    parse_lookup_values,
    parse_rendered_list,
)

SEC_UID = "MS4wLjABAAAAv7iSuuXDJGDvJkmH_vz1qkDZYo1apxgzaxdBSeIuPiM"


@pytest.mark.parametrize(
    ("supplied", "expected"),
    [
        ("someuser", "someuser"),
        ("  someuser\t\n", "someuser"),
        ("@someuser", "someuser"),
        (" @some.user_1 ", "some.user_1"),
        ("https://www.tiktok.com/@someuser", "someuser"),
        ("https://www.tiktok.com/@someuser?lang=en", "someuser"),
        ("https://www.tiktok.com/@someuser/", "someuser"),
        ("http://tiktok.com/@someuser#top", "someuser"),
        ("https://m.tiktok.com/@someuser/video/1", "someuser"),
        ("m.tiktok.com/@someuser/video/1", "someuser"),
        ("www.tiktok.com/@someuser", "someuser"),
        ("HTTPS://WWW.TIKTOK.COM/@SomeUser", "SomeUser"),
        ("a" * USERNAME_MAX_LENGTH, "a" * USERNAME_MAX_LENGTH),
    ],
)
def test_usernames_handles_and_profile_urls_give_the_bare_username(
    supplied: str, expected: str
) -> None:
    assert normalize_username(supplied) == expected


@pytest.mark.parametrize(
    ("supplied", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("@", "empty"),
        ("a" * (USERNAME_MAX_LENGTH + 1), "longer than"),
        ("some user", "only letters"),
        ("some-user", "only letters"),
        ("@@someuser", "only letters"),
        ("名前", "only letters"),
        ("https://example.com/@someuser", "not a tiktok.com URL"),
        ("https://tiktok.com.evil.example/@someuser", "not a tiktok.com URL"),
        ("https://www.tiktok.com/", "expected https://www.tiktok.com/@<username>"),
        ("https://www.tiktok.com/@", "expected https://www.tiktok.com/@<username>"),
        ("https://vm.tiktok.com/ZMabc123/", "expected https://www.tiktok.com/@<username>"),
    ],
)
def test_bad_usernames_raise_value_error_naming_the_value(supplied: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_username(supplied)

    assert repr(supplied) in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize("supplied", [None, 42, ["someuser"], b"someuser"])
def test_a_username_that_is_not_a_string_is_refused(supplied: Any) -> None:
    with pytest.raises(ValueError, match="must be a string") as info:
        normalize_username(supplied)

    assert repr(supplied) in str(info.value)


def test_a_very_long_bad_value_is_shortened_in_the_message() -> None:
    with pytest.raises(ValueError) as info:
        normalize_username("x" * 10_000)

    assert len(str(info.value)) < 200
    assert "'xxxx" in str(info.value)


@pytest.mark.parametrize(
    ("supplied", "expected"),
    [
        (SEC_UID, SEC_UID),
        (f"  {SEC_UID}\n", SEC_UID),
        ("A" * SEC_UID_MIN_LENGTH, "A" * SEC_UID_MIN_LENGTH),
        ("A" * SEC_UID_MAX_LENGTH, "A" * SEC_UID_MAX_LENGTH),
        ("MS4wLjABAAAA-abc_def.ghi0123456", "MS4wLjABAAAA-abc_def.ghi0123456"),
    ],
)
def test_well_formed_sec_uids_are_kept_stripped(supplied: str, expected: str) -> None:
    assert normalize_sec_uid(supplied) == expected


@pytest.mark.parametrize(
    ("supplied", "reason"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("A" * (SEC_UID_MIN_LENGTH - 1), "expected 20 to 200 characters"),
        ("A" * (SEC_UID_MAX_LENGTH + 1), "expected 20 to 200 characters"),
        ("MS4wLjABAAAA/../../etc/passwd", "only letters"),
        ("MS4wLjABAAAA v7iSuuXDJGDvJkmH", "only letters"),
        ("MS4wLjABAAAA?token=abcdefgh", "only letters"),
    ],
)
def test_bad_sec_uids_raise_value_error_naming_the_value(supplied: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_sec_uid(supplied)

    assert repr(supplied)[:60] in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize("supplied", [None, 7, [SEC_UID]])
def test_a_sec_uid_that_is_not_a_string_is_refused(supplied: Any) -> None:
    with pytest.raises(ValueError, match="sec_uid must be a string"):
        normalize_sec_uid(supplied)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("someuser", ["someuser"]),
        ("", [""]),
        (["a", "b"], ["a", "b"]),
        (("a", "b"), ["a", "b"]),
        ({"a"}, ["a"]),
    ],
)
def test_as_list_accepts_one_string_or_an_iterable_of_strings(
    value: str | Iterable[str] | None, expected: list[str]
) -> None:
    assert as_list(value, name="usernames") == expected


def test_as_list_accepts_a_generator_of_strings() -> None:
    # Made in the test, not in a parametrize list: a generator can be consumed only once.
    assert as_list((name for name in ("a", "b")), name="usernames") == ["a", "b"]


@pytest.mark.parametrize("value", [b"someuser", {"a": 1}, 42])
def test_as_list_refuses_other_values_naming_the_argument(value: Any) -> None:
    with pytest.raises(ValueError, match="usernames must be a string or a list of strings"):
        as_list(value, name="usernames")


@pytest.mark.parametrize(
    ("supplied", "expected"),
    [
        ("https://www.tiktok.com/@a", "a"),  # the shortest username a URL can carry
        ("https://www.tiktok.com/@maX/", "maX"),  # only slashes are trimmed from the path
        ("https://www.tiktok.com/@someuser/video/1/", "someuser"),
    ],
)
def test_the_username_is_the_first_segment_of_a_profile_urls_path(
    supplied: str, expected: str
) -> None:
    assert normalize_username(supplied) == expected


@pytest.mark.parametrize("scheme", ["http", "https", "HTTP"])
def test_any_web_url_is_read_as_a_profile_url_and_refused_when_not_tiktoks(scheme: str) -> None:
    with pytest.raises(ValueError, match=r"not a tiktok\.com URL"):
        normalize_username(f"{scheme}://example.com/@someuser")


def test_the_message_says_which_characters_a_username_may_have() -> None:
    with pytest.raises(ValueError) as info:
        normalize_username("some user")

    assert str(info.value) == (
        "Invalid TikTok username 'some user': only letters, digits, '_' and '.' are allowed"
    )


@pytest.mark.parametrize(
    ("length", "shown"),
    [(78, None), (79, "'" + "x" * 76 + "..."), (200, "'" + "x" * 76 + "...")],
    ids=["80-chars-whole", "81-chars-shortened", "long-shortened"],
)
def test_a_value_is_shown_whole_up_to_80_characters_then_cut_to_77_and_dots(
    length: int, shown: str | None
) -> None:
    value = "x" * length  # its repr has two quotes more
    with pytest.raises(ValueError) as info:
        normalize_username(value)

    message = str(info.value)
    assert message.startswith(f"Invalid TikTok username {shown or repr(value)}: ")


@pytest.mark.parametrize("call", [normalize_sec_uid, normalize_username])
def test_a_value_that_is_not_a_string_is_named_in_the_message(call: Any) -> None:
    with pytest.raises(ValueError, match=r"must be a string, got \[12345\]$"):
        call([12345])


def test_as_list_names_the_value_it_refuses() -> None:
    with pytest.raises(ValueError, match=r"got b'someuser'$"):
        as_list(b"someuser", name="usernames")


@pytest.mark.parametrize(
    ("usernames", "sec_uids", "message"),
    [
        (["someuser"], [SEC_UID], "Give either usernames or sec_uids, not both"),
        (None, None, "Give at least one username or sec_uid to fetch"),
        ([], None, "Give at least one username or sec_uid to fetch"),
        ('["a", ', None, "usernames is not a valid JSON list: '[\"a\", '"),
        (None, '["a", ', "sec_uids is not a valid JSON list: '[\"a\", '"),
        ({"a": 1}, None, "usernames must be a string or a list of strings, got {'a': 1}"),
        (None, 42, "sec_uids must be a string or a list of strings, got 42"),
        ('["a", 1]', None, "A username must be a string, got 1"),
    ],
)
def test_build_lookups_refuses_bad_arguments_in_plain_words(
    usernames: Any, sec_uids: Any, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        build_lookups(usernames, sec_uids)

    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("rendered", "expected"),
    [
        ('["tiktok", "@khaby.lame"]', ["tiktok", "@khaby.lame"]),  # JSON, var.value
        ("['tiktok', '@khaby.lame']", ["tiktok", "@khaby.lame"]),  # var.json, xcom_pull
        ("  ('tiktok', 'khaby.lame')  ", ["tiktok", "khaby.lame"]),  # a tuple's repr
        ("[]", []),
    ],
)
def test_a_rendered_list_is_read_from_json_or_from_the_python_repr_jinja_gives(
    rendered: str, expected: list[str]
) -> None:
    assert parse_rendered_list(rendered, name="usernames") == expected
    assert parse_lookup_values(rendered, name="usernames") == expected


def test_text_that_is_not_in_brackets_is_left_to_the_caller() -> None:
    assert parse_rendered_list("tiktok, khaby.lame", name="usernames") is None


@pytest.mark.parametrize(
    "rendered",
    [
        "[__import__('os').system('true')]",  # code: never evaluated
        "['tiktok', 42]",  # a literal, but not only strings
        "[{'user': 'tiktok'}]",
        "['tiktok',",
        "(1, 2)",
    ],
)
def test_a_rendered_list_that_is_not_a_list_of_string_literals_is_refused(
    rendered: str,
) -> None:
    with pytest.raises(ValueError, match=r"usernames is not a valid JSON list: .*Python list"):
        parse_rendered_list(rendered, name="usernames")


def test_a_refused_rendered_list_says_what_is_read_in_full() -> None:
    with pytest.raises(ValueError) as info:
        parse_rendered_list("['tiktok', 42]", name="usernames")

    assert str(info.value) == (
        "usernames is not a valid JSON list: \"['tiktok', 42]\" (a Python list of strings, "
        "as Jinja renders one, is read too)"
    )

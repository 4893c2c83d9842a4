"""The image bytes the stand-in synthesizes are valid files of their kind."""

from __future__ import annotations

import struct
import zlib

from airflow_provider_tiktok.testing.stand_in.images import (
    AVATAR_JPEG,
    AVATAR_PNG,
    OVERSIZE_AVATAR_BYTES,
    oversize_jpeg,
)


def jpeg_segments(image: bytes) -> list[int]:
    """The markers of a JPEG's segments up to the scan, checking every length on the way."""
    assert image[:2] == b"\xff\xd8" and image[-2:] == b"\xff\xd9"
    markers, position = [], 2
    while image[position + 1] != 0xDA:
        assert image[position] == 0xFF
        markers.append(image[position + 1])
        position += 2 + int.from_bytes(image[position + 2 : position + 4], "big")
    return markers


def test_the_png_is_a_valid_png() -> None:
    assert AVATAR_PNG.startswith(b"\x89PNG\r\n\x1a\n")
    position, kinds = 8, []
    while position < len(AVATAR_PNG):
        (length,) = struct.unpack(">I", AVATAR_PNG[position : position + 4])
        kind = AVATAR_PNG[position + 4 : position + 8]
        payload = AVATAR_PNG[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", AVATAR_PNG[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + payload)
        kinds.append(kind)
        position += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]


def test_the_oversize_jpeg_is_the_small_one_padded_with_comments() -> None:
    image = oversize_jpeg()

    assert len(image) == OVERSIZE_AVATAR_BYTES > 5 * 1024 * 1024
    markers = jpeg_segments(image)
    assert markers.count(0xFE) > 90  # comment segments as padding
    assert jpeg_segments(AVATAR_JPEG) == [m for m in markers if m != 0xFE]

"""The image bytes the stand-in serves behind avatar URLs, synthesized at import.

Each is a valid file of its kind, small and built by hand from the format's own structure
(no imaging library), so a client that checks signatures, lengths or checksums accepts it.
"""

from __future__ import annotations

import functools
import zlib


def _placeholder_jpeg() -> bytes:
    """A valid 8x8 grey baseline JPEG (159 bytes), the picture behind every avatar URL."""

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    one_code_of_length_one = bytes([1] + [0] * 15)
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xDB, b"\x00" + b"\x01" * 64)
        + segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")
        + segment(0xC4, b"\x00" + one_code_of_length_one + b"\x00")
        + segment(0xC4, b"\x10" + one_code_of_length_one + b"\x00")
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x3f\xff\xd9"
    )


AVATAR_JPEG = _placeholder_jpeg()
"""The bytes served for every avatar URL, but those of :data:`~.users.RESERVED_AVATARS`."""


def _placeholder_png() -> bytes:
    """A valid 8x8 grey PNG, the avatar of :data:`~.users.PNG_AVATAR_USER`."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        checksum = zlib.crc32(kind + payload).to_bytes(4, "big")
        return len(payload).to_bytes(4, "big") + kind + payload + checksum

    header = (8).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 8-bit greyscale
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * 8 for _ in range(8)))
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


AVATAR_PNG = _placeholder_png()
"""The avatar of :data:`~.users.PNG_AVATAR_USER`."""

OVERSIZE_AVATAR_BYTES = 6 * 1024 * 1024
"""The size of :data:`~.users.OVERSIZE_AVATAR_USER`'s avatar: over the default 5 MiB."""

NOT_IMAGE_AVATAR = b"<!doctype html><title>Not an image</title><p>Please log in</p>"
"""The HTML page behind :data:`~.users.NOT_IMAGE_AVATAR_USER`'s avatar URL."""


@functools.cache
def oversize_jpeg() -> bytes:
    """:data:`AVATAR_JPEG` padded with comment segments to :data:`OVERSIZE_AVATAR_BYTES`.

    Built on first use and kept: 6 MiB is too much to build at import.
    """
    padding = bytearray()
    missing = OVERSIZE_AVATAR_BYTES - len(AVATAR_JPEG)
    while missing >= 4:
        size = min(missing - 4, 0xFFFF - 2)
        padding += b"\xff\xfe" + (size + 2).to_bytes(2, "big") + b"\x00" * size
        missing -= size + 4
    return AVATAR_JPEG[:2] + bytes(padding) + AVATAR_JPEG[2:]

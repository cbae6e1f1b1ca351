"""Files are judged by their bytes: the declared type is never trusted, and executables,
markup and oversized files are refused with a reason."""

import io
import zipfile

import pytest

from server.media import checks
from server.media.checks import DOCX, MB, Refused

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
OGG = b"OggS\x00\x02" + b"\x00" * 64
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64


def office_zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("[Content_Types].xml", *names):
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize(("kind", "data", "expected"), [
    ("image", JPEG, "image/jpeg"), ("image", PNG, "image/png"), ("voice", OGG, "audio/ogg"),
    ("audio", M4A, "audio/mp4"), ("voice", MP4, "audio/mp4"), ("video", MP4, "video/mp4"),
    ("document", PDF, "application/pdf"), ("document", office_zip("word/document.xml"), DOCX),
    ("document", "Order HP-10001 for Zoë, thanks!\n".encode(), "text/plain"),
])
def test_allowed_files_get_their_sniffed_type(kind, data, expected):
    assert checks.inspect(kind, data, 16 * MB) == expected


@pytest.mark.parametrize(("kind", "data", "reason"), [
    ("document", b"MZ\x90\x00" + b"\x00" * 60, "executable"),
    ("document", b"\x7fELF\x02\x01" + b"\x00" * 60, "executable"),
    ("document", b"#!/bin/sh\nrm -rf /\n", "executable"),
    ("image", b"<html><script>alert(1)</script></html>", "HTML"),
    ("image", b'<?xml version="1.0"?><svg onload="alert(1)"/>', "HTML"),
    ("document", b"  <svg xmlns='http://www.w3.org/2000/svg'></svg>", "HTML"),
    ("document", b"hello <script>x</script>", "HTML"),
    ("document", office_zip("word/document.xml", "word/vbaProject.bin"), "unrecognised"),
    ("document", office_zip("classes.dex"), "unrecognised"),
    ("image", PDF, "not an allowed type for image: application/pdf"),
    ("voice", JPEG, "not an allowed type"),
    ("image", b"", "empty"),
    ("document", b"\x00\x01\x02binary", "unrecognised"),
])
def test_dangerous_or_mismatched_files_are_refused(kind, data, reason):
    with pytest.raises(Refused, match=reason):
        checks.inspect(kind, data, 16 * MB)


def test_size_limits_are_the_smaller_of_ours_and_whatsapps():
    with pytest.raises(Refused, match="too large: 5.0 MB over the 5.0 MB limit for image"):
        checks.inspect("image", JPEG + b"\x00" * (5 * MB), 16 * MB)
    with pytest.raises(Refused, match="limit for document"):
        checks.inspect("document", PDF + b"0" * MB, MB)
    assert checks.inspect("document", PDF, MB) == "application/pdf"

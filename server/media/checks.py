"""What a customer's file may be: its type read from its first bytes, never from what the
sender declared, and its size within WhatsApp's limit for its kind and ours.

Refused outright: executables (PE, ELF, Mach-O, scripts), HTML, SVG and XML (they run script in
a browser), macro-enabled Office files, and anything unrecognised. A file is kept only if its
sniffed type is one WhatsApp allows for the message's kind; the stored type is the sniffed one.
"""

from __future__ import annotations

import io
import zipfile

MB = 1024 * 1024
AUDIO = frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"})
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
OLE_TYPES = frozenset({"application/msword", "application/vnd.ms-excel",
                       "application/vnd.ms-powerpoint"})
ALLOWED: dict[str, frozenset[str]] = {
    "image": frozenset({"image/jpeg", "image/png", "image/webp"}),
    "sticker": frozenset({"image/webp", "image/png"}),
    "audio": AUDIO,
    "voice": AUDIO,
    "video": frozenset({"video/mp4", "video/3gpp"}),
    "document": frozenset({"application/pdf", "text/plain", DOCX, XLSX, PPTX} | OLE_TYPES),
}
"""WhatsApp's supported media types per message kind (stickers are WebP; PNG for Twilio's)."""
KIND_LIMITS = {"image": 5 * MB, "sticker": 500 * 1024, "audio": 16 * MB, "voice": 16 * MB,
               "video": 16 * MB, "document": 100 * MB}
"""WhatsApp's own size limits per kind; the configured cap (MEDIA__MAX_BYTES) applies too."""
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "audio/aac": "aac",
              "audio/amr": "amr", "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/ogg": "ogg",
              "video/mp4": "mp4", "video/3gpp": "3gp", "application/pdf": "pdf",
              "text/plain": "txt", DOCX: "docx", XLSX: "xlsx", PPTX: "pptx",
              "application/msword": "doc", "application/vnd.ms-excel": "xls",
              "application/vnd.ms-powerpoint": "ppt"}
_EXECUTABLE = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
               b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!", b"\x00asm", b"dex\n")
_MARKUP = (b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml", b"<iframe",
           b"<object", b"<embed", b"<meta", b"<a ", b"<img", b"<div", b"<style", b"<link")


class Refused(ValueError):
    """The file is not kept; the message says why (no content, only types and sizes)."""


def size_limit(kind: str, max_bytes: int) -> int:
    """The largest file of this kind that is kept."""
    return min(max_bytes, KIND_LIMITS.get(kind, max_bytes))


def check_size(kind: str, size: int, max_bytes: int) -> None:
    """Refuse a file over its kind's size limit."""
    limit = size_limit(kind, max_bytes)
    if size > limit:
        raise Refused(f"too large: {size_text(size)} over the {size_text(limit)} limit for {kind}")


def inspect(kind: str, data: bytes, max_bytes: int) -> str:
    """The file's real MIME type if it may be kept as a `kind`; else Refused."""
    check_size(kind, len(data), max_bytes)
    if not data:
        raise Refused("empty file")
    head = data[:1024]
    if head.startswith(_EXECUTABLE):
        raise Refused("an executable or script")
    found = sniff(data)
    if found is None and _looks_like_markup(head):
        raise Refused("HTML, SVG or XML")
    if found is None:
        raise Refused("unrecognised content")
    if kind in ("audio", "voice") and found in ("video/mp4", "video/3gpp"):
        found = "audio/mp4"  # an MP4 container holding sound (iPhone voice memos)
    if found not in ALLOWED.get(kind, frozenset()):
        raise Refused(f"not an allowed type for {kind}: {found}")
    return found


def sniff(data: bytes) -> str | None:
    """The type its magic bytes say, among the types WhatsApp carries; None otherwise."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"#!AMR"):
        return "audio/amr"
    if data.startswith(b"ID3"):
        return "audio/mpeg"
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:
        return "audio/aac"  # ADTS frame sync, layer 0
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # MPEG audio frame sync
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand.startswith((b"M4A", b"M4B")):
            return "audio/mp4"
        return "video/3gpp" if brand.startswith((b"3gp", b"3g2")) else "video/mp4"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"PK\x03\x04"):
        return _office_zip(data)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _ole(data)
    return "text/plain" if _plain_text(data) else None


def extension(mime: str) -> str:
    """The file extension a checked content type is stored with."""
    return EXTENSIONS.get(mime, "bin")


def _office_zip(data: bytes) -> str | None:
    """DOCX, XLSX or PPTX; None for any other zip (an APK, a JAR) or a macro-enabled file."""
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names or any(n.lower().endswith("vbaproject.bin") for n in names):
        return None
    for prefix, mime in (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX)):
        if any(n.startswith(prefix) for n in names):
            return mime
    return None


def _ole(data: bytes) -> str | None:
    """Legacy Office files share one container; its stream names tell Word, Excel, PowerPoint
    apart (UTF-16 names in the directory). An installer (MSI) or anything else is refused."""
    for marker, mime in (("WordDocument", "application/msword"),
                         ("Workbook", "application/vnd.ms-excel"),
                         ("PowerPoint Document", "application/vnd.ms-powerpoint")):
        if marker.encode("utf-16-le") in data:
            return mime
    return None


def _plain_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not _looks_like_markup(text[:1024].encode())


def _looks_like_markup(head: bytes) -> bool:
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return lowered.startswith(b"<") or any(tag in lowered for tag in _MARKUP)


def size_text(size: int) -> str:
    """A size for people: '1.2 MB', '300 KB'."""
    return f"{size / MB:.1f} MB" if size >= MB / 10 else f"{size / 1024:.0f} KB"

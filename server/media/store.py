"""Where customers' files are kept: a local directory (DATA_DIR/media) by default, or an
S3-compatible bucket when MEDIA__S3_BUCKET is set. Both behind `MediaStore`.

Keys are ours ("2026/12/03/<random hex>"), never a customer's file name or number. The console
reaches a file through `delivery`: a local file is served by the app (server/console/media.py);
a bucket's is a presigned URL that lives a minute.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from graph.base.settings import MediaSettings, Settings

KEY = re.compile(r"\d{4}/\d{2}/\d{2}/[0-9a-f]{32}\.[a-z0-9]{1,5}")
PRESIGNED_S = 60


class MediaStore(Protocol):
    """Where kept files live: a local directory or an S3-compatible bucket."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None:
        """Remove the file; one already gone is not an error (erasure and pruning re-run)."""
        ...

    async def delivery(self, key: str, *, content_type: str, download_name: str,
                       inline: bool) -> Path | str:
        """The file to serve (Path), or a short-lived URL to send the browser to (str)."""
        ...


def new_key(extension: str, now: datetime | None = None) -> str:
    """A fresh, unguessable storage key under the day's folder."""
    return f"{(now or datetime.now(UTC)):%Y/%m/%d}/{secrets.token_hex(16)}.{extension}"


def _checked(key: str) -> str:
    if not KEY.fullmatch(key):  # keys come from our own rows; anything else is a bug or tampering
        raise ValueError("not a media key")
    return key


def disposition(download_name: str, inline: bool) -> str:
    """Content-Disposition with an ASCII fallback name and the UTF-8 one (RFC 6266)."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", download_name)[:100] or "file"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(download_name[:150])}"


class LocalMediaStore:
    """Files in a local directory (the default)."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / _checked(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self.path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written aside, then renamed: a crash never leaves half a file under the key.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    async def delivery(self, key: str, *, content_type: str, download_name: str,
                       inline: bool) -> Path | str:
        return self.path(key)


class S3MediaStore:
    """An S3 bucket through boto3 (its calls run in a thread; the client is thread-safe)."""

    def __init__(self, config: MediaSettings):
        self.bucket, self.prefix = config.s3_bucket, config.s3_prefix
        self.client = s3_client(config)

    def _key(self, key: str) -> str:
        return self.prefix + _checked(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=self._key(key),
                                Body=data, ContentType=content_type)

    async def get(self, key: str) -> bytes:
        response = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket,
                                           Key=self._key(key))
        return await asyncio.to_thread(response["Body"].read)

    async def delete(self, key: str) -> None:  # S3 answers 204 for a missing key as well
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    async def delivery(self, key: str, *, content_type: str, download_name: str,
                       inline: bool) -> Path | str:
        return self.client.generate_presigned_url("get_object", ExpiresIn=PRESIGNED_S, Params={
            "Bucket": self.bucket, "Key": self._key(key), "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition(download_name, inline)})


def s3_client(config: MediaSettings):
    """A boto3 S3 client for the configured bucket and endpoint."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as error:  # an optional dependency
        raise RuntimeError("MEDIA__S3_BUCKET is set but boto3 is not installed:"
                           " pip install 'switchboard[s3]'") from error
    secret = config.s3_secret_key.get_secret_value() if config.s3_secret_key else None
    # Custom endpoints (MinIO, R2, ...) want path-style addressing; AWS picks its own.
    style = {"addressing_style": "path"} if config.s3_endpoint_url else {}
    return boto3.client("s3", endpoint_url=config.s3_endpoint_url, region_name=config.s3_region,
                        aws_access_key_id=config.s3_access_key, aws_secret_access_key=secret,
                        config=Config(signature_version="s3v4", s3=style))


def open_store(settings: Settings) -> MediaStore:
    """The configured media store: S3 when a bucket is set, else the data directory."""
    config = settings.media
    if config.s3_bucket:
        return S3MediaStore(config)
    return LocalMediaStore(config.dir or Path(settings.data_dir) / "media")


def browser_origins(settings: Settings) -> list[str]:
    """Origins the console's pages load media from besides their own: the bucket's presigned
    URLs when media is kept in S3 (for the Content-Security-Policy); none for a local store."""
    if not settings.media.s3_bucket:
        return []
    url = s3_client(settings.media).generate_presigned_url(
        "get_object", Params={"Bucket": settings.media.s3_bucket, "Key": "origin"}, ExpiresIn=60)
    parts = urlsplit(url)
    return [f"{parts.scheme}://{parts.netloc}"]

"""Where the portal keeps files: one interface, two backends.

Every document the portal keeps goes through :func:`storage`: the PDFs the provider
sends, rendered invoices, Factur-X and UBL files, letters. Keys are paths with ``/``
(``stored/ab/ab12….pdf``); a key is written whole or not at all, so a reader never
sees half a file.

- **The local folder** (``DOCUMENTS_PATH``, ``instance/documents`` by default): the
  embedded default, one machine.
- **S3-compatible object storage** (AWS S3, MinIO, Ceph, Garage, Scaleway, OVH…), which
  every app server and worker shares: ``STORAGE_URL = "s3://bucket/prefix"``, with
  ``S3_ENDPOINT_URL`` (empty for AWS), ``S3_REGION`` and ``S3_ACCESS_KEY_ID`` /
  ``S3_SECRET_ACCESS_KEY`` (empty: boto3's usual environment and files).
  ``STORAGE_SIGNED_URLS`` (seconds, 0: off) sends downloads to a signed URL of the
  bucket valid that long instead of through the portal.

A store that cannot be reached or refuses raises :class:`StorageError` (answered 503,
naming the document storage); a key that is not there raises :class:`DocumentMissing`.
``guichet storage migrate`` copies an installation's local documents into its bucket.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit

from flask import current_app

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


class StorageError(RuntimeError):
    """The document storage cannot be reached or refused what was asked (a wrong key,
    a missing bucket, a full disk); ``str(error)`` says which."""


class DocumentMissing(LookupError):
    """No file is kept under this key."""


class DocumentCorrupt(StorageError):
    """A file read back does not have the SHA-256 it was kept under."""


def check_key(key: str) -> str:
    """``key`` when it is a relative path without ``..``; :class:`ValueError` otherwise."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or "\\" in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage:
    """What every backend does; the folder and the bucket behave alike."""

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` under ``key``, replacing what was there: whole or not at all."""
        raise NotImplementedError

    def open(self, key: str) -> tuple[BinaryIO, int]:
        """The file of ``key`` as a binary stream (close it) and its size;
        :class:`DocumentMissing` when there is none."""
        raise NotImplementedError

    def sizes(self, keys: Iterable[str]) -> dict[str, int]:
        """The size of each of ``keys`` that exists (one call for many)."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing when it is not there."""
        raise NotImplementedError

    def keys_under(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix`` (``"stored/"``)."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise :class:`StorageError` unless a file can be written and removed."""
        key = f".ready/{os.getpid()}-{os.urandom(4).hex()}"
        self.put(key, b"ready")
        self.delete(key)

    def signed_url(self, key: str, filename: str, media_type: str, attachment: bool) -> str | None:
        """A short-lived URL serving ``key`` straight from the store, or None (the
        local folder, or ``STORAGE_SIGNED_URLS`` off)."""
        return None

    def local_path(self, key: str) -> Path | None:
        """The file of ``key`` on this machine's disk, when the backend is a folder
        (downloads then use the operating system's sendfile)."""
        return None

    # derived, the same for every backend
    def exists(self, key: str) -> bool:
        """Whether a file is kept under ``key``."""
        return key in self.sizes([key])

    def read(self, key: str) -> bytes:
        """The whole file of ``key``."""
        stream, _size = self.open(key)
        with stream:
            return stream.read()

    def chunks(self, key: str) -> Iterator[bytes]:
        """The file of ``key`` in pieces, read as they are sent (a ZIP's members)."""
        stream, _size = self.open(key)
        with stream:
            while piece := stream.read(CHUNK):
                yield piece


class LocalStorage(Storage):
    """Files under a folder of this machine."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key, data):
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, path)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
        except OSError as error:
            raise StorageError(f"the documents folder cannot be written: {error}") from error

    def open(self, key):
        try:
            stream = self.path(key).open("rb")
        except FileNotFoundError:
            raise DocumentMissing(key) from None
        except OSError as error:
            raise StorageError(f"the documents folder cannot be read: {error}") from error
        return stream, os.fstat(stream.fileno()).st_size

    def sizes(self, keys):
        found = {}
        for key in keys:
            try:
                found[key] = os.stat(self.path(key)).st_size
            except FileNotFoundError:
                continue
            except OSError as error:
                raise StorageError(f"the documents folder cannot be read: {error}") from error
        return found

    def delete(self, key):
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"the documents folder cannot be written: {error}") from error

    def keys_under(self, prefix=""):
        base = self.root / prefix if prefix else self.root
        for folder, _dirs, files in os.walk(base):
            for name in sorted(files):
                if not name.endswith(".part"):
                    path = Path(folder) / name
                    yield path.relative_to(self.root).as_posix()

    def local_path(self, key):
        return self.path(key)


class S3Storage(Storage):
    """Objects in a bucket of S3-compatible storage, under a prefix."""

    def __init__(self, url: str, config):
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"STORAGE_URL must be s3://bucket/prefix, not {url!r}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/") + "/" if parts.path.strip("/") else ""
        self.signed_seconds = int(config.get("STORAGE_SIGNED_URLS") or 0)
        self._options = {
            "endpoint_url": config.get("S3_ENDPOINT_URL") or None,
            "region_name": config.get("S3_REGION") or None,
            "aws_access_key_id": config.get("S3_ACCESS_KEY_ID") or None,
            "aws_secret_access_key": config.get("S3_SECRET_ACCESS_KEY") or None,
        }
        self._client = None
        self._pid = None

    @property
    def client(self):
        """boto3's client, made once per process (a client is not shared across a fork)."""
        if self._client is None or self._pid != os.getpid():
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 2, "mode": "standard"},
                s3={"addressing_style": "path"},
                max_pool_connections=32,
            )
            self._client = boto3.client("s3", config=config, **self._options)
            self._pid = os.getpid()
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _call(self, what: str, method: str, **params):
        """``client.method(Bucket=…, **params)``, its failures as :class:`StorageError`
        (naming the store's own reason) or :class:`DocumentMissing`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **params)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound") and "Key" in params:
                raise DocumentMissing(params["Key"]) from None
            message = error.response.get("Error", {}).get("Message", "")
            if code == "403" and message == "Forbidden":  # a HEAD's answer has no body
                message = "access denied: a wrong key, or one not allowed this bucket"
            raise StorageError(
                f"the document storage refused to {what} (bucket {self.bucket}): {code} {message}"
            ) from error
        except BotoCoreError as error:
            raise StorageError(
                f"the document storage cannot be reached to {what}: {error}"
            ) from error

    def put(self, key, data):
        self._call("write", "put_object", Key=self._key(key), Body=data)

    def open(self, key):
        answer = self._call("read", "get_object", Key=self._key(key))
        return answer["Body"], answer["ContentLength"]

    def _size(self, key: str) -> int | None:
        try:
            return self._call("read", "head_object", Key=self._key(key))["ContentLength"]
        except DocumentMissing:
            return None

    def sizes(self, keys):
        keys = list(keys)
        if len(keys) <= 1:
            found = [self._size(k) for k in keys]
        else:
            with ThreadPoolExecutor(max_workers=16) as pool:
                found = list(pool.map(self._size, keys))
        return {k: size for k, size in zip(keys, found, strict=True) if size is not None}

    def delete(self, key):
        self._call("delete", "delete_object", Key=self._key(key))

    def keys_under(self, prefix=""):
        token = None
        while True:
            params = {"Prefix": self.prefix + prefix}
            if token:
                params["ContinuationToken"] = token
            page = self._call("list", "list_objects_v2", **params)
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix) :]
            token = page.get("NextContinuationToken")
            if not token:
                return

    def check(self):
        self._call("reach", "head_bucket")
        super().check()

    def signed_url(self, key, filename, media_type, attachment):
        if not self.signed_seconds:
            return None
        from urllib.parse import quote

        disposition = "attachment" if attachment else "inline"
        params = {
            "Bucket": self.bucket,
            "Key": self._key(key),
            "ResponseContentType": media_type,
            "ResponseContentDisposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
        }
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.signed_seconds
        )


def make_storage(config) -> Storage:
    """The backend ``config`` names: ``STORAGE_URL`` (``s3://…``) or the local folder."""
    url = config.get("STORAGE_URL") or ""
    if url:
        return S3Storage(url, config)
    return LocalStorage(config["DOCUMENTS_PATH"])


def storage() -> Storage:
    """The current app's document storage (made once per app)."""
    found = current_app.extensions.get("guichet.storage")
    if found is None:
        found = current_app.extensions["guichet.storage"] = make_storage(current_app.config)
    return found


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_verified(key: str, sha256: str) -> bytes:
    """The file of ``key``, which was kept under the digest ``sha256``: refused
    (:class:`DocumentCorrupt`, and logged) when its content no longer matches."""
    data = storage().read(key)
    if sha256_of(data) != sha256:
        log.error("document %s does not match its SHA-256 %s: refused", key, sha256)
        raise DocumentCorrupt(f"the document {key} is damaged in the document storage")
    return data


def migrate(source: Storage, target: Storage) -> Iterator[tuple[str, str]]:
    """Copy every file of ``source`` (an installation's folder) into ``target`` (its
    bucket), yielding ``(key, outcome)``: ``copied``, ``present`` (there already, with
    the same SHA-256: a second run resumes where the first stopped) or ``failed: why``.
    Each copy is read back and compared by SHA-256 before it counts."""
    for key in source.keys_under():
        if key.startswith(".ready/"):
            continue
        try:
            data = source.read(key)
            wanted = sha256_of(data)
            if target.sizes([key]).get(key) == len(data) and sha256_of(target.read(key)) == wanted:
                yield key, "present"
                continue
            target.put(key, data)
            if sha256_of(target.read(key)) != wanted:
                yield key, "failed: the copy read back differs"
                continue
        except (StorageError, DocumentMissing, OSError) as error:
            yield key, f"failed: {error}"
            continue
        yield key, "copied"

"""Servers the tests start beside the portal: a free port, waiting for an answer, the
portal's own commands as processes (``spawn``), and a local S3-speaking server (moto's
server mode, our stand-in for object storage as the local Mollie server is for
payments)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests

from core.config import REPO_ROOT
from core.testing import database_url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Return once ``url`` answers anything; fail when ``process`` ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            requests.get(url, timeout=10)
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening, or starting
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def spawn(command: list[str], instance: Path, **env: str) -> subprocess.Popen:
    """A command of the virtualenv (``gunicorn``, ``guichet``) on the test database."""
    variables = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "GUICHET_INSTANCE_PATH": str(instance),
        "GUICHET_SECRET_KEY": "test-secret",
        "GUICHET_LOG_LEVEL": "WARNING",
        "GUICHET_SESSION_COOKIE_SECURE": "false",  # requests keeps it to https
        **env,
    }
    program = str(Path(sys.executable).parent / command[0])
    return subprocess.Popen(
        [program, *command[1:]], cwd=REPO_ROOT, env=variables, stderr=subprocess.PIPE, text=True
    )


@dataclass(frozen=True)
class S3Stub:
    """A running local S3 server: its URL and the access key of its one user."""

    url: str
    key_id: str
    secret: str

    def client(self, secret: str | None = None):
        """A boto3 client of the server, as another machine would have."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="eu-west-3",
            aws_access_key_id=self.key_id,
            aws_secret_access_key=secret or self.secret,
        )

    def checking_signatures(self, on: bool) -> None:
        """Check every request's signature (on) or none (moto cannot check a signed
        URL's: it answers 500 to those while checking)."""
        requests.post(f"{self.url}/moto-api/reset-auth", data="0" if on else "inf", timeout=5)


@contextmanager
def s3_server() -> Iterator[S3Stub]:
    """A local S3-compatible server for as long as the block runs, checking every
    request's signature against the one user it has (allowed everything in S3)."""
    port = free_port()
    program = str(Path(sys.executable).parent / "moto_server")
    process = subprocess.Popen(
        [program, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/moto-api/", process, timeout=30)
        iam = boto3.client(
            "iam",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        requests.post(f"{url}/moto-api/reset-auth", data="3", timeout=5)  # three calls to set up
        iam.create_user(UserName="guichet")
        key = iam.create_access_key(UserName="guichet")["AccessKey"]
        allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
        iam.put_user_policy(
            UserName="guichet",
            PolicyName="documents",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
        )
        yield S3Stub(url, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        process.terminate()
        process.wait(10)


def s3_settings(server: S3Stub, bucket: str, **extra) -> dict:
    """Settings that keep documents in ``bucket`` of ``server``."""
    return {
        "STORAGE_URL": f"s3://{bucket}/guichet",
        "S3_ENDPOINT_URL": server.url,
        "S3_REGION": "eu-west-3",
        "S3_ACCESS_KEY_ID": server.key_id,
        "S3_SECRET_ACCESS_KEY": server.secret,
        **extra,
    }

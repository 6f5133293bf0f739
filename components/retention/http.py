"""HTTP with retries, standard library only.

Both the registry client and the Kubernetes pod lister go through `HttpClient`, so retry,
TLS and request counting behave the same everywhere.  Every request is counted by kind:
the request budget (one request per tag for planning) is measured, not assumed.

Redirects are followed as Docker and containerd follow them: `Authorization` goes only to
the origin (scheme, host, port) it was meant for -- a registry on S3 with `redirect: true`
answers every blob GET with a 307 to the object store, which must not see the registry
password -- and a redirect from https to anything else is refused.  Bodies are read up to
a limit per request, so a pusher cannot make the job read a 300 MiB "config" into memory.
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from email.message import Message
from typing import Any

# 429 and the 5xx a proxy or an overloaded registry returns are worth retrying; any other
# status is an answer, and the caller decides what it means.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MiB = 1 << 20
DEFAULT_LIMIT = 4 * MiB  # Distribution's own limit for a manifest body


class HttpError(Exception):
    """A request could not be completed (after retries, or not retryable at all)."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise HttpError(f"HTTP {self.status}: body is not JSON ({err})") from err


class ResponseTooLarge(HttpError):
    """A body larger than the caller's limit; never retried, never read in full."""


class RedirectRefused(HttpError):
    """A redirect that would downgrade https or leave http(s)."""


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port made explicit: what credentials belong to."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


class _CredentialSafeRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        old, new = origin(req.full_url), origin(newurl)
        if new[0] not in ("http", "https") or (old[0] == "https" and new[0] != "https"):
            raise RedirectRefused(f"{req.full_url}: refusing redirect to {newurl}")
        redirected = super().redirect_request(req, fp, code, msg, headers, newurl)
        if redirected is not None and new != old:
            redirected.remove_header("Authorization")
        return redirected


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify against `ca_file` when given (a private registry CA), else the system store."""
    return ssl.create_default_context(cafile=ca_file)


class HttpClient:
    def __init__(
        self,
        *,
        context: ssl.SSLContext,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.requests: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        # A redirect-following opener with our TLS context; urllib keeps no per-request
        # state in it, so threads share it.
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), _CredentialSafeRedirects()
        )

    def send(
        self,
        method: str,
        url: str,
        *,
        kind: str,
        headers: dict[str, str] | None = None,
        limit: int = DEFAULT_LIMIT,
        body: bytes | None = None,
    ) -> Response:
        """One request with retries on transient failures; any final status is returned.
        A body longer than `limit` bytes raises `ResponseTooLarge`."""
        for attempt in range(self.retries + 1):
            try:
                response = self._send_once(method, url, kind, headers or {}, limit, body)
            except _Transient as err:
                failure = str(err)
                retry_after = None
            else:
                if response.status not in RETRY_STATUSES:
                    return response
                failure = f"HTTP {response.status}"
                retry_after = response.headers.get("Retry-After")
            if attempt == self.retries:
                raise HttpError(f"{method} {url}: {failure} (after {attempt + 1} attempts)")
            time.sleep(self._delay(attempt, retry_after))
        raise AssertionError("unreachable: the loop returns or raises")

    def _send_once(
        self,
        method: str,
        url: str,
        kind: str,
        headers: dict[str, str],
        limit: int,
        body: bytes | None = None,
    ) -> Response:
        with self._count_lock:
            self.requests[kind] += 1
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return Response(answer.status, answer.headers, _read(answer, url, limit))
        except urllib.error.HTTPError as err:
            with err:
                return Response(err.code, err.headers, _read(err, url, limit))
        except urllib.error.URLError as err:
            # A certificate the CA does not vouch for will not get better by retrying.
            if isinstance(err.reason, ssl.SSLCertVerificationError):
                raise HttpError(f"{method} {url}: TLS verification failed: {err.reason}") from err
            raise _Transient(f"{err.reason}") from err
        except (OSError, http.client.HTTPException) as err:
            # Timeouts, resets and truncated bodies surface here once the status is read.
            raise _Transient(f"{type(err).__name__}: {err}") from err

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None and retry_after.isdigit():
            return min(float(retry_after), 30.0)
        # Exponential backoff with jitter so concurrent workers do not retry in lockstep.
        return self.backoff * (2**attempt) * (0.5 + random.random() / 2)


def _read(answer: Any, url: str, limit: int) -> bytes:
    declared = answer.headers.get("Content-Length") or ""
    if declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(f"{url}: body of {declared} bytes is over the {limit}-byte limit")
    body: bytes = answer.read(limit + 1)
    if len(body) > limit:
        raise ResponseTooLarge(f"{url}: body is over the {limit}-byte limit")
    return body


class _Transient(Exception):
    """A connection-level failure worth retrying."""

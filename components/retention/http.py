"""HTTP with retries, standard library only.

Both the registry client and the Kubernetes pod lister go through `HttpClient`, so retry,
TLS and request counting behave the same everywhere.  Every request is counted by kind:
the request budget (one request per tag for planning) is measured, not assumed.
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from email.message import Message
from typing import Any

# 429 and the 5xx a proxy or an overloaded registry returns are worth retrying; any other
# status is an answer, and the caller decides what it means.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))

    def send(
        self, method: str, url: str, *, kind: str, headers: dict[str, str] | None = None
    ) -> Response:
        """One request with retries on transient failures; any final status is returned."""
        for attempt in range(self.retries + 1):
            try:
                response = self._send_once(method, url, kind, headers or {})
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

    def _send_once(self, method: str, url: str, kind: str, headers: dict[str, str]) -> Response:
        with self._count_lock:
            self.requests[kind] += 1
        request = urllib.request.Request(url, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as err:
            with err:
                return Response(err.code, err.headers, err.read())
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


class _Transient(Exception):
    """A connection-level failure worth retrying."""

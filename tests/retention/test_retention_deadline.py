"""`--timeout` bounds a whole request, not each read: a server that trickles its answer a
byte at a time (each byte well within the socket timeout) cannot hold the job."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from components.retention.http import HttpClient, HttpError, ssl_context

BODY = b'{"repositories": ["' + b"a" * 20 + b'"]}'
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(
    BODY
)


@pytest.fixture(params=["headers", "body"])
def trickling(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server answering every request in full, but one byte every 0.2 s: of the headers
    (the body then follows at once), or of the body."""
    listener = socket.create_server(("127.0.0.1", 0))
    slow_part = request.param

    def answer(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            try:
                for part in (HEAD, BODY):
                    if (part is HEAD) == (slow_part == "headers"):
                        for i in range(len(part)):
                            connection.sendall(part[i : i + 1])
                            time.sleep(0.2)
                    else:
                        connection.sendall(part)
            except OSError:
                return  # the client gave up: what the test wants

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v2/_catalog"
    listener.close()


def test_a_request_answered_a_byte_at_a_time_fails_at_its_deadline(trickling: str) -> None:
    client = HttpClient(context=ssl_context(None), timeout=1.0, retries=0)

    with pytest.raises(HttpError, match="no complete answer within 1 s"):
        client.send("GET", trickling, kind="catalog")

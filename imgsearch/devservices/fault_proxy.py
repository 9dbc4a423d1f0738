"""A TCP proxy on loopback that injects the network faults real servers have: refused connections and lost answers.

Put it between imgsearch and Elasticsearch or MinIO, then switch modes while requests run:
- `forward()`: a plain proxy;
- `refuse()`: every connection is reset, open ones included (a server that is down);
- `drop_requests(matching)`: requests whose request line contains `matching` never reach the server: the
  connection is closed instead (a server that dies before a write reaches it);
- `drop_responses(matching)`: requests whose request line contains `matching` reach the server, which acts on
  them, but their answers never come back: the client's connection is closed instead (a server that dies
  between committing a write and answering it). `then_refuse` makes the proxy refuse everything after the
  first dropped answer, so the client cannot even ask what happened.
Deterministic by construction: a fault is in force from the call that sets it, so no test has to sleep for one.
Only loopback addresses are used, for the proxy and for the server behind it.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType

REQUEST_LINE = re.compile(rb"^[A-Z]{3,10} (\S+) HTTP/1\.[01]\r\n")
CHUNK_BYTES = 64 * 1024


class Mode(StrEnum):
    FORWARD = "forward"
    REFUSE = "refuse"
    DROP_REQUESTS = "drop_requests"
    DROP_RESPONSES = "drop_responses"


@dataclass(eq=False)  # identity: each connection is its own member of the open set
class _Connection:
    client: socket.socket
    upstream: socket.socket
    last_request_line: bytes = b""

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with an RST rather than a FIN, as a host with nothing listening on the port answers."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.close()


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        if upstream_host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fault proxy only fronts servers on loopback")
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._mode = Mode.FORWARD
        self._matching = b""
        self._then_refuse = False
        self._connections: set[_Connection] = set()
        self._closed = threading.Event()
        self.dropped_requests = 0
        self.dropped_responses = 0
        self.refused_connections = 0
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"fault-proxy-{self.port}", daemon=True)
        self._acceptor.start()

    @property
    def address(self) -> str:
        """host:port, as MinIO's client takes it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    # --- modes ------------------------------------------------------------------------------------------------

    def forward(self) -> None:
        with self._lock:
            self._mode = Mode.FORWARD

    def refuse(self) -> None:
        with self._lock:
            self._mode = Mode.REFUSE
            open_connections = list(self._connections)
        for connection in open_connections:
            connection.close()

    def drop_requests(self, matching: str = "") -> None:
        with self._lock:
            self._mode = Mode.DROP_REQUESTS
            self._matching = matching.encode()

    def drop_responses(self, matching: str = "", then_refuse: bool = False) -> None:
        with self._lock:
            self._mode = Mode.DROP_RESPONSES
            self._matching = matching.encode()
            self._then_refuse = then_refuse

    # --- plumbing ---------------------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                refusing = self._mode is Mode.REFUSE
            if refusing:
                self.refused_connections += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            connection = _Connection(client, upstream)
            with self._lock:
                self._connections.add(connection)
            for pump in (self._requests, self._responses):
                threading.Thread(target=pump, args=(connection,), daemon=True).start()

    def _requests(self, connection: _Connection) -> None:
        """Client to server, noting each request line so its answer can be told apart."""
        try:
            while chunk := connection.client.recv(CHUNK_BYTES):
                line = REQUEST_LINE.match(chunk)
                if line is not None:
                    connection.last_request_line = chunk[: line.end()]
                    if self._drops_request(connection):
                        break
                connection.upstream.sendall(chunk)
        except OSError:
            pass
        self._finish(connection)

    def _responses(self, connection: _Connection) -> None:
        """Server to client, unless the answer is one to lose."""
        try:
            while chunk := connection.upstream.recv(CHUNK_BYTES):
                if self._drops(connection):
                    break
                connection.client.sendall(chunk)
        except OSError:
            pass
        self._finish(connection)

    def _drops_request(self, connection: _Connection) -> bool:
        with self._lock:
            dropped = self._mode is Mode.DROP_REQUESTS and self._matching in connection.last_request_line
            self.dropped_requests += dropped
        return dropped

    def _drops(self, connection: _Connection) -> bool:
        with self._lock:
            if self._mode in (Mode.FORWARD, Mode.DROP_REQUESTS):
                return False
            if self._mode is Mode.REFUSE:
                return True
            if self._matching not in connection.last_request_line:
                return False
            self.dropped_responses += 1
            then_refuse = self._then_refuse
        if then_refuse:
            # Before this connection closes, so the client's next connection is already refused.
            self.refuse()
        return True

    def _finish(self, connection: _Connection) -> None:
        connection.close()
        with self._lock:
            self._connections.discard(connection)

    def close(self) -> None:
        self._closed.set()
        with suppress(OSError):
            self._listener.close()
        self.refuse()
        self._acceptor.join(timeout=2)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

"""MLLP framing (HL7 v2 Minimal Lower Layer Protocol): ``<VT> message <FS><CR>``.

``FrameReader`` takes bytes as they arrive (any split: a frame over several reads, several
frames in one read) and yields whole frames. Framing errors are reported, not raised: bytes
before a start block are skipped and counted; a frame over the size limit is dropped (and the
reader resynchronises on the next start block); a start block inside a frame starts a new one.
"""

import socket
from collections.abc import Iterator
from dataclasses import dataclass

START = b"\x0b"
END = b"\x1c\r"


def frame(payload: bytes) -> bytes:
    return START + payload + END


@dataclass(frozen=True)
class FramingError:
    reason: str


class FrameReader:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._in_frame = False
        self._discarding = False

    def feed(self, data: bytes) -> Iterator[bytes | FramingError]:
        self._buffer += data
        while self._buffer:
            if not self._in_frame:
                start = self._buffer.find(START)
                if start < 0:
                    if self._buffer.strip():
                        yield FramingError(f"{len(self._buffer)} byte(s) outside a frame were skipped")
                    self._buffer.clear()
                    return
                if start and self._buffer[:start].strip():
                    yield FramingError(f"{start} byte(s) before a start block were skipped")
                del self._buffer[: start + 1]
                self._in_frame, self._discarding = True, False
                continue
            end = self._buffer.find(b"\x1c")
            restart = self._buffer.find(START)
            if restart >= 0 and (end < 0 or restart < end):
                if not self._discarding:
                    yield FramingError("a frame was cut short by a new start block")
                del self._buffer[:restart]
                self._in_frame = False
                continue
            if end < 0:
                if len(self._buffer) > self.max_bytes:
                    if not self._discarding:
                        yield FramingError(f"a frame is larger than {self.max_bytes} bytes; it is dropped")
                    self._discarding = True
                    self._buffer.clear()
                return
            if end + 1 >= len(self._buffer):
                return  # the CR after FS has not arrived yet
            payload = bytes(self._buffer[:end])
            # <FS> should be followed by <CR>; a missing CR is tolerated.
            del self._buffer[: end + (2 if self._buffer[end + 1 : end + 2] == b"\r" else 1)]
            self._in_frame = False
            if self._discarding:
                self._discarding = False
                continue
            if len(payload) > self.max_bytes:
                yield FramingError(f"a frame is larger than {self.max_bytes} bytes; it is dropped")
                continue
            yield payload

    @property
    def pending(self) -> int:
        return len(self._buffer)


def split_file(data: bytes) -> list[bytes]:
    """Messages of a v2 file: one per MLLP frame when it is framed (a frame may hold a batch),
    else one per block of segments separated by blank lines (or starting at each MSH; batch
    headers and trailers, FHS/BHS/BTS/FTS, are left out)."""
    if START in data:
        reader = FrameReader(max_bytes=len(data) + 1)
        tail = b"\r" if data.rstrip(b"\n").endswith(b"\x1c") else b""
        return [f for f in reader.feed(data.rstrip(b"\n") + tail) if isinstance(f, bytes)]
    messages: list[bytes] = []
    current: list[bytes] = []
    for line in data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
        batch_line = line[:3] in (b"FHS", b"BHS", b"BTS", b"FTS")  # a batch's envelope: not a message
        if not line.strip() or line.startswith(b"MSH") or batch_line:
            if current:
                messages.append(b"\r".join(current) + b"\r")
                current = []
            if not line.strip() or batch_line:
                continue
        current.append(line)
    if current:
        messages.append(b"\r".join(current) + b"\r")
    return messages


def mllp_exchange(host: str, port: int, payload: bytes, *, timeout: float, max_bytes: int = 1_000_000) -> bytes:
    """Send one framed message to an MLLP peer and return the first frame it answers with.

    Raises OSError (refused, unreachable, timed out) or ConnectionError (closed before answering)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(frame(payload))
        reader = FrameReader(max_bytes=max_bytes)
        while data := sock.recv(65536):
            for found in reader.feed(data):
                if isinstance(found, bytes):
                    return found
    raise ConnectionError("the peer closed the connection without an answer")

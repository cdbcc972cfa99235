"""Syslog over a byte stream: RFC 6587 octet counting and LF framing, told apart per frame.

An octet-counted frame is ``MSG-LEN SP MSG`` where MSG-LEN is a decimal without a
leading zero; a syslog message proper starts with ``<``. So each frame announces its
own framing, and one connection may even mix them (some relays do after a
reconnect). :class:`Framer` is pure: bytes in, frames out, no socket, so the tricky
cases (a frame cut anywhere, an endless line, a length that lies) are unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Framer", "Frame"]

MAX_DIGITS = 10


@dataclass(slots=True)
class Frame:
    """One message without its framing; ``truncated`` when it exceeded the size limit,
    ``incomplete`` when the connection ended in the middle of it."""

    data: bytes
    truncated: bool = False
    incomplete: bool = False


class Framer:
    """Split a TCP stream into syslog messages.

    :param max_bytes: longest message kept; longer ones are cut to this size and
        flagged ``truncated``, and the rest is skipped without being buffered.
    :param mode: ``auto`` (per frame), ``octet`` or ``lf``.
    """

    def __init__(self, max_bytes: int, mode: str = "auto") -> None:
        self.max_bytes = max_bytes
        self.mode = mode
        self.buf = b""
        self._skip = 0  # octet-counted bytes still to discard (the cut-off tail of a long frame)
        self._skip_line = False  # discarding an over-long LF line up to its end
        self.octet_frames = 0
        self.lf_frames = 0

    @property
    def pending(self) -> int:
        """Bytes held for an unfinished frame."""
        return len(self.buf)

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame they complete."""
        out: list[Frame] = []
        if self._skip:
            n = min(self._skip, len(data))
            self._skip -= n
            data = data[n:]
        buf = self.buf + data if self.buf else data
        pos, n = 0, len(buf)
        max_bytes = self.max_bytes
        while pos < n:
            if self._skip_line:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    pos = n
                    break
                self._skip_line = False
                pos = nl + 1
                continue
            c = buf[pos]
            if c in (10, 13, 0):  # stray separators between frames
                pos += 1
                continue
            if self.mode != "lf" and 49 <= c <= 57:  # '1'..'9': maybe MSG-LEN
                sp = buf.find(b" ", pos, pos + MAX_DIGITS + 1)
                if sp > 0 and buf[pos:sp].isdigit():
                    length = int(buf[pos:sp])
                    start = sp + 1
                    end = start + length
                    if length > max_bytes:
                        if n - start >= max_bytes:
                            out.append(Frame(buf[start:start + max_bytes], truncated=True))
                            self.octet_frames += 1
                            taken = min(end, n)
                            self._skip = end - taken
                            pos = taken
                            continue
                        break  # wait for the first max_bytes of it
                    if end > n:
                        break  # wait for the rest of this frame
                    out.append(Frame(buf[start:end]))
                    self.octet_frames += 1
                    pos = end
                    continue
                if sp < 0 and n - pos <= MAX_DIGITS and buf[pos:].isdigit():
                    break  # the length itself is cut: wait
                # not a valid MSG-LEN: an LF-framed message (or garbage, resynchronised at the next LF)
            nl = buf.find(b"\n", pos, pos + max_bytes + 1)
            if nl < 0:
                if n - pos > max_bytes:
                    out.append(Frame(buf[pos:pos + max_bytes], truncated=True))
                    self.lf_frames += 1
                    self._skip_line = True
                    pos += max_bytes
                    continue
                break
            end = nl - 1 if nl > pos and buf[nl - 1] == 13 else nl
            out.append(Frame(buf[pos:end]))
            self.lf_frames += 1
            pos = nl + 1
        self.buf = buf[pos:] if pos < n else b""
        return out

    def close(self) -> Frame | None:
        """The connection ended: return what is left of an unfinished frame, if anything.

        An LF-framed message may legitimately end at the connection's end (RFC 6587
        allows the trailer to be missing). An octet-counted frame cut short is
        returned flagged ``incomplete``: better a flagged partial message than a
        silent loss.
        """
        buf, self.buf = self.buf, b""
        if not buf.strip(b"\r\n\x00 "):
            return None
        c = buf[0]
        if self.mode != "lf" and 49 <= c <= 57:
            sp = buf.find(b" ", 0, MAX_DIGITS + 1)
            if sp > 0 and buf[:sp].isdigit():
                return Frame(buf[sp + 1:sp + 1 + self.max_bytes], incomplete=True)
            if sp < 0 and buf.isdigit():
                return None  # only a length arrived: there is no message to keep
        return Frame(buf[: self.max_bytes].rstrip(b"\r\n"))

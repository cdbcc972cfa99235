"""An application and its logrotate, as one process: numbered lines into ``app.log``, rotated on a timer.

Run as a separate process by the rotation torture test, so the agent competes with a
real writer for the CPU and the file system, as it would in production:

    python rotation_writer.py DIR MODE PERIOD_S DURATION_S RATE RESULT_JSON [KEEP]

- The writer thread appends one JSON line per event (``{"id": "L000042", ...}``) with one
  ``write`` to a descriptor opened with ``O_APPEND`` (what copytruncate requires of an
  application), ``RATE`` lines per second.
- The rotator thread is logrotate with ``rotate KEEP`` (5 by default): every ``PERIOD_S`` it shifts
  ``app.log.N`` to ``app.log.N+1`` (deleting the oldest), then either renames ``app.log``
  to ``app.log.1`` and tells the writer to reopen (``MODE=rename``; the writer still
  writes a few lines to the old file first, like an application that reopens on
  SIGHUP), or copies ``app.log`` to ``app.log.1`` and truncates it (``MODE=copytruncate``).
- For copytruncate it records the window of each rotation: the numbers of the lines
  whose write may have overlapped the time between the start of the copy and the end
  of the truncate. Only those can be destroyed by copytruncate itself.

The result file holds ``{"written": N, "windows": [[first, last], ...], "rotations": R}``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time

KEEP = 5  # logrotate's "rotate 5": app.log.1 … app.log.5 kept, the oldest deleted


class Writer:
    """Appends numbered lines; ``count`` is the number of lines whose write returned."""

    def __init__(self, path: str, rate: float) -> None:
        self.path = path
        self.rate = rate
        self.count = 0
        self.reopen = threading.Event()
        self.stop = threading.Event()

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def run(self) -> None:
        fd = self._open()
        start = time.monotonic()
        late = 0  # lines still written to the renamed file before reopening
        while not self.stop.is_set():
            if self.reopen.is_set() and late == 0:
                late = 5
            if late:
                late -= 1
                if late == 0:
                    os.close(fd)
                    fd = self._open()
                    self.reopen.clear()
            line = json.dumps({"id": f"L{self.count:07d}", "title": f"line {self.count}", "pad": "x" * 40}) + "\n"
            os.write(fd, line.encode())
            self.count += 1
            ahead = self.count / self.rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        os.close(fd)


def shift(directory: str, keep: int) -> None:
    """``app.log.N`` → ``app.log.N+1``, the oldest deleted (logrotate's ``rotate KEEP``)."""
    oldest = os.path.join(directory, f"app.log.{keep}")
    if os.path.exists(oldest):
        os.unlink(oldest)
    for n in range(keep - 1, 0, -1):
        src = os.path.join(directory, f"app.log.{n}")
        if os.path.exists(src):
            os.rename(src, os.path.join(directory, f"app.log.{n + 1}"))


def main() -> None:
    directory, mode, period, duration, rate, result = sys.argv[1:7]
    keep = int(sys.argv[7]) if len(sys.argv) > 7 else KEEP
    log = os.path.join(directory, "app.log")
    writer = Writer(log, float(rate))
    thread = threading.Thread(target=writer.run)
    thread.start()
    windows: list[list[int]] = []
    rotations = 0
    start = time.monotonic()
    deadline = start + float(duration)
    while True:
        # on a schedule from the start, not a sleep after each rotation: on a busy machine the
        # rotations' own work would otherwise push every later one back (28 of 29 in 3 s at 0.1 s)
        time.sleep(max(0.0, start + (rotations + 1) * float(period) - time.monotonic()))
        if time.monotonic() >= deadline:
            break
        shift(directory, keep)
        if mode == "rename":
            os.rename(log, log + ".1")
            writer.reopen.set()
        else:
            first = writer.count
            shutil.copyfile(log, log + ".1")
            os.truncate(log, 0)
            windows.append([first, writer.count])  # this line's write may also have raced the truncate
        rotations += 1
    time.sleep(0.2)
    writer.stop.set()
    thread.join()
    with open(result, "w") as fh:
        json.dump({"written": writer.count, "windows": windows, "rotations": rotations}, fh)


if __name__ == "__main__":
    main()

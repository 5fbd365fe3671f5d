"""Progress on stderr while a command waits for Spark (export, score): what the terminal shows."""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    """Progress on stderr: a spinner with elapsed seconds on a terminal, plain step lines otherwise."""

    FRAMES = "|/-\\"

    def __init__(self, prefix: str, stream=None):
        """prefix: what starts each plain line, the command's name (``leapserve export``)."""
        self.stream = stream or sys.stderr
        self.prefix = prefix
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.message = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = None

    def step(self, message: str) -> None:
        if not self.tty:
            print(f"{self.prefix}: {message} ...", file=self.stream, flush=True)
            return
        with self._lock:
            self.message = message
        if self._thread is None:
            self._thread = threading.Thread(target=self._spin, name="leapserve-progress", daemon=True)
            self._thread.start()

    def _spin(self) -> None:
        i = 0
        while not self._stop.wait(0.1):
            with self._lock:
                elapsed = time.monotonic() - self.started
                self.stream.write(f"\r\x1b[K{self.FRAMES[i % len(self.FRAMES)]} {self.message} ({elapsed:.0f}s)")
                self.stream.flush()
            i += 1

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

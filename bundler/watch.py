"""Watching a Spark job from the driver while it runs: the tasks of its active stages (Spark's
status tracker) and the rows read so far (a counts accumulator of leapserve.bundler.scoring).

    with JobWatcher(spark.sparkContext, counter, report):   # report(done, total, rows)
        scored.write.parquet(path)
"""

from __future__ import annotations

import threading


class JobWatcher:
    """Every ``interval`` seconds while the ``with`` block runs and some stage is active, hands
    (tasks done, tasks in all, rows read) to ``report``, from a thread of its own."""

    def __init__(self, spark_context, counter, report, interval: float = 0.5):
        self.sc = spark_context
        self.counter = counter
        self.report = report
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leapserve-job-watcher", daemon=True)

    def _run(self) -> None:
        tracker = self.sc.statusTracker()
        while not self._stop.wait(self.interval):
            try:
                done = total = 0
                for sid in tracker.getActiveStageIds():
                    info = tracker.getStageInfo(sid)
                    if info is not None:
                        done += info.numCompletedTasks
                        total += info.numTasks
                rows = self.counter.value[0]  # rows read: the first of scoring.COUNTS
            except Exception:  # the context may be stopping
                return
            if total:
                self.report(done, total, rows)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

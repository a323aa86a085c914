"""Memory over many trainings in one session, the way the app trains (in-process).

Trains a config N times in a row through a `JobQueue` and keeps each result with
`ExplorerSession.collect`, as Build & Train does, so the session holds at most
`LSTM_EXPLORER_MAX_RUNS` runs and drops the oldest. Prints the process's resident memory
(RSS, after a garbage collection) as it goes, its peak (sampled every 20 ms), and the
growth from the end of the first training to the end of the last. Goal: under 300 MB.

    .venv/bin/python bench/memory_soak.py [--runs 50] [--query "layer1.units=16&..."]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_explorer import limits  # noqa: E402

limits.configure_threads()

from lstm_explorer.config import ExperimentConfig  # noqa: E402
from lstm_explorer.jobs import JobQueue  # noqa: E402
from lstm_explorer.ui.state import MAX_RUNS, ExplorerSession  # noqa: E402

MB = 2**20
DEFAULT_QUERY = "layer1.units=16&task.seq_len=30&task.n_samples=500&training.epochs=3"


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--query", default=DEFAULT_QUERY,
                        help="the config as share-link keys (default: %(default)s)")
    parser.add_argument("--goal-mb", type=float, default=300)
    arguments = parser.parse_args(argv)
    config, problems = ExperimentConfig.from_query(dict(parse_qsl(arguments.query)))
    if problems:
        parser.error("; ".join(map(str, problems)))

    peak = [0]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], rss())
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    queue = JobQueue(max_running=1)
    explorer = ExplorerSession(config=config)
    estimate = limits.estimate(config)
    print(f"config: {arguments.query}; runs kept per session: {MAX_RUNS}; estimate per run: "
          f"{estimate.training / MB:.1f} MB training, {estimate.kept / MB:.1f} MB kept")
    gc.collect()
    start = rss()
    print(f"before the first training: {start / MB:.0f} MB")
    after_first = None
    started = time.perf_counter()
    for number in range(1, arguments.runs + 1):
        explorer.job = queue.submit(config.with_values({"training.seed": number}))
        snapshot = explorer.job.wait(timeout=600)
        if snapshot.status != "finished":
            print(f"run {number}: {snapshot.status}: {snapshot.message}")
            return 1
        explorer.collect()
        gc.collect()
        now = rss()
        if number == 1:
            after_first = now
        if number in (1, 2, 5) or number % 5 == 0:
            print(f"after run {number:3d}: {now / MB:7.0f} MB  (kept runs: "
                  f"{len(explorer.runs)}, {time.perf_counter() - started:.0f} s)", flush=True)
    end = rss()
    growth = (end - after_first) / MB
    print(f"\nfirst training: +{(after_first - start) / MB:.0f} MB (TensorFlow compiles its "
          f"kernels; the session keeps the run)")
    print(f"runs 2..{arguments.runs}: {after_first / MB:.0f} -> {end / MB:.0f} MB, growth "
          f"{growth:+.0f} MB (goal < {arguments.goal_mb:.0f} MB); peak {peak[0] / MB:.0f} MB; "
          f"{(time.perf_counter() - started) / arguments.runs:.1f} s per training")
    print("PASS" if growth < arguments.goal_mb else "FAIL")
    return 0 if growth < arguments.goal_mb else 1


if __name__ == "__main__":
    sys.exit(main())

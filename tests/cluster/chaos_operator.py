"""`suture run` with the chaos test's fault seams: ``python -m tests.cluster.chaos_operator run ...``.

The arguments are those of ``suture run``. Before it starts, every write the
process sends through :class:`suture.kube.KubeClient` is wrapped:

- ``CHAOS_SEED`` seeds the randomness, so a trial replays;
- ``CHAOS_WRITE_DELAY`` (seconds, default 0): after the API server answered a
  write, wait a random time up to this long before the caller sees the answer.
  The write is in etcd, its checkpoint is not: a SIGKILL from the test that
  lands in this pause hits the window exactly-once must survive;
- ``CHAOS_EXIT_AFTER_WRITE`` (probability, default 0): right after an answered
  write of a step's action (a path under ``/apis/apps/``), die with
  ``os._exit`` (no cleanup, no checkpoint: what SIGKILL does) with this chance.

Every answered write is appended to ``CHAOS_WRITE_LOG`` (when set) as
``method path`` lines, so the test can count the writes the operator made.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from typing import Any

from suture.kube import KubeClient

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ACTION_PATH = "/apis/apps/"  # the chaos templates' actions write Deployments (scale subresource)


def _append(path: str, line: str) -> None:
    with open(path, "a") as log:  # one short line in append mode: lines of successive lives stay whole
        log.write(line)


def arm() -> None:
    """Wrap :meth:`KubeClient.request` in the seams the environment asks for."""
    rng = random.Random(os.environ.get("CHAOS_SEED", "0"))
    delay = float(os.environ.get("CHAOS_WRITE_DELAY", "0"))
    exit_p = float(os.environ.get("CHAOS_EXIT_AFTER_WRITE", "0"))
    log_path = os.environ.get("CHAOS_WRITE_LOG")
    send = KubeClient.request

    async def request(self: KubeClient, method: str, path: str, **kwargs: Any) -> Any:
        answer = await send(self, method, path, **kwargs)
        if method not in WRITES or (kwargs.get("query") or {}).get("dryRun"):
            return answer
        if log_path:
            _append(log_path, f"{method} {path}\n")
        if ACTION_PATH in path and rng.random() < exit_p:
            print(f"CHAOS exit after {method} {path}", flush=True)
            os._exit(137)
        if delay:
            await asyncio.sleep(rng.uniform(0, delay))
        return answer

    setattr(KubeClient, "request", request)  # noqa: B010 - the test seam, in the test's own process only


if __name__ == "__main__":
    arm()
    from suture.cli import main

    sys.exit(main(sys.argv[1:]))

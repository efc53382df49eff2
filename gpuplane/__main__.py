"""``python -m gpuplane`` is the ``gpuplane`` command.

Until :func:`gpuplane.cli.run` installs its own handlers, an interrupt exits 128+n at once, quietly:
importing the CLI can take a while on a loaded machine, and Python's default SIGINT handler would
print a ``KeyboardInterrupt`` traceback from inside that import. Nothing has started yet, so there is
nothing to stop.
"""

import os
import signal


def _interrupted_early(signum: int, _frame: object) -> None:
    os.write(2, f"gpuplane: interrupted ({signal.Signals(signum).name})\n".encode())
    os._exit(128 + signum)


for _signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_signum, _interrupted_early)

from gpuplane.cli import run  # noqa: E402 - after the handlers, on purpose

run()

"""``python -m gpuplane`` is the ``gpuplane`` command."""

from gpuplane.cli import run

run()

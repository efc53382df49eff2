"""Pulumi entry point (``main: stacks/`` in Pulumi.yaml). Thin on purpose: see ``stacks/program.py``."""

import sys

import pulumi

from stacks.program import main
from stacks.settings import ConfigError

try:
    main()
except ConfigError as error:
    # A clean, key-naming message instead of a traceback; nothing has been registered yet.
    print(error, file=sys.stderr)
    raise pulumi.RunError("gpuplane config is invalid (see above)") from None

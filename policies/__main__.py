"""The pack's entry point: what ``python -u -m pulumi.policy <engine> <pack dir>`` runs.

The Pulumi CLI (``pulumi preview --policy-pack policies``) and ``gpuplane plan`` start it that way. It
loads this directory as a package under a fixed name (a published pack is unpacked into a directory
with another name, so neither ``import policies`` nor relative imports would work here), turns on
secret marking (pulumi/pulumi-policy#241, see ``_secrets.py``) and builds the ``PolicyPack``, which
prints its port and serves gRPC until the engine stops it.
"""

import gc
import importlib.util
import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

_HERE = Path(__file__).resolve().parent
_SPEC = importlib.util.spec_from_file_location(
    "gpuplane_policies", _HERE / "__init__.py", submodule_search_locations=[str(_HERE)]
)
if _SPEC is None or _SPEC.loader is None:
    raise ImportError(f"cannot load the policy pack package from {_HERE}")
pack = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = pack
_SPEC.loader.exec_module(pack)
importlib.import_module("gpuplane_policies._secrets").install()
importlib.import_module("gpuplane_policies._convert_once").install()  # one protobuf conversion per message
importlib.import_module("gpuplane_policies._lazy_props").install()  # one deserialisation per message, lazy proxies
# Everything imported so far lives as long as the pack: keep it out of every later collection.
gc.freeze()

PolicyPack(
    name=pack.PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=pack.POLICIES,
)

"""The gpuplane program: settings in, platform out, a few stack outputs exported.

Kept separate from ``__main__.py`` so ``gpuplane plan`` and the tests run exactly this function
under the mock runtime.
"""

from __future__ import annotations

import pulumi

from components.gpu_platform import GpuPlatform, GpuPlatformArgs
from stacks import settings


def main() -> GpuPlatform:
    """Build the platform for the current stack's config and export its outputs."""
    loaded = settings.load()
    platform = GpuPlatform(
        "gpuplane",
        GpuPlatformArgs(
            spec=loaded.spec,
            kubeconfig=loaded.kubeconfig,
            model_credentials=loaded.model_credentials,
            openfga_datastore_uri=loaded.openfga_datastore_uri,
        ),
    )
    pulumi.export("cloud", loaded.spec.cloud)
    pulumi.export("clusterName", platform.cluster.cluster_name)
    pulumi.export("kubeconfig", platform.cluster.kubeconfig)
    pulumi.export(
        "gpuPools",
        [{"name": p.name, "gpu": p.gpu, "instanceType": p.instance_type} for p in platform.cluster.gpu_pools],
    )
    if platform.gateway is not None and platform.gateway.api_keys is not None:
        pulumi.export("tenantApiKeys", platform.gateway.api_keys)  # a secret: pulumi stack output --show-secrets
    return platform

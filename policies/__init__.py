"""gpuplane's CrossGuard policy pack: the policies, importable without side effects.

``POLICIES`` lists every policy object and ``MODULES`` their modules (each has ``META``, a pure
``check`` function and ``POLICY``). Building the ``PolicyPack`` starts a gRPC server and blocks, so
only ``__main__.py`` does it: ``pulumi preview --policy-pack policies`` and ``gpuplane plan`` run that.
"""

from __future__ import annotations

from types import ModuleType

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from . import (
    cloud_cluster_ha_control_plane,
    cloud_eks_control_plane_logging,
    cloud_eks_endpoint_restricted,
    cloud_eks_node_imdsv2,
    cloud_eks_node_role_no_cni_policy,
    cloud_eks_secrets_encrypted,
    cloud_eks_volumes_have_csi_driver,
    cloud_gke_master_authorized_networks,
    cloud_gke_private_nodes,
    cloud_gke_shielded_nodes,
    cloud_gke_workload_identity,
    cloud_lke_control_plane_acl,
    cloud_lke_node_firewall,
    conformance_stack_ai_requirements,
    gpu_lke_pool_idle_floor,
    gpu_pool_instance_type_allowed,
    gpu_pool_scale_to_zero,
    gpu_pool_tainted,
    gpu_stack_max_gpus,
    gpu_stack_max_hourly_cost,
    platform_aigateway_route_authenticated,
    platform_aigateway_route_rate_limited,
    platform_container_not_privileged,
    platform_credentials_secret,
    platform_helm_compatibility_matrix,
    platform_helm_hooks_supported,
    platform_helm_version_pinned,
    platform_kueue_flavor_pool_match,
    platform_kueue_quota_within_capacity,
    platform_openfga_durable_datastore,
    platform_workload_no_plaintext_secrets,
    platform_workload_queue_label,
)

PACK_NAME = "gpuplane"

MODULES: tuple[ModuleType, ...] = (
    cloud_eks_endpoint_restricted,
    cloud_eks_secrets_encrypted,
    cloud_eks_control_plane_logging,
    cloud_eks_node_imdsv2,
    cloud_eks_node_role_no_cni_policy,
    cloud_eks_volumes_have_csi_driver,
    cloud_gke_private_nodes,
    cloud_gke_master_authorized_networks,
    cloud_gke_workload_identity,
    cloud_gke_shielded_nodes,
    cloud_lke_control_plane_acl,
    cloud_lke_node_firewall,
    cloud_cluster_ha_control_plane,
    gpu_pool_tainted,
    gpu_pool_scale_to_zero,
    gpu_lke_pool_idle_floor,
    gpu_pool_instance_type_allowed,
    gpu_stack_max_gpus,
    gpu_stack_max_hourly_cost,
    platform_helm_version_pinned,
    platform_helm_hooks_supported,
    platform_helm_compatibility_matrix,
    platform_kueue_flavor_pool_match,
    platform_kueue_quota_within_capacity,
    platform_aigateway_route_rate_limited,
    platform_aigateway_route_authenticated,
    platform_openfga_durable_datastore,
    platform_workload_no_plaintext_secrets,
    platform_workload_queue_label,
    platform_container_not_privileged,
    platform_credentials_secret,
    conformance_stack_ai_requirements,
)

POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [module.POLICY for module in MODULES]

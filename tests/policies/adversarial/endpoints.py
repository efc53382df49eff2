"""Open API endpoints: the allow-list is judged on the union of its CIDRs, IPv4-mapped IPv6 is IPv4,
``::/0`` is the internet, and an entry the pack cannot parse is a violation (EKS, GKE, LKE)."""

from __future__ import annotations

from typing import Any

import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_linode as linode

from tests.policies.adversarial.corpus import compliant, insecure, stack_case

EKS = "cloud-eks-endpoint-restricted"
GKE = "cloud-gke-master-authorized-networks"
LKE = "cloud-lke-control-plane-acl"

ALL_SLASH_8 = [f"{first}.0.0.0/8" for first in range(256)]
HALF_SLASH_8 = [f"{first}.0.0.0/8" for first in range(128)]


def eks(cidrs: list[str]) -> None:
    aws.eks.Cluster(
        "api",
        role_arn="arn:aws:iam::123456789012:role/eks",
        vpc_config=aws.eks.ClusterVpcConfigArgs(
            subnet_ids=["subnet-1", "subnet-2"], endpoint_public_access=True, public_access_cidrs=cidrs
        ),
    )


def gke(cidrs: list[str]) -> None:
    gcp.container.Cluster(
        "api",
        location="us-central1",
        initial_node_count=1,
        remove_default_node_pool=True,
        master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
            cidr_blocks=[gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=c) for c in cidrs]
        ),
    )


def lke(ipv4s: list[str], ipv6s: list[str] | None = None) -> None:
    address: dict[str, Any] = {"ipv4s": ipv4s}
    if ipv6s:
        address["ipv6s"] = ipv6s
    linode.LkeCluster(
        "api",
        label="api",
        k8s_version="1.34",
        region="us-ord",
        pools=[linode.LkeClusterPoolArgs(type="g6-dedicated-4", count=3)],
        control_plane=linode.LkeClusterControlPlaneArgs(
            acl=linode.LkeClusterControlPlaneAclArgs(
                enabled=True, addresses=[linode.LkeClusterControlPlaneAclAddressArgs(**address)]
            )
        ),
    )


# -- EKS -------------------------------------------------------------------------------------------


@insecure(EKS, "together cover 0.0.0.0/0")
def eks_256_slash_8() -> None:
    eks(ALL_SLASH_8)


@insecure(EKS, "together cover 0.0.0.0/1")
def eks_128_slash_8_half_the_internet() -> None:
    eks(HALF_SLASH_8)


@insecure(EKS, "contains 0.0.0.0/2, a /2 range")
def eks_four_slash_2() -> None:
    eks(["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"])


@insecure(EKS, "IPv4-mapped form of 0.0.0.0/0")
def eks_ipv4_mapped_ipv6() -> None:
    eks(["::ffff:0:0/96"])


@insecure(EKS, "::/0, which admits the whole internet")
def eks_ipv6_any() -> None:
    eks(["203.0.113.0/24", "::/0"])


@insecure(EKS, "which is not a CIDR")
def eks_unparseable_cidr() -> None:
    eks(["203.0.113.0/24", "anywhere"])


@insecure(EKS, "which is not a CIDR")
def eks_cidr_with_spaces_inside() -> None:
    eks(["203.0.113 .0/24"])


@insecure(EKS, "together cover 0.0.0.0/0")
def eks_unnormalised_host_bits() -> None:
    eks([f"{first}.1.2.3/8" for first in range(256)])


@compliant(EKS)
def eks_many_narrow_blocks() -> None:
    eks([f"203.0.{third}.0/24" for third in range(256)])


@compliant(EKS)
def eks_mapped_office_range() -> None:
    eks(["203.0.113.0/24", "::ffff:203.0.113.0/120"])


# -- GKE -------------------------------------------------------------------------------------------


@insecure(GKE, "together cover 0.0.0.0/0")
def gke_256_slash_8() -> None:
    gke(ALL_SLASH_8)


@insecure(GKE, "IPv4-mapped form of 0.0.0.0/0")
def gke_ipv4_mapped_ipv6() -> None:
    gke(["::ffff:0.0.0.0/96"])


@insecure(GKE, "::/0")
def gke_ipv6_any() -> None:
    gke(["::/0"])


@insecure(GKE, "which is not a CIDR")
def gke_unparseable_cidr() -> None:
    gke(["10.0.0.0/33"])


@insecure(GKE, "together cover 128.0.0.0/1")
def gke_upper_half_in_slash_4s() -> None:
    gke([f"{first}.0.0.0/8" for first in range(128, 256)])


@compliant(GKE)
def gke_private_ranges_only() -> None:
    gke(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])


# -- LKE -------------------------------------------------------------------------------------------


@insecure(LKE, "together cover 0.0.0.0/0", region="us-ord")
def lke_256_slash_8() -> None:
    lke(ALL_SLASH_8)


@insecure(LKE, "IPv4-mapped form of 0.0.0.0/0", region="us-ord")
def lke_mapped_in_ipv6s() -> None:
    lke(["203.0.113.0/24"], ["::ffff:0:0/96"])


@insecure(LKE, "::/0", region="us-ord")
def lke_ipv6_any() -> None:
    lke(["203.0.113.0/24"], ["::/0"])


@insecure(LKE, "which is not a CIDR", region="us-ord")
def lke_unparseable() -> None:
    lke(["203.0.113.0/24", "office"])


@insecure(LKE, "contains 8000::/1, a /1 range", region="us-ord")
def lke_ipv6_halves() -> None:
    lke(["203.0.113.0/24"], ["::/1", "8000::/1"])


@compliant(LKE, region="us-ord")
def lke_office_ranges() -> None:
    lke(["203.0.113.0/24", "198.51.100.0/24"], ["2001:db8::/32"])


# -- stack files (the spec accepts each entry; only their union is open) ----------------------------


def _cidrs(cidrs: list[str]) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["gpuplane:apiAccess"]["allowedCidrs"] = cidrs

    return edit


stack_case("stack-aws-256-slash-8", "endpoints", "aws-dev", EKS, _cidrs(ALL_SLASH_8), "together cover 0.0.0.0/0")
stack_case("stack-aws-mapped", "endpoints", "aws-dev", EKS, _cidrs(["::ffff:0:0/96"]), "IPv4-mapped form of 0.0.0.0/0")
stack_case("stack-linode-256-slash-8", "endpoints", "linode-dev", LKE, _cidrs(ALL_SLASH_8), "together cover 0.0.0.0/0")
stack_case(
    "stack-gcp-halves",
    "endpoints",
    "gcp-dev",
    GKE,
    _cidrs(HALF_SLASH_8 + [f"{f}.0.0.0/8" for f in range(128, 256)]),
    "0.0.0.0/0",
)
stack_case(
    "stack-aws-narrow", "endpoints", "aws-dev", EKS, _cidrs(["203.0.113.0/24", "198.51.100.0/24"]), is_compliant=True
)
stack_case(
    "stack-gcp-mapped", "endpoints", "gcp-dev", GKE, _cidrs(["::ffff:0.0.0.0/96"]), "IPv4-mapped form of 0.0.0.0/0"
)
stack_case(
    "stack-linode-mapped",
    "endpoints",
    "linode-dev",
    LKE,
    _cidrs(["::ffff:0:0/97", "::ffff:128.0.0.0/97"]),
    "IPv4-mapped form of 0.0.0.0/1",
)
stack_case("stack-linode-narrow", "endpoints", "linode-dev", LKE, _cidrs(["203.0.113.0/24"]), is_compliant=True)

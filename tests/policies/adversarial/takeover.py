# pyright: reportArgumentType=false
# (Adversarial programs pass plain dicts where the SDK types ask for *Args, as a careless user does; the
# SDK accepts them at run time, which is the point of the case.)
"""Node takeover without ``privileged: true``: host paths, host namespaces and dangerous capabilities
in every pod-bearing kind (workloads, CronJob, ReplicationController, PodTemplate, ``*Patch`` kinds,
JobSet, LeaderWorkerSet, custom resources), in Helm values under any key spelling and in manifests
embedded as YAML strings; transformations that add them after the fact; exemptions only by chart name."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from tests.policies.adversarial.corpus import compliant, insecure

POLICY = "platform-container-not-privileged"
TAKEOVER = "which gives it control of its node"


def pod(**extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "ghcr.io/example/app:1.0.0"}
    container_extra = extra.pop("container", {})
    container.update(container_extra)
    return {"containers": [container], **extra}


def template(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "x"}}, "spec": spec}


def meta(name: str = "x", namespace: str = "team-a") -> dict[str, Any]:
    return {"name": name, "namespace": namespace}


HOST_ROOT = pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}])
CONTAINERD = pod(volumes=[{"name": "sock", "hostPath": {"path": "/run/containerd/containerd.sock", "type": "Socket"}}])


def deployment(spec: dict[str, Any], name: str = "x", namespace: str = "team-a", **opts: Any) -> None:
    k8s.apps.v1.Deployment(
        name,
        metadata=meta(name, namespace),
        spec={"selector": {"matchLabels": {"app": "x"}}, "template": template(spec)},
        opts=pulumi.ResourceOptions(**opts) if opts else None,
    )


# -- pod specs: what a pod may not ask for ------------------------------------------------------------


@insecure(POLICY, "mounts the node's / (hostPath volume root)")
def pod_host_root() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=HOST_ROOT)


@insecure(POLICY, "mounts the node's /run/containerd/containerd.sock")
def pod_containerd_socket() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=CONTAINERD)


@insecure(POLICY, "mounts the node's /var/run/docker.sock")
def pod_docker_socket_string_form() -> None:
    k8s.core.v1.Pod(
        "x", metadata=meta(), spec=pod(volumes=[{"name": "d", "hostPath": {"path": "/var/run/docker.sock"}}])
    )


@insecure(POLICY, "sets hostPID: true")
def pod_host_pid() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=pod(hostPID=True))


@insecure(POLICY, "sets hostIPC: true")
def pod_host_ipc() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=pod(hostIPC=True))


@insecure(POLICY, "sets hostNetwork: true")
def pod_host_network() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=pod(hostNetwork=True))


@compliant(POLICY)
def pod_host_namespaces_false() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=pod(hostNetwork=False, hostPID=False, hostIPC=False))


@compliant(POLICY)
def pod_empty_dir_and_safe_capability() -> None:
    k8s.core.v1.Pod(
        "x",
        metadata=meta(),
        spec=pod(
            volumes=[{"name": "scratch", "emptyDir": {}}],
            container={"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}}},
        ),
    )


def _cap(name: str) -> dict[str, Any]:
    return pod(container={"securityContext": {"capabilities": {"add": [name]}}})


@insecure(POLICY, "adds capability SYS_MODULE")
def pod_cap_sys_module() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=_cap("SYS_MODULE"))


@insecure(POLICY, "adds capability SYS_PTRACE")
def pod_cap_sys_ptrace() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=_cap("SYS_PTRACE"))


@insecure(POLICY, "adds capability BPF")
def pod_cap_bpf() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=_cap("BPF"))


@insecure(POLICY, "adds capability NET_ADMIN")
def pod_cap_net_admin() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=_cap("NET_ADMIN"))


@insecure(POLICY, "adds capability DAC_READ_SEARCH")
def pod_cap_dac_read_search() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=_cap("DAC_READ_SEARCH"))


@insecure(POLICY, "adds capability cap_sys_admin")
def pod_cap_lowercase_prefixed() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=_cap("cap_sys_admin"))


@insecure(POLICY, "adds capability SYS_RAWIO")
def pod_cap_in_init_container() -> None:
    spec = pod(
        initContainers=[
            {"name": "init", "image": "busybox:1.36", "securityContext": {"capabilities": {"add": ["SYS_RAWIO"]}}}
        ]
    )
    k8s.core.v1.Pod("x", metadata=meta(), spec=spec)


@insecure(POLICY, "mounts /proc unmasked")
def pod_proc_unmasked() -> None:
    k8s.core.v1.Pod("x", metadata=meta(), spec=pod(container={"securityContext": {"procMount": "Unmasked"}}))


@insecure(POLICY, "is a Windows hostProcess container")
def pod_windows_host_process() -> None:
    spec = pod(securityContext={"windowsOptions": {"hostProcess": True}}, hostNetwork=False)
    k8s.core.v1.Pod("x", metadata=meta(), spec=spec)


@insecure(POLICY, "container app is privileged")
def privileged_daemonset_dropped_into_gpu_operator_namespace() -> None:
    k8s.apps.v1.DaemonSet(
        "gpu-helper",
        metadata=meta("gpu-helper", "gpu-operator"),
        spec={
            "selector": {"matchLabels": {"app": "x"}},
            "template": template(pod(container={"securityContext": {"privileged": True}})),
        },
    )


# -- every pod-bearing kind ------------------------------------------------------------------------


@insecure(POLICY, "mounts the node's /")
def deployment_host_root() -> None:
    deployment(HOST_ROOT)


@insecure(POLICY, "sets hostPID: true")
def statefulset_host_pid() -> None:
    k8s.apps.v1.StatefulSet(
        "x",
        metadata=meta(),
        spec={"serviceName": "x", "selector": {"matchLabels": {"app": "x"}}, "template": template(pod(hostPID=True))},
    )


@insecure(POLICY, "mounts the node's /run/containerd/containerd.sock")
def daemonset_containerd_socket() -> None:
    k8s.apps.v1.DaemonSet(
        "x", metadata=meta(), spec={"selector": {"matchLabels": {"app": "x"}}, "template": template(CONTAINERD)}
    )


@insecure(POLICY, "sets hostNetwork: true")
def replicaset_host_network() -> None:
    k8s.apps.v1.ReplicaSet(
        "x",
        metadata=meta(),
        spec={"selector": {"matchLabels": {"app": "x"}}, "template": template(pod(hostNetwork=True))},
    )


@insecure(POLICY, "adds capability SYS_ADMIN")
def job_sys_admin() -> None:
    k8s.batch.v1.Job("x", metadata=meta(), spec={"template": template({**_cap("SYS_ADMIN"), "restartPolicy": "Never"})})


@insecure(POLICY, "mounts the node's /")
def cronjob_host_root() -> None:
    k8s.batch.v1.CronJob(
        "x",
        metadata=meta(),
        spec={
            "schedule": "@hourly",
            "jobTemplate": {"spec": {"template": template({**HOST_ROOT, "restartPolicy": "Never"})}},
        },
    )


@insecure(POLICY, "sets hostIPC: true")
def replication_controller_host_ipc() -> None:
    k8s.core.v1.ReplicationController(
        "x", metadata=meta(), spec={"selector": {"app": "x"}, "template": template(pod(hostIPC=True))}
    )


@insecure(POLICY, "adds capability SYS_PTRACE")
def pod_template_sys_ptrace() -> None:
    k8s.core.v1.PodTemplate("x", metadata=meta(), template=template(_cap("SYS_PTRACE")))


@insecure(POLICY, "sets hostPID: true")
def pod_patch_host_pid() -> None:
    k8s.core.v1.PodPatch("x", metadata=meta(), spec=pod(hostPID=True))


@insecure(POLICY, "mounts the node's /")
def deployment_patch_host_root() -> None:
    k8s.apps.v1.DeploymentPatch("x", metadata=meta(), spec={"template": {"spec": HOST_ROOT}})


@insecure(POLICY, "container app is privileged")
def daemonset_patch_privileged() -> None:
    k8s.apps.v1.DaemonSetPatch(
        "x", metadata=meta(), spec={"template": {"spec": pod(container={"securityContext": {"privileged": True}})}}
    )


@insecure(POLICY, "adds capability BPF")
def cronjob_patch_bpf() -> None:
    k8s.batch.v1.CronJobPatch("x", metadata=meta(), spec={"jobTemplate": {"spec": {"template": {"spec": _cap("BPF")}}}})


@insecure(POLICY, "sets hostNetwork: true")
def statefulset_patch_host_network() -> None:
    k8s.apps.v1.StatefulSetPatch("x", metadata=meta(), spec={"template": {"spec": pod(hostNetwork=True)}})


@insecure(POLICY, "mounts the node's /run/containerd/containerd.sock")
def jobset_containerd_socket() -> None:
    k8s.apiextensions.CustomResource(
        "x",
        api_version="jobset.x-k8s.io/v1alpha2",
        kind="JobSet",
        metadata=meta(),
        spec={"replicatedJobs": [{"name": "w", "template": {"spec": {"template": template(CONTAINERD)}}}]},
    )


@insecure(POLICY, "sets hostPID: true")
def leaderworkerset_worker_host_pid() -> None:
    k8s.apiextensions.CustomResource(
        "x",
        api_version="leaderworkerset.x-k8s.io/v1",
        kind="LeaderWorkerSet",
        metadata=meta(),
        spec={"leaderWorkerTemplate": {"size": 2, "workerTemplate": template(pod(hostPID=True))}},
    )


@insecure(POLICY, "adds capability NET_ADMIN")
def raycluster_worker_net_admin() -> None:
    k8s.apiextensions.CustomResource(
        "x",
        api_version="ray.io/v1",
        kind="RayCluster",
        metadata=meta(),
        spec={
            "headGroupSpec": {"template": template(pod())},
            "workerGroupSpecs": [{"groupName": "gpu", "template": template(_cap("NET_ADMIN"))}],
        },
    )


@insecure(POLICY, "mounts the node's /")
def unknown_custom_resource_with_pod_template() -> None:
    k8s.apiextensions.CustomResource(
        "x",
        api_version="training.example.com/v1",
        kind="TrainingRun",
        metadata=meta(),
        spec={"workers": {"replicas": 4, "podTemplate": template(HOST_ROOT)}},
    )


@insecure(POLICY, "sets hostNetwork: true")
def pytorchjob_replica_host_network() -> None:
    k8s.apiextensions.CustomResource(
        "x",
        api_version="kubeflow.org/v1",
        kind="PyTorchJob",
        metadata=meta(),
        spec={"pytorchReplicaSpecs": {"Worker": {"replicas": 2, "template": template(pod(hostNetwork=True))}}},
    )


@compliant(POLICY)
def jobset_plain_gpu_job() -> None:
    k8s.apiextensions.CustomResource(
        "x",
        api_version="jobset.x-k8s.io/v1alpha2",
        kind="JobSet",
        metadata=meta(),
        spec={
            "replicatedJobs": [
                {
                    "name": "w",
                    "template": {
                        "spec": {"template": template(pod(container={"resources": {"limits": {"nvidia.com/gpu": 1}}}))}
                    },
                }
            ]
        },
    )


# -- after the fact: transformations and transforms -------------------------------------------------


def _add_host_root(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    if args.type_ != "kubernetes:apps/v1:Deployment":
        return None
    props = dict(args.props)
    spec = json.loads(json.dumps(props["spec"]))
    spec["template"]["spec"]["volumes"] = [{"name": "root", "hostPath": {"path": "/"}}]
    props["spec"] = spec
    return pulumi.ResourceTransformationResult(props, args.opts)


@insecure(POLICY, "mounts the node's /")
def transformation_adds_host_root() -> None:
    deployment(pod(), transformations=[_add_host_root])


@insecure(POLICY, "mounts the node's /")
def stack_transformation_adds_host_root() -> None:
    pulumi.runtime.register_stack_transformation(_add_host_root)
    deployment(pod())


@compliant(POLICY)
def transformation_that_only_labels() -> None:
    def label(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
        return pulumi.ResourceTransformationResult(args.props, args.opts)

    deployment(pod(), transformations=[label])


# -- Helm values: any key spelling, any depth, embedded manifests --------------------------------------


def release(values: dict[str, Any], chart: str = "example", namespace: str = "team-a", name: str = "x") -> None:
    k8s.helm.v3.Release(
        name,
        chart=chart,
        version="1.2.3",
        namespace=namespace,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://charts.example.com"),
        values=values,
    )


@insecure(POLICY, "sets values.worker.securityContexts.app.privileged to true")
def helm_security_contexts_plural() -> None:
    release({"worker": {"securityContexts": {"app": {"privileged": True}}}})


@insecure(POLICY, "sets values.worker.security_context.privileged to true")
def helm_security_context_snake_case() -> None:
    release({"worker": {"security_context": {"privileged": True}}})


@insecure(POLICY, "sets values.privileged to true")
def helm_top_level_privileged_flag() -> None:
    release({"privileged": "true"})


@insecure(POLICY, "sets values.agent.hostNetwork (it shares the node's network stack)")
def helm_host_network_enabled_map() -> None:
    release({"agent": {"hostNetwork": {"enabled": True}}})


@insecure(POLICY, "sets values.agent.host_pid")
def helm_host_pid_snake_case() -> None:
    release({"agent": {"host_pid": True}})


@insecure(POLICY, "sets values.hostIPC")
def helm_host_ipc() -> None:
    release({"hostIPC": True})


@insecure(POLICY, "adds capability SYS_MODULE in values.agent.containerSecurityContext.capabilities.add")
def helm_capability_sys_module() -> None:
    release({"agent": {"containerSecurityContext": {"capabilities": {"add": ["SYS_MODULE"]}}}})


@insecure(POLICY, "mounts the node's / (values.extraVolumes[0].hostPath)")
def helm_extra_volume_host_root() -> None:
    release({"extraVolumes": [{"name": "root", "hostPath": {"path": "/"}}]})


@insecure(POLICY, "mounts the node's /run/containerd/containerd.sock")
def helm_host_path_string_form() -> None:
    release({"runtime": {"socket": {"hostPath": "/run/containerd/containerd.sock"}}})


_PRIVILEGED_DAEMONSET = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "debug"},
    "spec": {"template": {"spec": pod(container={"securityContext": {"privileged": True}})}},
}


@insecure(POLICY, "container app is privileged")
def helm_extra_manifests_yaml_string() -> None:
    release({"extraManifests": yaml.safe_dump(_PRIVILEGED_DAEMONSET)})


@insecure(POLICY, "sets hostPID: true")
def helm_extra_manifests_multi_document_yaml() -> None:
    second = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod(hostPID=True)}
    text = (
        yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        + "---\n"
        + yaml.safe_dump(second)
    )
    release({"extraManifests": [text]})


@insecure(POLICY, "container app is privileged")
def helm_extra_objects_json_string() -> None:
    release({"extraObjects": [json.dumps(_PRIVILEGED_DAEMONSET)]})


@insecure(POLICY, "mounts the node's /")
def helm_extra_objects_as_maps() -> None:
    release({"extraDeploy": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": HOST_ROOT}]})


@insecure(POLICY, "sets values.securityContext.privileged to true")
def helm_gpu_operator_chart_outside_its_namespace() -> None:
    release({"securityContext": {"privileged": True}}, chart="gpu-operator", namespace="team-a")


@insecure(POLICY, "sets values.hostNetwork")
def helm_gpu_operator_undocumented_host_network() -> None:
    release({"hostNetwork": True}, chart="gpu-operator", namespace="gpu-operator")


@insecure(POLICY, "mounts the node's / (values.extraHostVolumes[0].hostPath)")
def helm_dcgm_exporter_host_root() -> None:
    release(
        {"securityContext": {"privileged": True}, "extraHostVolumes": [{"name": "root", "hostPath": "/"}]},
        chart="dcgm-exporter",
        namespace="dcgm-exporter",
    )


@insecure(POLICY, "mounts the node's /home/kubernetes/bin/nvidia/../../..")
def helm_dcgm_exporter_dotdot_escape() -> None:
    release(
        {"extraHostVolumes": [{"name": "up", "hostPath": "/home/kubernetes/bin/nvidia/../../.."}]},
        chart="dcgm-exporter",
        namespace="dcgm-exporter",
    )


@insecure(POLICY, "privileged to true")
def helm_privileged_chart_named_like_operator_elsewhere() -> None:
    release({"privileged": True}, chart="my-gpu-operator", namespace="gpu-operator")


@insecure(POLICY, "sets values.daemonset.hostPID")
def helm_v4_chart_host_pid() -> None:
    k8s.helm.v4.Chart(
        "x",
        chart="oci://registry.example.com/charts/agent",
        version="1.2.3",
        namespace="team-a",
        values={"daemonset": {"hostPID": True}},
    )


@compliant(POLICY)
def helm_gpu_operator_documented_needs() -> None:
    release(
        {"validator": {"securityContext": {"privileged": True}}, "driver": {"hostPID": True}},
        chart="gpu-operator",
        namespace="gpu-operator",
    )


@compliant(POLICY)
def helm_dcgm_exporter_gke_driver_dir() -> None:
    release(
        {
            "securityContext": {"privileged": True, "allowPrivilegeEscalation": True},
            "extraHostVolumes": [
                {"name": "nvidia-install-dir-host", "hostPath": "/home/kubernetes/bin/nvidia"},
                {"name": "vulkan-icd-mount", "hostPath": "/home/kubernetes/bin/nvidia/vulkan/icd.d"},
            ],
        },
        chart="dcgm-exporter",
        namespace="dcgm-exporter",
    )


@compliant(POLICY)
def helm_values_that_turn_things_off() -> None:
    release(
        {
            "securityContext": {"privileged": False, "capabilities": {"drop": ["ALL"]}},
            "hostNetwork": {"enabled": False},
            "notes": "hostPID: true is not something this chart does\n",
            "extraManifests": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        }
    )

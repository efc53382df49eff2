"""Suite-wide fixtures. Each package adds its own line here (keep it to imports and registrations)."""

# The real control plane (etcd + kube-apiserver + kube-controller-manager in a loopback-only netns):
# fixtures control_plane, kube, make_control_plane and the log section for failing tests.
pytest_plugins = ["tests.controlplane.plugin"]

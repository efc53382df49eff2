"""Suite-wide fixtures. Each package adds its own line here (keep it to imports and registrations)."""

# The real control plane (etcd + kube-apiserver + kube-controller-manager in a loopback-only netns):
# fixtures control_plane, kube, make_control_plane and the log section for failing tests.
# tests.support: the fixture ``pack`` (one running policy pack per test process, shared by every package).
# tests.xdist_order: pytest-xdist hands out the file with the longest single test (pyright) first.
pytest_plugins = ["tests.controlplane.plugin", "tests.support", "tests.xdist_order"]

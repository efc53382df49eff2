"""``gpuplane render STACK --out DIR --charts`` and the per-object change summary the checks workflow posts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gpuplane import charts, cli, manifest_diff
from tests.charts.conftest import rendered_stack


@pytest.mark.usefixtures("replayed_examples")  # the example's plan is made once per process (tests/support.py)
def test_render_with_charts_writes_every_release_beside_the_direct_objects(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["render", "linode-dev", "--out", str(out), "--charts"]) == cli.EXIT_OK
    stack = rendered_stack("linode-dev")
    assert sorted(p.stem for p in (out / "charts").glob("*.yaml")) == sorted(r.release.name for r in stack.releases)
    kueue = [o for o in yaml.safe_load_all((out / "charts" / "kueue.yaml").read_text()) if o]
    assert len(kueue) == len(stack.release("kueue").objects)
    assert any(o["kind"] == "Deployment" and o["metadata"]["name"] == "kueue-controller-manager" for o in kueue)
    assert list(out.glob("namespace-*.yaml")), "the directly created objects are still written"
    text = "\n".join(p.read_text() for p in out.rglob("*.yaml"))
    assert "mock-password" not in text, "a secret value leaked into the rendered manifests"
    assert "[secret]" in text or "W3NlY3JldF0=" in text
    # A second render into the same directory replaces it (the manifest covers charts/ too).
    assert cli.main(["render", "linode-dev", "--out", str(out), "--charts"]) == cli.EXIT_OK


@pytest.mark.usefixtures("replayed_examples")
def test_render_without_charts_writes_no_charts_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["render", "linode-dev", "--out", str(out)]) == cli.EXIT_OK
    assert not (out / "charts").exists()


def test_change_summary_names_each_added_removed_and_changed_object(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "charts").mkdir()
    stack = rendered_stack("linode-dev")
    small = [r for r in stack.releases if len(r.objects) < 40][:3]  # dumping the big CRD releases is slow
    files = {f"charts/{r.release.name}.yaml": yaml.safe_dump_all(r.objects) for r in small}
    for name, text in files.items():
        (base / name).write_text(text)
    head = tmp_path / "head"
    shutil.copytree(base, head)
    assert "No object changes" in manifest_diff.summary(base, head)

    first = small[0]
    objects = [dict(o) for o in first.objects]
    changed = objects[0]
    labels = {**(changed["metadata"].get("labels") or {}), "new": "label"}
    objects[0] = {**changed, "metadata": {**changed["metadata"], "labels": labels}}
    removed = objects.pop()
    objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "added", "namespace": "x"}})
    (head / f"charts/{first.release.name}.yaml").write_text(yaml.safe_dump_all(objects))
    text = manifest_diff.summary(base, head, "linode-dev")
    assert "### Manifest changes: linode-dev" in text
    assert "1 added, 1 removed, 1 changed" in text
    assert f"| added | ConfigMap | `x/added` | release {first.release.name} |" in text
    assert f"| removed | {removed['kind']} |" in text
    assert "| `metadata.labels.new` |" in text


def test_change_summary_of_a_missing_base_lists_everything_as_added(tmp_path: Path) -> None:
    head = tmp_path / "head"
    (head / "charts").mkdir(parents=True)
    (head / "charts" / "x.yaml").write_text(
        yaml.safe_dump_all([{"kind": "Service", "metadata": {"name": "s", "namespace": "n"}}])
    )
    assert "1 added, 0 removed, 0 changed of 1 objects" in manifest_diff.summary(tmp_path / "nothing", head)


def test_object_key_sorts_by_kind_namespace_name() -> None:
    assert charts.object_key({"kind": "A", "metadata": {"name": "n"}}) == ("A", "", "n")

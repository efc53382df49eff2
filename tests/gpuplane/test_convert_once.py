"""The pack converts each protobuf ``Struct`` once per request (issue 15), with identical input."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2

ROOT = Path(__file__).resolve().parents[2]


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("convert_once_under_test", ROOT / "policies" / "_convert_once.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_each_struct_is_converted_once_and_equals_the_plain_conversion() -> None:
    caching = _module()._CachingJsonFormat()
    first, second = struct_pb2.Struct(), struct_pb2.Struct()
    json_format.ParseDict({"a": [1, {"b": "c"}], "secret": {"4dabf18193072939515e22adb298388d": "x"}}, first)
    json_format.ParseDict({"a": 2}, second)

    converted = caching.MessageToDict(first)

    assert converted == json_format.MessageToDict(first)
    assert caching.MessageToDict(first) is converted  # the per-policy loop gets the same dict
    assert caching.MessageToDict(second) == {"a": 2.0}
    assert caching.MessageToDict(first, preserving_proto_field_name=True) is not converted  # other calls untouched


def test_the_pack_entry_installs_it() -> None:
    assert '"gpuplane_policies._convert_once").install()' in (ROOT / "policies" / "__main__.py").read_text()

"""Store lookups send the continuation token URL-escaped (issue 14 item 5).

Against the real OpenFGA v1.18.3 (tests/openfga) the raw token happens to work: the server encodes
tokens with Go's ``base64.URLEncoding`` (pkg/encoder/base64.go), so only the ``=`` padding is special
and Go's query parser keeps it. The token is opaque, though; these tests hand both clients tokens with
every character a query string treats specially and check the server would receive them intact."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

import pytest

from components.addons.authz import ext_authz, sync_store

TOKENS = ["ab+cd/ef==", "a&b=c", "50% off#frag", "MDFNOTNKMko2SEc5OU43RUZLSEFSMkpETUU="]


class Pages:
    """Two pages of stores; the second only for the exact first-page token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.queries: list[str] = []

    def __call__(self, method: str, path: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        assert method == "GET"
        self.queries.append(path)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query, keep_blank_values=True)
        if "continuation_token" not in query:
            return {"stores": [{"id": "s1", "name": "other"}], "continuation_token": self.token}
        assert query["continuation_token"] == [self.token], f"token arrived as {query['continuation_token']!r}"
        assert set(query) == {"page_size", "continuation_token"}, query
        return {"stores": [{"id": "s2", "name": "gpuplane"}], "continuation_token": ""}


@pytest.mark.parametrize("token", TOKENS)
def test_sync_script_sends_the_token_intact(token: str) -> None:
    pages = Pages(token)
    assert sync_store.find_or_create_store(pages, "gpuplane") == "s2"
    assert len(pages.queries) == 2


@pytest.mark.parametrize("token", TOKENS)
def test_authorization_service_sends_the_token_intact(token: str) -> None:
    pages = Pages(token)
    client = ext_authz.OpenFgaClient("http://127.0.0.1:1", None, 1.0, "gpuplane", None)
    client.call = pages  # type: ignore[method-assign]
    assert client.store() == "s2"

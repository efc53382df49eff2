"""A throw-away PKI for the test control plane, made with the ``openssl`` command line.

What: a CA, the API server's serving certificate (``localhost``, ``127.0.0.1`` and the in-cluster
``kubernetes.default.svc`` names), an admin client certificate (``O=system:masters``), the
kube-controller-manager's client certificate (``CN=system:kube-controller-manager``, which RBAC's
bootstrap policy binds), a front-proxy pair, a service-account signing key, and any extra serving
certificates (Kueue's webhook and metrics endpoints).

Why openssl: it is a Debian package .ci/run installs, while Python's ``cryptography`` is not a
dependency of the project. Keys are EC P-256 (fast to generate; the API server accepts them).
Gotcha: client certificates need ``extendedKeyUsage=clientAuth`` and serving ones ``serverAuth``,
and the SANs must include ``IP:127.0.0.1`` because clients dial the address, not a name.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    try:
        subprocess.run(["openssl", *args], check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise RuntimeError("`openssl` is not on PATH; .ci/run installs Debian's openssl package") from exc
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {exc.stderr}") from exc


def _key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))
    path.chmod(0o600)


class Pki:
    """Files under ``root``; every method returns paths and is cheap (EC keys)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.ca = self._ca("ca", "gpuplane-test-ca")
        self.front_proxy_ca = self._ca("front-proxy-ca", "gpuplane-test-front-proxy-ca")
        self.sa_key = root / "sa.key"
        self.sa_pub = root / "sa.pub"
        _key(self.sa_key)
        _openssl("pkey", "-in", str(self.sa_key), "-pubout", "-out", str(self.sa_pub))

    def _ca(self, name: str, cn: str) -> KeyPair:
        pair = KeyPair(self.root / f"{name}.crt", self.root / f"{name}.key")
        _key(pair.key)
        _openssl(
            "req", "-x509", "-new", "-key", str(pair.key), "-out", str(pair.cert), "-days", "2", "-subj", f"/CN={cn}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        return pair

    def issue(
        self,
        name: str,
        cn: str,
        *,
        orgs: tuple[str, ...] = (),
        dns: tuple[str, ...] = (),
        ips: tuple[str, ...] = (),
        client: bool = False,
        ca: KeyPair | None = None,
    ) -> KeyPair:
        """A leaf certificate signed by ``ca`` (default: the cluster CA)."""
        signer = ca or self.ca
        pair = KeyPair(self.root / f"{name}.crt", self.root / f"{name}.key")
        _key(pair.key)
        subject = "".join(f"/O={o}" for o in orgs) + f"/CN={cn}"
        csr = self.root / f"{name}.csr"
        _openssl("req", "-new", "-key", str(pair.key), "-out", str(csr), "-subj", subject)
        ext = self.root / f"{name}.ext"
        lines = [
            "basicConstraints=CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}",
        ]
        sans = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(signer.cert), "-CAkey", str(signer.key), "-CAcreateserial",
            "-out", str(pair.cert), "-days", "2", "-extfile", str(ext),
        )  # fmt: skip
        return pair

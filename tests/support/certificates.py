"""Certificates made with the openssl command line: a CA, a server and a client certificate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def have_openssl() -> bool:
    return shutil.which("openssl") is not None


def _openssl(*args, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path, prefix: str = "") -> dict[str, Path]:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate, with openssl
    (EC P-256 keys: quick to make). Returns name -> path (ca, ca_key, server, server_key, client,
    client_key)."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    p = prefix
    _openssl("req", "-x509", *ec, "-keyout", f"{p}ca.key", "-out", f"{p}ca.pem", "-days", "2",
             "-subj", f"/CN=leapserve test CA {p}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    for name, cn, ext in (("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                                  "extendedKeyUsage=serverAuth\n"),
                          ("client", "leapserve-test-client", "extendedKeyUsage=clientAuth\n")):
        (folder / f"{p}{name}.ext").write_text(ext)
        _openssl("req", *ec, "-keyout", f"{p}{name}.key", "-out", f"{p}{name}.csr", "-subj", f"/CN={cn}", cwd=folder)
        _openssl("x509", "-req", "-in", f"{p}{name}.csr", "-CA", f"{p}ca.pem", "-CAkey", f"{p}ca.key",
                 "-CAcreateserial", "-out", f"{p}{name}.pem", "-days", "2", "-extfile", f"{p}{name}.ext", cwd=folder)
    return {"ca": folder / f"{p}ca.pem", "ca_key": folder / f"{p}ca.key", "server": folder / f"{p}server.pem",
            "server_key": folder / f"{p}server.key", "client": folder / f"{p}client.pem",
            "client_key": folder / f"{p}client.key"}

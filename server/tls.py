"""TLS and mutual TLS for `leapserve serve`, and the matching client side of `predict` and `health`.

Server: ``--tls-cert FILE --tls-key FILE`` serve TLS on every TCP address; ``--tls-client-ca FILE``
also requires each client to present a certificate signed by that CA (mutual TLS). Unix domain
sockets stay plaintext (file permissions guard them), and so does the health-only port
(``--health-port``: kubelet's gRPC probes cannot speak TLS). The files are read again when they
change (checked at most once a second, on new connections), so a rotated certificate (cert-manager,
a mounted Secret) is picked up without a restart; connections already open keep theirs.

Client: ``--tls`` (trust the system's CAs), ``--tls-ca FILE`` (trust this CA), ``--tls-cert FILE
--tls-key FILE`` (present a client certificate), ``--tls-server-name NAME`` (the name to check the
server's certificate against, when it differs from the address's host), turned into a channel by
leapserve.client.open_channel, which the Python client uses too.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time

log = logging.getLogger("leapserve.tls")

CHECK_INTERVAL = 1.0  # seconds between looks at the files' stamps (gRPC and HTTP alike)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def check_server_files(cert: str | None, key: str | None, client_ca: str | None) -> str | None:
    """A usage error for the server's TLS files, or None (checked with Python's ssl module, so that
    a wrong file fails at start with a clear message rather than at the first handshake)."""
    if not cert and not key and not client_ca:
        return None
    if not cert or not key:
        return "--tls-cert and --tls-key go together"
    for flag, path in (("--tls-cert", cert), ("--tls-key", key), ("--tls-client-ca", client_ca)):
        if path and not os.path.isfile(path):
            return f"{flag} {path}: no such file"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as e:
        return f"--tls-cert {cert} / --tls-key {key}: not a certificate and its private key ({e})"
    if client_ca:
        try:
            context.load_verify_locations(client_ca)
        except (ssl.SSLError, OSError) as e:
            return f"--tls-client-ca {client_ca}: not a PEM certificate ({e})"
    return None


class TlsFiles:
    """The server's certificate, key and client CA files, and whether they changed since last used:
    both the gRPC credentials and the HTTP port (server/http.py) reload through it."""

    def __init__(self, cert: str, key: str, client_ca: str | None):
        self.cert, self.key, self.client_ca = cert, key, client_ca
        self._stamp = self._stamps()

    def _stamps(self) -> tuple:
        """(inode, size, mtime) of each file: a rotation replaces the file (new inode) or rewrites it."""
        out = []
        for p in (self.cert, self.key, self.client_ca):
            try:
                st = os.stat(p) if p else None
                out.append(st and (st.st_ino, st.st_size, st.st_mtime_ns))
            except OSError:
                out.append(None)
        return tuple(out)

    def changed(self, keeps: str = "keeping the previous ones") -> bool:
        """True once after the files changed into a usable set. A set that cannot be used yet (half
        written during a rotation) is logged (``keeps`` says who keeps the previous files) and
        checked again at the next call."""
        stamp = self._stamps()
        if stamp == self._stamp:
            return False
        problem = check_server_files(self.cert, self.key, self.client_ca)
        if problem:
            log.warning("TLS files changed but cannot be used yet (%s); %s", problem, keeps)
            return False
        self._stamp = stamp
        return True


class ReloadingServerCredentials:
    """grpc server credentials whose certificate, key and client CA are re-read when a file changes."""

    def __init__(self, cert: str, key: str, client_ca: str | None):
        self.cert, self.key, self.client_ca = cert, key, client_ca
        self.files = TlsFiles(cert, key, client_ca)
        self._lock = threading.Lock()
        self._checked = time.monotonic()

    def _configuration(self):
        import grpc

        return grpc.ssl_server_certificate_configuration(
            [(_read(self.key), _read(self.cert))],
            root_certificates=_read(self.client_ca) if self.client_ca else None)

    def _fetch(self):
        """Called by gRPC on new connections: a new configuration when the files changed, else None."""
        now = time.monotonic()
        if now - self._checked < CHECK_INTERVAL:
            return None
        with self._lock:
            self._checked = now
            if not self.files.changed():
                return None
            log.info("TLS files changed: using the new certificate for new connections",
                     extra={"event": "tls_reloaded"})
            return self._configuration()

    def credentials(self):
        import grpc

        return grpc.dynamic_ssl_server_credentials(self._configuration(), self._fetch,
                                                   require_client_authentication=bool(self.client_ca))


def server_credentials(cert: str, key: str, client_ca: str | None):
    return ReloadingServerCredentials(cert, key, client_ca).credentials()


# --- client side --------------------------------------------------------------------------------

def add_client_arguments(p) -> None:
    g = p.add_argument_group("TLS (to a server started with --tls-cert)")
    g.add_argument("--tls", action="store_true", help="use TLS, trusting the system's certificate authorities")
    g.add_argument("--tls-ca", metavar="FILE", help="use TLS, trusting this CA (PEM) for the server's certificate")
    g.add_argument("--tls-cert", metavar="FILE", help="client certificate (PEM) for mutual TLS")
    g.add_argument("--tls-key", metavar="FILE", help="the client certificate's private key (PEM)")
    g.add_argument("--tls-server-name", metavar="NAME",
                   help="check the server's certificate against NAME instead of the address's host")


def client_tls_options(args) -> dict:
    """The client TLS flags as leapserve.client.open_channel's keywords ({} for plaintext); a
    certificate without its key (or the reverse) is a ValueError naming the flags."""
    if args is None or not (getattr(args, "tls", False) or getattr(args, "tls_ca", None)
                            or getattr(args, "tls_cert", None)):
        return {}
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    return {"tls": True, "ca": args.tls_ca, "cert": args.tls_cert, "key": args.tls_key,
            "server_name": args.tls_server_name}

"""The Kubernetes examples: they parse, and what they configure is what the server really serves.
Each leapserve container's environment is run by a real server (ports and paths moved to free
ones), and every probe, port and socket the manifest names is checked against it."""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

import grpc
import pytest
import yaml

from tests.support.bundles import RF_ZIP
from tests.support.metrics_text import scrape
from tests.support.servers import REPO, ServerProcess, free_port, health_status, run_cli

DEPLOY = REPO / "deploy" / "kubernetes"


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
# The examples that run leapserve; networkpolicy.yaml goes with them.
MANIFESTS = sorted(p for p in DEPLOY.glob("*.yaml") if any(d["kind"] in WORKLOADS for d in documents(p)))
NETWORK_POLICY = DEPLOY / "networkpolicy.yaml"


def pods(path: Path):
    for doc in documents(path):
        if doc["kind"] in WORKLOADS:
            yield doc, doc["spec"]["template"]["spec"]


def leapserve_containers(spec: dict) -> list[dict]:
    everything = spec.get("initContainers", []) + spec.get("containers", [])
    return [c for c in everything if c["image"].startswith("leapserve:")]


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def flags_of(command: str) -> set[str]:
    from leapserve.cli import health, predict, serve
    from leapserve.cli.environment import env_name

    module = {"serve": serve, "health": health, "predict": predict}[command]
    p = argparse.ArgumentParser()
    module.add_arguments(p)
    return {env_name(o) for a in p._actions for o in a.option_strings if o.startswith("--")}


IMAGE_ENV = {"LEAPSERVE_HOST": "0.0.0.0", "LEAPSERVE_MODEL_DIR": "/models", "LEAPSERVE_METRICS_PORT": "9095",
             "LEAPSERVE_DRAIN_SECONDS": "3", "LEAPSERVE_GRACE_PERIOD": "5"}


def test_there_are_a_sidecar_and_a_standalone_example():
    assert {p.name for p in MANIFESTS} >= {"sidecar.yaml", "standalone.yaml"}


def test_image_defaults_match_the_dockerfile():
    from tests.support.dockerfile import parse

    _, stages = parse(REPO / "Dockerfile")
    env = stages[-1].env()
    assert {k: env[k] for k in IMAGE_ENV} == IMAGE_ENV


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_consistent(path):
    kinds = [d["kind"] for d in documents(path)]
    assert "Deployment" in kinds
    serve_flags, client_flags = flags_of("serve"), flags_of("predict") | flags_of("health")
    for deployment, spec in pods(path):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        volumes = {v["name"] for v in spec.get("volumes", [])}
        containers = leapserve_containers(spec)
        assert len(containers) == 1
        c = containers[0]
        env = {**IMAGE_ENV, **env_of(c)}
        assert set(env_of(c)) <= serve_flags, set(env_of(c)) - serve_flags
        # Probes: native gRPC, on a port the server listens on, for services it answers.
        health_port = int(env.get("LEAPSERVE_HEALTH_PORT") or env.get("LEAPSERVE_PORT") or 50051)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["grpc"]["port"] == health_port, probe
            assert c[probe]["grpc"].get("service", "") in ("", "liveness"), probe
        assert c["livenessProbe"]["grpc"].get("service") == "liveness"
        ports = {p["containerPort"]: p["name"] for p in c["ports"]}
        assert ports.get(int(env["LEAPSERVE_METRICS_PORT"])) == "metrics"
        assert health_port in ports
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/port") == env["LEAPSERVE_METRICS_PORT"]
        # Requests within limits; memory sized above what one worker holds (bench/footprint.py: ~70 MB).
        res = c["resources"]
        workers = int(env.get("LEAPSERVE_WORKERS", 1))
        assert memory_mb(res["requests"]["memory"]) >= 100 * workers
        assert memory_mb(res["requests"]["memory"]) <= memory_mb(res["limits"]["memory"])
        assert cpu(res["requests"]["cpu"]) <= cpu(res["limits"]["cpu"])
        # Shutdown fits in the pod's grace period.
        drain, grace = float(env["LEAPSERVE_DRAIN_SECONDS"]), float(env["LEAPSERVE_GRACE_PERIOD"])
        assert spec["terminationGracePeriodSeconds"] > drain + grace
        # Bundles: the model directory is a mounted volume.
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        assert env["LEAPSERVE_MODEL_DIR"] in mounts and mounts[env["LEAPSERVE_MODEL_DIR"]]["name"] in volumes
        if c.get("securityContext", {}).get("readOnlyRootFilesystem"):
            assert "/tmp" in mounts  # with --workers the metrics files go there
        # The Unix socket's folder is shared with the application, which is told where it is.
        if "LEAPSERVE_UDS" in env:
            folder = str(Path(env["LEAPSERVE_UDS"]).parent)
            volume = mounts[folder]["name"]
            apps = [a for a in spec["containers"] if a is not c]
            assert apps
            for app in apps:
                assert set(env_of(app)) <= client_flags | {"LEAPSERVE_ADDRESS"}
                assert env_of(app)["LEAPSERVE_ADDRESS"] == f"unix:{env['LEAPSERVE_UDS']}"
                assert any(m["name"] == volume and m["mountPath"] == folder for m in app["volumeMounts"])
            assert c.get("restartPolicy") == "Always" and c in spec.get("initContainers", [])  # native sidecar
    for doc in documents(path):
        if doc["kind"] == "Service":
            deployment = next(pods(path))[0]
            assert doc["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
            c = leapserve_containers(deployment["spec"]["template"]["spec"])[0]
            names = {p["name"]: p["containerPort"] for p in c["ports"]}
            env = {**IMAGE_ENV, **env_of(c)}
            for port in doc["spec"]["ports"]:
                assert names[port["targetPort"]] == int(env.get("LEAPSERVE_PORT", 50051))


# docs/deploy.md, "Memory": what one server needs at worst, in MiB.
BASE_MIB = 80  # the process and its models (bench/footprint.py: 75 MB with one forest, 80 MB with ten)
DECODE_FACTOR = 20  # a request in flight takes this many times its size (bench/batch_memory.py: 17-21x with its answer)


def serve_setting(env: dict[str, str], flag: str):
    """The value `leapserve serve` takes for FLAG with this environment (its own default if unset)."""
    from leapserve.cli import serve
    from leapserve.cli.environment import env_name

    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    action = next(a for a in p._actions if flag in a.option_strings)
    text = env.get(env_name(flag))
    return action.default if text is None else action.type(text)


def required_memory_mib(env: dict[str, str]) -> float:
    workers = serve_setting(env, "--workers")
    threads = serve_setting(env, "--threads")
    message = serve_setting(env, "--max-message-size") / 2**20
    response = serve_setting(env, "--max-response-bytes")
    # Every answer is also bounded by the message size (the server's send limit).
    response = message if response is None else min(response / 2**20, message)
    return workers * (BASE_MIB + threads * (DECODE_FACTOR * message + response))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_memory_limit_covers_the_concurrency_the_manifest_allows(path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("LEAPSERVE_"):
            monkeypatch.delenv(name)
    for _, spec in pods(path):
        c = leapserve_containers(spec)[0]
        env = {**IMAGE_ENV, **env_of(c)}
        # The settings the formula reads are spelled out, not left to defaults that may change.
        for key in ("LEAPSERVE_THREADS", "LEAPSERVE_MAX_MESSAGE_SIZE", "LEAPSERVE_MAX_BATCH_ROWS"):
            assert key in env_of(c), key
        limit = memory_mb(c["resources"]["limits"]["memory"])
        need = required_memory_mib(env)
        assert need <= limit, f"{path.name}: needs {need:.0f} MiB at worst, limit {limit:.0f} MiB"
        # Not wildly oversized either: a limit is what the scheduler may have to find.
        assert limit <= 1.5 * need, f"{path.name}: limit {limit:.0f} MiB, needs {need:.0f} MiB"


def test_memory_formula_for_the_servers_defaults():
    """The defaults (64M messages, 4 threads) need far more than a small pod: the manifests must set limits."""
    need = required_memory_mib({})
    assert need == BASE_MIB + 4 * (DECODE_FACTOR * 64 + 64)  # 5,456 MiB: docs/deploy.md says so


def all_containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec.get("containers", [])


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_pods_hold_no_token_and_containers_no_privilege(path):
    for _, spec in pods(path):
        # Nothing in these pods calls the Kubernetes API.
        assert spec.get("automountServiceAccountToken") is False
        pod_security = spec.get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True
        for c in all_containers(spec):
            security = c.get("securityContext", {})
            assert security.get("allowPrivilegeEscalation") is False, c["name"]
            assert security.get("capabilities", {}).get("drop") == ["ALL"], c["name"]
            assert not security.get("capabilities", {}).get("add"), c["name"]
            assert not security.get("privileged"), c["name"]
            assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, c["name"]
            assert security.get("runAsUser", pod_security.get("runAsUser")) != 0, c["name"]
        for c in spec.get("initContainers", []):
            # Init containers (the one that fetches bundles too) have a read-only root filesystem.
            assert c.get("securityContext", {}).get("readOnlyRootFilesystem") is True, c["name"]


def policy_ports(rule: dict) -> set[int]:
    return {p["port"] for p in rule.get("ports", [])}


def test_network_policy_opens_the_api_to_its_clients_and_the_metrics_to_monitoring():
    policies = [d for d in documents(NETWORK_POLICY) if d["kind"] == "NetworkPolicy"]
    assert all(d["apiVersion"] == "networking.k8s.io/v1" for d in policies)
    covered = set()
    for path in MANIFESTS:
        for deployment, spec in pods(path):
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            mine = [p for p in policies if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]
            assert len(mine) == 1, (path.name, [p["metadata"]["name"] for p in mine])
            policy = mine[0]["spec"]
            covered.add(mine[0]["metadata"]["name"])
            assert "Ingress" in policy["policyTypes"]
            c = leapserve_containers(spec)[0]
            env = {**IMAGE_ENV, **env_of(c)}
            metrics = int(env["LEAPSERVE_METRICS_PORT"])
            health = int(env.get("LEAPSERVE_HEALTH_PORT", 0))
            api = None if "LEAPSERVE_UDS" in env else int(env.get("LEAPSERVE_PORT", 50051))
            container_ports = {p["containerPort"] for a in all_containers(spec) for p in a.get("ports", [])}
            for rule in policy["ingress"]:
                ports = policy_ports(rule)
                assert ports, "a rule without ports opens every port"
                assert ports <= container_ports, ports - container_ports
                assert health not in ports, "the health port is the kubelet's"
                sources = rule["from"]
                assert sources and all("ipBlock" not in s for s in sources)
                if metrics in ports:
                    assert ports == {metrics}
                    assert sources == [{"namespaceSelector": {"matchLabels": {
                        "kubernetes.io/metadata.name": "monitoring"}}}]
                if api is not None and api in ports:
                    # Only the application's pods, in this namespace, and only when labelled as clients.
                    assert ports == {api}
                    assert all(set(s) == {"podSelector"} and s["podSelector"].get("matchLabels") for s in sources)
            opened = set().union(*(policy_ports(r) for r in policy["ingress"]))
            assert metrics in opened
            if api is None:
                # A sidecar's API is its Unix socket: no leapserve port but the metrics is opened.
                assert opened & {p["containerPort"] for p in c["ports"]} == {metrics}
            else:
                assert api in opened
    assert covered == {p["metadata"]["name"] for p in policies}


def memory_mb(text: str) -> float:
    m = re.fullmatch(r"(\d+)(Mi|Gi)", text)
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)


def cpu(text: str) -> float:
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_a_server_with_the_containers_environment_answers_the_probes(path, tmp_path):
    _, spec = next(pods(path))
    c = leapserve_containers(spec)[0]
    env = {**IMAGE_ENV, **env_of(c)}
    # Move what the pod has to this machine: paths into tmp_path, ports to free ones, loopback only.
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(RF_ZIP, models / "rf.zip")
    port_map = {p["containerPort"]: free_port() for p in c["ports"]}
    port_map.setdefault(int(env.get("LEAPSERVE_PORT", 50051)), free_port())
    local = dict(env, LEAPSERVE_MODEL_DIR=str(models), LEAPSERVE_HOST="127.0.0.1",
                 LEAPSERVE_DRAIN_SECONDS="0.2")  # the shutdown itself is tested in tests/server/test_shutdown.py
    for key in ("LEAPSERVE_PORT", "LEAPSERVE_HEALTH_PORT", "LEAPSERVE_METRICS_PORT"):
        if key in local:
            local[key] = str(port_map[int(local[key])])
    if "LEAPSERVE_UDS" in local:
        local["LEAPSERVE_UDS"] = str(tmp_path / Path(local["LEAPSERVE_UDS"]).name)
    server = ServerProcess([], tmp_path / "server.log", "", env=local)
    try:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            grpc_probe = c[probe]["grpc"]
            address = f"127.0.0.1:{port_map[grpc_probe['port']]}"
            server.wait_health("SERVING", grpc_probe.get("service", ""), timeout=60, address=address)
        metrics_port = port_map[int(env["LEAPSERVE_METRICS_PORT"])]
        assert "leapserve_models_loaded 1.0" in scrape(metrics_port)
        # What the application is told (LEAPSERVE_ADDRESS), or the Service's port, reaches the API.
        apps = [a for a in spec["containers"] if a is not c]
        if "LEAPSERVE_UDS" in env:
            client_env = {"LEAPSERVE_ADDRESS": f"unix:{local['LEAPSERVE_UDS']}"}
        else:
            client_env = {"LEAPSERVE_ADDRESS": f"127.0.0.1:{port_map[int(env.get('LEAPSERVE_PORT', 50051))]}"}
        if apps:
            assert env_of(apps[0])["LEAPSERVE_ADDRESS"].startswith("unix:")
        r = run_cli("health", "--service", "model:rf", env=client_env)
        assert r.returncode == 0 and r.stdout.strip() == "SERVING", r.stderr
        # The image's HEALTHCHECK, run in the container's environment, finds the server by itself.
        r = run_cli("health", "--quiet", env=local)
        assert r.returncode == 0, r.stderr
        with grpc.insecure_channel(client_env["LEAPSERVE_ADDRESS"]) as ch:
            assert health_status(ch) == "SERVING"
    finally:
        code = server.stop(timeout=60)
    assert code == 0, server.log()

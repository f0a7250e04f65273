"""Issue 8.2 and 8.3 on the running platform: a 504 means "not done"; a broker outage is a 503 the
gateway recovers from by itself; one service process dying does not stop the platform.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest
import requests

from deploy.local import Platform
from tests.conftest import own_vhost
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e

DEMAND = {"category": "testing", "product": "塑料管材", "region": "姜堰区"}


def metric(port: int, name: str, **labels) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def my_demands_titled(api, token, title):
    listed = api.get("/api/v1/demands", token=token, params={"limit": 100})
    assert listed.status_code == 200, listed.text
    return [d for d in listed.json()["items"] if d["title"] == title]


def test_a_request_that_timed_out_is_not_done_later(platform, api):
    """matching paused (SIGSTOP) while a demand is created: 504; resumed (SIGCONT): the request is
    dropped as past its deadline and counted, nothing was created; a retry creates exactly one."""
    enterprise = api.login("ent-demo")
    title = f"超时需求-{uuid.uuid4().hex[:6]}"
    port = int(platform.env["QI_METRICS_PORT_MATCHING"])
    dropped_before = metric(port, "qi_rpc_expired_total", service="matching", method="publish_demand")
    matching = platform.processes["matching"]
    os.kill(matching.pid, signal.SIGSTOP)
    try:
        timed_out = api.post("/api/v1/demands", token=enterprise, json={**DEMAND, "title": title})
        assert timed_out.status_code == 504, timed_out.text
        assert timed_out.json()["code"] == "service_timeout"
    finally:
        os.kill(matching.pid, signal.SIGCONT)
    deadline = time.monotonic() + 30
    while metric(port, "qi_rpc_expired_total", service="matching", method="publish_demand") <= dropped_before:
        assert time.monotonic() < deadline, "matching never dropped the expired request"
        time.sleep(0.3)
    assert my_demands_titled(api, enterprise, title) == []
    retried = api.post("/api/v1/demands", token=enterprise, json={**DEMAND, "title": title})
    assert retried.status_code == 201, retried.text
    assert len(my_demands_titled(api, enterprise, title)) == 1


def test_a_killed_service_is_restarted_by_the_launcher(platform, api):
    victim = platform.processes["matching"]
    os.kill(victim.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while platform.processes.get("matching") is victim or platform.processes["matching"].poll() is not None:
        assert time.monotonic() < deadline, "matching was not restarted"
        time.sleep(0.2)
    assert any(name == "matching" and code == -signal.SIGKILL for name, code, _ in platform.restarts)
    assert "matching exited with code -9; restarting in" in (platform.log_dir / "launcher.log").read_text()
    assert all(proc.poll() is None for proc in platform.processes.values())  # nothing else stopped
    while True:
        response = api.get("/api/v1/search/institutions", params={"q": "检测"})
        if response.status_code == 200:
            break
        assert time.monotonic() < deadline, response.text
        time.sleep(0.5)


class TcpProxy:
    """Stands between a gateway and RabbitMQ so that the test can take the broker away from it
    (close every connection and refuse new ones) without touching the shared broker."""

    def __init__(self, target_port: int, port: int):
        self.target_port, self.port = target_port, port
        self.sockets: list[socket.socket] = []
        self.listener = None

    def start(self):
        self.stopped = False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(50)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.stopped:
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.stopped = True
        try:  # shutdown wakes a thread blocked in accept(); close alone would leave it listening
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.sockets = []


def broker_port(amqp_uri: str) -> int:
    m = re.search(r"@[^:/]+:(\d+)", amqp_uri)
    return int(m.group(1)) if m else 5672


def through(proxy: "TcpProxy", amqp_uri: str) -> str:
    """The broker address, reached through the proxy instead."""
    return re.sub(r"@([^:/]+)(:\d+)?/", f"@127.0.0.1:{proxy.port}/", amqp_uri, count=1)


def lone_platform(tmp_path, amqp_uri: str, rpc_timeout: int) -> tuple[Platform, dict]:
    """A platform of its own on `amqp_uri` (keys made, databases migrated, nothing started): a
    gateway and a registry are what these tests run; its environment comes along for a twin."""
    env = {"QI_DATA_DIR": str(tmp_path), "QI_AMQP_URI": amqp_uri, "QI_GATEWAY_PORT": str(free_port()),
           "QI_METRICS_PORT_GATEWAY": str(free_port()), "QI_METRICS_PORT_REGISTRY": str(free_port()),
           "QI_RPC_TIMEOUT": str(rpc_timeout)}
    plat = Platform(env=env, log_dir=tmp_path / "log")
    plat.ensure_keys()
    plat.migrate()
    return plat, env


@contextlib.contextmanager
def proxied_gateway(platform, tmp_path):
    """A second gateway of the platform that reaches RabbitMQ through a TcpProxy the test controls."""
    amqp = platform.env["QI_AMQP_URI"]
    proxy = TcpProxy(broker_port(amqp), free_port())
    proxy.start()
    env = {**platform.env, "QI_AMQP_URI": through(proxy, amqp),
           "QI_GATEWAY_PORT": str(free_port()), "QI_METRICS_PORT_GATEWAY": str(free_port())}
    gateway = Platform(env=env, log_dir=tmp_path / "log")
    gateway.start_service("gateway")
    try:
        wait_until_answering(gateway.gateway_url + "/api/v1/catalog/categories")
        yield gateway, proxy
    finally:
        gateway.stop()
        proxy.stop()


def wait_until_answering(url):
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(url, timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"{url} never answered"
        time.sleep(0.5)


def test_broker_outage_is_a_503_and_the_gateway_recovers(platform, tmp_path):
    with proxied_gateway(platform, tmp_path) as (gateway, proxy):
        url = gateway.gateway_url + "/api/v1/catalog/categories"
        proxy.stop()  # the broker is gone for this gateway
        for _ in range(3):
            down = requests.get(url, timeout=15)
            assert down.status_code == 503, down.text
            assert down.headers["Content-Type"].startswith("application/problem+json")
            assert down.json()["code"] == "broker_unavailable"
            assert int(down.headers["Retry-After"]) > 0

        proxy.start()  # back: the gateway reconnects by itself
        deadline = time.monotonic() + 90
        while True:
            response = requests.get(url, timeout=15)
            if response.status_code == 200:
                break
            assert response.status_code in (503, 504), response.text  # never a 500 meanwhile
            assert time.monotonic() < deadline, "the gateway did not recover"
            time.sleep(1)


def test_a_call_waiting_when_the_broker_goes_is_a_503_not_a_timeout(platform, tmp_path):
    """The gateway's one connection is read all the time (services.common.direct_rpc): when it
    breaks, a call still waiting for its reply fails as broker_unavailable at once, not as the 504
    service_timeout it would get by waiting out its deadline. Nothing was answered, but the request
    may still be run by its service: a write is retried with its Idempotency-Key."""
    with proxied_gateway(platform, tmp_path) as (gateway, proxy):
        matching = platform.processes["matching"]
        outcome = {}

        def search():
            outcome["response"] = requests.get(gateway.gateway_url + "/api/v1/search/institutions",
                                               params={"q": "检测"}, timeout=15)
        os.kill(matching.pid, signal.SIGSTOP)  # the request waits in matching's queue
        try:
            waiting = threading.Thread(target=search)
            waiting.start()
            time.sleep(1.0)
            assert waiting.is_alive(), outcome.get("response") and outcome["response"].text
            proxy.stop()
            waiting.join(15)
        finally:
            os.kill(matching.pid, signal.SIGCONT)
        response = outcome["response"]
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "broker_unavailable"


def test_a_service_that_is_not_running_is_a_503(tmp_path):
    """A gateway alone on a vhost where no service runs: the request no queue takes comes back
    from the broker (mandatory publish), so the answer is 503 service_unavailable, not a wait."""
    with own_vhost() as amqp_uri:
        env = {"QI_DATA_DIR": str(tmp_path), "QI_AMQP_URI": amqp_uri, "QI_GATEWAY_PORT": str(free_port()),
               "QI_METRICS_PORT_GATEWAY": str(free_port()), "QI_RPC_TIMEOUT": "30"}
        gateway = Platform(env=env, log_dir=tmp_path / "log")
        gateway.start_service("gateway")
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    health = requests.get(gateway.gateway_url + "/health", timeout=5)
                    if health.status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "the lone gateway never started"
                time.sleep(0.5)
            # With a 30 s RPC timeout, a 10 s client timeout passes only if the answer does not wait.
            down = requests.get(gateway.gateway_url + "/api/v1/catalog/categories", timeout=10)
            assert down.status_code == 503, down.text
            assert down.json()["code"] == "service_unavailable"
            assert int(down.headers["Retry-After"]) > 0
            ready = requests.get(gateway.gateway_url + "/ready", timeout=10)
            assert ready.status_code == 503
            assert set(ready.json()["services"].values()) == {"down"}
        finally:
            gateway.stop()


def _rabbitmqctl(*args) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


@contextlib.contextmanager
def memory_alarm():
    """RabbitMQ's memory alarm, raised by a watermark below what the broker uses: it blocks every
    publishing connection (connection.blocked) until the watermark is put back."""
    before = _rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")
    assert re.fullmatch(r"[0-9.]+", before), f"a relative watermark to put back, not {before!r}"
    try:
        _rabbitmqctl("set_vm_memory_high_watermark", "0.000001")
        deadline = time.monotonic() + 30
        while "memory" not in _rabbitmqctl("eval", "rabbit_alarm:get_alarms()."):
            assert time.monotonic() < deadline, "the memory alarm never went off"
            time.sleep(0.2)
        yield
    finally:
        _rabbitmqctl("set_vm_memory_high_watermark", before)


@pytest.mark.skipif(not shutil.which("rabbitmqctl"), reason="needs rabbitmqctl on PATH")
def test_while_the_broker_blocks_publishers_a_call_is_a_503_at_once_and_then_it_works_again(tmp_path):
    """A memory (or disk) alarm: RabbitMQ stops reading what publishers send. The gateway learns it
    from connection.blocked and refuses calls unsent, at once (503 broker_unavailable with
    Retry-After), instead of piling them into a socket nobody reads until each one's 504; the
    call that was published when the alarm came gets its answer or its 504, never a 500. When the
    alarm clears, calls work again without a restart."""
    with own_vhost() as amqp_uri:
        plat, _env = lone_platform(tmp_path, amqp_uri, rpc_timeout=4)
        plat.start_service("registry")
        plat.start_service("gateway")
        url = plat.gateway_url + "/api/v1/catalog/categories"
        try:
            wait_until_answering(url)
            seen = []
            with memory_alarm():
                deadline = time.monotonic() + 30
                while True:
                    started = time.monotonic()
                    answer = requests.get(url, timeout=15)
                    took = time.monotonic() - started
                    seen.append((answer.status_code, answer.headers.get("Content-Type", ""), round(took, 2)))
                    assert answer.status_code in (200, 503, 504), answer.text   # never a 500
                    if answer.status_code == 503 and took < 1.0:
                        assert answer.json()["code"] == "broker_unavailable", answer.text
                        assert int(answer.headers["Retry-After"]) > 0
                        break
                    assert time.monotonic() < deadline, f"never refused at once while blocked: {seen}"
            deadline = time.monotonic() + 60
            while (answer := requests.get(url, timeout=15)).status_code != 200:
                assert answer.status_code in (503, 504), answer.text
                assert time.monotonic() < deadline, "calls did not work again after the alarm cleared"
                time.sleep(0.5)
        finally:
            plat.stop()


def test_a_service_cut_from_the_broker_answers_every_call_after_it_reconnects(tmp_path):
    """The service's side of a broker restart: registry reaches RabbitMQ through a TcpProxy, the
    gateway directly. When the proxy drops every connection and comes back, nameko reconnects the
    registry's consumer by itself, and its pooled reply connections (services.common.rpc_replies)
    are dead: no reply may be written into one of them and lost (a 504 for a call that was done)."""
    with own_vhost() as amqp_uri:
        proxy = TcpProxy(broker_port(amqp_uri), free_port())
        proxy.start()
        plat, env = lone_platform(tmp_path, amqp_uri, rpc_timeout=5)
        proxied = Platform(env={**env, "QI_AMQP_URI": through(proxy, amqp_uri)}, log_dir=tmp_path / "log-proxied")
        proxied.start_service("registry")
        plat.start_service("gateway")
        url = plat.gateway_url + "/api/v1/catalog/categories"
        try:
            wait_until_answering(url)
            for _ in range(5):   # several replies: the pool holds a connection through the proxy
                assert requests.get(url, timeout=15).status_code == 200
            proxy.stop()
            time.sleep(1.0)
            proxy.start()
            # No call until registry's consumer is back (nameko reconnects it on its own schedule):
            # then the very first reply is the one that would go into a dead pooled connection.
            vhost = amqp_uri.rsplit("/", 1)[1]
            deadline = time.monotonic() + 60
            while not re.search(r"^rpc-registry\s+[1-9]", _rabbitmqctl("list_queues", "-p", vhost, "name", "consumers"),
                                re.M):
                assert time.monotonic() < deadline, "registry's consumer never came back"
                time.sleep(0.5)
            answers = [requests.get(url, timeout=15).status_code for _ in range(20)]
            assert answers == [200] * 20, answers
        finally:
            plat.stop()
            proxied.stop()
            proxy.stop()

"""Run the whole platform on this machine: migrations, every service, the gateway, demo data.

    python -m deploy.local            # foreground; Ctrl-C stops everything
    python -m deploy.local --no-demo  # without demo data

RabbitMQ is the machine's own (QI_AMQP_URI); databases are SQLite files under
QI_DATA_DIR unless QI_DB_URL / QI_DB_URL_<SERVICE> point elsewhere. The same
`Platform` class starts the platform for the end-to-end tests.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.common import config, platform  # noqa: E402
from services.common.migrate import available_services  # noqa: E402

# Start order: services first, gateway last (it pings them for /ready): services.common.platform.
SERVICE_ORDER = platform.names()
# A process that exits is restarted after 1 s, 2 s, 4 s ... at most RESTART_MAX_DELAY; the
# delay starts again at 1 s once the process has stayed up for RESTART_STABLE_SECONDS.
RESTART_FIRST_DELAY = 1.0
RESTART_MAX_DELAY = 30.0
RESTART_STABLE_SECONDS = 30.0
log = logging.getLogger("qi.launcher")


def running_services() -> list[str]:
    return list(platform.present())


def broker_problem(amqp_uri: str) -> str | None:
    """One line saying why RabbitMQ can't be used, or None if it can."""
    from kombu import Connection
    try:
        with Connection(amqp_uri, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        safe = amqp_uri.split("@")[-1]
        return (f"RabbitMQ is not reachable at {safe} ({type(exc).__name__}): start it with "
                f"`rabbitmq-server -detached` (or set QI_AMQP_URI) and run this again.")
    return None


class Platform:
    def __init__(self, env: dict | None = None, log_dir: Path | None = None):
        self.env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.log_dir = Path(log_dir or Path(self.env.get("QI_DATA_DIR", REPO / "var")) / "log")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen] = {}
        self.python = sys.executable
        self.restarts: list[tuple[str, int, float]] = []  # (service, exit code, delay) for the log and tests
        self._lock = threading.RLock()
        self._started_at: dict[str, float] = {}
        self._delay: dict[str, float] = {}
        self._due: dict[str, float] = {}
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.env.get('QI_GATEWAY_PORT', '8000')}"

    def migrate(self) -> None:
        services = [s for s in available_services()]
        subprocess.run([self.python, "-m", "services.common.migrate", *services], env=self.env, cwd=REPO,
                       check=True, stdout=subprocess.DEVNULL)

    def start_service(self, service: str) -> None:
        output = open(self.log_dir / f"{service}.log", "ab")
        with self._lock:
            self.processes[service] = subprocess.Popen(
                [self.python, "-m", "nameko", "run", f"services.{service}.service", "--config",
                 str(REPO / "deploy" / "nameko.yaml")],
                env=self.env, cwd=REPO, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
            self._started_at[service] = time.monotonic()
        output.close()  # the child keeps its own descriptor

    def _say(self, message: str) -> None:
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} launcher: {message}"
        print(line, file=sys.stderr, flush=True)
        with open(self.log_dir / "launcher.log", "a", encoding="utf-8") as out:
            out.write(line + "\n")

    def supervise_once(self) -> None:
        """Restart every service process that exited, with back-off; one exit never stops the platform."""
        now = time.monotonic()
        with self._lock:
            for name, proc in list(self.processes.items()):
                code = proc.poll()
                if code is None:
                    if now - self._started_at.get(name, now) > RESTART_STABLE_SECONDS:
                        self._delay.pop(name, None)
                    continue
                due = self._due.get(name)
                if due is None:
                    delay = self._delay.get(name, RESTART_FIRST_DELAY)
                    self._delay[name] = min(delay * 2, RESTART_MAX_DELAY)
                    self._due[name] = now + delay
                    self.restarts.append((name, code, delay))
                    self._say(f"{name} exited with code {code}; restarting in {delay:g}s "
                              f"(see {self.log_dir / (name + '.log')})")
                elif now >= due and not self._stopping.is_set():
                    del self._due[name]
                    self.start_service(name)
                    self._say(f"{name} restarted (pid {self.processes[name].pid})")

    def _supervise(self) -> None:
        while not self._stopping.wait(0.25):
            try:
                self.supervise_once()
            except Exception as exc:  # the supervisor itself must keep going
                self._say(f"supervisor error: {exc!r}")

    def start_supervisor(self) -> None:
        if self._supervisor is None:
            self._supervisor = threading.Thread(target=self._supervise, name="qi-launcher", daemon=True)
            self._supervisor.start()

    def stop_service(self, service: str, hard: bool = False) -> None:
        with self._lock:
            proc = self.processes.pop(service, None)
            self._due.pop(service, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    @property
    def keys_dir(self) -> Path:
        return Path(self.env.get("QI_DATA_DIR") or REPO / "var") / "keys"

    @property
    def private_key_file(self) -> Path:
        from services.common.caller import PRIVATE_KEY_NAME
        return Path(self.env.get("QI_JWT_PRIVATE_KEY_FILE") or self.keys_dir / PRIVATE_KEY_NAME)

    def ensure_keys(self) -> None:
        """Development token keys, generated once before any service starts (race-free; see caller)."""
        configured = self.env.get("QI_JWT_PRIVATE_KEY_FILE") or self.env.get("QI_JWT_PUBLIC_KEY_FILE")
        if not configured and self.env.get("QI_ENV", "dev") != "production":
            from services.common.caller import ensure_dev_key_pair
            ensure_dev_key_pair(self.keys_dir)

    def start(self, timeout: float = 90) -> None:
        self.ensure_keys()
        self.migrate()
        for service in running_services():
            self.start_service(service)
        self.wait_ready(timeout)
        self.start_supervisor()

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, proc in list(self.processes.items()):
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}")
            try:
                response = requests.get(self.gateway_url + "/ready", timeout=3)
                if response.status_code == 200:
                    return
                last = response.text
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.5)
        raise RuntimeError(f"platform not ready after {timeout}s: {last}")

    def seed_demo(self) -> None:
        subprocess.run([self.python, "-m", "deploy.demo"], env=self.env, cwd=REPO, check=True)

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        for service in reversed(list(self.processes)):
            self.stop_service(service)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-demo", action="store_true", help="do not load demo data")
    parser.add_argument("--check", action="store_true", help="start, load demo data, print the URL and stop")
    args = parser.parse_args(argv)

    problem = broker_problem(config.amqp_uri())
    if problem:
        print(problem, file=sys.stderr)
        return 2
    platform = Platform()
    # SIGTERM (e.g. from a process manager) must stop the children too, like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"Databases: {', '.join(config.database_url(s).split('@')[-1] for s in available_services())}")
    print("Starting services: " + ", ".join(running_services()) + " ...")
    try:
        platform.start()
        if not args.no_demo:
            platform.seed_demo()
        print(f"\nQI One-Stop is running: {platform.gateway_url}/  (web UI, 中文; API docs {platform.gateway_url}/api/v1/docs)")
        print(f"  OpenAPI {platform.gateway_url}/api/v1/openapi.json · readiness {platform.gateway_url}/ready "
              f"· metrics {platform.gateway_url}/metrics")
        print(f"  Logs in {platform.log_dir}. Ctrl-C stops the platform.")
        if args.check:
            return 0
        while True:  # the supervisor thread restarts any service that exits
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping ...")
        return 0
    finally:
        platform.stop()


if __name__ == "__main__":
    sys.exit(main())

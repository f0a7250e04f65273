"""Run the whole platform on this machine: migrations, every service, the gateway, demo data.

    python -m deploy.local            # foreground; Ctrl-C stops everything
    python -m deploy.local --no-demo  # without demo data

RabbitMQ is the machine's own (QI_AMQP_URI); databases are SQLite files under
QI_DATA_DIR unless QI_DB_URL / QI_DB_URL_<SERVICE> point elsewhere. The same
`Platform` class starts the platform for the end-to-end tests.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.common import config  # noqa: E402
from services.common.migrate import available_services  # noqa: E402

# Start order: services first, gateway last (it pings them for /ready).
SERVICE_ORDER = ("identity", "registry", "matching", "booking", "feedback", "gateway")


def running_services() -> list[str]:
    return [s for s in SERVICE_ORDER if (REPO / "services" / s / "service.py").exists()]


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

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.env.get('QI_GATEWAY_PORT', '8000')}"

    def migrate(self) -> None:
        services = [s for s in available_services()]
        subprocess.run([self.python, "-m", "services.common.migrate", *services], env=self.env, cwd=REPO,
                       check=True, stdout=subprocess.DEVNULL)

    def start_service(self, service: str) -> None:
        log = open(self.log_dir / f"{service}.log", "ab")
        self.processes[service] = subprocess.Popen(
            [self.python, "-m", "nameko", "run", f"services.{service}.service", "--config",
             str(REPO / "deploy" / "nameko.yaml")],
            env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop_service(self, service: str, hard: bool = False) -> None:
        proc = self.processes.pop(service, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def start(self, timeout: float = 90) -> None:
        self.migrate()
        for service in running_services():
            self.start_service(service)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
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
        print(f"\nQI One-Stop is running: {platform.gateway_url}/api/v1/docs")
        print(f"  OpenAPI {platform.gateway_url}/api/v1/openapi.json · readiness {platform.gateway_url}/ready "
              f"· metrics {platform.gateway_url}/metrics")
        print(f"  Logs in {platform.log_dir}. Ctrl-C stops the platform.")
        if args.check:
            return 0
        while True:
            for name, proc in platform.processes.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {platform.log_dir / (name + '.log')}",
                          file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping ...")
        return 0
    finally:
        platform.stop()


if __name__ == "__main__":
    sys.exit(main())

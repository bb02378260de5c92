"""A live dashboard on real QEMU guests: daphne, and compute agents on ``qemu:///system``.

``GuestSite.start()`` migrates a fresh SQLite database, imports the ``vmdash-guest`` image
(built once by ``manage.py build_guest_image`` and cached in var/guest-image), creates an admin
and two small flavors, and starts the product's own processes: ``manage.py compute_agent
--driver libvirt`` per host (each with its own environment, e.g. events on or off) and
``daphne``. Tests talk to it only through the HTTP API, as a user would, and read what the
hypervisor did from libvirt (``virsh``) and the guests' console logs.

Guest domains are named by instance uuid; everything a site creates is destroyed by ``stop``,
including disks and the test pool's files, so a failed test leaves nothing running.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.processes import Daphne, Process

ROOT = Path(__file__).resolve().parents[2]
URI = "qemu:///system"
#: Where the test agents keep guest disks and console logs (a pool of its own).
INSTANCES_PATH = "/var/lib/libvirt/vmdash-tests"
GUEST_IMAGE = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0100"
#: Small flavors: guests of 128 and 256 MiB with 1 and 2 GiB root disks.
FLAVORS = {"guest.128": (128, 1), "guest.256": (256, 2)}
PASSWORD = "admin-pass"


def libvirt_available() -> str | None:
    """Why real guests cannot run here, or None if they can."""
    if shutil.which("virsh") is None or shutil.which("qemu-system-x86_64") is None:
        return "QEMU/libvirt not installed (bash .ci/setup: install_libvirt_daemon)"
    probe = subprocess.run(["virsh", "-c", URI, "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"libvirtd does not answer on {URI}: {probe.stderr.strip()}"
    return None


def virsh(*args: str, check: bool = True, uri: str = URI) -> str:
    done = subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"virsh {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


@dataclass
class GuestSite:
    workdir: Path
    #: host name → extra environment of its agent
    hosts: dict[str, dict[str, str]]
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = 0
    token: str = ""
    processes: list[Process] = field(default_factory=list)
    flavors: dict[str, str] = field(default_factory=dict)
    #: host → libvirt URI of its agent, where it is not ``URI``
    uris: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": f"sqlite:///{self.workdir / 'db.sqlite3'}",
            "IMAGE_DIR": str(self.workdir / "images"),
            "LIBVIRT_VIRT_TYPE": os.environ.get("LIBVIRT_VIRT_TYPE", "qemu"),
            "LIBVIRT_INSTANCES_PATH": INSTANCES_PATH,
            "REPORT_INTERVAL": "1",
            "SERVICE_DOWN_TIME": "5",
            "AGENT_POLL_INTERVAL": "0.2",
            "SYNC_POWER_STATE_INTERVAL": "-1",
            "LIFECYCLE_STOPPED_DELAY": "1",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **self.env_extra,
        }
        for name in ("TEST_SQLITE_NAME", "REDIS_URL"):
            if name not in self.env_extra:  # a site may ask for its own Redis (the consoles)
                env.pop(name, None)
        return env

    # --- processes ---------------------------------------------------------------------
    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)}: {done.stderr or done.stdout}")
        return done.stdout

    def start(self) -> None:
        self.manage("migrate", "--verbosity", "0")
        self.manage("build_guest_image")
        self.manage(
            "create_user", "admin", "--password", PASSWORD, "--project", "admin", "--role", "admin"
        )
        made = self.manage(
            "shell",
            "-c",
            "from compute.models import Flavor\n"
            + "".join(
                f"f = Flavor.objects.get_or_create(name={name!r}, defaults=dict("
                f"flavorid={name!r}, vcpus=1, ram={ram}, disk={disk}))[0]\n"
                f"print('FLAVOR', {name!r}, f.flavorid)\n"
                for name, (ram, disk) in FLAVORS.items()
            ),
        )
        self.flavors = {
            line.split()[1]: line.split()[2]
            for line in made.splitlines()
            if line.startswith("FLAVOR ")
        }
        for host in self.hosts:
            self.processes.append(self._agent(host))
        daphne = Daphne(workdir=self.workdir, env=self.env)
        self.processes.append(daphne)
        self.port = daphne.port
        daphne.wait_ready()
        self.token = self._login()
        self.wait(lambda: self._hosts_up(), timeout=30, what="the agents' hosts to be up")

    def _agent(self, host: str) -> Process:
        return Process(
            f"agent-{host}",
            [
                *(sys.executable, "manage.py", "compute_agent", "--host", host),
                *("--driver", "libvirt", "--uri", self.uris.get(host, URI)),
            ],
            env={**self.env, **self.hosts[host]},
            workdir=self.workdir,
        )

    def restart_agent(self, host: str) -> None:
        """Stop ``host``'s agent (SIGTERM) and start it again, as a host coming back does."""
        (old,) = [p for p in self.processes if p.name == f"agent-{host}"]
        old.stop(15)
        self.processes[self.processes.index(old)] = self._agent(host)

    def _hosts_up(self) -> bool:
        services = self.get("/v2.1/os-services")["services"]
        up = {s["host"] for s in services if s["state"] == "up"}
        return set(self.hosts) <= up

    def stop(self) -> None:
        uuids: list[str] = []
        with contextlib.suppress(Exception):  # the site may be half started
            uuids = [s["id"] for s in self.get("/v2.1/servers?all_tenants=1")["servers"]]
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            process.wait_stopped(15)
        for uri in {URI, *self.uris.values()}:
            for uuid in uuids + self._our_domains(uri):
                virsh("destroy", uuid, check=False, uri=uri)
                virsh(
                    "undefine", uuid, "--managed-save", "--snapshots-metadata", check=False, uri=uri
                )
        for uuid in uuids:
            shutil.rmtree(Path(INSTANCES_PATH, uuid), ignore_errors=True)
        for leftover in Path(INSTANCES_PATH, "disks").glob("*-*.qcow2"):
            if not leftover.name.startswith("base-"):
                leftover.unlink(missing_ok=True)

    def _our_domains(self, uri: str = URI) -> list[str]:
        """Domains whose disks live in a test pool (an interrupted run's included)."""
        names = virsh("list", "--all", "--name", check=False, uri=uri).split()
        return [n for n in names if INSTANCES_PATH in virsh("domblklist", n, check=False, uri=uri)]

    # --- the API -----------------------------------------------------------------------
    def _login(self) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"id": "default"},
                            "password": PASSWORD,
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        }
        request = urllib.request.Request(
            f"{self.url}/identity/v3/auth/tokens",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.headers["X-Subject-Token"])

    def request(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "X-Auth-Token": self.token,
                "X-OpenStack-Nova-API-Version": "2.84",
            },
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            raise ApiError(error.code, parsed) from None
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    # --- servers -----------------------------------------------------------------------
    def create(
        self, name: str, *, flavor: str = "guest.128", image: str = GUEST_IMAGE, host: str = ""
    ) -> str:
        server = {
            "name": name,
            "imageRef": image,
            "flavorRef": self.flavors[flavor],
            "networks": "none",
        }
        server["availability_zone"] = f"nova:{host or next(iter(self.hosts))}"
        return str(self.post("/v2.1/servers", {"server": server})["server"]["id"])

    def server(self, uuid: str) -> dict[str, Any]:
        return dict(self.get(f"/v2.1/servers/{uuid}")["server"])

    def action(self, uuid: str, body: dict[str, Any]) -> Any:
        return self.post(f"/v2.1/servers/{uuid}/action", body)

    def wait(self, condition: Any, *, timeout: float, what: str, every: float = 0.2) -> float:
        """Poll until ``condition()`` is true; the seconds it took."""
        start = time.monotonic()
        while True:
            if condition():
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(every)

    def wait_status(self, uuid: str, status: str, *, timeout: float = 90) -> float:
        """Wait until the server shows ``status`` with no task; ERROR ends the wait early."""
        seen: dict[str, Any] = {}

        def there() -> bool:
            seen.update(self.server(uuid))
            if seen["status"] == "ERROR" and status != "ERROR":
                raise AssertionError(f"{uuid} went to ERROR: {seen.get('fault')}")
            return bool(seen["status"] == status and not seen.get("OS-EXT-STS:task_state"))

        return self.wait(there, timeout=timeout, what=f"{uuid} to be {status} (last {seen!r:.300})")

    # --- the hypervisor's side ---------------------------------------------------------
    def console_log(self, uuid: str, *, instances_path: str = INSTANCES_PATH) -> str:
        path = Path(instances_path) / uuid / "console.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def boots(self, uuid: str) -> int:
        return self.console_log(uuid).count(" booted (uuid ")

    def wait_boots(self, uuid: str, count: int, *, timeout: float = 120) -> float:
        return self.wait(
            lambda: self.boots(uuid) >= count,
            timeout=timeout,
            what=f"boot banner #{count} of {uuid}",
        )

    def wait_gone(self, uuid: str, *, timeout: float = 60) -> float:
        """Wait until the API answers 404 for the server (deleted)."""

        def gone() -> bool:
            try:
                self.server(uuid)
            except ApiError as error:
                return error.status == 404
            return False

        return self.wait(gone, timeout=timeout, what=f"{uuid} to be deleted")

    # --- the browser -------------------------------------------------------------------
    @contextlib.contextmanager
    def instances_page(self) -> Iterator[Any]:
        """Headless Chromium on the instances page, signed in as admin, live."""
        from playwright.sync_api import sync_playwright

        from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page()
                page.goto(f"{self.url}/instances/")
                page.fill("#id_username", "admin")
                page.fill("#id_password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url("**/instances/")
                page.wait_for_selector('#live-indicator[data-state="live"]', timeout=10_000)
                page.evaluate("window.__loadedOnce = true")
                yield page
            finally:
                browser.close()

    def poweroff_until_page_says_shutoff(self, page: Any, uuid: str) -> float:
        """Type ``poweroff -f`` at the guest's console; seconds until the page's status badge
        for it says SHUTOFF."""
        typed = time.monotonic()
        self.type_into_console(uuid, "poweroff -f")
        page.wait_for_function(
            "u => { const el = document.querySelector("
            '`[data-instance="${u}"] [data-bind="status"]`);'
            " return el && el.title.toUpperCase().includes('SHUTOFF'); }",
            arg=uuid,
            timeout=60_000,
        )
        return time.monotonic() - typed

    # --- the hypervisor's side (continued) ---------------------------------------------
    def domain_state(self, uuid: str, *, uri: str = URI) -> str:
        return virsh("domstate", uuid, check=False, uri=uri) or "absent"

    def disks(self, uuid: str, *, instances_path: str = INSTANCES_PATH) -> list[Path]:
        return sorted(Path(instances_path, "disks").glob(f"{uuid}-*"))

    def type_into_console(
        self,
        uuid: str,
        line: str,
        *,
        timeout: float = 10.0,
        uri: str = URI,
        instances_path: str = INSTANCES_PATH,
    ) -> None:
        """Type a line at the guest's serial shell, as an operator at its console would, and
        wait until the guest's echo of it is in its console log. Nothing reads the console
        stream meanwhile: a reader thread receiving beside a blocking send deadlocks libvirt's
        client now and then (both wait in virNetClientSendStream), and the log has it all."""
        import libvirt

        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors are raised anyway
        seen = self.console_log(uuid, instances_path=instances_path).count(line)
        conn = libvirt.open(uri)
        try:
            stream = conn.newStream(0)
            conn.lookupByUUIDString(uuid).openConsole(
                None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE
            )
            stream.send((line + "\n").encode())
            # Closing at once may drop the keystrokes: the stream stays open until the echo.
            self.wait(
                lambda: self.console_log(uuid, instances_path=instances_path).count(line) > seen,
                timeout=timeout,
                what=f"{uuid} to echo {line!r}",
                every=0.05,
            )
            with contextlib.suppress(libvirt.libvirtError):  # gone already (poweroff -f)
                stream.abort()
        finally:
            conn.close()

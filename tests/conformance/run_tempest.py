"""Tempest against the project, as the README starts it: ``tests/conformance/run_tempest.sh``.

- Tempest 47.0.0 lives in a virtualenv of its own (``var/conformance/tempest-venv``, made once
  and reused); its pins never meet the project's ``.venv``.
- The project runs from its own SQLite database in ``var/conformance/`` (migrated afresh every
  run, users made with ``create_user``), two fake hosts, on a port in 8100–8199.
- ``tempest.conf`` and ``accounts.yaml`` are written into a Tempest workspace under
  ``var/conformance/workspace`` (``XDG_CONFIG_HOME`` there too, so nothing lands in ``~``).

Sets:
- default: the short set (``short.txt``: one regular expression per line, anchored at the test
  id's start; no test of the set may fail and each line must match a passing test; < 3
  minutes), for CI;
- ``--full``: all of ``tempest.api.compute``; prints pass/fail/skip and the pass rate of the
  tests that ran, and fails below ``--min-rate`` (default 0: report only).
- ``--regex R``: any selection.

Only the standard library here: it runs with any Python 3.11.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
#: Tempest's venv, the workspace and the database; another tree (a snapshot of a commit being
#: measured while the working tree changes) may share them through VMDASH_CONFORMANCE_VAR.
VAR = Path(os.environ.get("VMDASH_CONFORMANCE_VAR") or ROOT / "var" / "conformance")
TEMPEST_VERSION = "47.0.0"
VENV = VAR / "tempest-venv"
WORKSPACE = VAR / "workspace"
PROJECT_PYTHON = Path(os.environ.get("VMDASH_PYTHON") or ROOT / ".venv" / "bin" / "python")

#: (username, password, project, role): per set, a member and a reader in one project and an
#: admin. Pre-provisioned credentials are locked per test class, so a run needs a set per
#: worker and its alt: four sets cover concurrency 2.
SETS = 4
USERS = [
    user
    for n in range(1, SETS + 1)
    for user in (
        (f"tempest-member{n}", "tempest", f"tempest{n}", "member"),
        (f"tempest-reader{n}", "tempest", f"tempest{n}", "member"),
        (f"tempest-manager{n}", "tempest", f"tempest{n}", "manager"),
        (f"tempest-admin{n}", "tempest", "admin", "admin"),
    )
]
#: The one network (compute.networks), each account's pre-provisioned network resource.
NETWORK = "private"
#: The Neutron extensions the /network slice serves (dashboard.api.neutron.bodies): Tempest
#: decides by this list, not by asking, whether a test's extension is there.
NETWORK_EXTENSIONS = (
    "allowed-address-pairs,binding,external-net,extra_dhcp_opt,filter-validation,l2_adjacency,"
    "net-mtu,network_availability_zone,pagination,port-security,project-id,security-group,sorting,"
    "standard-attr-description,standard-attr-revisions,standard-attr-timestamp"
)
IMAGE = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0001"
IMAGE_ALT = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0002"


def log(message: str) -> None:
    print(f"[conformance] {message}", flush=True)


def ensure_tempest() -> Path:
    """Tempest's own virtualenv, made once (idempotent: kept while it has the right version)."""
    tempest = VENV / "bin" / "tempest"
    stamp = VENV / ".tempest-version"
    if tempest.exists() and stamp.exists() and stamp.read_text().strip() == TEMPEST_VERSION:
        return tempest
    log(f"making Tempest {TEMPEST_VERSION}'s virtualenv in {VENV}")
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, f"tempest=={TEMPEST_VERSION}"], check=True)
    stamp.write_text(TEMPEST_VERSION)
    return tempest


def free_port(low: int = 8100, high: int = 8199) -> int:
    for port in range(low, high + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 8100–8199")


def project_env(db: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "CACHE_URL": "locmem://",
            "DEBUG": "0",
            "SECRET_KEY": "conformance-only-not-secret",
            # Tempest logs in many times a run, as many users; never lock it out.
            "LOGIN_MAX_FAILURES": "1000",
            "LOGIN_MAX_FAILURES_PER_IP": "100000",
            "TOKEN_CACHE_TTL": "5",
            # A fake snapshot takes 2 s, as a real one takes a while: the image is SAVING long
            # enough for the tests that act on a saving image to see it (else they wait out
            # build_timeout and skip).
            "FAKE_DELAYS": "snapshot=2",
        }
    )
    return env


def start_project(port: int) -> subprocess.Popen[bytes]:
    db = VAR / "db.sqlite3"
    for leftover in VAR.glob("db.sqlite3*"):
        leftover.unlink()
    env = project_env(db)
    manage = [str(PROJECT_PYTHON), "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    for username, password, project, role in USERS:
        subprocess.run(
            [
                *manage,
                "create_user",
                username,
                "--password",
                password,
                "--project",
                project,
                "--role",
                role,
            ],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    out = (VAR / "server.log").open("wb")
    server = subprocess.Popen(
        [*manage, "rundashboard", "--port", str(port), "--agents", "2"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2.1/", timeout=2):
                return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"the project did not start: see {VAR / 'server.log'}") from None
            time.sleep(0.5)
    stop_project(server)
    raise SystemExit("the project did not answer within 60 s")


def stop_project(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def accounts_yaml() -> str:
    lines = []
    for username, password, project, role in USERS:
        lines += [
            f"- username: '{username}'",
            f"  password: '{password}'",
            f"  project_name: '{project}'",
            "  domain_name: 'Default'",
            "  resources:",
            f"    network: '{NETWORK}'",
        ]
        if role == "admin":
            lines.append("  types: ['admin']")
            lines.append("  roles: ['admin', 'member', 'reader']")
        elif role == "manager":
            # Only what Tempest matches a project_manager by; never a primary's "member".
            lines.append("  roles: ['manager']")
        elif "reader" in username:
            lines.append("  roles: ['reader']")
        else:
            lines.append("  roles: ['member', 'reader']")
    return "\n".join(lines) + "\n"


def tempest_conf(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    return f"""\
[DEFAULT]
log_file = tempest.log
debug = False

[oslo_concurrency]
lock_path = {WORKSPACE}/lock

[auth]
use_dynamic_credentials = False
test_accounts_file = {WORKSPACE}/etc/accounts.yaml
default_credentials_domain_name = Default
create_isolated_networks = False
admin_username = tempest-admin1
admin_password = tempest
admin_project_name = admin
admin_domain_name = Default

[identity]
uri_v3 = {base}/identity/v3
auth_version = v3
region = RegionOne
v3_endpoint_type = public

[identity-feature-enabled]
api_v2 = False

[compute]
image_ref = {IMAGE}
image_ref_alt = {IMAGE_ALT}
flavor_ref = 2
flavor_ref_alt = 3
fixed_network_name = {NETWORK}
build_interval = 1
build_timeout = 60
ready_wait = 0
min_compute_nodes = 2
min_microversion = 2.1
max_microversion = 2.89
endpoint_type = publicURL
region = RegionOne

[compute-feature-enabled]
resize = True
pause = True
suspend = True
shelve = True
shelve_migrate = False
rescue = True
stable_rescue = False
cold_migration = True
live_migration = True
block_migration_for_live_migration = False
change_password = True
console_output = True
vnc_console = False
spice_console = False
serial_console = False
interface_attach = False
snapshot = True
metadata_service = False
config_drive = False
personality = False
attach_encrypted_volume = False
disk_config = True
scheduler_enabled_filters = AvailabilityZoneFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter,SameHostFilter,DifferentHostFilter
volume_multiattach = False
hostname_fqdn_sanitization = False

[service_available]
nova = True
glance = True
neutron = True
cinder = False
swift = False
horizon = False
placement = False

[image]
region = RegionOne
endpoint_type = publicURL

[image-feature-enabled]
api_v1 = False
api_v2 = True

[validation]
run_validation = False

[network]
catalog_type = network
region = RegionOne
endpoint_type = publicURL
project_network_cidr = 10.0.0.0/16
shared_physical_network = False

[network-feature-enabled]
ipv6 = False
floating_ips = False
api_extensions = {NETWORK_EXTENSIONS}
"""


def write_workspace(port: int) -> None:
    (WORKSPACE / "etc").mkdir(parents=True, exist_ok=True)
    (WORKSPACE / "lock").mkdir(exist_ok=True)
    (WORKSPACE / "etc" / "tempest.conf").write_text(tempest_conf(port))
    (WORKSPACE / "etc" / "accounts.yaml").write_text(accounts_yaml())
    stestr = WORKSPACE / ".stestr.conf"
    if not stestr.exists():
        stestr.write_text("[DEFAULT]\ntest_path=tempest/test_discover\ntop_dir=./\n")


def tempest_env() -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(VAR / "xdg")
    env["HOME"] = str(VAR / "home")
    env["TEMPEST_CONFIG_DIR"] = str(WORKSPACE / "etc")
    (VAR / "home").mkdir(parents=True, exist_ok=True)
    return env


def init_workspace(tempest: Path) -> None:
    if (WORKSPACE / "etc").exists() and (WORKSPACE / ".stestr.conf").exists():
        return
    WORKSPACE.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(tempest), "init", "--workspace-path", str(VAR / "workspaces.yaml"), str(WORKSPACE)],
        env=tempest_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def short_set() -> list[str]:
    lines = (HERE / "short.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def run(tempest: Path, selection: list[str], concurrency: int) -> tuple[int, Path]:
    """Runs Tempest; returns its exit code and the subunit stream of the run."""
    args = [str(tempest), "run", "--concurrency", str(concurrency)]
    if len(selection) == 1:
        args += ["--regex", selection[0]]
    else:
        include = WORKSPACE / "include.txt"
        include.write_text("\n".join(selection) + "\n")
        args += ["--include-list", str(include)]
    code = subprocess.run(args, cwd=WORKSPACE, env=tempest_env()).returncode
    stream = WORKSPACE / "last.subunit"
    with stream.open("wb") as out:
        subprocess.run(
            [str(VENV / "bin" / "stestr"), "last", "--subunit"], cwd=WORKSPACE, stdout=out
        )
    return code, stream


def counts(stream: Path) -> dict[str, list[str]]:
    """Test ids by status (success, fail, skip) read from the run's subunit stream."""
    script = (
        "import sys, subunit, testtools, collections, json\n"
        "r = collections.defaultdict(list)\n"
        "class S(testtools.StreamResult):\n"
        "    def status(self, test_id=None, test_status=None, **kw):\n"
        "        if test_status in ('success', 'fail', 'skip', 'xfail', 'uxsuccess'):\n"
        "            r[test_status].append(test_id)\n"
        "case = subunit.ByteStreamToStreamResult(open(sys.argv[1], 'rb'), non_subunit_name='x')\n"
        "s = S(); s.startTestRun(); case.run(s); s.stopTestRun()\n"
        "print(json.dumps(r))\n"
    )
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", script, str(stream)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def listed(tempest: Path, selection: list[str]) -> list[str]:
    """The test ids a selection holds (without running them)."""
    args = [str(tempest), "run", "--list-tests"]
    if len(selection) == 1:
        args += ["--regex", selection[0]]
    else:
        args += ["--include-list", str(WORKSPACE / "include.txt")]
    out = subprocess.run(
        args, cwd=WORKSPACE, env=tempest_env(), capture_output=True, text=True
    ).stdout
    return [line.strip() for line in out.splitlines() if line.startswith("tempest.")]


def expand(result: dict[str, list[str]], tests: list[str]) -> dict[str, list[str]]:
    """A class whose setUpClass failed (or skipped) counts as each of its tests failing (or
    skipping), as the baseline counts them."""
    by_class: dict[str, list[str]] = {}
    for test in tests:
        by_class.setdefault(test.split("[")[0].rsplit(".", 1)[0], []).append(test)
    out: dict[str, list[str]] = {}
    for status, ids in result.items():
        for test in ids:
            match = re.match(r"setUpClass \((.+)\)$", test)
            out.setdefault(status, []).extend(
                by_class.get(match.group(1), [test]) if match else [test]
            )
    return out


def walk(port: int) -> int:
    """The schema walk against a fresh project (see schema_walk.py)."""
    ensure_tempest()
    port = port or free_port()
    started = time.monotonic()
    server = start_project(port)
    try:
        code = subprocess.run(
            [
                str(VENV / "bin" / "python"),
                str(HERE / "schema_walk.py"),
                f"http://127.0.0.1:{port}/identity/v3",
                "tempest-admin1:tempest:admin",
                "tempest-member1:tempest:tempest1",
            ],
            env=tempest_env(),
        ).returncode
    finally:
        stop_project(server)
    log(f"schema walk finished in {(time.monotonic() - started) / 60:.1f} min")
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="all of tempest.api.compute")
    parser.add_argument("--regex", help="any selection of Tempest tests")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="8100–8199; default: a free one")
    parser.add_argument("--min-rate", type=float, default=0.0, help="fail below this %% passed")
    parser.add_argument("--json", type=Path, help="write the test ids by status here")
    parser.add_argument(
        "--walk",
        action="store_true",
        help="instead of Tempest's tests: validate every endpoint at every microversion step "
        "with tempest.lib's schemas (schema_walk.py)",
    )
    options = parser.parse_args()
    if options.walk:
        return walk(options.port)

    tempest = ensure_tempest()
    init_workspace(tempest)
    port = options.port or free_port()
    if options.regex:
        selection, strict = [options.regex], False
    elif options.full:
        selection, strict = [r"^tempest\.api\.compute\."], False
    else:
        selection, strict = ["^(?:" + "|".join(short_set()) + ")"], True
    started = time.monotonic()
    server = start_project(port)
    try:
        write_workspace(port)
        log(f"project on port {port}; running Tempest")
        _, stream = run(tempest, selection, options.concurrency)
    finally:
        stop_project(server)
    result = expand(counts(stream), listed(tempest, selection))
    passed, failed = len(result.get("success", [])), len(result.get("fail", []))
    skipped = len(result.get("skip", []))
    ran = passed + failed
    rate = 100.0 * passed / ran if ran else 0.0
    minutes = (time.monotonic() - started) / 60
    log(
        f"{passed} passed, {failed} failed, {skipped} skipped: {rate:.1f} % of {ran} run "
        f"({minutes:.1f} min)"
    )
    for test in sorted(result.get("fail", [])):
        log(f"FAIL {test}")
    if options.json:
        options.json.write_text(json.dumps(result, indent=1, sort_keys=True))
    if strict:
        passed_ids = result.get("success", [])
        missing = [t for t in short_set() if not any(re.match(t, p) for p in passed_ids)]
        if missing or failed:
            for test in missing:
                log(f"REGRESSION {test} did not pass")
            return 1
        return 0
    return 0 if rate >= options.min_rate else 1


if __name__ == "__main__":
    sys.exit(main())

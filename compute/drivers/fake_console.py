"""The fake hypervisor's guest OS, as far as its serial console shows it.

A small, deterministic simulation: a boot log when the guest starts, a login prompt (any user
name logs in, no password), a shell that echoes what is typed and answers a few commands
(``help`` lists them), and the lines a real kernel prints when it powers off, restarts or
panics. ``shutdown -h now`` and ``reboot`` typed here really act on the guest, out of band:
the driver powers it off as the guest OS would, so the hypervisor's lifecycle event and the
sync are what the dashboard sees (``compute.drivers.fake``).

Nothing here touches the database: the driver keeps the log and the logged-in user in the
guest's row; this module only decides what the console prints. The load model (CPU, memory,
disk, network as smooth functions of the uuid and the time) is what ``uptime`` and the fake's
diagnostics read, so both agree and repeat.
"""

from __future__ import annotations

import enum
import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime

#: The log kept per guest: its last 100 KiB, as Nova's libvirt driver returns at most.
MAX_LOG = 100 * 1024
KERNEL = "6.1.0-vmdash-fake"

COMMANDS = (
    "uptime, cat /proc/uptime, hostname, uname [-a], whoami, date, echo TEXT, "
    "shutdown -h now (poweroff), reboot (shutdown -r now), exit (logout), help"
)


def boot_log(name: str, *, vcpus: int, memory_mb: int) -> str:
    lines = [
        f"[    0.000000] Linux version {KERNEL} (vmdash@fake) #1 SMP PREEMPT_DYNAMIC",
        f"[    0.000000] Command line: console=ttyS0,115200 root=/dev/vda1 hostname={name}",
        f"[    0.010000] Memory: {memory_mb * 1024}K available",
        f"[    0.020000] smp: Brought up 1 node, {vcpus} CPU{'s' if vcpus != 1 else ''}",
        "[    0.310000] Serial: 8250/16550 driver, 4 ports, IRQ sharing enabled",
        "[    0.312000] 00:04: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A",
        "[    0.540000] virtio_blk virtio1: [vda] 2097152 512-byte logical blocks",
        "[    0.790000] EXT4-fs (vda1): mounted filesystem with ordered data mode.",
        "[    0.900000] Run /sbin/init as init process",
        "Starting syslogd: OK",
        "Starting network: OK",
        "",
        f"Welcome to the vmdash fake guest ({name}).",
        "Any user name logs in, with no password. Type 'help' once logged in.",
        "",
    ]
    return "\r\n".join(lines) + "\r\n" + login_prompt(name)


def login_prompt(name: str) -> str:
    return f"{name} login: "


def shell_prompt(name: str, user: str) -> str:
    return f"{user}@{name}:~{'#' if user == 'root' else '$'} "


POWER_OFF_LOG = (
    "\r\nThe system is going down NOW!\r\n"
    "Sent SIGTERM to all processes\r\n"
    "[  OK  ] Reached target Power-Off.\r\n"
    "reboot: Power down\r\n"
)
RESTART_LOG = (
    "\r\nThe system is going down NOW!\r\n"
    "Sent SIGTERM to all processes\r\n"
    "reboot: Restarting system\r\n"
)
PANIC_LOG = (
    "\r\n[  ???.??????] Kernel panic - not syncing: NMI: Not continuing\r\n"
    "[  ???.??????] ---[ end Kernel panic - not syncing: NMI: Not continuing ]---\r\n"
)


class Effect(enum.Enum):
    """What a command does to the guest beyond printing."""

    NONE = "none"
    LOGIN = "login"
    LOGOUT = "logout"
    POWER_OFF = "power_off"
    REBOOT = "reboot"


@dataclass(frozen=True)
class Guest:
    """What the shell needs to know of its guest."""

    uuid: str
    name: str
    user: str  # "" at the login prompt
    booted_at: datetime | None
    vcpus: int
    memory_mb: int


@dataclass
class LineDiscipline:
    """A tty in canonical mode: echoes, edits the line, hands complete lines over."""

    line: str = ""
    _escape: str = field(default="")
    _after_cr: bool = field(default=False)

    def feed(self, data: str) -> list[tuple[str, str | None]]:
        """Split typed ``data`` into (echo, completed line or None) steps, in order. A Ctrl-C
        completes no line and prints ``^C``; its step's line is "\\x03"."""
        steps: list[tuple[str, str | None]] = []
        echo = ""
        for char in data:
            after_cr, self._after_cr = self._after_cr, char == "\r"
            if self._escape:  # an escape sequence (arrow keys …): swallowed whole
                self._escape += char
                ended = len(self._escape) > 1 and (char.isalpha() or char == "~")
                if ended or len(self._escape) > 8:
                    self._escape = ""
                continue
            if char == "\x1b":
                self._escape = char
            elif char == "\n" and after_cr:
                pass  # "\r\n" from a client that sends both: one Enter
            elif char in "\r\n":
                steps.append((echo + "\r\n", self.line))
                echo, self.line = "", ""
            elif char == "\x03":
                steps.append((echo + "^C\r\n", "\x03"))
                echo, self.line = "", ""
            elif char in "\x7f\b":
                if self.line:
                    self.line = self.line[:-1]
                    echo += "\b \b"
            elif char == "\x04" and not self.line:
                steps.append((echo, "\x04"))
                echo = ""
            elif char >= " " and len(self.line) < 1024:
                self.line += char
                echo += char
        if echo:
            steps.append((echo, None))
        return steps


def run(guest: Guest, line: str, now: datetime) -> tuple[str, Effect, str]:
    """What the console prints for a completed ``line``, the effect, and the user after it."""
    if not guest.user:
        user = line.strip()
        if line in ("\x03", "\x04") or not user:
            return login_prompt(guest.name), Effect.NONE, ""
        user = user.split()[0][:32]
        motd = f"Linux {guest.name} {KERNEL} x86_64\r\n"
        return motd + shell_prompt(guest.name, user), Effect.LOGIN, user
    prompt = shell_prompt(guest.name, guest.user)
    if line == "\x03":
        return prompt, Effect.NONE, guest.user
    words = line.split()
    if line == "\x04" or words in (["exit"], ["logout"]):
        return "\r\n" + login_prompt(guest.name), Effect.LOGOUT, ""
    if not words:
        return prompt, Effect.NONE, guest.user
    command, args = words[0], words[1:]
    if command in ("poweroff", "halt") or (command == "shutdown" and "-r" not in args):
        return "", Effect.POWER_OFF, guest.user
    if command == "reboot" or (command == "shutdown" and "-r" in args):
        return "", Effect.REBOOT, guest.user
    out = _answer(guest, command, args, now)
    return (out + "\r\n" if out else "") + prompt, Effect.NONE, guest.user


def _answer(guest: Guest, command: str, args: list[str], now: datetime) -> str:
    up = uptime_seconds(guest.booted_at, now)
    if command == "uptime":
        one, five, fifteen = load_averages(guest.uuid, now)
        return (
            f" {now:%H:%M:%S} up {_up(up)},  1 user,  "
            f"load average: {one:.2f}, {five:.2f}, {fifteen:.2f}"
        )
    if command == "cat" and args == ["/proc/uptime"]:
        return f"{up:.2f} {up * 0.93 * guest.vcpus:.2f}"
    if command == "hostname":
        return guest.name
    if command == "uname":
        return f"Linux {guest.name} {KERNEL} #1 SMP x86_64 GNU/Linux" if "-a" in args else "Linux"
    if command == "whoami":
        return guest.user
    if command == "date":
        return f"{now:%a %b %d %H:%M:%S UTC %Y}"
    if command == "echo":
        return " ".join(args)
    if command == "help":
        return f"Commands: {COMMANDS}."
    return f"-sh: {command}: not found"


def uptime_seconds(booted_at: datetime | None, now: datetime) -> float:
    return max(0.0, (now - booted_at).total_seconds()) if booted_at else 0.0


def _up(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    text = f"{days} day{'s' if days != 1 else ''}, " if days else ""
    if hours:
        return text + f"{hours:2d}:{minutes:02d}"
    return text + f"{minutes} min"


# --- the load model ------------------------------------------------------------------------
def _phase(uuid: str, salt: str) -> float:
    digest = hashlib.sha256(f"{uuid}:{salt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _wave(uuid: str, salt: str, low: float, period: tuple[float, float]) -> tuple[float, float]:
    """(angular frequency, phase) of one of the guest's smooth waves."""
    w = 2 * math.pi / (period[0] + (period[1] - period[0]) * _phase(uuid, salt + ":period"))
    return w, 2 * math.pi * _phase(uuid, salt + ":phase")


def level(
    uuid: str, salt: str, at: float, *, base: float, swing: float, period: tuple[float, float]
) -> float:
    """A gauge that is ``base`` (scaled per guest) plus a wave of ``swing`` between 0 and 1:
    never negative, so its integral (``total``) only grows."""
    w, phi = _wave(uuid, salt, base, period)
    return base * (0.3 + 0.7 * _phase(uuid, salt)) + swing * (1 + math.sin(w * at + phi)) / 2


def total(
    uuid: str,
    salt: str,
    t0: float,
    t1: float,
    *,
    base: float,
    swing: float,
    period: tuple[float, float],
) -> float:
    """The integral of ``level`` from ``t0`` to ``t1``, in closed form (a counter)."""
    w, phi = _wave(uuid, salt, base, period)
    flat = (base * (0.3 + 0.7 * _phase(uuid, salt)) + swing / 2) * (t1 - t0)
    return max(0.0, flat - swing / 2 / w * (math.cos(w * t1 + phi) - math.cos(w * t0 + phi)))


#: The fake guests' load: (base, swing, period range in seconds) per figure.
CPU = (0.25, 0.35, (600.0, 1800.0))
MEMORY = (0.45, 0.15, (900.0, 2400.0))
DISK_READ = (40_000.0, 400_000.0, (120.0, 600.0))
DISK_WRITE = (20_000.0, 250_000.0, (180.0, 900.0))
NET_RX = (8_000.0, 120_000.0, (60.0, 300.0))
NET_TX = (4_000.0, 60_000.0, (90.0, 450.0))


def cpu_fraction(uuid: str, at: float) -> float:
    """The guest's CPU use (0–1 of its vCPUs) at epoch second ``at``."""
    base, swing, period = CPU
    return min(0.95, level(uuid, "cpu", at, base=base, swing=swing, period=period))


def load_averages(uuid: str, now: datetime) -> tuple[float, float, float]:
    at = now.timestamp()
    return (
        round(cpu_fraction(uuid, at) * 2, 2),
        round(sum(cpu_fraction(uuid, at - s) for s in range(0, 300, 30)) / 10 * 2, 2),
        round(sum(cpu_fraction(uuid, at - s) for s in range(0, 900, 90)) / 10 * 2, 2),
    )

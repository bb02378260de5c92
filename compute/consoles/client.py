"""The browsers' side of consoles (web processes): reach a host's console worker, here or
through the channel layer, without knowing which.

A host whose agent runs in this process is served directly; any other is reached through the
shared channel layer, and without one (the in-memory layer of a single process) its console is
unavailable — ``ConsoleNotAvailable``, Nova's "Guest does not have a console available.".
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from asgiref.sync import async_to_sync

from compute.consoles.bus import host_group
from compute.consoles.hub import local_host
from compute.drivers.base import ConsoleTarget
from compute.drivers.diagnostics import GuestDiagnostics
from compute.exceptions import ComputeError, ConsoleNotAvailable

#: Seconds a request (the log, a console's target) waits for the host's agent.
REPLY_TIMEOUT = 10.0


def _layer() -> Any:
    from compute.dispatch import shared_layer

    layer = shared_layer()
    if layer is None:
        raise ConsoleNotAvailable()
    return layer


async def console_type(host: str, uuid: str, data: str) -> None:
    """Keystrokes for ``uuid``'s serial console on ``host``."""
    served = local_host(host)
    if served is not None:
        served.type(uuid, data)
        return
    await _layer().group_send(
        host_group(host), {"type": "console.input", "uuid": uuid, "data": data}
    )


async def console_watch(host: str, uuid: str) -> None:
    """Ask ``host`` to publish ``uuid``'s console output (renewed while a socket shows it)."""
    served = local_host(host)
    if served is not None:
        served.watch(uuid)
        return
    await _layer().group_send(host_group(host), {"type": "console.watch", "uuid": uuid})


def console_log(host: str, uuid: str) -> str:
    """The guest's console log, as its host's driver keeps it (called from sync code)."""
    return str(_ask(host, "console.log", uuid))


def console_target(host: str, uuid: str, protocol: str) -> ConsoleTarget:
    """Where a ``protocol`` console of the guest connects, as its host's driver says."""
    found = _ask(host, "console.target", uuid, protocol)
    return ConsoleTarget(str(found["kind"]), str(found["host"]), int(found["port"]))


def guest_diagnostics(host: str, uuid: str) -> GuestDiagnostics:
    """The guest's diagnostics now, as its host's driver reads them."""
    return GuestDiagnostics.from_dict(_ask(host, "guest.diagnostics", uuid))


def _ask(host: str, kind: str, uuid: str, protocol: str = "") -> Any:
    served = local_host(host)
    if served is not None:
        return served.answer(kind, uuid, protocol)
    return async_to_sync(_ask_remote)(host, kind, uuid, protocol)


async def _forget(layer: Any, channel: str) -> None:
    """Drop a reply channel's subscription: the pub/sub layer does so only when a receive on
    it is cancelled (Channels has no delete_channel)."""
    leftover = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    leftover.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(leftover, 2)


def _refusal(name: str, message: str) -> ComputeError:
    """The driver's refusal, rebuilt from its reply: its class (the HTTP code) and text."""
    cls = next(
        (c for c in _refusals() if c.__name__ == name),
        ConsoleNotAvailable,
    )
    error = cls.__new__(cls)
    ComputeError.__init__(error, message)
    return error


def _refusals() -> list[type[ComputeError]]:
    found: list[type[ComputeError]] = []
    todo: list[type[ComputeError]] = [ComputeError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


async def _ask_remote(host: str, kind: str, uuid: str, protocol: str) -> Any:
    layer = _layer()
    reply = await layer.new_channel()
    await layer.group_send(
        host_group(host), {"type": kind, "uuid": uuid, "protocol": protocol, "reply": reply}
    )
    try:
        # A receive cancelled by the timeout unsubscribes its channel (channels_redis).
        answer = await asyncio.wait_for(layer.receive(reply), REPLY_TIMEOUT)
    except TimeoutError:
        raise ConsoleNotAvailable() from None
    await _forget(layer, reply)
    if "error" in answer:
        raise _refusal(str(answer["error"]), str(answer.get("message", "")))
    return answer.get("value")

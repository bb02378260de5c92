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
from compute.exceptions import ComputeError, ConsoleNotAvailable, InstanceNotFoundOnHypervisor

#: Seconds a log request waits for the host's agent.
LOG_TIMEOUT = 10.0


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
    served = local_host(host)
    if served is not None:
        return served.driver.console_output(uuid)
    return async_to_sync(_ask_log)(host, uuid)


_ERRORS: dict[str, type[ComputeError]] = {
    "ConsoleNotAvailable": ConsoleNotAvailable,
    "InstanceNotFoundOnHypervisor": InstanceNotFoundOnHypervisor,
}


async def _ask_log(host: str, uuid: str) -> str:
    layer = _layer()
    reply = await layer.new_channel()
    try:
        await layer.group_send(
            host_group(host), {"type": "console.log", "uuid": uuid, "reply": reply}
        )
        try:
            answer = await asyncio.wait_for(layer.receive(reply), LOG_TIMEOUT)
        except TimeoutError:
            raise ConsoleNotAvailable() from None
    finally:
        # The pub/sub layer drops a channel's subscription only when a receive on it is
        # cancelled (Channels has no delete_channel): cancel one.
        leftover = asyncio.ensure_future(layer.receive(reply))
        await asyncio.sleep(0)
        leftover.cancel()
        with contextlib.suppress(BaseException):
            await leftover
    if "error" in answer:
        error = _ERRORS.get(str(answer["error"]), ConsoleNotAvailable)
        raise error(uuid) if error is InstanceNotFoundOnHypervisor else error()
    return str(answer.get("output", ""))

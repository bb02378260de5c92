"""The compute agent of one host: heartbeat, work queue, recovery, and (from the sync module)
power-state sync and lifecycle events.

The database is the queue. The agent claims a pending dispatch with a
conditional UPDATE (pending → running, stamped with this agent's id), so an action runs once
even if two agents for one host were started by mistake. A wake-up — from this process, or
through a shared channel layer from any other (``compute.agent.wakeup``) — skips the poll wait;
otherwise the agent polls every ``poll_interval`` seconds.

On start the agent recovers what a crash left: dispatches still marked running for its host are
put back to pending and resume from the instance's current task_state, and guests whose
instances were deleted while the host was down (Nova's local delete) or evacuated to another
host meanwhile (Nova's ``_destroy_evacuated_instances``) are destroyed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import close_old_connections, connection
from django.utils import timezone

from compute.agent.executor import DATABASE_GONE, execute
from compute.agent.wakeup import WakeupListener
from compute.conf import conf
from compute.consoles import hub as consoles
from compute.dispatch import shared_layer, wakeup_event
from compute.drivers.base import ComputeDriver
from compute.migration_records import EVACUATED, migration_evacuation_completed
from compute.models import ActionDispatch, Host, Instance, Migration
from compute.services.hosts import host_heartbeat, host_register

log = logging.getLogger(__name__)


class ComputeAgent:
    def __init__(
        self,
        *,
        host: str,
        driver: ComputeDriver,
        workers: int = 4,
        poll_interval: float = 0.5,
        periodic: list[tuple[float, Callable[[], object]]] | None = None,
    ) -> None:
        self.host_name = host
        self.driver = driver
        self.workers = workers
        self.poll_interval = poll_interval
        #: Extra (interval, callable) jobs the agent runs, e.g. the power-state sync.
        self.periodic = list(periodic or [])
        self.agent_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.host: Host | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        self._running: set[Future[None]] = set()
        self._wakeups: WakeupListener | None = None
        self._consoles: consoles.ConsoleHost | None = None

    # --- lifecycle --------------------------------------------------------------------------
    def register(self) -> Host:
        driver_name = "libvirt" if self.driver.hypervisor_type not in ("fake",) else "fake"
        self.host = host_register(
            host=self.host_name, driver=driver_name, driver_uri=getattr(self.driver, "uri", "")
        )
        return self.host

    def start(self) -> None:
        """Register, recover, heartbeat at once, then run the loops in daemon threads."""
        self.register()
        self.recover()
        self.heartbeat()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=f"agent-{self.host_name}")
        self._spawn("heartbeat", self._every(conf().report_interval, self.heartbeat))
        self._spawn("queue", self._queue_loop)
        # The guests' consoles are reached through this process: it holds the driver.
        self._consoles = consoles.serve(self.host_name, self.driver)
        layer = shared_layer()
        if layer is not None:
            self._wakeups = WakeupListener(self.host_name, layer)
            self._wakeups.start()
        for interval, job in self.periodic:
            if interval >= 0:
                self._spawn(f"periodic-{job.__name__}", self._every(interval or 60.0, job))
        log.info("compute agent %s started for host %s", self.agent_id, self.host_name)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        wakeup_event(self.host_name).set()
        if self._wakeups is not None:
            self._wakeups.stop()
        if self._consoles is not None:
            consoles.unserve(self.host_name, self._consoles)
        for thread in self._threads:
            thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
        self.driver.stop_events()
        close_old_connections()

    def wait(self) -> None:
        while not self._stop.wait(1.0):
            pass

    # --- the jobs ---------------------------------------------------------------------------
    def heartbeat(self) -> None:
        assert self.host is not None
        self.host = host_heartbeat(host=self.host)

    def recover(self) -> int:
        """Requeue this host's dispatches a previous run left running; clean up deleted guests."""
        assert self.host is not None
        requeued = ActionDispatch.objects.filter(
            host=self.host, state=ActionDispatch.State.RUNNING
        ).update(state=ActionDispatch.State.PENDING, claimed_by="", claimed_at=None)
        if requeued:
            log.warning("requeued %d action(s) interrupted on %s", requeued, self.host_name)
        guests = set(self.driver.list_power_states())
        if guests:
            deleted = Instance.objects.filter(
                uuid__in=list(guests), deleted_at__isnull=False
            ).values_list("uuid", flat=True)
            for gone in deleted:
                log.info(
                    "destroying guest %s of an instance deleted while %s was down",
                    gone,
                    self.host_name,
                )
                # A guest that will not go must not keep the agent from starting (and its
                # requeued work from running): the next start retries it, the sync lists it.
                try:
                    self.driver.destroy(str(gone))
                except Exception:
                    log.exception("could not destroy guest %s on %s", gone, self.host_name)
            self.destroy_evacuated(guests)
        return requeued

    def destroy_evacuated(self, guests: set[str]) -> int:
        """Nova's ``_destroy_evacuated_instances``: guests still here whose instances were
        evacuated while this host was down are destroyed with their disks (the instance now
        lives, rebuilt, on another host; two copies must not run), and each evacuation's
        record becomes ``completed``. Unlike Nova, never a guest whose instance the database
        places on this host. Returns how many were destroyed."""
        evacuated = Migration.objects.filter(
            migration_type=Migration.Type.EVACUATION,
            source_compute=self.host_name,
            status__in=EVACUATED,
            instance__uuid__in=list(guests),
        ).values_list("pk", "instance__uuid", "instance__host__host", "status")
        destroyed = 0
        for migration_id, gone, lives_on, status in evacuated:
            if lives_on == self.host_name:
                # The database says it lives here: a rebuild not yet done elsewhere (wait for
                # it), or one that came back later (this guest is the one; the record is old).
                if status == "done":
                    migration_evacuation_completed(migration_id)
                continue
            log.info("destroying guest %s, evacuated while %s was down", gone, self.host_name)
            try:
                self.driver.destroy(str(gone))
            except Exception:
                log.exception("could not destroy evacuated guest %s on %s", gone, self.host_name)
                continue
            migration_evacuation_completed(migration_id)
            destroyed += 1
        return destroyed

    def claim(self, limit: int) -> list[ActionDispatch]:
        assert self.host is not None
        claimed: list[ActionDispatch] = []
        pending = ActionDispatch.objects.filter(
            host=self.host, state=ActionDispatch.State.PENDING
        ).order_by("id")[: max(limit, 0)]
        for dispatch in pending:
            won = ActionDispatch.objects.filter(
                pk=dispatch.pk, state=ActionDispatch.State.PENDING
            ).update(
                state=ActionDispatch.State.RUNNING,
                claimed_by=self.agent_id,
                claimed_at=timezone.now(),
            )
            if won:
                claimed.append(dispatch)
        return claimed

    def run_pending(self) -> int:
        """Claim and run everything pending, in this thread (tests and one-shot use)."""
        done = 0
        while batch := self.claim(100):
            for dispatch in batch:
                self._execute(dispatch)
                done += 1
        return done

    # --- loops ------------------------------------------------------------------------------
    def _execute(self, dispatch: ActionDispatch) -> None:
        try:
            execute(
                self.driver, ActionDispatch.objects.select_related("action").get(pk=dispatch.pk)
            )
        except DATABASE_GONE as gone:
            log.warning("database lost running %s on %s: %s", dispatch.kind, self.host_name, gone)
            self._requeue(dispatch)
        except Exception:
            log.exception("action %s on %s crashed the executor", dispatch.kind, self.host_name)

    def _requeue(self, dispatch: ActionDispatch) -> None:
        """Put a dispatch the database failed under back in the queue, once the database is back
        (every second, for as long as the agent runs), to resume where its walk stopped."""
        while True:
            connection.close()  # the broken connection; the next query opens a new one
            try:
                ActionDispatch.objects.filter(
                    pk=dispatch.pk, state=ActionDispatch.State.RUNNING, claimed_by=self.agent_id
                ).update(state=ActionDispatch.State.PENDING, claimed_by="", claimed_at=None)
                return
            except DATABASE_GONE:
                if self._stop.wait(1.0):
                    return  # stopping: the next start's recover() requeues it

    def _execute_in_worker(self, dispatch: ActionDispatch) -> None:
        # Worker threads own their connections; the caller's (run_pending) must stay open.
        try:
            self._execute(dispatch)
        finally:
            close_old_connections()

    def _queue_loop(self) -> None:
        wake = wakeup_event(self.host_name)
        while not self._stop.is_set():
            wake.wait(self.poll_interval)
            wake.clear()
            if self._stop.is_set():
                break
            self._running = {f for f in self._running if not f.done()}
            free = self.workers - len(self._running)
            try:
                for dispatch in self.claim(free):
                    assert self._pool is not None
                    self._running.add(self._pool.submit(self._execute_in_worker, dispatch))
            except Exception:
                log.exception("claiming work on %s failed; retrying", self.host_name)
                close_old_connections()

    def _every(self, interval: float, job: Callable[[], object]) -> Callable[[], None]:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    job()
                except Exception:
                    log.exception(
                        "%s on %s failed; retrying", getattr(job, "__name__", job), self.host_name
                    )
                finally:
                    close_old_connections()

        return loop

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"{name}-{self.host_name}", daemon=True)
        thread.start()
        self._threads.append(thread)

"""What every benchmark gets: the sizes of this run, the seeded data, the deployment, and the web
processes and client swarm, started once when a benchmark first needs them."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.seed import ADMIN, Seeded, member
from bench.sizes import Scale
from bench.stack import Process, Stack
from bench.swarm import Swarm, Target


@dataclass
class Bench:
    scale: Scale
    stack: Stack
    seeded: Seeded
    web: list[Process] = field(default_factory=list)
    _swarm: Swarm | None = None

    def web_processes(self) -> list[Process]:
        """The two daphne processes of the scale-out deployment (started on first use)."""
        while len(self.web) < 2:
            self.web.append(self.stack.daphne(f"daphne-{'ab'[len(self.web)]}"))
        return self.web

    def stop_web(self) -> None:
        """Stop the web processes (the next ``web_processes`` starts new ones)."""
        for process in self.web:
            self.stack.stop(process)
        self.web.clear()

    @property
    def swarm(self) -> Swarm:
        if self._swarm is None:
            self._swarm = Swarm(self.scale.swarm_workers, self.stack.workdir)
        return self._swarm

    def target(self, process: Process, username: str, count: int) -> Target:
        """``count`` sockets of ``username``'s session on ``process``."""
        return Target(
            url=f"{process.ws}/ws/live/",
            count=count,
            origin=process.http,
            headers={"Cookie": f"sessionid={self.seeded.session(username)}"},
        )

    def audience(self, processes: list[Process], *, admins: int) -> list[Target]:
        """``scale.clients`` sockets over ``processes``: ``admins`` of them the admin's, the rest
        spread evenly over the projects' members."""
        targets: list[Target] = []
        members = self.scale.clients - admins
        per_process = len(processes)
        for n in range(per_process):
            share = admins // per_process + (1 if n < admins % per_process else 0)
            if share:
                targets.append(self.target(processes[n], ADMIN, share))
        for p in range(self.scale.projects):
            count = members // self.scale.projects + (1 if p < members % self.scale.projects else 0)
            for n in range(per_process):
                share = count // per_process + (1 if n < count % per_process else 0)
                if share:
                    targets.append(self.target(processes[(p + n) % per_process], member(p), share))
        return targets

    def close(self) -> None:
        if self._swarm is not None:
            self._swarm.stop()
            self._swarm = None

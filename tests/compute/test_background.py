"""The loop the web processes run their background passes in (``compute.background.every``)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from compute.background import every


def run_until(passes: list[str], stop_after: int, **kwargs: object) -> None:
    async def main() -> None:
        task = asyncio.create_task(every("test", **kwargs))  # type: ignore[arg-type]
        while len(passes) < stop_after:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_a_failing_pass_is_logged_once_and_tried_again_until_it_succeeds(caplog):
    passes: list[str] = []

    def one_pass() -> int:
        passes.append("pass")
        if len(passes) <= 3:
            raise RuntimeError("database gone")
        return 0

    with caplog.at_level(logging.INFO, logger="compute.background"):
        run_until(passes, 5, one_pass=one_pass, interval=lambda: 0.001)
    failed = [r for r in caplog.records if "pass failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is not None
    assert any("succeeded again after 3 failures" in r.getMessage() for r in caplog.records)


def test_a_pass_that_left_work_behind_is_followed_at_once_and_the_interval_is_read_each_time():
    passes: list[str] = []
    asked: list[float] = []

    def one_pass() -> int:
        passes.append("pass")
        return len(passes)

    def interval() -> float:
        asked.append(0.001)
        return 0.001

    run_until(passes, 6, one_pass=one_pass, interval=interval, again_at_once=lambda n: n % 2 == 1)
    # Odd passes said "more to do": only the even ones waited.
    assert len(asked) in (2, 3)


def test_a_loop_woken_by_another_runs_at_once_instead_of_at_its_next_tick():
    passes: list[float] = []

    async def main() -> None:
        import time

        wake = asyncio.Event()
        task = asyncio.create_task(
            every("woken", lambda: passes.append(time.monotonic()), lambda: 60.0, wake=wake)
        )
        while not passes:
            await asyncio.sleep(0.001)
        woken_at = time.monotonic()
        wake.set()
        while len(passes) < 2:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert passes[1] - woken_at < 5  # not the 60 s interval
        assert not wake.is_set()

    asyncio.run(main())

"""The reserve hsnap leaves to the project's other clients, its pacing, and ``hsnap plan``'s
prediction of a run's requests."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from hsnap.clock import Clock
from hsnap.cloud.governor import Pacing, RateGovernor
from hsnap.cloud.images import ImageReader
from hsnap.errors import GoneError
from hsnap.models import ImageRef
from hsnap.snapshot.budget import predict


class FakeClock(Clock):
    """API time that moves only when someone sleeps."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


class Bucket:
    """The API's side: one bucket per project, refilled one request a second, shared by all."""

    def __init__(self, clock: FakeClock, capacity: int, remaining: float) -> None:
        self.clock, self.capacity = clock, capacity
        self.tokens, self.at = remaining, clock.now()
        self.lowest = remaining
        self.limited = 0

    def take(self) -> int:
        now = self.clock.now()
        self.tokens = min(self.capacity, self.tokens + (now - self.at))
        self.at = now
        status = 200
        if self.tokens < 1:
            status = 429
            self.limited += 1
        else:
            self.tokens -= 1
        self.lowest = min(self.lowest, self.tokens)
        return status

    def answer(self, status: int) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.headers["RateLimit-Limit"] = str(self.capacity)
        response.headers["RateLimit-Remaining"] = str(int(self.tokens))
        return response


def hsnap_request(governor: RateGovernor, bucket: Bucket) -> None:
    governor.before_request()
    governor.observe(bucket.answer(bucket.take()))


def test_hsnap_never_spends_below_a_quarter_and_paces_to_the_refill() -> None:
    clock = FakeClock()
    bucket = Bucket(clock, 3600, remaining=1000)
    governor = RateGovernor(clock)
    started: list[tuple[int, int]] = []
    pacing = Pacing(on_start=lambda left, kept: started.append((left, kept)))
    with governor.paced_for(pacing):
        begin = clock.now()
        for _ in range(300):
            hsnap_request(governor, bucket)
        took = clock.now() - begin
    assert bucket.lowest >= 900 - 1  # never below the reserve (the last request lands on it)
    assert bucket.limited == 0
    # 100 requests above the reserve went at once; the other 200 at the refill, one a second
    assert took == pytest.approx(200, abs=2)
    assert pacing.paced_s == pytest.approx(200, abs=2)
    assert started == [(900, 900)]  # said once, when it began: not once per request
    assert pacing.describe() == "paced for 3m20s to keep 900 requests for other clients"


def test_reserve_zero_spends_the_whole_bucket_without_pacing() -> None:
    clock = FakeClock()
    bucket = Bucket(clock, 3600, remaining=1000)
    governor = RateGovernor(clock)
    pacing = Pacing(reserve=0)
    with governor.paced_for(pacing):
        for _ in range(900):
            hsnap_request(governor, bucket)
    assert clock.now() == 1000.0  # no request waited
    assert pacing.describe() is None
    assert bucket.limited == 0


def test_other_clients_spending_counts_and_their_requests_never_see_429() -> None:
    clock = FakeClock()
    bucket = Bucket(clock, 3600, remaining=3600)
    governor = RateGovernor(clock)
    pacing = Pacing(reserve=600)
    other_status: list[int] = []
    with governor.paced_for(pacing):
        for i in range(4000):
            hsnap_request(governor, bucket)
            if i % 5 == 0:  # another client: a request now and then, and a burst of 100
                other_status.append(bucket.take())
            if i == 2000:
                other_status += [bucket.take() for _ in range(100)]
    assert 429 not in other_status
    assert bucket.limited == 0
    # the other client's requests came out of hsnap's share: it paced as soon as they did
    assert bucket.lowest >= 600 - 100 - 1
    assert "to keep 600 requests" in (pacing.describe() or "")


def test_the_reserve_is_lifted_on_every_path_out_of_a_run() -> None:
    clock = FakeClock()
    governor = RateGovernor(clock)
    said: list[tuple[int, int]] = []
    reserves: list[int] = []

    def failing_run() -> None:
        with governor.paced_for(Pacing(0, lambda *a: said.append(a))):
            reserves.append(governor.reserve)
            raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError):
        failing_run()
    assert reserves == [0]
    assert governor.pacing is None  # the next run (or any other caller) tells no dead run
    assert governor.reserve == 900  # the default again: a quarter of the 3600
    bucket = Bucket(clock, 3600, remaining=901)
    for _ in range(3):
        hsnap_request(governor, bucket)
    assert said == []


def test_a_reserve_larger_than_the_bucket_still_lets_one_request_through() -> None:
    clock = FakeClock()
    governor = RateGovernor(clock)
    bucket = Bucket(clock, 100, remaining=100)
    hsnap_request(governor, bucket)  # learn the limit
    with governor.paced_for(Pacing(reserve=10_000)):
        assert governor.reserve == 99
        hsnap_request(governor, bucket)
        hsnap_request(governor, bucket)
    assert bucket.limited == 0


def test_waiting_requests_queue_for_the_refill_instead_of_waking_together() -> None:
    clock = FakeClock()
    governor = RateGovernor(clock)
    governor.observe(Bucket(clock, 3600, 900).answer(200))  # at the reserve
    slots = []
    with governor.paced_for(Pacing()):
        governor._lock.acquire()
        step = 1 / governor.refill_per_s
        governor._lock.release()
        for _ in range(5):
            before = clock.now()
            governor.before_request()
            slots.append(clock.now() - before)
    assert slots == pytest.approx([step] * 5)  # one per refill, in line


# -- hsnap plan ----------------------------------------------------------------------------------


def test_a_fleet_that_fits_above_the_reserve_needs_no_pacing() -> None:
    plan = predict(1000, remaining=3600, limit=3600)
    assert plan.reserve == 900
    assert plan.burst == 1000 + 3 * 20 + 4  # creates, listing pages, fixed reads
    assert 1000 < plan.requests <= 1500
    assert not plan.needs_pacing
    assert plan.describe()[-1] == "the run fits above the reserve: no pacing expected"


def test_a_run_that_cannot_fit_warns_and_says_for_how_long() -> None:
    plan = predict(2000, remaining=2000, limit=3600)
    assert plan.needs_pacing
    short = plan.burst - (2000 - 900)
    assert plan.pacing_s == pytest.approx(short)  # one request a second
    warning = plan.describe()[-1]
    assert warning.startswith("warning: the run cannot finish without pacing")
    assert f"{plan.burst} requests" in warning
    assert "1100 are above the reserve" in warning


def test_reserve_zero_and_locked_servers_change_the_prediction() -> None:
    assert not predict(2000, remaining=2200, limit=3600, reserve=0).needs_pacing
    assert predict(2000, remaining=2200, limit=3600).needs_pacing
    plain = predict(100, remaining=None, limit=None)
    locked = predict(100, remaining=None, limit=None, locked=15)
    assert locked.requests - plain.requests == 30  # a 423 and a read of the holders each
    assert plain.remaining == plain.limit == 3600  # nothing known: a full bucket


# -- batched image reads ------------------------------------------------------------------------


class ImageCloud:
    """find_images with the run's label selector; counts its reads."""

    def __init__(self, images: dict[int, int]) -> None:
        self.images = images  # image id -> server id
        self.selectors: list[str] = []
        self.clock = Clock(60.0)
        self.watcher = self  # no poll to wait for: nothing else is being waited on
        self.polls = 0

    def busy(self) -> bool:
        return False

    def find_images(self, label_selector: str | None = None) -> list[ImageRef]:
        assert label_selector is not None
        self.selectors.append(label_selector)
        inside = label_selector.split(" in (")[1].rstrip(")")
        servers = {int(s) for s in inside.split(",")}
        return [
            ImageRef(i, "available", f"snap-{i}", 1.5, {})
            for i, server in self.images.items()
            if server in servers
        ]


def test_images_of_many_servers_are_read_in_few_requests() -> None:
    images = {300_000 + i: 100_000 + i for i in range(60)}
    cloud = ImageCloud({k: v for k, v in images.items() if k != 300_007})  # one was deleted
    reader = ImageReader(cloud, "run-1")  # type: ignore[arg-type]
    results: dict[int, Any] = {}
    barrier = threading.Barrier(len(images))

    def one(image_id: int, server_id: int) -> None:
        barrier.wait()
        try:
            results[image_id] = reader.get(server_id, image_id)
        except GoneError as exc:
            results[image_id] = exc

    threads = [threading.Thread(target=one, args=item) for item in images.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    found = {i: r for i, r in results.items() if isinstance(r, ImageRef)}
    assert {i: r.id for i, r in found.items()} == {i: i for i in images if i != 300_007}
    assert isinstance(results[300_007], GoneError)
    assert len(cloud.selectors) <= 10 < len(images)  # batched: not one read per server
    assert all("hsnap/flow-run=run-1" in s for s in cloud.selectors)

"""Section 4 of scripts/bench.py: the local cloud of `make local`, measured over HTTP only.

The local cloud runs in this process (`running_local_cloud` on free ports, its timeline kept silently,
no code watching), and every figure is taken as a client takes it: through the API and the signed
payment webhook, with drivers.api_client and drivers.payment_provider. Behind the API everything shares
this one interpreter: moto as an HTTP server, the handlers (one invocation at a time, as in one sandbox),
the delivery loop and the benchmark's own client threads.

- One order at a time: each is placed with POST /orders under a fresh Idempotency-Key, paid as soon
  as the saga asks (the payment provider watches its payments table, then sends the signed webhook) and
  polled with GET /orders/{id} (Customer.wait_for) until COMPLETED; both look every 50 ms for 0.5 s,
  then less often, up to every 0.25 s (drivers.polling).
  Its POST is one latency sample and POST-to-COMPLETED one more; a pause before each POST lets the
  previous order's last deliveries end, so the POST is timed on a quiet cloud. The first few orders
  are warm-up. Then GET /orders/{id} is timed, one at a time, on those completed orders.
- A run of orders from concurrent clients (threads): each places an order, pays when asked and
  polls until a final status, then places the next; afterwards every queue of the template,
  dead-letter queues included, is looked at, and the cloud's process is sized store by store before and
  after the run (scripts/bench_memory.py): memory per order, and which of it is data AWS keeps too.
- A paced phase: orders due at a fixed rate in all (PACED_RATE a second, for PACED_SECONDS), placed open
  loop by RUN_CLIENTS client threads, each order paid and followed to its end as above: the latency at
  that rate, and whether the cloud keeps up (POSTs sent late, latency growing by quarter). The run after it
  is closed loop, so with its clients' orders always in flight its latency is clients / throughput
  (Little's law): the run measures throughput, the paced phase latency at a rate.
- Connection bursts, first, on a quiet cloud: BURST_CONNECTIONS connections opened at the same moment,
  each sending one GET /orders (drivers.load; the customer has no orders yet), BURST_ROUNDS times
  each; how many were reset, dropped (not accepted at the first SYN: the listen backlog overflowed) or
  left unanswered, and how long the last answer took (the answers come one invocation at a time).

Every order is the body of events/place_order/valid.json; the seeded stock cannot serve them all, so
its SKUs are topped up in the inventory table before the first order (the output says so).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import os
import re
import statistics
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

import boto3

from drivers.load import Burst, burst
from drivers.sample_events import sample_event
from local_cloud.template import ROOT
from local_cloud.timeline import MAX_ENTRIES, Timeline
from scripts.bench_memory import STORES, store_sizes

if TYPE_CHECKING:
    from drivers.api_client import Customer
    from drivers.payment_provider import PaymentProvider
    from local_cloud.server import LocalCloud

ORDER_EVENT = "place_order/valid.json"
SEED_FILE = ROOT / "seed" / "inventory.json"

WARM_UP = 3  # orders placed one at a time before the samples, not counted
SEQUENTIAL_ORDERS = 20  # each gives a POST /orders and a POST-to-COMPLETED sample
GET_SAMPLES = 50
QUIET_SECONDS = 0.5  # an order's last deliveries end 0.2-0.45 s after GET shows it COMPLETED
RUN_ORDERS = 2_000  # the soak: does the pace hold and memory stay flat as tables and histories grow?
RUN_CLIENTS = 8
STOCK_MARGIN = 20  # orders' worth of stock beyond those planned
BURST_CONNECTIONS = (20, 50)
BURST_ROUNDS = 3

POST_P50_MS_TARGET = 50
TO_COMPLETED_P50_S_TARGET = 2.0
ORDER_TIMEOUT_SECONDS = 120  # for one order to end, from its POST
RUN_SECONDS = 3_600  # the whole run's bound: orders not placed by then are not placed
MEMORY_SAMPLE_SECONDS = 0.5
THROUGHPUT_TARGET = 3.0  # orders/s
RUN_P50_S_TARGET = 1.0  # placed to COMPLETED, in the run
PACE_HELD_TARGET = 0.9  # last quarter's pace over the first's
PACED_RATE = 3.0  # orders/s arriving in the paced phase, from all its clients together
PACED_SECONDS = 40  # of arrivals: the paced phase places PACED_RATE * PACED_SECONDS orders
PACED_LATE_SECONDS = 0.1  # a POST sent later than this after its due time is a late arrival
PACED_FOLLOWERS = 64  # threads paying and following the paced orders: more than can be in flight at once
QUEUE_SETTLE_SECONDS = 15  # for the queues to empty once every order has ended
QUEUE_POLL_SECONDS = 0.25
COMPLETED = "COMPLETED"


class LocalMeasurementFailed(Exception):
    """The local cloud could not be driven far enough to take a figure."""


@dataclass(frozen=True)
class Stock:
    sku: str
    seeded: int
    set_to: int


@dataclass(frozen=True)
class RunResult:
    orders: int
    clients: int
    seconds: float
    outcomes: Counter[str]  # final status, or what happened instead
    quarters: list[float]  # orders per second over each quarter of the orders, in the order they ended
    to_completed_s: list[float]  # placed to COMPLETED, each completed order of the run
    memory: list[Memory]  # peak resident memory over each quarter
    cpu: CpuSeconds  # CPU seconds (user + sys) over the run: the cloud's process, its sandboxes together
    queues: dict[str, int]  # logical id -> visible + in-flight messages at the end, every queue of the template
    queues_empty_after: float | None  # seconds after the last order ended; None if some never emptied
    failures: Counter[str] = field(default_factory=Counter)  # "<function>: failed <errorType>", from the timeline
    stores: StoreGrowth | None = None  # the cloud's process, store by store, before and after the run
    requests: Counter[str] = field(default_factory=Counter)  # API requests during the run, by route


@dataclass(frozen=True)
class StoreGrowth:
    before: dict[str, int]  # bytes per store (scripts/bench_memory.STORES) when the run started
    after: dict[str, int]  # and once its queues were empty
    resident_mb: tuple[float, float]  # the cloud's process (VmRSS) at those two moments
    timeline_entries: int  # what the timeline holds at the end (it keeps MAX_ENTRIES at most)


@dataclass(frozen=True)
class PacedOrder:
    due: float  # seconds after the first arrival's due time
    late: float  # seconds its POST was sent after it was due
    outcome: str
    seconds: float  # from its POST to its final status
    ended: float  # seconds after the first arrival's due time, when its client saw it end


@dataclass(frozen=True)
class PacedResult:
    rate: float  # orders/s asked for
    clients: int
    orders: list[PacedOrder]
    cpu: CpuSeconds
    requests: Counter[str]  # API requests during the phase, by route


@dataclass(frozen=True)
class OrderEnded:
    at: float  # time.time() when its client saw it end (the clients run in a process of their own)
    outcome: str
    seconds: float  # from its POST to its final status


@dataclass(frozen=True)
class Memory:
    cloud_mb: float  # this process: moto, the API, the delivery loop, the timeline
    sandboxes_mb: float  # every sandbox worker process together


@dataclass(frozen=True)
class CpuSeconds:
    cloud: float  # this process (the clients' process is not in it)
    sandboxes: float  # every sandbox worker process together

    def __sub__(self, before: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(self.cloud - before.cloud, self.sandboxes - before.sandboxes)


@dataclass
class LocalFigures:
    startup_seconds: float = 0.0
    stock: list[Stock] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)
    to_completed_s: list[float] = field(default_factory=list)
    sequential_statuses: Counter[str] = field(default_factory=Counter)
    bursts: list[Burst] = field(default_factory=list)
    paced: PacedResult | None = None
    run: RunResult | None = None


# ---------------------------------------------------------------- helpers


def order_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(sample_event(ORDER_EVENT)["body"])
    return body


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: a figure that was measured, not interpolated."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]


def timed[T](call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


@contextlib.contextmanager
def quiet_process() -> Iterator[TextIO]:
    """Drop stdout and stderr (handlers log from every thread) while the cloud runs; yields the real stderr."""
    real_stderr = sys.stderr
    # A file with a descriptor: the sandboxes write their handlers' output there too (server._handler_log).
    sink = open(os.devnull, "w")  # noqa: SIM115 - never closed: a late write from a lingering thread is harmless
    with (
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
        warnings.catch_warnings(action="ignore"),
    ):
        yield real_stderr


class Progress:
    """One line on the real stderr, rewritten, as section 1 does."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def __call__(self, text: str) -> None:
        with self._lock:
            print(f"\rlocal cloud: {text:<60}", end="", file=self._out, flush=True)

    def done(self) -> None:
        print(file=self._out, flush=True)


# ---------------------------------------------------------------- one order, as a client drives it


def place(customer: Customer, order: dict[str, Any]) -> tuple[str, float]:
    """POST /orders under a fresh Idempotency-Key; the order id and the seconds the request took."""
    answer, seconds = timed(lambda: customer.place_order(order, str(uuid.uuid4())))
    if answer.status != 201:
        raise LocalMeasurementFailed(f"POST /orders answered {answer.status}: {answer.body}")
    return str(answer.body["orderId"]), seconds


def pay_and_finish(customer: Customer, provider: PaymentProvider, order_id: str) -> str:
    """Pay as soon as the saga asks, then poll GET until a final status; returns it, or what happened instead."""
    from drivers.api_client import FINAL_STATUSES  # noqa: PLC0415 - needs the layer on sys.path
    from orders.webhook import PaymentWebhookType  # noqa: PLC0415 - as above

    paid = "webhook accepted"
    try:
        answer = provider.send(order_id, PaymentWebhookType.SUCCEEDED)  # waits until the saga asks (30 s at most)
    except TimeoutError:
        # Not asked: an order can end before its payment (out of stock), and its status says so.
        paid = "payment not asked for within 30 s, no webhook sent"
    else:
        if answer.status >= 300:
            return f"webhook answered {answer.status}"
    try:
        answer = customer.wait_for(order_id, FINAL_STATUSES, timeout_seconds=ORDER_TIMEOUT_SECONDS)
    except TimeoutError:
        last = customer.order(order_id)
        status = last.body.get("status") if isinstance(last.body, dict) else last.status
        return f"still {status} after {ORDER_TIMEOUT_SECONDS} s ({paid})"
    return str(answer.body["status"])


# ---------------------------------------------------------------- the measurements


def top_up_stock(local: LocalCloud, order: dict[str, Any], orders: int) -> list[Stock]:
    """Enough stock of the order's SKUs for `orders` orders and a margin, at their seeded prices; never less."""
    from orders.inventory import Inventory  # noqa: PLC0415 - needs the layer on sys.path

    seeded = {item["sku"]: item for item in json.loads(SEED_FILE.read_text())}
    inventory = Inventory(boto3.client("dynamodb"), local.outputs()["InventoryTableName"])
    stock: list[Stock] = []
    for line in order["items"]:
        seed = seeded[line["sku"]]
        needed = max(int(line["quantity"]) * (orders + STOCK_MARGIN), int(seed["available"]))
        inventory.put_stock(line["sku"], needed, int(seed["unitPrice"]))
        stock.append(Stock(line["sku"], int(seed["available"]), needed))
    return stock


def measure_one_at_a_time(
    customer: Customer, provider: PaymentProvider, order: dict[str, Any], figures: LocalFigures, progress: Progress
) -> None:
    completed: list[str] = []
    for number in range(WARM_UP + SEQUENTIAL_ORDERS):
        progress(f"one order at a time: {number + 1}/{WARM_UP + SEQUENTIAL_ORDERS} ({WARM_UP} warm-up)")
        time.sleep(QUIET_SECONDS)
        started = time.perf_counter()
        order_id, post_seconds = place(customer, order)
        status = pay_and_finish(customer, provider, order_id)
        to_final = time.perf_counter() - started
        if number < WARM_UP:
            continue
        figures.post_ms.append(post_seconds * 1000)
        figures.sequential_statuses[status] += 1
        if status == COMPLETED:
            figures.to_completed_s.append(to_final)
            completed.append(order_id)
    if not completed:
        raise LocalMeasurementFailed(f"no order completed: {dict(figures.sequential_statuses)}")
    time.sleep(QUIET_SECONDS)
    for number in range(GET_SAMPLES):
        progress(f"GET /orders/{{id}} {number + 1}/{GET_SAMPLES}")
        order_id = completed[number % len(completed)]
        answer, seconds = timed(partial(customer.order, order_id))
        if answer.status != 200:
            raise LocalMeasurementFailed(f"GET /orders/{order_id} answered {answer.status}: {answer.body}")
        figures.get_ms.append(seconds * 1000)


def measure_bursts(customer: Customer, figures: LocalFigures, progress: Progress) -> None:
    address = urlsplit(customer.api_url)
    for connections in BURST_CONNECTIONS:
        for number in range(BURST_ROUNDS):
            progress(f"{connections} connections at once, {number + 1}/{BURST_ROUNDS}")
            time.sleep(QUIET_SECONDS)
            figures.bursts.append(
                burst(
                    str(address.hostname),
                    int(address.port or 80),
                    connections,
                    "/orders",
                    headers={"Authorization": str(customer.token)},
                )
            )


def queue_counts(local: LocalCloud) -> dict[str, int]:
    """Visible plus in-flight messages of every SQS queue of the template, by logical id."""
    sqs = boto3.client("sqs")
    counts: dict[str, int] = {}
    for logical_id in local.cloud.template.of_type("AWS::SQS::Queue"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=str(local.cloud.physical_id(logical_id)),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        counts[logical_id] = sum(int(value) for value in attributes.values())
    return counts


def quarter_rates(started: float, ended_at: list[float]) -> list[float]:
    """Orders per second over each quarter of the orders (by when they ended): does the pace hold up?"""
    rates: list[float] = []
    since, done = started, 0
    for quarter in range(1, 5):
        upto = round(len(ended_at) * quarter / 4)
        if upto > done:
            rates.append((upto - done) / max(ended_at[upto - 1] - since, 1e-9))
            since, done = ended_at[upto - 1], upto
    return rates


def resident_mb(pid: int) -> float:
    """A process's resident set (VmRSS), in MiB; 0 if it has ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + sys, Linux's /proc), in seconds; 0 if it has ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14, 15


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc)."""
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class MemorySampler:
    """Samples the resident memory of this process and of its sandboxes (its children but `others`) in a thread."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, Memory]] = []
        self.others: set[int] = set()  # children that are not sandboxes: the clients' process
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def cpu(self) -> CpuSeconds:
        """CPU seconds so far, of this process and of its sandboxes alive now (a sandbox that ended is not counted)."""
        me = os.getpid()
        sandboxes = [pid for pid in children_of(me) if pid not in self.others]
        return CpuSeconds(cpu_seconds(me), sum(cpu_seconds(pid) for pid in sandboxes))

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(MEMORY_SAMPLE_SECONDS):
            sandboxes = [pid for pid in children_of(me) if pid not in self.others]
            memory = Memory(resident_mb(me), sum(resident_mb(pid) for pid in sandboxes))
            self.samples.append((time.time(), memory))

    def peaks(self, bounds: list[float]) -> list[Memory]:
        """The peak of each span between consecutive `bounds` (times)."""
        peaks: list[Memory] = []
        for since, until in itertools.pairwise(bounds):
            inside = [memory for at, memory in self.samples if since <= at <= until] or [Memory(0, 0)]
            peaks.append(Memory(max(m.cloud_mb for m in inside), max(m.sandboxes_mb for m in inside)))
        return peaks


def drive_clients(
    api_url: str, tokens: list[str], outputs: dict[str, str], orders: int, clients: int
) -> list[OrderEnded]:
    """In the clients' own process: `clients` threads place, pay and follow `orders` orders in all."""
    from drivers.api_client import Customer  # noqa: PLC0415 - needs the layer on sys.path
    from drivers.payment_provider import PaymentProvider  # noqa: PLC0415 - as above

    order, provider = order_body(), PaymentProvider(outputs)
    progress = Progress(sys.stderr)
    ended: list[OrderEnded] = []
    lock = threading.Lock()
    numbers = iter(range(orders))
    deadline = time.monotonic() + RUN_SECONDS

    def client(customer: Customer) -> None:
        while time.monotonic() < deadline:
            with lock:
                if next(numbers, None) is None:
                    return
            started = time.perf_counter()
            try:
                order_id, _ = place(customer, order)
            except LocalMeasurementFailed as refused:
                outcome = str(refused).split(":", 1)[0]
            else:
                outcome = pay_and_finish(customer, provider, order_id)
            with lock:
                ended.append(OrderEnded(time.time(), outcome, time.perf_counter() - started))
                count = len(ended)
            if count % 10 == 0 or count == orders:
                progress(f"{clients} clients: {count}/{orders} orders ended")

    with ThreadPoolExecutor(clients) as pool:
        customers = [Customer(api_url, token) for token in tokens]
        for future in [pool.submit(client, customers[number % len(customers)]) for number in range(clients)]:
            future.result()
    return ended


def drive_paced(
    api_url: str, tokens: list[str], outputs: dict[str, str], *, orders: int, rate: float, clients: int
) -> list[PacedOrder]:
    """In the clients' own process: `orders` orders due at `rate` a second in all, open loop.

    Client i places orders i, i + clients, ... each when it is due (the first due time plus its number over
    `rate`), whether or not its earlier orders have ended; each order is paid and followed to its end by a
    thread of its own, so a slow order never delays the next arrival. A POST that could not be sent on time
    (the client's own process is late, or the previous POST of that client still waits for its answer) is late.
    """
    from drivers.api_client import Customer  # noqa: PLC0415 - needs the layer on sys.path
    from drivers.payment_provider import PaymentProvider  # noqa: PLC0415 - as above

    order, provider = order_body(), PaymentProvider(outputs)
    progress = Progress(sys.stderr)
    customers = [Customer(api_url, token) for token in tokens]
    ended: list[PacedOrder] = []
    lock = threading.Lock()
    first_due = time.perf_counter() + 0.5  # every client thread started by then

    def follow(customer: Customer, due: float, late: float, placed: float, order_id: str) -> None:
        outcome = pay_and_finish(customer, provider, order_id)
        now = time.perf_counter()
        with lock:
            ended.append(PacedOrder(due, late, outcome, now - placed, now - first_due))
            count = len(ended)
        if count % 10 == 0 or count == orders:
            progress(f"paced at {rate:g}/s: {count}/{orders} orders ended")

    def client(number: int, followers: ThreadPoolExecutor) -> None:
        customer = customers[number % len(customers)]
        for n in range(number, orders, clients):
            due = n / rate
            time.sleep(max(0.0, first_due + due - time.perf_counter()))
            placed = time.perf_counter()
            try:
                order_id, _ = place(customer, order)
            except LocalMeasurementFailed as refused:
                with lock:
                    ended.append(PacedOrder(due, placed - first_due - due, str(refused).split(":", 1)[0], 0, due))
                continue
            followers.submit(follow, customer, due, placed - first_due - due, placed, order_id)

    with ThreadPoolExecutor(PACED_FOLLOWERS) as followers, ThreadPoolExecutor(clients) as placing:
        for future in [placing.submit(client, number, followers) for number in range(clients)]:
            future.result()
    return sorted(ended, key=lambda paced: paced.due)


def measure_paced(local: LocalCloud, customers: list[Customer], *, rate: float, orders: int) -> PacedResult:
    """The paced phase: latency at a given arrival rate (the clients in a process of their own, as in the run)."""
    with MemorySampler() as memory, ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        memory.others.add(pool.submit(os.getpid).result())
        cpu_before, requests_before = memory.cpu(), api_requests(local)
        tokens = [str(customer.token) for customer in customers]
        driven = partial(drive_paced, orders=orders, rate=rate, clients=RUN_CLIENTS)
        paced = pool.submit(driven, local.api_url, tokens, local.outputs()).result()
        return PacedResult(rate, RUN_CLIENTS, paced, memory.cpu() - cpu_before, api_requests(local) - requests_before)


def measure_run(
    local: LocalCloud,
    customers: list[Customer],
    *,
    orders: int,
    progress: Progress,
) -> RunResult:
    """The clients run in a process of their own, so their threads do not compete with the cloud's for its GIL."""
    progress("sizing the cloud's stores")
    sizes_before, resident_before = store_sizes(local), resident_mb(os.getpid())
    with MemorySampler() as memory, ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        memory.others.add(pool.submit(os.getpid).result())  # started before the clock: its start-up is no order's
        started, cpu_before = time.time(), memory.cpu()
        failures_before, requests_before = timeline_failures(local), api_requests(local)
        tokens = [str(customer.token) for customer in customers]
        ended = pool.submit(drive_clients, local.api_url, tokens, local.outputs(), orders, RUN_CLIENTS).result()
        seconds, cpu_after = time.time() - started, memory.cpu()

        # The last orders' final events are still on their way to notifications and analytics: give them time.
        progress("waiting for the queues to empty")
        settling = time.perf_counter()
        counts = queue_counts(local)
        while any(counts.values()) and time.perf_counter() - settling < QUEUE_SETTLE_SECONDS:
            time.sleep(QUEUE_POLL_SECONDS)
            counts = queue_counts(local)
    progress("sizing the cloud's stores")
    stores = StoreGrowth(
        before=sizes_before,
        after=store_sizes(local),
        resident_mb=(resident_before, resident_mb(os.getpid())),
        timeline_entries=len(local.timeline.entries()),
    )
    ended.sort(key=lambda order: order.at)
    ended_at = [order.at for order in ended]
    failures = timeline_failures(local) - failures_before
    requests = api_requests(local) - requests_before
    quarters = [started] + [ended_at[round(len(ended_at) * q / 4) - 1] for q in range(1, 5)] if ended else []
    return RunResult(
        orders=orders,
        clients=RUN_CLIENTS,
        seconds=seconds,
        outcomes=Counter(order.outcome for order in ended),
        quarters=quarter_rates(started, ended_at),
        to_completed_s=[order.seconds for order in ended if order.outcome == COMPLETED],
        memory=memory.peaks(quarters),
        cpu=cpu_after - cpu_before,
        queues=counts,
        queues_empty_after=None if any(counts.values()) else time.perf_counter() - settling,
        failures=failures,
        stores=stores,
        requests=requests,
    )


def timeline_failures(local: LocalCloud) -> Counter[str]:
    """What the local cloud's timeline counted so far, if it counts (a CountingTimeline)."""
    return Counter(local.timeline.failures) if isinstance(local.timeline, CountingTimeline) else Counter()


class CountingTimeline(Timeline):
    """A silent timeline that counts its failed invocations and IAM denials as they come (it keeps only the latest)."""

    def __init__(self) -> None:
        super().__init__(out=None)
        self.failures: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()  # API requests by method and route ("GET /orders/{id}")

    def add(self, source: str, text: str, order_id: str | None = None, data: Any = None) -> None:
        if (source == "lambda" and ": failed " in text) or source == "iam":
            self.failures[text.split(" in ", 1)[0]] += 1
        elif source == "api":
            self.requests[_ANY_ID.sub("/{id}", text.split(" -> ", 1)[0])] += 1
        super().add(source, text, order_id, data)


_ANY_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def api_requests(local: LocalCloud) -> Counter[str]:
    """The API requests counted so far, by route, if the timeline counts (a CountingTimeline)."""
    return Counter(local.timeline.requests) if isinstance(local.timeline, CountingTimeline) else Counter()


def measure_local_cloud(run_orders: int = RUN_ORDERS, paced_rate: float = PACED_RATE) -> LocalFigures:
    """Start the local cloud in-process, take every figure over HTTP, stop it. The layer must be on sys.path."""
    from drivers.api_client import Customer  # noqa: PLC0415 - needs the layer on sys.path
    from drivers.payment_provider import PaymentProvider  # noqa: PLC0415 - as above
    from local_cloud.server import running_local_cloud  # noqa: PLC0415 - as above

    figures = LocalFigures()
    order = order_body()
    with quiet_process() as real_stderr:
        progress = Progress(real_stderr)
        progress("starting")
        try:
            started = time.perf_counter()
            with running_local_cloud(0, 0, 0, timeline=CountingTimeline(), watch_code=False, sandboxes=True) as local:
                figures.startup_seconds = time.perf_counter() - started
                paced_orders = round(paced_rate * PACED_SECONDS)
                figures.stock = top_up_stock(local, order, WARM_UP + SEQUENTIAL_ORDERS + paced_orders + run_orders)
                customers = [Customer(local.api_url, local.token(name)) for name in ("alice", "bob")]
                provider = PaymentProvider(local.outputs())
                measure_bursts(customers[0], figures, progress)  # first: alice has no orders, GET /orders is light
                measure_one_at_a_time(customers[0], provider, order, figures, progress)
                if paced_orders:
                    figures.paced = measure_paced(local, customers, rate=paced_rate, orders=paced_orders)
                if run_orders:
                    figures.run = measure_run(local, customers, orders=run_orders, progress=progress)
                progress("stopping")
        finally:
            progress.done()
    return figures


# ---------------------------------------------------------------- printing


def verdict(within: bool) -> str:
    return "✓ within" if within else "✗ over"


def spread(values: list[float], scale: float = 1) -> str:
    return f"{min(values) * scale:.0f}-{max(values) * scale:.0f}"


def print_local_cloud(figures: LocalFigures) -> None:
    print(
        f"  started in {figures.startup_seconds:.1f} s, in this process (moto, the API, the delivery loop), each"
        " function in sandbox worker processes as `make local` runs it"
    )
    print(
        f"  every order is events/{ORDER_EVENT}'s body; the seeded stock cannot serve them all, so it was"
        " topped up first: " + ", ".join(f"{s.sku} {s.seeded} -> {s.set_to}" for s in figures.stock)
    )
    print(f"  {'one order at a time':<34} {'samples':>7} {'p50 ms':>7} {'p95 ms':>7} {'min-max':>11}")
    post_p50, get_p50 = statistics.median(figures.post_ms), statistics.median(figures.get_ms)
    print(
        f"  {'POST /orders (new order)':<34} {len(figures.post_ms):>7} {post_p50:>7.0f}"
        f" {percentile(figures.post_ms, 0.95):>7.0f} {spread(figures.post_ms):>11}"
        f"   target p50 <= {POST_P50_MS_TARGET} ms {verdict(post_p50 <= POST_P50_MS_TARGET)}"
    )
    print(
        f"  {'GET /orders/{id} (existing order)':<34} {len(figures.get_ms):>7} {get_p50:>7.0f}"
        f" {percentile(figures.get_ms, 0.95):>7.0f} {spread(figures.get_ms):>11}   (for information)"
    )
    completed = figures.to_completed_s
    to_completed_p50 = statistics.median(completed)
    not_completed = {status: n for status, n in figures.sequential_statuses.items() if status != COMPLETED}
    print(
        f"  {'POST /orders to COMPLETED':<34} {len(completed):>7} {to_completed_p50 * 1000:>7.0f}"
        f" {percentile(completed, 0.95) * 1000:>7.0f} {spread(completed, 1000):>11}"
        f"   target p50 <= {TO_COMPLETED_P50_S_TARGET:.0f} s {verdict(to_completed_p50 <= TO_COMPLETED_P50_S_TARGET)}"
        + (f"  (did not complete: {not_completed})" if not_completed else "")
    )
    for line in (
        f"{WARM_UP} warm-up orders first (not counted); each POST {QUIET_SECONDS} s after the previous one completed,",
        "with a fresh Idempotency-Key; the webhook goes as soon as the saga asks for payment (the provider watches",
        "its payments table); the client polls GET /orders/{id} (Customer.wait_for) until COMPLETED, both every 50 ms",
        "for 0.5 s, then less often (drivers.polling), so that figure includes up to 50 ms of polling (more past",
        "0.5 s); the GETs read those completed orders, in turn",
    ):
        print(f"    {line}")
    print_bursts(figures.bursts)
    if figures.paced is not None:
        print_paced(figures.paced)
    else:
        print("  paced phase: left out (--paced-rate 0)")
    if figures.run is not None:
        print_run(figures.run)
    else:
        print("  concurrent run: left out (--local-orders 0)")


def print_bursts(bursts: list[Burst]) -> None:
    print(
        f"  {'connections at once (GET /orders)':<34} {'rounds':>7} {'reset':>7} {'dropped':>7} {'unansw.':>7}"
        f" {'last answer s':>13}"
    )
    for connections in BURST_CONNECTIONS:
        rounds = [result for result in bursts if result.connections == connections]
        failed = sum(result.failed for result in rounds)
        seconds = [result.seconds for result in rounds]
        print(
            f"  {connections:<34} {len(rounds):>7} {sum(result.reset for result in rounds):>7}"
            f" {sum(result.dropped for result in rounds):>7} {sum(result.unanswered for result in rounds):>7}"
            f" {f'{min(seconds):.1f}-{max(seconds):.1f}':>13}"
            f"   target: none reset, dropped or unanswered {'✓' if failed == 0 else f'✗ {failed}'}"
        )
    print(
        "    each connection its own, opened together; dropped: not accepted within 0.9 s, so its SYN was dropped"
        " (a full listen backlog)"
    )


def print_paced(paced: PacedResult) -> None:
    orders = paced.orders
    completed = [order.seconds for order in orders if order.outcome == COMPLETED]
    late = [order for order in orders if order.late > PACED_LATE_SECONDS]
    span = max(order.ended for order in orders) if orders else 0.0
    arrivals = max(order.due + order.late for order in orders) if orders else 0.0
    print(
        f"  paced: {len(orders)} orders due at {paced.rate:g}/s from {paced.clients} clients together (open loop:"
        " each POST when due, whatever the earlier orders; each order paid and followed to its end)"
    )
    print(
        f"    arrivals                {len(orders) / max(arrivals, 1e-9):.2f} orders/s achieved over {arrivals:.1f} s;"
        f" late (POST > {PACED_LATE_SECONDS:g} s after due) {len(late)} of {len(orders)}"
        + (f", at most {max(order.late for order in late):.2f} s" if late else "")
    )
    others = Counter(order.outcome for order in orders if order.outcome != COMPLETED)
    print(
        f"    ended                   {len(completed)} of {len(orders)} COMPLETED,"
        f" {len(orders) / max(span, 1e-9):.2f} orders/s from the first due time to the last end"
        + (f" (not completed: {', '.join(f'{outcome} x{n}' for outcome, n in others.most_common())})" if others else "")
    )
    if completed:
        p50 = statistics.median(completed)
        print(
            f"    placed to COMPLETED     p50 {p50:.2f} s, p99 {percentile(completed, 0.99):.2f} s"
            f"   target p50 < {RUN_P50_S_TARGET:.0f} s at >= {THROUGHPUT_TARGET:g} orders/s"
            f" {verdict(p50 < RUN_P50_S_TARGET and paced.rate >= THROUGHPUT_TARGET and not late)}"
        )
        quarters = [
            [
                order.seconds
                for order in orders[len(orders) * q // 4 : len(orders) * (q + 1) // 4]
                if order.outcome == COMPLETED
            ]
            for q in range(4)
        ]
        p50s = [statistics.median(quarter) for quarter in quarters if quarter]
        behind = bool(late) or (len(p50s) == 4 and p50s[-1] > 1.5 * p50s[0])
        print(
            f"    p50 by quarter          {', '.join(f'{p:.2f}' for p in p50s)} s (of arrivals);"
            + (" the cloud fell behind (late arrivals, or latency growing)" if behind else " the cloud kept up")
        )
    print(
        f"    CPU per order           cloud's process {paced.cpu.cloud / max(len(orders), 1):.3f} s,"
        f" sandboxes {paced.cpu.sandboxes / max(len(orders), 1):.3f} s"
    )
    print_requests(paced.requests, len(orders))


def print_requests(requests: Counter[str], orders: int) -> None:
    """API requests per order: the clients' polling (GET every 50 ms while an order is under way) grows with latency."""
    shown = ", ".join(f"{route} {count / max(orders, 1):.1f}" for route, count in requests.most_common())
    print(f"    API requests per order  {shown or 'none counted'} (polling grows with the time an order takes)")


def print_run(run: RunResult) -> None:
    from drivers.api_client import FINAL_STATUSES  # noqa: PLC0415 - needs the layer on sys.path

    final = sum(count for status, count in run.outcomes.items() if status in FINAL_STATUSES)
    throughput = run.orders / run.seconds
    print(
        f"  soak: {run.orders} orders from {run.clients} concurrent clients (threads of a process of their own;"
        " each places an order, pays when asked, polls GET until a final status, next)"
    )
    print(
        f"    throughput              {throughput:.2f} orders/s ({run.seconds:.1f} s in all)"
        f"   target >= {THROUGHPUT_TARGET:.0f} {verdict(throughput >= THROUGHPUT_TARGET)}"
    )
    if run.to_completed_s:
        p50 = statistics.median(run.to_completed_s)
        print(
            f"    placed to COMPLETED     p50 {p50:.2f} s, p99 {percentile(run.to_completed_s, 0.99):.2f} s"
            f" ({len(run.to_completed_s)} orders)"
            f"   target p50 < {RUN_P50_S_TARGET:.0f} s {verdict(p50 < RUN_P50_S_TARGET)}"
        )
    print(
        f"    Little's law            {run.clients} orders always in flight, so p50 is about {run.clients}"
        f" / throughput: p50 < 1 s here needs {run.clients} orders/s; latency at a given rate is the paced phase's"
    )
    held = run.quarters[-1] / run.quarters[0] if len(run.quarters) == 4 and run.quarters[0] else 0.0
    print(
        f"    pace by quarter         {', '.join(f'{rate:.2f}' for rate in run.quarters)} orders/s;"
        f" the last at {held:.0%} of the first   target >= {PACE_HELD_TARGET:.0%} {verdict(held >= PACE_HELD_TARGET)}"
    )
    print(
        "    peak memory by quarter  "
        + ", ".join(f"{m.cloud_mb:.0f}+{m.sandboxes_mb:.0f}" for m in run.memory)
        + " MiB (resident: the cloud's process + its sandboxes')"
    )
    ended = max(sum(run.outcomes.values()), 1)
    print(
        f"    CPU per order           cloud's process {run.cpu.cloud / ended:.3f} s,"
        f" sandboxes {run.cpu.sandboxes / ended:.3f} s"
        f" (user + sys over the run: {run.cpu.cloud:.0f} + {run.cpu.sandboxes:.0f} s; with one process holding the GIL,"
        f" 1/(cloud's s per order) = {ended / max(run.cpu.cloud, 1e-9):.1f} orders/s bounds the pace)"
    )
    print(
        f"    reached a final status  {final} of {run.orders}   target {run.orders} of {run.orders}"
        f" {verdict(final == run.orders)}"
    )
    print(f"    per status              {', '.join(f'{status} {n}' for status, n in run.outcomes.most_common())}")
    print_requests(run.requests, ended)
    failed = ", ".join(f"{text} x{n}" for text, n in run.failures.most_common()) or "none"
    print(f"    failed invocations      {failed} (the timeline's lambda and iam lines of the run)")
    depths = ", ".join(f"{queue} {count}" for queue, count in sorted(run.queues.items()))
    settled = (
        f"{run.queues_empty_after:.1f} s after the last order ended   ✓ all empty"
        if run.queues_empty_after is not None
        else f"{QUEUE_SETTLE_SECONDS} s after the last order ended   ✗ not all empty"
    )
    print(f"    queue depths at the end {depths} (visible + in flight; dead-letter queues included), {settled}")
    if run.stores is not None:
        print_store_growth(run.stores, max(sum(run.outcomes.values()), 1))


def print_store_growth(stores: StoreGrowth, orders: int) -> None:
    """The cloud's process, store by store: KB per order over the run, and which of it AWS keeps too."""
    print(
        "    memory per order, by store (KB per order over the run, the store's size at the end; each object"
        " counted once, scripts/bench_memory.py)"
    )
    grown = {store.name: (stores.after[store.name] - stores.before[store.name]) / orders / 1024 for store in STORES}
    for aws_keeps in (True, False):
        kind = "kept by AWS too" if aws_keeps else "kept only by the local cloud or moto"
        names = [store.name for store in STORES if store.aws_keeps is aws_keeps]
        print(
            f"      {kind + ':':<38}"
            + ", ".join(f"{name} {grown[name]:.1f} ({stores.after[name] / 2**20:.1f} MiB)" for name in names)
        )
    kept = sum(grown[store.name] for store in STORES if store.aws_keeps)
    local_only = sum(grown[store.name] for store in STORES if not store.aws_keeps)
    resident = (stores.resident_mb[1] - stores.resident_mb[0]) * 1024 / orders
    print(
        f"      resident (VmRSS) {stores.resident_mb[0]:.0f} -> {stores.resident_mb[1]:.0f} MiB: {resident:.1f} KB per"
        f" order, of which AWS's data {kept:.1f}; apart from it {resident - kept:.1f} KB per order (the local"
        f" stores above {local_only:.1f}; the rest is the allocator's and what no store reaches)"
    )
    print(
        f"      the timeline holds {stores.timeline_entries:,} entries (it keeps its latest {MAX_ENTRIES:,}: its"
        " growth stops there)"
    )

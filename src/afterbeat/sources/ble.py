"""Live source: a standard Bluetooth heart-rate strap (Heart Rate Service 0x180D) read with bleak.

One supervisor task owns the link: scan (remembered address, a name, or the first strap that
advertises the full 128-bit 0x180D UUID, active scan), a fresh ``BleakClient(BLEDevice)`` per
attempt, one-off reads of body sensor location, battery and device information, then a
subscription to 0x2A37. The notification callback only stamps the monotonic clock and appends
to a bounded queue; ``stream()`` turns queued items into records and statuses in arrival order.

Faults handled here (see ``firmware_notes/``): drops and silent links (watchdog) end in a
``Disconnect`` record and a re-scan with capped, jittered exponential backoff; our own
``disconnect()`` also fires bleak's disconnected callback, so a per-connection flag keeps it
from being read as a drop; callbacks of an earlier connection are ignored (exactly one live
handler); identical payloads within 50 ms are dropped (bleak #2002). Malformed payloads are
recorded raw and counted. HR 0, lost contact and missing RR are quality states, not drops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakBluetoothNotAvailableError, BleakError
from bleak.uuids import normalize_uuid_16

from afterbeat.errors import AfterbeatError, MalformedMeasurement
from afterbeat.heart_rate import (
    SensorContact,
    decode_battery_level,
    decode_body_sensor_location,
    decode_measurement,
)
from afterbeat.records import (
    DeviceEvent,
    DeviceEventKind,
    Disconnect,
    Header,
    Notification,
    Reconnect,
    Record,
)
from afterbeat.sources import ConnectionState, SourceStatus
from afterbeat.sources.backend import BackendPair
from afterbeat.sources.ble_policy import DuplicateFilter, Quality, QualityTracker, backoff_s
from afterbeat.sources.replay_backend import ReplayWorld, load_script

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BODY_SENSOR_LOCATION_UUID",
    "ENV_BACKEND",
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "BackendPair",
    "BleCounters",
    "BleSettings",
    "BleSource",
    "BluetoothUnavailable",
    "FoundStrap",
    "backend_from_env",
    "looks_like_address",
    "remember_strap",
    "remembered_strap",
    "scan_straps",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

HEART_RATE_SERVICE_UUID = normalize_uuid_16(0x180D)
HEART_RATE_MEASUREMENT_UUID = normalize_uuid_16(0x2A37)
BODY_SENSOR_LOCATION_UUID = normalize_uuid_16(0x2A38)
BATTERY_LEVEL_UUID = normalize_uuid_16(0x2A19)
DEVICE_INFO_UUIDS: dict[str, str] = {
    "manufacturer": normalize_uuid_16(0x2A29),
    "model": normalize_uuid_16(0x2A24),
    "hardware": normalize_uuid_16(0x2A27),
    "firmware": normalize_uuid_16(0x2A26),
    "software": normalize_uuid_16(0x2A28),
}
"""Device Information (0x180A) strings read once per connection; logged, never gated on."""

ENV_BACKEND = "AFTERBEAT_BLE_BACKEND"
STRAP_FILENAME = "strap.json"
_ADDRESS = re.compile(
    r"^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$|^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$", re.I
)


class BluetoothUnavailable(AfterbeatError):
    """Bluetooth is off, missing or not permitted; the message says what to try."""


@dataclass(frozen=True, slots=True)
class BleSettings:
    """Tunables of the reader, in seconds unless named otherwise."""

    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 20.0
    read_timeout_s: float = 5.0
    watchdog_s: float = 8.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 30.0
    backoff_jitter: float = 0.2
    duplicate_window_s: float = 0.05
    no_rr_after_s: float = 15.0
    queue_max: int = 4096
    """Notifications waiting for the consumer; beyond this they are counted as overflow."""


@dataclass(slots=True)
class BleCounters:
    """What the reader dropped or noticed, for the status line and tests."""

    notifications: int = 0
    duplicates: int = 0
    stale: int = 0
    """Callbacks from an earlier connection's subscription (ignored)."""
    overflow: int = 0
    malformed: int = 0
    connections: int = 0
    drops: int = 0
    watchdog_trips: int = 0
    failed_attempts: int = 0


@dataclass(frozen=True, slots=True)
class FoundStrap:
    """One heart-rate strap seen while scanning: name, address and signal strength (dBm)."""

    name: str | None
    address: str
    rssi_dbm: int


@dataclass(frozen=True, slots=True)
class _Raw:
    t_mono_s: float
    payload: bytes


def looks_like_address(text: str) -> bool:
    """True for a Bluetooth address (AA:BB:...) or a macOS device UUID."""
    return bool(_ADDRESS.match(text.strip()))


def backend_from_env(environ: Mapping[str, str] = os.environ) -> BackendPair | None:
    """The backend selected by AFTERBEAT_BLE_BACKEND (``replay:PATH``), or None for the OS one."""
    value = environ.get(ENV_BACKEND, "").strip()
    if not value:
        return None
    kind, _, arg = value.partition(":")
    if kind == "replay" and arg:
        return ReplayWorld(load_script(arg)).backend()
    raise BluetoothUnavailable(f"{ENV_BACKEND}={value!r} not understood; use 'replay:PATH'")


def remembered_strap(data_dir: Path) -> tuple[str, str | None] | None:
    """The (address, name) of the strap last used from this data directory, if any."""
    try:
        obj = json.loads((data_dir / STRAP_FILENAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("address"), str):
        return None
    name = obj.get("name")
    return obj["address"], name if isinstance(name, str) else None


def remember_strap(data_dir: Path, address: str, name: str | None) -> None:
    """Remember the strap for next time (``strap.json`` in the data directory, 0600)."""
    path = data_dir / STRAP_FILENAME
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"address": address, "name": name}, handle)
    os.replace(tmp, path)


_NO_SERVICE_ADVICE = (
    "cannot reach the Bluetooth service: on Linux check that bluetoothd is installed and "
    "running (systemctl status bluetooth); in a container, share the host's D-Bus system bus"
)


def _unavailable(exc: BaseException) -> BluetoothUnavailable | None:
    """The person-facing reason when ``exc`` means Bluetooth cannot be used at all, else None."""
    text = str(exc)
    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = exc.reason.name
        if reason.startswith("DENIED"):
            advice = ("permission to use Bluetooth was denied: allow Bluetooth for this "
                      "terminal or Python in the system privacy settings")
        elif reason == "POWERED_OFF":
            advice = "Bluetooth is off: turn it on in the system settings (bluetoothctl power on)"
        elif reason in ("NO_BLUETOOTH", "NO_BLE_CENTRAL_ROLE"):
            advice = "no Bluetooth Low Energy adapter found: plug one in or enable it"
        else:
            advice = f"Bluetooth is not available: {text}"
        return BluetoothUnavailable(advice)
    if isinstance(exc, PermissionError) or "AccessDenied" in text:
        return BluetoothUnavailable(
            "permission to use Bluetooth was denied: on Linux, check the D-Bus policy for "
            "org.bluez (membership of the 'bluetooth' group on some systems)")
    if isinstance(exc, OSError) or "ServiceUnknown" in text or "NameHasNoOwner" in text:
        return BluetoothUnavailable(_NO_SERVICE_ADVICE)
    return None


def _scanner_kwargs(backend: BackendPair | None) -> dict[str, Any]:
    return {} if backend is None else {"backend": backend.scanner}


async def scan_straps(
    timeout_s: float,
    *,
    backend: BackendPair | None = None,
    on_found: Callable[[FoundStrap], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    tick_s: float = 1.0,
    on_tick: Callable[[float], None] | None = None,
) -> list[FoundStrap]:
    """Actively scan ``timeout_s`` (s) for straps advertising 0x180D; strongest signal first."""
    found: dict[str, FoundStrap] = {}

    def seen(device: BLEDevice, adv: AdvertisementData) -> None:
        if HEART_RATE_SERVICE_UUID not in adv.service_uuids:
            return
        strap = FoundStrap(adv.local_name or device.name, device.address, adv.rssi)
        is_new = device.address not in found
        found[device.address] = strap
        if is_new and on_found is not None:
            on_found(strap)

    try:
        async with BleakScanner(
            seen, service_uuids=[HEART_RATE_SERVICE_UUID], **_scanner_kwargs(backend)
        ):
            left_s = timeout_s
            while left_s > 0:
                if on_tick is not None:
                    on_tick(left_s)
                step_s = min(tick_s, left_s)
                await sleep(step_s)
                left_s -= step_s
    except (BleakError, OSError) as exc:
        raise _unavailable(exc) or BluetoothUnavailable(f"scan failed: {exc}") from exc
    return sorted(found.values(), key=lambda s: -s.rssi_dbm)


@dataclass(slots=True)
class BleSource:
    """A ``Source`` reading one heart-rate strap live; see the module docstring."""

    device: str | None = None
    """Address (remembered or given), a name (or part of it), or None for the first strap."""
    backend: BackendPair | None = None
    settings: BleSettings = field(default_factory=BleSettings)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    name: str = "ble"
    data_dir: Path | None = None
    """If set: use the strap remembered there when ``device`` is None, remember the one used."""
    counters: BleCounters = field(default_factory=BleCounters)
    connected_address: str | None = None
    connected_name: str | None = None
    _t0: float = field(default=0.0, init=False, repr=False)
    _wall0: float = field(default=0.0, init=False, repr=False)
    _header: Header | None = field(default=None, init=False, repr=False)
    _pending: deque[_Raw | Record | SourceStatus] = field(
        default_factory=deque, init=False, repr=False)
    _ready: asyncio.Event | None = field(default=None, init=False, repr=False)
    _wake: asyncio.Event | None = field(default=None, init=False, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _gen: int = field(default=0, init=False, repr=False)
    _own_disconnect: bool = field(default=False, init=False, repr=False)
    _drop_reason: str | None = field(default=None, init=False, repr=False)
    _closing: bool = field(default=False, init=False, repr=False)
    _last_rx_mono_s: float = field(default=0.0, init=False, repr=False)
    _dedupe: DuplicateFilter = field(default_factory=DuplicateFilter, init=False, repr=False)
    _quality: QualityTracker = field(default_factory=QualityTracker, init=False, repr=False)
    _battery_pct: int | None = field(default=None, init=False, repr=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _gap_open: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.device is None and self.data_dir is not None:
            remembered = remembered_strap(self.data_dir)
            if remembered is not None:
                self.device = remembered[0]
        self._stop = asyncio.Event()
        self._t0 = self.clock()
        self._wall0 = self.wall_clock()
        self._dedupe = DuplicateFilter(window_s=self.settings.duplicate_window_s)
        self._quality = QualityTracker(no_rr_after_s=self.settings.no_rr_after_s)
        self._header = Header(
            started_at=datetime.fromtimestamp(self._wall0, UTC),
            device={"source": "ble", "requested": self.device},
        )

    @property
    def header(self) -> Header:
        """Session header: start time, the strap asked for and, once connected, its name."""
        assert self._header is not None
        if self.connected_address is None:
            return self._header
        device = dict(self._header.device)
        device["address"] = self.connected_address
        if self.connected_name:
            device["name"] = self.connected_name
        return Header(started_at=self._header.started_at, device=device)

    def now_s(self) -> float:
        """Seconds since the source was created, on the monotonic clock."""
        return self.clock() - self._t0

    # -- output -------------------------------------------------------------------------

    def _emit(self, item: Record | SourceStatus) -> None:
        self._pending.append(item)
        if self._ready is not None:
            self._ready.set()

    def _status(self, state: ConnectionState, detail: str | None = None, **kw: Any) -> None:
        self._emit(SourceStatus(t_s=self.now_s(), state=state, detail=detail,
                                battery_pct=self._battery_pct, device_name=self.connected_name,
                                **kw))

    async def stream(self) -> AsyncIterator[Record | SourceStatus]:
        """Yield records and statuses in arrival order until ``aclose()``."""
        self._ready = asyncio.Event()
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="afterbeat-ble-supervisor")
            self._task.add_done_callback(lambda _t: self._ready.set() if self._ready else None)
        while True:
            while self._pending:
                item = self._pending.popleft()
                if isinstance(item, _Raw):
                    for out in self._process(item):
                        yield out
                else:
                    yield item
            if self._task.done():
                if not self._task.cancelled() and self._task.exception() is not None:
                    raise self._task.exception()  # type: ignore[misc]
                return
            self._ready.clear()
            await self._ready.wait()

    def _process(self, raw: _Raw) -> list[Record | SourceStatus]:
        t_s = raw.t_mono_s - self._t0
        if not self._dedupe.accept(raw.payload, t_s):
            self.counters.duplicates += 1
            return []
        self.counters.notifications += 1
        out: list[Record | SourceStatus] = [
            Notification(t_s=t_s, wall_s=self._wall0 + t_s, payload=raw.payload)
        ]
        try:
            measurement = decode_measurement(raw.payload)
        except MalformedMeasurement:
            self.counters.malformed += 1
            return out
        old = self._quality.quality
        new = self._quality.push(t_s, measurement)
        if new is not None:
            if new.contact != old.contact and new.contact is not None:
                out.append(DeviceEvent(t_s, DeviceEventKind.CONTACT, str(new.contact)))
            if new.rr_available is False and old.rr_available is not False:
                out.append(DeviceEvent(t_s, DeviceEventKind.INFO, "rr=absent"))
            out.append(self._quality_status(t_s, new))
        return out

    def _quality_status(self, t_s: float, q: Quality) -> SourceStatus:
        if q.contact is SensorContact.NOT_DETECTED:
            detail = "contact lost: wet the electrodes and check the strap sits snugly"
        elif q.heart_rate_zero:
            detail = "no heartbeat signal yet (heart rate 0): wet the electrodes"
        elif q.rr_available is False:
            detail = "heart-rate-only sensor: no RR intervals, so no variability measures"
        else:
            detail = "streaming"
        return SourceStatus(t_s=t_s, state=ConnectionState.STREAMING, detail=detail,
                            battery_pct=self._battery_pct, contact=q.contact,
                            rr_available=q.rr_available, device_name=self.connected_name)

    async def aclose(self) -> None:
        """Stop: disconnect our own link (not recorded as a drop) and end the stream."""
        self._closing = True
        self._stop.set()
        if self._wake is not None:
            self._wake.set()
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), self.settings.read_timeout_s)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._ready is not None:
            self._ready.set()

    # -- supervisor ---------------------------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0
        try:
            while not self._closing:
                try:
                    await self._run_links()
                except Exception as exc:  # an unforeseen backend error must not end the stream
                    failures += 1
                    delay_s = self._backoff(failures)
                    log.exception("strap reader error; starting over in %.1f s", delay_s)
                    self._status(ConnectionState.RECONNECTING,
                                 f"unexpected error ({type(exc).__name__}); trying again",
                                 attempt=failures, next_delay_s=delay_s)
                    await self._pause(delay_s)
        finally:
            self._status(ConnectionState.STOPPED, "stopped")

    async def _run_links(self) -> None:
        attempt = 0
        while not self._closing:
            gap_open = self._gap_open
            state = ConnectionState.RECONNECTING if gap_open else ConnectionState.SCANNING
            self._status(state, "looking for the strap", attempt=attempt or None)
            try:
                device = await self._find_device()
            except BluetoothUnavailable as exc:
                attempt += 1
                delay_s = self._backoff(attempt)
                self._status(ConnectionState.BLUETOOTH_OFF, str(exc), attempt=attempt,
                             next_delay_s=delay_s)
                await self._pause(delay_s)
                continue
            if self._closing:
                break
            if device is None:
                attempt += 1
                delay_s = self._backoff(attempt)
                self._status(ConnectionState.RECONNECTING if gap_open else ConnectionState.SCANNING,
                             "no strap found: wet the electrodes; close the phone or watch app "
                             "that holds the strap", attempt=attempt, next_delay_s=delay_s)
                await self._pause(delay_s)
                continue
            client = self._new_client(device)
            try:
                reconnect = await self._link(client, device, attempt)
            except BaseException:
                await self._close_client(client)
                if not self._closing and not self._gap_open:
                    self._emit(Disconnect(self.now_s(), "reader error"))
                    self._gap_open = True
                raise
            if reconnect is None:
                break
            attempt = reconnect

    async def _link(self, client: BleakClient, device: BLEDevice, attempt: int) -> int | None:
        """One connection from open to loss; the next attempt number, or None when closing."""
        if not await self._open(client, device, attempt):
            attempt += 1
            self.counters.failed_attempts += 1
            await self._close_client(client)
            delay_s = self._backoff(attempt)
            self._status(ConnectionState.RECONNECTING, self._drop_reason, attempt=attempt,
                         next_delay_s=delay_s)
            await self._pause(delay_s)
            return attempt
        self.counters.connections += 1
        if self.data_dir is not None and self.connected_address is not None:
            try:
                remember_strap(self.data_dir, self.connected_address, self.connected_name)
            except OSError as exc:
                log.warning("cannot remember the strap: %s", exc)
        self._status(ConnectionState.STREAMING, "streaming")
        reason = await self._hold()
        lost_t_s = self.now_s()
        await self._close_client(client)
        if self._closing:
            return None
        log.warning("strap link lost (%s); reconnecting", reason)
        self._emit(Disconnect(lost_t_s, reason))
        self._gap_open = True
        return 0

    def _backoff(self, attempt: int) -> float:
        s = self.settings
        return backoff_s(attempt, self.rng, base_s=s.backoff_base_s, cap_s=s.backoff_cap_s,
                         jitter=s.backoff_jitter)

    async def _pause(self, delay_s: float) -> None:
        await self._unless_closed(self.sleep(delay_s))

    async def _unless_closed(self, step: Awaitable[T]) -> T | None:
        """Run one step of the supervisor; give up on it (None) when ``aclose()`` is called."""
        if self._closing:
            if asyncio.iscoroutine(step):
                step.close()
            return None
        task = asyncio.ensure_future(step)
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
            await asyncio.gather(task, stop, return_exceptions=True)
        return task.result() if not task.cancelled() else None

    async def _find_device(self) -> BLEDevice | None:
        target = (self.device or "").strip()
        uuids: list[str] | None = [HEART_RATE_SERVICE_UUID]
        if target and looks_like_address(target):
            want = target.lower()
            uuids = None  # a remembered strap may carry 0x180D only in its scan response

            def match(d: BLEDevice, ad: AdvertisementData) -> bool:
                return d.address.lower() == want
        elif target:
            want = target.casefold()

            def match(d: BLEDevice, ad: AdvertisementData) -> bool:
                return want in (ad.local_name or d.name or "").casefold()
        else:

            def match(d: BLEDevice, ad: AdvertisementData) -> bool:
                return HEART_RATE_SERVICE_UUID in ad.service_uuids
        kwargs = _scanner_kwargs(self.backend)
        if uuids is not None:
            kwargs["service_uuids"] = uuids
        try:
            return await self._unless_closed(BleakScanner.find_device_by_filter(
                match, timeout=self.settings.scan_timeout_s, **kwargs
            ))
        except (BleakError, OSError) as exc:
            unavailable = _unavailable(exc)
            if unavailable is not None:
                raise unavailable from exc
            log.warning("scan failed: %s", exc)
            return None

    def _new_client(self, device: BLEDevice) -> BleakClient:
        self._gen += 1
        gen = self._gen
        self._own_disconnect = False
        self._drop_reason = None
        self._wake = asyncio.Event()
        wake = self._wake

        def on_disconnect(_client: BleakClient) -> None:
            # bleak also calls this after our own disconnect(); only a foreign drop counts.
            if gen != self._gen or self._own_disconnect:
                return
            self._drop_reason = self._drop_reason or "link lost"
            self.counters.drops += 1
            wake.set()

        kwargs: dict[str, Any] = {} if self.backend is None else {"backend": self.backend.client}
        return BleakClient(device, disconnected_callback=on_disconnect,
                           timeout=self.settings.connect_timeout_s, **kwargs)

    def _make_callback(self) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
        gen = self._gen
        clock = self.clock

        def on_measurement(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            # Only stamp and enqueue: decoding, dedupe and quality happen in stream().
            t_mono_s = clock()
            if gen != self._gen:
                self.counters.stale += 1
                return
            if len(self._pending) >= self.settings.queue_max:
                self.counters.overflow += 1
                return
            self._last_rx_mono_s = t_mono_s
            self._pending.append(_Raw(t_mono_s, bytes(data)))
            if self._ready is not None:
                self._ready.set()

        return on_measurement

    async def _open(self, client: BleakClient, device: BLEDevice, attempt: int) -> bool:
        reconnected = self._gap_open
        self.connected_name = device.name
        self._status(ConnectionState.CONNECTING, f"connecting to {device.name or device.address}",
                     attempt=attempt or None)
        try:
            async with asyncio.timeout(self.settings.connect_timeout_s):
                await client.connect()
            if self._drop_reason is not None:
                return False
            if self._gap_open:  # the link is back: the gap ends now, before the reads
                self._emit(Reconnect(self.now_s()))
                self._gap_open = False
            self.connected_address = device.address
            await self._read_facts(client, device)
            self._last_rx_mono_s = self.clock()
            self._quality.start_connection(self.now_s())
            await client.start_notify(HEART_RATE_MEASUREMENT_UUID, self._make_callback())
        except (BleakError, TimeoutError, OSError, EOFError) as exc:
            self._drop_reason = f"connect failed: {exc or type(exc).__name__}"
            log.info("connect attempt failed: %s", self._drop_reason)
        if self._drop_reason is None:
            return True
        if self.connected_address is not None and not self._gap_open and reconnected:
            # The link came back but failed before streaming: the gap reopens.
            self._emit(Disconnect(self.now_s(), self._drop_reason))
            self._gap_open = True
        return False

    async def _read(self, client: BleakClient, uuid: str) -> bytes | None:
        try:
            async with asyncio.timeout(self.settings.read_timeout_s):
                return bytes(await client.read_gatt_char(uuid))
        except (BleakError, TimeoutError) as exc:
            log.debug("optional read %s failed: %s", uuid, exc)
            return None

    async def _read_facts(self, client: BleakClient, device: BLEDevice) -> None:
        t_s = self.now_s()
        self._emit(DeviceEvent(t_s, DeviceEventKind.INFO, f"address={device.address}"))
        if device.name:
            self._emit(DeviceEvent(t_s, DeviceEventKind.INFO, f"name={device.name}"))
        raw = await self._read(client, BODY_SENSOR_LOCATION_UUID)
        if raw is not None:
            try:
                where = decode_body_sensor_location(raw)
                value = where.name.lower() if hasattr(where, "name") else str(where)
                self._emit(DeviceEvent(self.now_s(), DeviceEventKind.BODY_SENSOR_LOCATION, value))
            except MalformedMeasurement as exc:
                log.info("ignoring body sensor location: %s", exc)
        raw = await self._read(client, BATTERY_LEVEL_UUID)
        if raw is not None:
            try:
                self._battery_pct = decode_battery_level(raw)
                self._emit(DeviceEvent(self.now_s(), DeviceEventKind.BATTERY, self._battery_pct))
            except MalformedMeasurement as exc:
                log.info("ignoring battery level: %s", exc)
        for key, uuid in DEVICE_INFO_UUIDS.items():
            raw = await self._read(client, uuid)
            if raw:
                text = raw.decode("utf-8", "replace").rstrip("\x00").strip()
                if text:
                    self._emit(DeviceEvent(self.now_s(), DeviceEventKind.INFO, f"{key}={text}"))

    async def _hold(self) -> str:
        """Wait for a drop, watchdog silence or shutdown; return the reason."""
        wake = self._wake
        assert wake is not None
        watchdog_s = self.settings.watchdog_s
        while True:
            if self._closing:
                return "closing"
            if self._drop_reason is not None:
                return self._drop_reason
            silence_s = self.clock() - self._last_rx_mono_s
            if silence_s >= watchdog_s:
                self.counters.watchdog_trips += 1
                self._drop_reason = f"no notification for {silence_s:.1f} s (watchdog)"
                return self._drop_reason
            try:
                async with asyncio.timeout(watchdog_s - silence_s):
                    await wake.wait()
            except TimeoutError:
                continue

    async def _close_client(self, client: BleakClient) -> None:
        self._own_disconnect = True
        self._gen += 1  # late callbacks of this connection are now stale
        try:
            async with asyncio.timeout(self.settings.read_timeout_s):
                await client.disconnect()
        except (BleakError, TimeoutError, OSError, EOFError) as exc:
            log.debug("disconnect failed: %s", exc)


"""A bleak backend that plays scripted straps: faults on demand, through bleak's public API.

Pass ``ReplayWorld(script).backend()`` to ``BleSource(backend=...)`` (or set
``AFTERBEAT_BLE_BACKEND=replay:PATH``): bleak then drives these ``BaseBleakScanner`` /
``BaseBleakClient`` subclasses exactly as it drives BlueZ, WinRT or CoreBluetooth, so the
reader's scan filter, connect, reads, ``start_notify`` callbacks and disconnected callbacks all
run for real. A ``StrapScript`` is plain data: a strap's advertising and GATT facts plus one
``Link`` per successful connection (frames, then how the link ends). ``load_script`` reads a
scenario ``.json`` or turns a recorded session ``.jsonl`` into a script (demo mode).
All timing uses the running event loop's clock, so tests on a virtual-time loop run instantly.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak.uuids import normalize_uuid_16

from afterbeat.errors import SessionFileError
from afterbeat.records import Disconnect, Notification, Reconnect
from afterbeat.sources.backend import BackendPair
from afterbeat.storage.session_file import iter_session

__all__ = ["Bystander", "Link", "LinkEnd", "ReplayWorld", "StrapScript", "load_script",
           "script_from_dict", "script_from_session"]

log = logging.getLogger(__name__)

_HRS = normalize_uuid_16(0x180D)
_HRM = normalize_uuid_16(0x2A37)
_BSL = normalize_uuid_16(0x2A38)
_BAS = normalize_uuid_16(0x180F)
_BATTERY = normalize_uuid_16(0x2A19)
_DIS = normalize_uuid_16(0x180A)
_CCCD = normalize_uuid_16(0x2902)
_INFO = {"manufacturer": 0x2A29, "model": 0x2A24, "hardware": 0x2A27, "firmware": 0x2A26,
         "software": 0x2A28}


class LinkEnd(enum.StrEnum):
    """How a connection ends once its frames are played."""

    DROP = "drop"
    """The strap goes out of range: bleak's disconnected callback fires."""
    SILENCE = "silence"
    """Notifications stop, the link stays up (a reader needs a watchdog)."""
    OFF = "off"
    """The strap is switched off: the link drops and it never advertises again."""


@dataclass(frozen=True, slots=True)
class Link:
    """One connection: frames as (seconds after subscribing, payload), then its end."""

    frames: tuple[tuple[float, bytes], ...] = ()
    end: LinkEnd = LinkEnd.DROP
    end_after_s: float | None = None
    """When the end happens (s after subscribing); default one second after the last frame."""
    hidden_s: float = 0.0
    """After a drop the strap does not advertise this long (s): a phone app holds it."""


@dataclass(frozen=True, slots=True)
class Bystander:
    """Another advertiser nearby (headphones, a watch): must be ignored by the reader."""

    name: str
    address: str
    service_uuids: tuple[str, ...] = ()
    rssi_dbm: int = -50


@dataclass(frozen=True, slots=True)
class StrapScript:
    """A scripted strap: how it advertises, what it answers, what each connection plays."""

    links: tuple[Link, ...]
    name: str | None = "Polar H10 0A1B2C3D"
    address: str = "F0:0D:00:00:0D:01"
    rssi_dbm: int = -62
    advertise_from_s: float = 0.0
    advert_interval_s: float = 0.1
    advert_service_uuids: tuple[str, ...] = (_HRS,)
    connect_failures: int = 0
    """The first N connection attempts fail (le-connection-abort)."""
    connect_delay_s: float = 0.05
    battery_pct: int | None = 80
    body_sensor_location: int | None = 1
    device_info: tuple[tuple[str, str], ...] = (("manufacturer", "Polar Electro Oy"),
                                                ("model", "H10"))
    duplicate_after_reconnect: bool = False
    """From the second connection on every frame reaches the callback twice (bleak #2002)."""
    leak_handlers: bool = False
    """Callbacks of earlier clients keep receiving frames (a leaky subscription)."""
    bystanders: tuple[Bystander, ...] = ()


@dataclass(slots=True)
class ReplayWorld:
    """The radio environment of one scripted strap; records what the reader did to it."""

    script: StrapScript
    t0: float | None = None
    connect_attempts: int = 0
    links_played: int = 0
    events: list[tuple[float, str]] = field(default_factory=list)
    connected: ReplayClient | None = None
    hidden_until_s: float = 0.0
    off: bool = False
    handlers: list[NotifyCallback] = field(default_factory=list)
    played_all: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the frames of the last scripted link have been delivered."""

    def now_s(self) -> float:
        """Seconds since the world started (the first scan or connect)."""
        now = asyncio.get_running_loop().time()
        if self.t0 is None:
            self.t0 = now
        return now - self.t0

    def note(self, what: str) -> None:
        """Log an event on the world clock (for tests)."""
        self.events.append((self.now_s(), what))

    def strap_advertising(self) -> bool:
        """Whether the strap is advertising now (not held, not connected, switched on)."""
        s = self.script
        now = self.now_s()
        return (not self.off and self.connected is None and now >= s.advertise_from_s
                and now >= self.hidden_until_s)

    def backend(self) -> BackendPair:
        """A ``BackendPair`` of scanner and client classes bound to this world."""
        world = self
        scanner = type("ReplayScanner", (ReplayScanner,), {"world": world})
        client = type("ReplayClient", (ReplayClient,), {"world": world})
        return BackendPair(scanner=scanner, client=client)


class ReplayScanner(BaseBleakScanner):
    """Advertises the scripted strap (and bystanders) through bleak's scanner contract."""

    world: ClassVar[ReplayWorld]

    def __init__(self, detection_callback: Any, service_uuids: list[str] | None,
                 scanning_mode: str = "active", **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Clear what was seen and start advertising events."""
        self.seen_devices = {}
        self.world.note("scan-start")
        self._task = asyncio.create_task(self._advertise())

    async def stop(self) -> None:
        """Stop advertising events."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _deliver(self, name: str | None, address: str, uuids: list[str], rssi: int) -> None:
        if not self.is_allowed_uuid(uuids):
            return
        adv = AdvertisementData(name, {}, {}, uuids, None, rssi, ())
        device = self.create_or_update_device(address, address, name, None, adv)
        self.call_detection_callbacks(device, adv)

    async def _advertise(self) -> None:
        s = self.world.script
        while True:
            for b in s.bystanders:
                self._deliver(b.name, b.address, list(b.service_uuids), b.rssi_dbm)
            if self.world.strap_advertising():
                self._deliver(s.name, s.address, list(s.advert_service_uuids), s.rssi_dbm)
            await asyncio.sleep(s.advert_interval_s)


def _services(script: StrapScript) -> BleakGATTServiceCollection:
    col = BleakGATTServiceCollection()
    handle = 0x10

    def service(uuid: str) -> BleakGATTService:
        nonlocal handle
        handle += 1
        svc = BleakGATTService(None, handle, uuid)
        col.add_service(svc)
        return svc

    def char(svc: BleakGATTService, uuid: str, props: list[Any]) -> BleakGATTCharacteristic:
        nonlocal handle
        handle += 2
        ch = BleakGATTCharacteristic(None, handle, uuid, props, lambda: 20, svc)
        col.add_characteristic(ch)
        return ch

    hrs = service(_HRS)
    hrm = char(hrs, _HRM, ["notify"])
    handle += 1
    cccd = BleakGATTDescriptor(None, handle, _CCCD, hrm)
    col.add_descriptor(cccd)
    if script.body_sensor_location is not None:
        char(hrs, _BSL, ["read"])
    if script.battery_pct is not None:
        char(service(_BAS), _BATTERY, ["read", "notify"])
    if script.device_info:
        dis = service(_DIS)
        for key, _ in script.device_info:
            char(dis, normalize_uuid_16(_INFO[key]), ["read"])
    return col


class ReplayClient(BaseBleakClient):
    """Connects to the scripted strap and plays its next ``Link`` into ``start_notify``."""

    world: ClassVar[ReplayWorld]

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.pop("disconnected_callback", None),
            timeout=kwargs.pop("timeout", 10.0),
            **kwargs,
        )
        self._connected = False
        self._pump: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        """The strap's advertised name."""
        return self.world.script.name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The ATT MTU (23, the minimum, as BlueZ reports)."""
        return 23

    @property
    def is_connected(self) -> bool:
        """Whether this client holds the link."""
        return self._connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, failing as scripted."""
        world = self.world
        world.connect_attempts += 1
        await asyncio.sleep(world.script.connect_delay_s)
        if self.address.lower() != world.script.address.lower() or not world.strap_advertising():
            world.note("connect-not-found")
            raise BleakDeviceNotFoundError(self.address, f"Device {self.address} was not found")
        if world.connect_attempts <= world.script.connect_failures:
            world.note("connect-failed")
            raise BleakError("le-connection-abort-by-local (scripted failure)")
        self._connected = True
        world.connected = self
        self.services = _services(world.script)
        world.note("connected")

    async def disconnect(self) -> None:
        """Our own disconnect: bleak backends call the disconnected callback here too."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
            self._pump = None
        if self._connected:
            self.world.note("disconnect-by-reader")
            self._lose_link()

    def _lose_link(self) -> None:
        self._connected = False
        if self.world.connected is self:
            self.world.connected = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Heart-rate straps need no pairing."""

    async def unpair(self) -> None:
        """Nothing to forget."""

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *,
                             use_cached: bool = False, **kwargs: Any) -> bytearray:
        """Answer reads of 0x2A38, 0x2A19 and the Device Information strings."""
        if not self._connected:
            raise BleakError("Not connected")
        s = self.world.script
        uuid = characteristic.uuid
        if uuid == _BSL and s.body_sensor_location is not None:
            return bytearray([s.body_sensor_location])
        if uuid == _BATTERY and s.battery_pct is not None:
            return bytearray([s.battery_pct])
        for key, text in s.device_info:
            if uuid == normalize_uuid_16(_INFO[key]):
                return bytearray(text.encode())
        raise BleakError(f"read not permitted on {uuid}")

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *,
                                   use_cached: bool = False, **kwargs: Any) -> bytearray:
        """CCCD value: notifying or not."""
        return bytearray(b"\x01\x00" if self._pump is not None else b"\x00\x00")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any,
                              response: bool) -> None:
        """Writes are not scripted (the HR Control Point is never used by afterbeat)."""
        raise BleakError("write not supported by the replay strap")

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        """Writes are not scripted."""
        raise BleakError("write not supported by the replay strap")

    async def start_notify(self, characteristic: BleakGATTCharacteristic,
                           callback: NotifyCallback, **kwargs: Any) -> None:
        """Start playing the next scripted link into ``callback``."""
        if not self._connected:
            raise BleakError("Not connected")
        if characteristic.uuid != _HRM:
            raise BleakError(f"notify not scripted on {characteristic.uuid}")
        world = self.world
        index = world.links_played
        world.links_played += 1
        world.handlers.append(callback)
        world.note(f"start-notify link={index}")
        link = world.script.links[index] if index < len(world.script.links) else Link(
            end=LinkEnd.SILENCE)
        self._pump = asyncio.create_task(self._play(link, index, callback))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Stop playing."""
        if self._pump is not None:
            self._pump.cancel()

    async def _play(self, link: Link, index: int, callback: NotifyCallback) -> None:
        loop = asyncio.get_running_loop()
        s = self.world.script
        start = loop.time()
        copies = 2 if s.duplicate_after_reconnect and index > 0 else 1
        for offset_s, payload in link.frames:
            delay_s = start + offset_s - loop.time()
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            targets = list(self.world.handlers) if s.leak_handlers else [callback]
            for target in targets:
                for _ in range(copies):
                    target(bytearray(payload))
        if index == len(s.links) - 1:
            self.world.played_all.set()
        last_s = link.frames[-1][0] if link.frames else 0.0
        end_s = link.end_after_s if link.end_after_s is not None else last_s + 1.0
        delay_s = start + end_s - loop.time()
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        if link.end is LinkEnd.SILENCE:
            self.world.note(f"silent link={index}")
            return
        self.world.note(f"{link.end} link={index}")
        if link.end is LinkEnd.OFF:
            self.world.off = True
        self.world.hidden_until_s = self.world.now_s() + link.hidden_s
        self._pump = None
        self._lose_link()


def script_from_dict(obj: dict[str, Any]) -> StrapScript:
    """Build a script from plain JSON data (frames as ``[offset_s, "hex"]`` pairs)."""
    links = tuple(
        Link(
            frames=tuple((float(t), bytes.fromhex(str(h))) for t, h in link.get("frames", [])),
            end=LinkEnd(link.get("end", "drop")),
            end_after_s=link.get("end_after_s"),
            hidden_s=float(link.get("hidden_s", 0.0)),
        )
        for link in obj.get("links", [])
    )
    simple: dict[str, Any] = {k: obj[k] for k in ("name", "address", "rssi_dbm", "advertise_from_s",
                                  "advert_interval_s", "connect_failures", "connect_delay_s",
                                  "battery_pct", "body_sensor_location",
                                  "duplicate_after_reconnect", "leak_handlers") if k in obj}
    info = obj.get("device_info")
    if isinstance(info, dict):
        simple["device_info"] = tuple((str(k), str(v)) for k, v in info.items() if k in _INFO)
    return StrapScript(links=links, **simple)


def script_from_session(path: str | Path) -> StrapScript:
    """Turn a recorded session file into a script: its links, gaps and notification timing."""
    header, records = iter_session(path)
    links: list[Link] = []
    frames: list[tuple[float, bytes]] = []
    link_start_s = 0.0
    lost_s: float | None = None
    for record in records:
        match record:
            case Notification(t_s=t_s, payload=payload):
                frames.append((max(0.0, t_s - link_start_s), payload))
            case Disconnect(t_s=t_s):
                links.append(Link(tuple(frames), LinkEnd.DROP, max(0.0, t_s - link_start_s)))
                frames, lost_s = [], t_s
            case Reconnect(t_s=t_s):
                if lost_s is not None and links:
                    last = links[-1]
                    links[-1] = Link(last.frames, last.end, last.end_after_s,
                                     hidden_s=max(0.0, t_s - lost_s - 0.2))
                link_start_s, lost_s = t_s, None
    if lost_s is not None and links:  # the recording ended in a gap: the strap went away
        last = links[-1]
        links[-1] = Link(last.frames, LinkEnd.OFF, last.end_after_s)
    else:
        links.append(Link(tuple(frames), LinkEnd.OFF))
    device = header.device
    name = device.get("name") if isinstance(device.get("name"), str) else "Replay strap"
    return StrapScript(links=tuple(links), name=name, connect_delay_s=0.0)


def load_script(path: str | Path) -> StrapScript:
    """Load a scenario ``.json`` or a recorded session ``.jsonl`` as a strap script."""
    p = Path(path)
    if p.suffix == ".json":
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SessionFileError(f"cannot read scenario: {exc}", path=str(p)) from exc
        if not isinstance(obj, dict):
            raise SessionFileError("a scenario must be a JSON object", path=str(p))
        return script_from_dict(obj)
    return script_from_session(p)


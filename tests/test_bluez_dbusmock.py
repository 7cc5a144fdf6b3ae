"""bleak's real BlueZ backend against python-dbusmock's bluez5 template (layer L2).

A private system bus (dbus-daemon) per test; dbusmock plays bluetoothd with one adapter.
The strap is a Device1 object with GATT objects added by hand (the template has none):
Heart Rate service with 0x2A37 (notify) and 0x2A38, Battery 0x2A19, Device Information.
``Connect`` sets ``Connected`` then ``ServicesResolved``; a notification is a
``PropertiesChanged(Value)`` on the 0x2A37 object; a drop is ``Connected=False``; the device
object vanishing is ``InterfacesRemoved`` (BlueZ does this after a drop, and a stale
``BLEDevice`` then fails: bleak #676, #713). An advertiser thread keeps updating ``RSSI`` while
the adapter is discovering and the strap is "in range", like real advertisements.
Payloads are *derived* from the real Polar H10 recording (tests/data/polar-h10-pvc).
Real time: the reader runs with short timeouts (watchdog 1.5 s, backoff from 0.05 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

if not sys.platform.startswith("linux"):
    pytest.skip("BlueZ exists only on Linux", allow_module_level=True)
try:
    import dbus
    import dbus.bus
    import dbusmock  # noqa: F401  (checked here, used through dbusmock.testcase below)
except ImportError as exc:
    pytest.skip(f"needs the bluez-mock extra: pip install -e '.[bluez-mock]' "
                f"(dbus-python builds against libdbus-1-dev) [{exc}]", allow_module_level=True)
if shutil.which("dbus-daemon") is None:
    pytest.skip("dbus-daemon is not installed (apt-get install dbus)", allow_module_level=True)

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from afterbeat.records import (
    DeviceEvent,
    DeviceEventKind,
    Disconnect,
    Notification,
    Reconnect,
    Record,
)
from afterbeat.sources import ConnectionState, SourceStatus
from afterbeat.sources.ble import (
    HEART_RATE_SERVICE_UUID,
    BleSettings,
    BleSource,
    scan_straps,
)
from ble_fixtures import derived_h10_frames

pytestmark = [pytest.mark.dbus, pytest.mark.slow]  # private D-Bus daemons, real time

MOCK_IFACE = "org.freedesktop.DBus.Mock"
OM_IFACE = "org.freedesktop.DBus.ObjectManager"
DEVICE_IFACE = "org.bluez.Device1"
SERVICE_IFACE = "org.bluez.GattService1"
CHAR_IFACE = "org.bluez.GattCharacteristic1"
DESC_IFACE = "org.bluez.GattDescriptor1"
TEST_IFACE = "org.afterbeat.Test1"
ADAPTER = "/org/bluez/hci0"

FAST = BleSettings(scan_timeout_s=2.0, connect_timeout_s=5.0, read_timeout_s=2.0,
                   watchdog_s=1.5, backoff_base_s=0.05, backoff_cap_s=0.4)


def uuid16(value: int) -> str:
    return f"0000{value:04x}-0000-1000-8000-00805f9b34fb"


CONNECT = f"""
test = self.props['{TEST_IFACE}']
if test['FailConnects'] > 0:
    test['FailConnects'] = dbus.UInt32(test['FailConnects'] - 1)
    raise dbus.exceptions.DBusException('Software caused connection abort',
                                        name='org.bluez.Error.Failed')
if self.props['{DEVICE_IFACE}']['Connected']:
    raise dbus.exceptions.DBusException('Already Connected',
                                        name='org.bluez.Error.AlreadyConnected')
self.UpdateProperties('{DEVICE_IFACE}', {{'Connected': dbus.Boolean(True)}})
self.UpdateProperties('{DEVICE_IFACE}', {{'ServicesResolved': dbus.Boolean(True)}})
"""
DISCONNECT = f"""
if self.props['{DEVICE_IFACE}']['Connected']:
    self.UpdateProperties('{DEVICE_IFACE}', {{'ServicesResolved': dbus.Boolean(False)}})
    self.UpdateProperties('{DEVICE_IFACE}', {{'Connected': dbus.Boolean(False)}})
"""
START_NOTIFY = f"self.UpdateProperties('{CHAR_IFACE}', {{'Notifying': dbus.Boolean(True)}})"
STOP_NOTIFY = f"self.UpdateProperties('{CHAR_IFACE}', {{'Notifying': dbus.Boolean(False)}})"
READ_VALUE = f"ret = self.props['{CHAR_IFACE}']['Value']"


def _bytes(data: bytes) -> Any:
    return dbus.Array([dbus.Byte(b) for b in data], signature="y")


@dataclass
class MockStrap:
    """A heart-rate strap living in the mocked bluetoothd."""

    conn: Any
    address: str
    name: str
    battery_pct: int = 73
    in_range: bool = True
    present: bool = False
    paths: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"{ADAPTER}/dev_{self.address.replace(':', '_')}"

    @property
    def hrm_path(self) -> str:
        return f"{self.path}/service000c/char000d"

    def _mock(self, path: str) -> Any:
        return dbus.Interface(self.conn.get_object("org.bluez", path), MOCK_IFACE)

    def _add(self, path: str, iface: str, props: dict[str, Any],
             methods: list[tuple[str, str, str, str]]) -> None:
        self._mock("/").AddObject(path, iface, dbus.Dictionary(props, signature="sv"), methods)
        self._mock("/").EmitSignal(OM_IFACE, "InterfacesAdded", "oa{sa{sv}}", [
            dbus.ObjectPath(path),
            dbus.Dictionary({iface: dbus.Dictionary(props, signature="sv")}, signature="sa{sv}"),
        ])
        self.paths.append(path)

    def appear(self) -> None:
        """Create the device and its GATT objects (BlueZ saw an advertisement)."""
        dev = self.path
        self._mock("/").AddObject(dev, DEVICE_IFACE, dbus.Dictionary({
            "Address": dbus.String(self.address), "AddressType": dbus.String("public"),
            "Name": dbus.String(self.name), "Alias": dbus.String(self.name),
            "Adapter": dbus.ObjectPath(ADAPTER), "Paired": dbus.Boolean(False),
            "Connected": dbus.Boolean(False), "Trusted": dbus.Boolean(False),
            "Blocked": dbus.Boolean(False), "ServicesResolved": dbus.Boolean(False),
            "RSSI": dbus.Int16(-61), "UUIDs": dbus.Array([HEART_RATE_SERVICE_UUID], signature="s"),
            "ManufacturerData": dbus.Dictionary({}, signature="qv"),
            "ServiceData": dbus.Dictionary({}, signature="sv"),
        }, signature="sv"), [("Connect", "", "", CONNECT), ("Disconnect", "", "", DISCONNECT)])
        device = self._mock(dev)
        device.AddProperties(TEST_IFACE, dbus.Dictionary(
            {"FailConnects": dbus.UInt32(0)}, signature="sv"))
        props = dbus.Interface(self.conn.get_object("org.bluez", dev), dbus.PROPERTIES_IFACE)
        all_props = props.GetAll(DEVICE_IFACE)
        self._mock("/").EmitSignal(OM_IFACE, "InterfacesAdded", "oa{sa{sv}}", [
            dbus.ObjectPath(dev),
            dbus.Dictionary({DEVICE_IFACE: dbus.Dictionary(all_props, signature="sv")},
                            signature="sa{sv}"),
        ])
        self.paths = [dev]
        char_methods = [("ReadValue", "a{sv}", "ay", READ_VALUE),
                        ("StartNotify", "", "", START_NOTIFY),
                        ("StopNotify", "", "", STOP_NOTIFY)]

        def service(handle: int, uuid: str) -> str:
            path = f"{dev}/service{handle:04x}"
            self._add(path, SERVICE_IFACE, {"UUID": dbus.String(uuid),
                                            "Device": dbus.ObjectPath(dev),
                                            "Primary": dbus.Boolean(True)}, [])
            return path

        def char(svc: str, handle: int, uuid: str, flags: list[str], value: bytes) -> str:
            path = f"{svc}/char{handle:04x}"
            self._add(path, CHAR_IFACE, {
                "UUID": dbus.String(uuid), "Service": dbus.ObjectPath(svc),
                "Flags": dbus.Array(flags, signature="s"), "Value": _bytes(value),
                "Notifying": dbus.Boolean(False)}, char_methods)
            return path

        hrs = service(0x0C, uuid16(0x180D))
        hrm = char(hrs, 0x0D, uuid16(0x2A37), ["notify"], b"")
        assert hrm == self.hrm_path
        self._add(f"{hrm}/desc000f", DESC_IFACE, {
            "UUID": dbus.String(uuid16(0x2902)), "Characteristic": dbus.ObjectPath(hrm),
            "Value": _bytes(b"\x00\x00")}, [])
        char(hrs, 0x10, uuid16(0x2A38), ["read"], b"\x01")
        bas = service(0x20, uuid16(0x180F))
        char(bas, 0x21, uuid16(0x2A19), ["read", "notify"], bytes([self.battery_pct]))
        dis = service(0x30, uuid16(0x180A))
        char(dis, 0x31, uuid16(0x2A29), ["read"], b"Polar Electro Oy")
        char(dis, 0x33, uuid16(0x2A24), ["read"], b"H10")
        self.present = True

    def vanish(self) -> None:
        """BlueZ forgets the device: its objects go, InterfacesRemoved is sent."""
        self.present = False
        for path in reversed(self.paths):
            iface = (DEVICE_IFACE if path == self.path else DESC_IFACE if "/desc" in path
                     else CHAR_IFACE if "/char" in path else SERVICE_IFACE)
            self._mock("/").RemoveObject(path)
            self._mock("/").EmitSignal(OM_IFACE, "InterfacesRemoved", "oas", [
                dbus.ObjectPath(path), dbus.Array([iface], signature="s")])
        self.paths = []

    def fail_next_connects(self, count: int) -> None:
        self._mock(self.path).UpdateProperties(TEST_IFACE, dbus.Dictionary(
            {"FailConnects": dbus.UInt32(count)}, signature="sv"))

    def notify(self, payload: bytes) -> None:
        """The strap sends one 0x2A37 notification (BlueZ StartNotify path)."""
        self._mock(self.hrm_path).UpdateProperties(CHAR_IFACE, dbus.Dictionary(
            {"Value": _bytes(payload)}, signature="sv"))

    def drop(self) -> None:
        """The link is lost (out of range): Connected goes False without our Disconnect."""
        self._mock(self.path).UpdateProperties(DEVICE_IFACE, dbus.Dictionary(
            {"ServicesResolved": dbus.Boolean(False)}, signature="sv"))
        self._mock(self.path).UpdateProperties(DEVICE_IFACE, dbus.Dictionary(
            {"Connected": dbus.Boolean(False)}, signature="sv"))

    def get(self, iface: str, name: str, path: str | None = None) -> Any:
        props = dbus.Interface(self.conn.get_object("org.bluez", path or self.path),
                               dbus.PROPERTIES_IFACE)
        return props.Get(iface, name)

    @property
    def connected(self) -> bool:
        return self.present and bool(self.get(DEVICE_IFACE, "Connected"))

    @property
    def notifying(self) -> bool:
        return self.present and bool(self.get(CHAR_IFACE, "Notifying", self.hrm_path))


class Advertiser(threading.Thread):
    """Updates the strap's RSSI while the adapter discovers: BlueZ's view of advertising."""

    def __init__(self, address: str, strap: MockStrap) -> None:
        super().__init__(daemon=True)
        self.conn = dbus.bus.BusConnection(address)
        self.strap = MockStrap(self.conn, strap.address, strap.name)
        self.source = strap
        self.stop_event = threading.Event()

    def run(self) -> None:
        rssi = -60
        while not self.stop_event.wait(0.05):
            try:
                s = self.source
                if not (s.present and s.in_range):
                    continue
                adapter = dbus.Interface(self.conn.get_object("org.bluez", ADAPTER),
                                         dbus.PROPERTIES_IFACE)
                if not adapter.Get("org.bluez.Adapter1", "Discovering"):
                    continue
                if self.strap.get(DEVICE_IFACE, "Connected"):
                    continue
                rssi = -60 if rssi != -60 else -62
                dbus.Interface(self.conn.get_object("org.bluez", s.path), MOCK_IFACE
                               ).UpdateProperties(DEVICE_IFACE, dbus.Dictionary(
                                   {"RSSI": dbus.Int16(rssi)}, signature="sv"))
            except dbus.exceptions.DBusException:
                continue  # the device object is being removed or re-added

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=2)
        self.conn.close()


@dataclass
class MockBlueZ:
    conn: Any
    address: str
    straps: list[MockStrap] = field(default_factory=list)
    advertisers: list[Advertiser] = field(default_factory=list)

    def add_strap(self, address: str = "F0:0D:00:00:0D:01", name: str = "Polar H10 0A1B2C3D",
                  **kw: Any) -> MockStrap:
        strap = MockStrap(self.conn, address, name, **kw)
        strap.appear()
        adv = Advertiser(self.address, strap)
        adv.start()
        self.straps.append(strap)
        self.advertisers.append(adv)
        return strap


@contextlib.contextmanager
def private_system_bus(*, bluetoothd: bool = True, adapter: bool = True) -> Iterator[MockBlueZ]:
    """A private system bus, optionally with dbusmock's bluez5 template and adapter hci0."""
    from dbusmock.testcase import BusType, PrivateDBus, SpawnedMock

    saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    try:
        with PrivateDBus(BusType.SYSTEM) as bus, contextlib.ExitStack() as stack:
            if bluetoothd:
                stack.enter_context(SpawnedMock.spawn_with_template("bluez5"))
            conn = dbus.bus.BusConnection(bus.address)
            if bluetoothd and adapter:
                dbus.Interface(conn.get_object("org.bluez", "/"), "org.bluez.Mock").AddAdapter(
                    "hci0", "afterbeat-test")
            mock = MockBlueZ(conn, bus.address)
            try:
                yield mock
            finally:
                for adv in mock.advertisers:
                    adv.stop()
                conn.close()
    finally:
        if saved is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = saved


@pytest.fixture
def bluez() -> Iterator[MockBlueZ]:
    """A private system bus with dbusmock's bluez5 template and adapter hci0."""
    with private_system_bus() as mock:
        yield mock


@dataclass
class Reader:
    source: BleSource
    out: list[Record | SourceStatus] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @property
    def notifications(self) -> list[Notification]:
        return [o for o in self.out if isinstance(o, Notification)]

    def of(self, kind: type) -> list[Any]:
        return [o for o in self.out if isinstance(o, kind)]

    async def until(self, cond: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; got {self.out[-8:]}")
            await asyncio.sleep(0.02)

    async def streaming(self, strap: MockStrap) -> None:
        await self.until(lambda: strap.notifying and self.out[-1:] != [] and any(
            isinstance(o, SourceStatus) and o.state is ConnectionState.STREAMING
            for o in self.out[-3:]), "streaming")

    async def close(self) -> None:
        await self.source.aclose()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


async def start_reader(device: str | None = None) -> Reader:
    reader = Reader(BleSource(device=device, settings=FAST))

    async def consume() -> None:
        async for item in reader.source.stream():
            reader.out.append(item)

    reader.task = asyncio.create_task(consume())
    return reader


async def send(reader: Reader, strap: MockStrap, frames: list[bytes]) -> None:
    before = len(reader.notifications)
    for payload in frames:
        strap.notify(payload)
        await asyncio.sleep(0.01)
    await reader.until(lambda: len(reader.notifications) >= before + len(frames),
                       f"{len(frames)} notifications")


FRAMES = [p for _, p in derived_h10_frames(90)]


def test_scan_lists_the_strap_with_its_signal_strength(bluez: MockBlueZ) -> None:
    bluez.add_strap()

    async def main() -> list[Any]:
        return await scan_straps(0.6, tick_s=0.2)

    found = asyncio.run(main())
    assert [(s.name, s.address) for s in found] == [("Polar H10 0A1B2C3D", "F0:0D:00:00:0D:01")]
    assert found[0].rssi_dbm in (-60, -61, -62)


async def test_connect_read_and_notify_through_bluez(bluez: MockBlueZ) -> None:
    strap = bluez.add_strap()
    strap.fail_next_connects(1)
    reader = await start_reader()
    await reader.streaming(strap)
    await send(reader, strap, FRAMES[:30])
    await reader.close()
    assert [n.payload for n in reader.notifications] == FRAMES[:30]
    events = {(e.kind, e.value) for e in reader.of(DeviceEvent)}
    assert (DeviceEventKind.BATTERY, 73) in events
    assert (DeviceEventKind.BODY_SENSOR_LOCATION, "chest") in events
    assert (DeviceEventKind.INFO, "model=H10") in events
    assert reader.source.counters.failed_attempts == 1
    assert not reader.of(Disconnect)  # our own disconnect at the end is not a drop
    assert not strap.connected


async def test_unsolicited_disconnect_then_reconnect(bluez: MockBlueZ) -> None:
    strap = bluez.add_strap()
    reader = await start_reader(device="F0:0D:00:00:0D:01")
    await reader.streaming(strap)
    await send(reader, strap, FRAMES[:20])
    strap.drop()
    await reader.until(lambda: len(reader.of(Reconnect)) == 1, "reconnect")
    await reader.streaming(strap)
    await send(reader, strap, FRAMES[20:40])
    await reader.close()
    assert [n.payload for n in reader.notifications] == FRAMES[:40]
    (gap,) = reader.of(Disconnect)
    assert gap.reason == "link lost"
    assert reader.source.counters.connections == 2
    assert reader.source.counters.drops == 1


async def test_device_object_vanishing_is_survived_by_rescanning(bluez: MockBlueZ) -> None:
    strap = bluez.add_strap()
    reader = await start_reader()
    await reader.streaming(strap)
    await send(reader, strap, FRAMES[:15])
    strap.drop()
    strap.vanish()  # a stale BLEDevice would now fail with "device ... not found"
    await reader.until(lambda: len(reader.of(Disconnect)) == 1, "the gap")
    await asyncio.sleep(0.5)
    assert not reader.of(Reconnect)
    strap.appear()  # advertising again
    await reader.until(lambda: len(reader.of(Reconnect)) == 1, "reconnect after re-appearing")
    await reader.streaming(strap)
    await send(reader, strap, FRAMES[15:30])
    await reader.close()
    assert [n.payload for n in reader.notifications] == FRAMES[:30]
    down, up = reader.of(Disconnect)[0].t_s, reader.of(Reconnect)[0].t_s
    assert up - down >= 0.5


async def test_silent_link_trips_the_watchdog_and_reconnects(bluez: MockBlueZ) -> None:
    strap = bluez.add_strap()
    reader = await start_reader()
    await reader.streaming(strap)
    await send(reader, strap, FRAMES[:10])
    await reader.until(lambda: len(reader.of(Reconnect)) == 1, "watchdog reconnect")
    await reader.streaming(strap)
    await send(reader, strap, FRAMES[10:20])
    await reader.close()
    assert [n.payload for n in reader.notifications] == FRAMES[:20]
    (gap,) = reader.of(Disconnect)
    assert "watchdog" in gap.reason
    assert reader.source.counters.watchdog_trips == 1


async def test_a_stale_device_fails_after_the_object_vanished(bluez: MockBlueZ) -> None:
    """Why the reader re-scans before every attempt (bleak #676, #713, bluez/bluez#1489)."""
    strap = bluez.add_strap()
    stale = await BleakScanner.find_device_by_address(strap.address, timeout=2.0)
    assert stale is not None
    strap.vanish()
    with pytest.raises(BleakError):
        await BleakClient(stale, timeout=2.0).connect()
    strap.appear()
    fresh = await BleakScanner.find_device_by_address(strap.address, timeout=2.0)
    assert fresh is not None
    client = BleakClient(fresh, timeout=2.0)
    await client.connect()
    assert client.is_connected and strap.connected
    await client.disconnect()
    assert not strap.connected


@pytest.mark.parametrize(
    ("setup", "advice"),
    [
        ("no bluetoothd", "cannot reach the Bluetooth service"),
        ("no adapter", "no Bluetooth Low Energy adapter found"),
        ("powered off", "Bluetooth is off: turn it on"),
    ],
)
def test_scan_says_why_bluetooth_cannot_be_used(setup: str, advice: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from afterbeat.cli import scan

    with private_system_bus(bluetoothd=setup != "no bluetoothd",
                            adapter=setup != "no adapter") as mock:
        if setup == "powered off":
            dbus.Interface(mock.conn.get_object("org.bluez", ADAPTER), MOCK_IFACE
                           ).UpdateProperties("org.bluez.Adapter1", dbus.Dictionary(
                               {"Powered": dbus.Boolean(False)}, signature="sv"))
        assert scan.run(argparse.Namespace(timeout=0.3, json=False)) == 3
    assert advice in capsys.readouterr().err


def test_reader_reports_bluetooth_off_and_keeps_trying() -> None:
    with private_system_bus(adapter=False):

        async def main() -> list[SourceStatus]:
            reader = await start_reader()
            await reader.until(lambda: len([o for o in reader.out if isinstance(
                o, SourceStatus) and o.state is ConnectionState.BLUETOOTH_OFF]) >= 2,
                "two bluetooth-off statuses")
            await reader.close()
            return [o for o in reader.out if isinstance(o, SourceStatus)]

        statuses = asyncio.run(main())
    off = [s for s in statuses if s.state is ConnectionState.BLUETOOTH_OFF]
    assert "no Bluetooth Low Energy adapter" in (off[0].detail or "")
    assert [s.attempt for s in off[:2]] == [1, 2]
    assert statuses[-1].state is ConnectionState.STOPPED

"""Bluetooth LE transport on bleak (>= 3.1), plus scanning for supported sensors.

bleak is asyncio-only; this transport runs one event loop in a background thread and
gives the live source the same synchronous interface as serial. Notifications arrive
through a plain (synchronous) callback that only appends the bytes to the bounded
payload queue: no task per packet, no await in the hot path (bleak docs, BleakClient.
start_notify: a non-coroutine callback is called directly). A lost link is reported by
bleak's ``disconnected_callback`` (called with the client) and surfaces as
:class:`TransportLost` once the queued payloads are consumed.

bleak 3.1 or newer is required: earlier releases on Linux/BlueZ drop notifications
that a device sends before the reply to the CCCD write (issue 4 of this project).

The client class is injected (``client_factory``) so tests can run the production code
path, from the notification callback to the session log, with a fake bleak-like client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from firmware_bridge.transports.base import (
    Command,
    Transport,
    TransportError,
    TransportLost,
    normalize_uuid,
)

CONNECT_TIMEOUT_S = 20.0
WRITE_TIMEOUT_S = 5.0


def _default_client_factory() -> Callable[..., Any]:
    from bleak import BleakClient

    return BleakClient


class _LoopThread:
    """An asyncio event loop running in a daemon thread, shared by a transport's lifetime."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="ble-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Any, timeout_s: float) -> Any:
        fut: Future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout_s)
        except FutureTimeout:
            fut.cancel()
            raise TimeoutError(f"no answer within {timeout_s:g} s") from None

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=2.0)
        if not self.thread.is_alive():
            self.loop.close()


class BleTransport(Transport):
    """A GATT connection to one named device (by address; names are resolved by pairing)."""

    kind = "ble"

    def __init__(
        self,
        address: str,
        *,
        queue_len: int = 4096,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        client_factory: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__(queue_len)
        if not address:
            raise TransportError(
                "no BLE address; use --address AA:BB:CC:DD:EE:FF or a name saved with "
                "`tremorscope pair NAME ADDRESS`"
            )
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self._factory = client_factory
        self._loop: _LoopThread | None = None
        self._client: Any = None

    @property
    def description(self) -> str:
        return f"BLE {self.address}"

    # --- running on the event loop ------------------------------------------------------
    async def _aopen(self, subscriptions: Sequence[str]) -> None:
        factory = self._factory or _default_client_factory()
        client = factory(
            self.address, disconnected_callback=self._on_disconnected, timeout=self.connect_timeout_s
        )
        self._client = client
        await client.connect()
        for uuid in subscriptions:
            await client.start_notify(normalize_uuid(uuid), self._on_notify)

    def _on_notify(self, characteristic: Any, data: bytearray) -> None:
        """bleak notification callback: runs on the event loop; must stay cheap."""
        uuid = getattr(characteristic, "uuid", characteristic)
        self._deliver(data, str(uuid).lower())

    def _on_disconnected(self, client: Any) -> None:
        if client is self._client:  # ignore a late callback from an older connection
            self._mark_lost()

    async def _aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.disconnect()
            except Exception:  # noqa: BLE001 - it may already be gone
                pass

    # --- Transport ------------------------------------------------------------------------
    def open(self, subscriptions: Sequence[str]) -> None:
        if self._loop is None:
            self._loop = _LoopThread()
        self._run_close()
        self._mark_open()
        try:
            self._loop.run(self._aopen(subscriptions), self.connect_timeout_s + 5.0)
        except Exception as exc:  # BleakError, TimeoutError, OSError (no adapter) ...
            self._run_close()
            raise TransportError(f"cannot connect to {self.address}: {_reason(exc)}") from None

    def write(self, command: Command) -> None:
        client = self._client
        if client is None or self._lost.is_set() or self._loop is None:
            raise TransportLost(f"{self.description}: not connected")
        coro = client.write_gatt_char(normalize_uuid(command.target), command.data, response=command.response)
        try:
            self._loop.run(coro, WRITE_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001
            raise TransportLost(f"{self.description}: write failed: {_reason(exc)}") from None

    def _run_close(self) -> None:
        if self._loop is not None and self._client is not None:
            try:
                self._loop.run(self._aclose(), 5.0)
            except Exception:  # noqa: BLE001
                self._client = None

    def close(self) -> None:
        self._run_close()

    def shutdown(self) -> None:
        """Close and stop the event loop thread (end of the program)."""
        self.close()
        if self._loop is not None:
            self._loop.stop()
            self._loop = None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class Found:
    """A nearby BLE device that a supported protocol recognises."""

    address: str
    name: str
    rssi: int | None
    device: str  # registry name of the protocol


async def scan_async(timeout_s: float = 5.0, scanner: Any = None) -> list[Found]:
    """Scan for ``timeout_s`` and return the supported sensors, strongest signal first."""
    from firmware_bridge.protocols.registry import match_advertisement

    if scanner is None:
        from bleak import BleakScanner as scanner  # noqa: N813
    seen = await scanner.discover(timeout=timeout_s, return_adv=True)
    found: list[Found] = []
    for device, adv in seen.values():
        name = adv.local_name or getattr(device, "name", None) or ""
        spec = match_advertisement(name, adv.service_uuids or [])
        if spec is not None:
            found.append(Found(device.address, name, getattr(adv, "rssi", None), spec.name))
    found.sort(key=lambda f: -(f.rssi if f.rssi is not None else -999))
    return found


def scan(timeout_s: float = 5.0, scanner: Any = None) -> list[Found]:
    """Blocking :func:`scan_async`. Raises :class:`TransportError` when BLE is unavailable."""
    try:
        return asyncio.run(scan_async(timeout_s, scanner))
    except TransportError:
        raise
    except Exception as exc:  # BleakError / BleakDBusError / FileNotFoundError without BlueZ
        raise TransportError(
            f"Bluetooth is not available here ({_reason(exc)}); check the adapter is on "
            "(Linux: `bluetoothctl power on`)"
        ) from None

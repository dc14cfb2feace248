# tremorscope reference firmware: MicroPython on an ESP32 with an MPU6050 on I2C.
# Streams reference frames (see frame.py) over USB serial and, while a central is
# connected, over BLE as the Nordic UART Service. Copy main.py and frame.py to the
# board (see README.md). Settings are the constants below.
#
# Sources:
# - MPU6050 registers: InvenSense "MPU-6000 and MPU-6050 Register Map and
#   Descriptions", RM-MPU-6000A-00 rev 4.2: SMPLRT_DIV 0x19, CONFIG 0x1A (DLPF_CFG),
#   GYRO_CONFIG 0x1B (FS_SEL bits 4:3; 131/65.5/32.8/16.4 LSB per deg/s),
#   ACCEL_CONFIG 0x1C (AFS_SEL bits 4:3; 16384/8192/4096/2048 LSB per g),
#   ACCEL_XOUT_H 0x3B .. GYRO_ZOUT_L 0x48 (14 bytes, big-endian, temperature between),
#   PWR_MGMT_1 0x6B, WHO_AM_I 0x75 (= 0x68). I2C address 0x68 with AD0 low.
# - BLE: MicroPython `bluetooth` module docs (gatts_register_services, gatts_notify,
#   gap_advertise, irq events 1/2/3/21) and its examples/bluetooth/ble_uart_peripheral.py;
#   Nordic UART Service UUIDs from Nordic's NUS documentation.
# - Advertising data types: Bluetooth Core Spec Supplement, Part A, 1.1-1.3
#   (0x01 flags, 0x07 complete 128-bit UUIDs, 0x09 complete local name).
# - time.ticks_us() wraps (TICKS_PERIOD, 2**30 on most ports), so the frame clock is a
#   separate 32-bit microsecond counter advanced with ticks_diff().

import struct
import sys

import frame

try:  # MicroPython
    from time import sleep_us, ticks_add, ticks_diff, ticks_us
except ImportError:  # CPython, for the host tests
    import time as _t

    def ticks_us():
        return (_t.perf_counter_ns() // 1000) & 0x3FFFFFFF

    def ticks_diff(a, b):
        d = (a - b) & 0x3FFFFFFF
        return d - 0x40000000 if d >= 0x20000000 else d

    def ticks_add(a, b):
        return (a + b) & 0x3FFFFFFF

    def sleep_us(us):
        _t.sleep(us / 1e6)


# --- settings -----------------------------------------------------------------------
RATE_HZ = 100  # 1000 / (1 + SMPLRT_DIV); 100 Hz -> SMPLRT_DIV = 9
SAMPLES_PER_FRAME = 5  # 20 frames/s at 100 Hz
I2C_SCL_PIN = 22
I2C_SDA_PIN = 21
I2C_FREQ_HZ = 400000
MPU_ADDR = 0x68
ACCEL_FS_SEL = 1  # +-4 g
GYRO_FS_SEL = 1  # +-500 deg/s
BLE_NAME = "tremorscope"
BATTERY_ADC_PIN = None  # e.g. 35 on boards with a LiPo divider (2:1); None = unknown
USB_SERIAL = True

ACC_LSB_PER_G = (16384.0, 8192.0, 4096.0, 2048.0)
GYRO_LSB_PER_DPS = (131.0, 65.5, 32.8, 16.4)

NUS_SERVICE = "6E400001-B5A3-F393-E0A9-E50E24DCCA9E"
NUS_RX = "6E400002-B5A3-F393-E0A9-E50E24DCCA9E"
NUS_TX = "6E400003-B5A3-F393-E0A9-E50E24DCCA9E"


class MPU6050:
    """Minimal MPU6050 driver: configure ranges and rate, read one 6-axis sample."""

    def __init__(self, i2c, addr=MPU_ADDR, rate_hz=RATE_HZ, afs=ACCEL_FS_SEL, fs=GYRO_FS_SEL):
        self.i2c = i2c
        self.addr = addr
        who = i2c.readfrom_mem(addr, 0x75, 1)[0]
        if who not in (0x68, 0x70, 0x72, 0x98):  # MPU6050, MPU6500, MPU9250 clones
            raise OSError(f"no MPU6050 at 0x{addr:02x} (WHO_AM_I=0x{who:02x})")
        self._w(0x6B, 0x01)  # wake, clock from X gyro PLL
        self._w(0x1A, 0x03)  # DLPF 44 Hz acc / 42 Hz gyro, gyro output rate 1 kHz
        self._w(0x19, max(0, min(255, int(1000 // rate_hz) - 1)))
        self._w(0x1B, fs << 3)
        self._w(0x1C, afs << 3)
        self.acc_lsb_per_g = ACC_LSB_PER_G[afs]
        self.gyro_lsb_per_dps = GYRO_LSB_PER_DPS[fs]

    def _w(self, reg, value):
        self.i2c.writeto_mem(self.addr, reg, bytes((value,)))

    def read(self):
        """(ax, ay, az, gx, gy, gz) as raw int16."""
        b = self.i2c.readfrom_mem(self.addr, 0x3B, 14)
        ax, ay, az, _temp, gx, gy, gz = struct.unpack(">hhhhhhh", b)
        return (ax, ay, az, gx, gy, gz)


def _adv_field(kind, value):
    return struct.pack("BB", len(value) + 1, kind) + value


def _uuid128_le(text):
    hexs = text.replace("-", "")
    return bytes(int(hexs[i : i + 2], 16) for i in range(30, -2, -2))


class BleUart:
    """Nordic UART Service peripheral: notifies bytes to the connected central."""

    def __init__(self, ble, name=BLE_NAME):
        import bluetooth

        self.ble = ble
        self.ble.active(True)
        self.ble.irq(self._irq)
        tx = (bluetooth.UUID(NUS_TX), bluetooth.FLAG_READ | bluetooth.FLAG_NOTIFY)
        rx = (bluetooth.UUID(NUS_RX), bluetooth.FLAG_WRITE | bluetooth.FLAG_WRITE_NO_RESPONSE)
        ((self.tx, self.rx),) = self.ble.gatts_register_services(((bluetooth.UUID(NUS_SERVICE), (tx, rx)),))
        self.conns = set()
        self.chunk = 20  # ATT_MTU 23 - 3 until the central negotiates more
        self.adv = _adv_field(0x01, b"\x06") + _adv_field(0x09, name.encode())
        self.resp = _adv_field(0x07, _uuid128_le(NUS_SERVICE))
        self.advertise()

    def advertise(self):
        self.ble.gap_advertise(100000, adv_data=self.adv, resp_data=self.resp)

    def _irq(self, event, data):
        if event == 1:  # _IRQ_CENTRAL_CONNECT
            self.conns.add(data[0])
        elif event == 2:  # _IRQ_CENTRAL_DISCONNECT
            self.conns.discard(data[0])
            self.chunk = 20
            self.advertise()
        elif event == 21:  # _IRQ_MTU_EXCHANGED
            self.chunk = max(20, data[1] - 3)

    def write(self, data):
        for conn in tuple(self.conns):
            for i in range(0, len(data), self.chunk):
                try:
                    self.ble.gatts_notify(conn, self.tx, data[i : i + self.chunk])
                except OSError:
                    self.conns.discard(conn)
                    break


class Battery:
    """LiPo charge from a 2:1 divider on an ADC pin, linear 3.3 V -> 0 %, 4.2 V -> 100 %."""

    def __init__(self, pin):
        import machine

        self.adc = machine.ADC(machine.Pin(pin))
        self.adc.atten(machine.ADC.ATTN_11DB)

    def percent(self):
        volts = 2.0 * self.adc.read_uv() / 1e6
        return max(0, min(100, int((volts - 3.3) / 0.9 * 100)))


class Streamer:
    """Samples at a fixed schedule, packs frames, writes them to every sink.

    The frame timestamp is the ideal schedule time of its first sample on a 32-bit
    microsecond counter. If the loop falls more than a few samples behind (a long
    garbage collection), it skips ahead and starts a new frame, so the timestamps
    inside a frame are always evenly spaced.
    """

    def __init__(self, sensor, sinks, rate_hz=RATE_HZ, per_frame=SAMPLES_PER_FRAME, battery=None):
        self.sensor = sensor
        self.sinks = sinks
        self.rate_hz = rate_hz
        self.period_us = int(1000000 // rate_hz)
        self.per_frame = per_frame
        self.battery = battery
        self.seq = 0
        self.clock_us = 0  # 32-bit frame clock of the next sample
        self.samples = []
        self.frame_t_us = 0
        self.batt = frame.BATTERY_UNKNOWN

    def _emit(self):
        if not self.samples:
            return
        data = frame.encode_for_stream(
            frame.encode_frame(
                self.seq,
                self.frame_t_us,
                float(self.rate_hz),
                self.sensor.acc_lsb_per_g,
                self.sensor.gyro_lsb_per_dps,
                self.samples,
                self.batt,
            )
        )
        for sink in self.sinks:
            sink.write(data)
        self.seq = (self.seq + 1) & 0xFFFF
        self.samples = []

    def run(self, n_samples=None):
        """Stream forever (or ``n_samples`` samples, for tests)."""
        next_t = ticks_us()
        done = 0
        while n_samples is None or done < n_samples:
            wait = ticks_diff(next_t, ticks_us())
            if wait > 0:
                sleep_us(wait)
            elif -wait > 5 * self.period_us:  # far behind: skip ahead, new frame
                self._emit()
                late = (-wait) // self.period_us
                next_t = ticks_add(next_t, late * self.period_us)
                self.clock_us = (self.clock_us + late * self.period_us) & 0xFFFFFFFF
            if not self.samples:
                self.frame_t_us = self.clock_us
                if self.battery is not None and self.seq % 50 == 0:
                    self.batt = self.battery.percent()
            self.samples.append(self.sensor.read())
            done += 1
            next_t = ticks_add(next_t, self.period_us)
            self.clock_us = (self.clock_us + self.period_us) & 0xFFFFFFFF
            if len(self.samples) >= self.per_frame:
                self._emit()
        self._emit()


class UsbSerial:
    """Raw bytes to the USB serial console (sys.stdout.buffer is not newline-translated)."""

    def write(self, data):
        sys.stdout.buffer.write(data)


def main():
    import machine

    i2c = machine.I2C(0, scl=machine.Pin(I2C_SCL_PIN), sda=machine.Pin(I2C_SDA_PIN), freq=I2C_FREQ_HZ)
    sensor = MPU6050(i2c)
    sinks = []
    if USB_SERIAL:
        sinks.append(UsbSerial())
    try:
        import bluetooth

        sinks.append(BleUart(bluetooth.BLE()))
    except ImportError:
        pass
    battery = Battery(BATTERY_ADC_PIN) if BATTERY_ADC_PIN is not None else None
    Streamer(sensor, sinks, battery=battery).run()


if __name__ == "__main__":
    main()

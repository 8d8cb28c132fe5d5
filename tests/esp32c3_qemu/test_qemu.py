"""ESP32-C3 firmware images (run.sh builds them) booted in the esp32c3-qemu kit's QEMU against the
project's emulator (a mosquitto broker with the tbmqtt_emulator plugin on 127.0.0.1:QEMU_PORT, which
the guest reaches as 10.0.2.2). Each test checks what arrived at the emulator, and reads the guest's
serial output only to know when it is ready. A reboot is a new QEMU process on the same flash
file (a power cycle): the kit's QEMU crashes on the warm reset of esp_restart() into another
image, so where the firmware restarts, the test restarts QEMU."""

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from emu import Broker, admin, request, unique, wait_for
from qemu_device import IMAGES, KIT, Guest, image

PORT = int(os.environ.get("QEMU_PORT", "0"))
BOOT = 90       # seconds from power-on to connected, on a loaded 2-core machine
OTA = 600       # seconds for a whole OTA download (~0.7 MB in 16 KiB chunks)

# Resets that come from the kit's QEMU (Espressif's 2023 esp32c3 model; see its README), seen
# only when the host is loaded: the interrupt watchdog (its clock follows the host's, so a QEMU
# process the host does not run for a while misses its deadline wherever interrupts are masked,
# most often in vPortYield), and a task running with the interrupt threshold left raised (this
# QEMU does not mask by threshold; newlib's lock then aborts: "recursive mutexes make no sense in
# ISR context"; tbmqtt has no ISR or critical section). The chip resets; the firmware recovers as
# from any reset, and the tests hold. Any other panic fails the test.
def qemu_defect(cause, where):
    return cause == "Interrupt wdt timeout on CPU0" or (cause, where) == ("abort()", "lock_acquire_generic")


def have(*names):
    """Images are skipped only when run.sh was asked for some of them (TBMQTT_QEMU_IMAGES_ONLY);
    otherwise a missing image fails its test."""
    return not os.environ.get("QEMU_IMAGES_ONLY") or all(os.path.exists(image(n)) for n in names)


def series_keys(broker, device):
    return {p["key"] for p in request(broker, "telemetry.series", {"device": device})}


class QemuCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = Broker(port=PORT).start()
        cls.work = tempfile.mkdtemp(prefix="tbqemu-")

    @classmethod
    def tearDownClass(cls):
        cls.b.cleanup()
        if os.environ.get("TBMQTT_QEMU_KEEP"):
            print("serial logs kept in", cls.work)
        else:
            shutil.rmtree(cls.work, ignore_errors=True)

    def guest(self, name):
        g = Guest(image(name), self.work, name + "-" + self.id().rsplit(".", 1)[-1])
        self.addCleanup(self.no_firmware_panic, g)  # cleanups run last first: after power_off
        self.addCleanup(g.power_off)
        return g

    def no_firmware_panic(self, g):
        panics = g.panics()
        for cause, where in panics:
            print("\n  %s: reset by %s in %s%s" % (g.name, cause, where,
                                                  " (the kit's QEMU)" if qemu_defect(cause, where) else ""))
        self.assertEqual([p for p in panics if not qemu_defect(*p)], [], "the firmware panicked")

    def device(self, token, name=None):
        name = name or unique("qemu")
        admin(self.b, "device", "add", name, "--token", token)
        return name

    def rpc(self, device, method, params="{}", *more):
        return admin(self.b, "rpc", device, method, params, *more, timeout=60)

    def wait_keys(self, device, keys, timeout=60):
        got = wait_for(lambda: set(keys) <= series_keys(self.b, device) and series_keys(self.b, device), timeout)
        self.assertTrue(got, "telemetry keys %s never all arrived; got %s" % (sorted(keys), sorted(series_keys(self.b, device))))


@unittest.skipUnless(have("get_started"), "get_started image not built")
class GetStartedTest(QemuCase):
    def test_g00_sends_telemetry_and_answers_ping(self):
        name = self.device("QEMU_G00_TOKEN")
        g = self.guest("get_started").boot()
        g.wait_line(r"get_started: connected to ThingsBoard", BOOT)
        self.wait_keys(name, {"counter"})
        self.assertEqual(self.rpc(name, "ping"), {"pong": True})


class HelperExamplesTest(QemuCase):
    @unittest.skipUnless(have("h22"), "h22 image not built")
    def test_h22_reads_client_and_shared_keys(self):
        name = self.device("QEMU_H22_TOKEN")
        request(self.b, "attributes.set", {"device": name, "scope": "client",
                                           "attributes": {"firmwareVersion": "1.0.0", "ledOn": True, "serial": "S1"}})
        request(self.b, "attributes.set", {"device": name, "attributes": {"targetTemperature": 21.5, "mode": "eco"}})
        g = self.guest("h22").boot()
        client = g.wait_line(r"^h22: client (\{.*\})$", BOOT)
        shared = g.wait_line(r"^h22: shared (\{.*\})$", 30)
        self.assertEqual(json.loads(client.group(1)), {"firmwareVersion": "1.0.0", "ledOn": True})
        self.assertEqual(json.loads(shared.group(1)), {"targetTemperature": 21.5, "mode": "eco"})

    @unittest.skipUnless(have("h30"), "h30 image not built")
    def test_h30_answers_two_way_and_applies_one_way_calls(self):
        name = self.device("QEMU_H30_TOKEN")
        g = self.guest("h30").boot()
        g.wait_line(r"^h30: connected$", BOOT)
        self.assertEqual(self.rpc(name, "getTemperature"), {"temperature": 21.5})
        self.assertEqual(self.rpc(name, "setLed", '{"on":true}', "--oneway"), {"delivered": True})
        g.wait_line(r"^h30: LED on$", 30)
        g.wait_line(r"^h30: 2 calls handled$", 30)
        self.assertTrue(wait_for(lambda: request(self.b, "attributes.get", {"device": name})["client"].get("ledOn"), 30))


@unittest.skipUnless(have("px00"), "px00 image not built")
class ProvisioningTest(QemuCase):
    def test_px00_provisions_once_stores_in_nvs_and_reuses_after_a_reboot(self):
        admin(self.b, "profile", "add", "--key", "qemu-px00-key", "--secret", "qemu-px00-secret")
        before = {d["name"] for d in request(self.b, "device.list")}
        g = self.guest("px00").boot()
        g.wait_line(r"px00: provisioned, credentials saved to NVS", BOOT)
        new = wait_for(lambda: {d["name"] for d in request(self.b, "device.list")} - before, 30)
        self.assertEqual(len(new), 1, new)
        device = new.pop()
        self.assertTrue(wait_for(lambda: request(self.b, "telemetry.series", {"device": device}), 60))
        points = len(request(self.b, "telemetry.series", {"device": device}))
        g.reboot()  # a new QEMU process on the same flash: NVS survives
        g.wait_line(r"px00: using saved credentials from NVS", BOOT)
        self.assertTrue(wait_for(lambda: len(request(self.b, "telemetry.series", {"device": device})) > points, 60))
        self.assertEqual({d["name"] for d in request(self.b, "device.list")} - before, {device})  # not again


@unittest.skipUnless(have("store"), "store image not built")
class StoreAndForwardTest(QemuCase):
    def test_messages_stored_offline_survive_a_power_loss_and_all_arrive(self):
        g = self.guest("store").boot()  # the server does not know the token yet: refused, offline
        g.wait_line(r"^BOOT 1$", BOOT)
        g.wait_line(r"^SENT 1 5 ok$", 60)  # six messages, 0..5, stored in NVS
        g.power_off()                      # power loss with everything still in the store
        name = self.device("QEMU_STORE_TOKEN")
        g.boot()
        g.wait_line(r"^BOOT 2$", BOOT)
        g.wait_line(r"^SENT 2 3 ok$", 60)
        self.wait_keys(name, {"m1_%d" % i for i in range(6)} | {"m2_%d" % i for i in range(3)}, 60)


def app_bin(name):
    return os.path.join(IMAGES, name, "idf", "tbmqtt_firmware_update.bin")


@unittest.skipUnless(have("fw_v1", "fw_v2", "fw_v3"), "firmware_update images not built")
class OtaTest(QemuCase):
    """h50 on real flash partitions: download through tbmqtt into the next OTA slot (esp_ota_*),
    switch the boot partition, restart (a new QEMU process), confirm -> UPDATED; an image that
    never confirms is rolled back by the bootloader -> FAILED; a corrupted image never boots."""

    def assign(self, device, path, version):
        return admin(self.b, "ota", "assign", device, path, "--title", "tbmqtt_firmware_update",
                     "--version", version, "--checksum-algorithm", "SHA256")

    def states(self, device):
        return [e["state"] for e in request(self.b, "ota.state", {"device": device, "kind": "fw"})
                if e["state"] not in ("QUEUED", "INITIATED")]  # the assignment's own entries

    def wait_state(self, device, state, timeout=60):
        got = wait_for(lambda: self.states(device)[-1:] == [state], timeout)
        self.assertTrue(got, "fw_state never %s: %s" % (state, self.states(device)))

    def restart_where_the_firmware_restarts(self, g):
        """Waits until the firmware has switched the boot slot and the chip restarts, then
        power-cycles at the ROM, before the bootloader runs: this QEMU hangs or crashes on a warm
        reset into another image. The firmware restarts itself ("activated: restarting", then
        esp_restart()); a reset of the kit's QEMU (qemu_defect) after the switch does the same."""
        g.wait_line(r"tbmqtt_ota: next boot: partition ", OTA)
        g.wait_line(r"^ESP-ROM:", 60, start=g.last_index)
        g.reboot()

    def running(self, g, version):
        g.wait_line(r"firmware_update: connected to ThingsBoard, running tbmqtt_firmware_update %s$"
                    % re.escape(version), BOOT)

    def test_update_confirm_rollback_and_corrupted_image(self):
        name = self.device("QEMU_FW_TOKEN")
        g = self.guest("fw_v1").boot()
        self.running(g, "1.0")

        # 1.0 -> 2.0: downloaded, verified, written, activated; 2.0 boots and confirms.
        self.assign(name, app_bin("fw_v2"), "2.0")
        self.restart_where_the_firmware_restarts(g)
        self.running(g, "2.0")
        g.wait_line(r"image marked valid", 30)
        self.wait_state(name, "UPDATED")
        self.assertEqual(self.states(name)[-4:], ["DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED"])

        # 2.0 -> 3.0, which never reaches the server (a token it does not know), so never
        # confirms: the next reset rolls back to 2.0, which reports FAILED.
        self.assign(name, app_bin("fw_v3"), "3.0")
        self.restart_where_the_firmware_restarts(g)
        g.wait_line(r"App version: +3\.0", BOOT)
        # A reset while 3.0 is still pending verification (the power cycle here, or an earlier
        # reset of the kit's QEMU: ESP-ROM again).
        g.wait_line(r"refused_credentials|^ESP-ROM:", BOOT, start=g.last_index)
        g.reboot()
        self.running(g, "2.0")
        self.wait_state(name, "FAILED")

        # A corrupted 3.0 (one byte flipped; the server's checksum is of the corrupted file, so
        # the download verifies): esp_ota_end() rejects the image, it is never activated.
        bad = os.path.join(self.work, "fw_v3-corrupted.bin")
        with open(app_bin("fw_v3"), "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        with open(bad, "wb") as f:
            f.write(data)
        seen = len(self.states(name))
        self.assign(name, bad, "3.0.1")
        self.assertTrue(wait_for(lambda: "FAILED" in self.states(name)[seen:], OTA), self.states(name)[seen:])
        g.wait_line(r"fw_state FAILED", 30, start=g.last_index)
        new = self.states(name)[seen:]
        self.assertIn("DOWNLOADED", new)     # all of it arrived ...
        self.assertNotIn("UPDATING", new)    # ... and was never activated
        g.reboot()
        self.running(g, "2.0")
        self.assertFalse([l for l in g.output() if "App version:" in l and "3.0" in l])
        # The component's defaults carried 16 KiB chunks through the 4 KiB event ring (fragment by
        # fragment: no chunk fits it whole). Under host load the tbmqtt task can fall behind
        # esp-mqtt: events are dropped, the chunk times out and is requested again. Counted.
        with open(g.log_path, errors="replace") as f:
            print("\n  esp-mqtt events dropped during the three downloads: %d"
                  % f.read().count("dropped: queue or ring full"))


def elf_sizes(project_dir):
    """Flash (the app image file) and static RAM (DRAM data+bss, IRAM code) of an image's ELF."""
    build = os.path.join(project_dir, "idf")
    elf = [p for p in glob.glob(os.path.join(build, "*.elf")) if "bootloader" not in p][0]
    out = subprocess.run([os.path.join(KIT, "toolchain", "bin", "riscv32-esp-elf-size"), "-A", elf],
                         capture_output=True, text=True, check=True).stdout
    sec = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            sec[parts[0]] = int(parts[1])
    dram = sum(v for k, v in sec.items() if k.startswith(".dram0."))
    iram = sum(v for k, v in sec.items() if k.startswith(".iram0."))
    return {"flash": os.path.getsize(elf[:-4] + ".bin"), "dram": dram, "iram": iram}


def footprint(line):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", line)}


@unittest.skipUnless(have("job", "yardstick"), "job/yardstick images not built")
class FootprintTest(QemuCase):
    def run_job(self, image_name, token):
        name = self.device(token)
        g = self.guest(image_name).boot()
        g.wait_line(r"^CONNECTED$", BOOT)
        self.wait_keys(name, {"m0_0"} if image_name == "yardstick" else {"m1_0"})
        self.assertEqual(self.rpc(name, "ping"), {"pong": True})
        g.wait_line(r"^PING answered$", 30)
        measured = footprint(g.wait_line(r"^FOOTPRINT .*", 10, start=g.last_index).group(0))
        # Every guest has the same MAC, so esp-mqtt's default client id too: the emulator (like no
        # device knocking another off) refuses a second device with a client id still connected.
        g.power_off()
        return measured

    def test_footprint_against_plain_esp_mqtt(self):
        # The yardstick requires the tbmqtt component only to share the IDF build: none of it linked.
        elf = glob.glob(os.path.join(IMAGES, "yardstick", "idf", "esp_mqtt_job.elf"))[0]
        nm = subprocess.run([os.path.join(KIT, "toolchain", "bin", "riscv32-esp-elf-nm"), "-C", elf],
                            capture_output=True, text=True, check=True).stdout
        self.assertNotIn("tbmqtt::", nm)
        ours = self.run_job("job", "QEMU_JOB_TOKEN")
        yard = self.run_job("yardstick", "QEMU_YARD_TOKEN")
        rows = [("image", "flash", "DRAM static", "IRAM", "heap free", "heap min", "main stack", "tbmqtt stack",
                 "esp-mqtt stack")]
        for label, name, fp in (("tbmqtt (job)", "job", ours), ("esp-mqtt yardstick", "yardstick", yard)):
            s = elf_sizes(os.path.join(IMAGES, name))
            rows.append((label, s["flash"], s["dram"], s["iram"], fp["heap_free"], fp["heap_min"],
                         fp["main_stack_free_min"], fp["client_stack_free_min"] if name == "job" else "-",
                         fp["mqtt_stack_free_min"]))
        for name in sorted(os.listdir(IMAGES)):
            if name not in ("job", "yardstick") and os.path.exists(image(name)):
                s = elf_sizes(os.path.join(IMAGES, name))
                rows.append((name, s["flash"], s["dram"], s["iram"], "", "", "", "", ""))
        print("\nESP32-C3 footprint in bytes (flash: the app image; DRAM static: .dram0 data+bss; heap and the "
              "least free stack of each task measured after connecting and answering one RPC):")
        for r in rows:
            print("  %-20s %8s %12s %7s %10s %9s %11s %13s %15s" % r)
        print("  tbmqtt on top of esp-mqtt: flash %+d, static DRAM %+d, heap in use %+d" % (
            rows[1][1] - rows[2][1], rows[1][2] - rows[2][2], yard["heap_free"] - ours["heap_free"]))
        # Sanity, not a budget: both connected and answered; tbmqtt costs something but not the chip.
        self.assertGreater(ours["heap_free"], 100 * 1024)
        self.assertGreater(ours["client_stack_free_min"], 512)


if __name__ == "__main__":
    unittest.main()

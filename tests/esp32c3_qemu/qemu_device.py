"""An ESP32-C3 firmware image booted in the esp32c3-qemu kit's QEMU (boot.sh): a copy of the
flash image (QEMU writes to it: NVS, otadata, OTA partitions), the guest's serial output read
line by line, waits on that output with deadlines. A "reboot" is a new QEMU process on the same
flash file: the kit's QEMU crashes on a warm reset (esp_restart) into a different app image."""

import glob
import os
import re
import shutil
import subprocess
import threading
import time

KIT = os.environ.get("TBMQTT_ESP32C3_QEMU", "")
IMAGES = os.environ.get("QEMU_IMAGES", "")


def image(name):
    return os.path.join(IMAGES, name, "flash.bin")


PANIC = re.compile(r"Guru Meditation Error: Core +\d+ panic'ed \((?P<cause>[^)]*)\)"
                   r"|(?P<abort>abort\(\)) was called at PC (?P<pc>0x[0-9a-f]+)")
MEPC = re.compile(r"MEPC +: (0x[0-9a-f]+)")


class Guest:
    """One flash file, booted any number of times (one QEMU process at a time)."""

    def __init__(self, image_path, workdir, name):
        self.name = name
        self.flash = os.path.join(workdir, name + ".flash.bin")
        shutil.copyfile(image_path, self.flash)
        self.elf = [p for p in glob.glob(os.path.join(os.path.dirname(image_path), "idf", "*.elf"))
                    if "bootloader" not in p][0]
        self.log_path = os.path.join(workdir, name + ".serial.log")
        self.proc = None
        self.lines = []
        self.cond = threading.Condition()
        self.boots = 0

    def boot(self):
        """Starts QEMU on the flash file (a power-on: RAM, RTC and efuses start fresh)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.boots += 1
        with self.cond:
            self.lines = []
        log = open(self.log_path, "a")
        log.write("==== boot %d\n" % self.boots)
        log.flush()
        self.proc = subprocess.Popen([os.path.join(KIT, "boot.sh"), self.flash], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, args=(self.proc, log), daemon=True)
        self.reader.start()
        return self

    def _read(self, proc, log):
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)  # ESP-IDF log colours
            log.write(line + "\n")
            log.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        log.close()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, pattern, timeout=60, start=0):
        """The first serial line of this boot (from index `start`) matching `pattern`, as a match
        object; AssertionError with the tail of the log after `timeout` seconds or if QEMU ends."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        self.last_index = i
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and i >= len(self.lines)):
                    tail = "\n".join(self.lines[-40:])
                    raise AssertionError("no line /%s/ within %ds (qemu %s); serial output:\n%s"
                                         % (pattern, timeout, "running" if self.proc.poll() is None
                                            else "exited %s" % self.proc.returncode, tail))
                self.cond.wait(min(left, 1.0))

    def panics(self):
        """Every panic of every boot so far, from the serial log: (cause, function it happened in)."""
        with open(self.log_path, errors="replace") as f:
            lines = f.read().splitlines()
        found = []
        for i, line in enumerate(lines):
            m = PANIC.search(line)
            if not m:
                continue
            pc = m.group("pc") or next((x.group(1) for x in map(MEPC.search, lines[i + 1:i + 8]) if x), None)
            found.append((m.group("abort") or m.group("cause").strip(), self.function_at(pc) if pc else "?"))
        return found

    def function_at(self, address):
        # Every image of one test is built from the same code: the guest's own ELF names the function.
        out = subprocess.run([os.path.join(KIT, "toolchain", "bin", "riscv32-esp-elf-addr2line"), "-f", "-e",
                              self.elf, address], capture_output=True, text=True).stdout
        return out.split("\n", 1)[0] or "?"

    def output(self):
        with self.cond:
            return list(self.lines)

    def power_off(self):
        """Ends QEMU at once (a power loss: nothing is flushed by the guest)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.reader.join(10)  # reads to the end of QEMU's output
            self.proc.stdout.close()
        self.proc = None

    def reboot(self):
        self.power_off()
        return self.boot()

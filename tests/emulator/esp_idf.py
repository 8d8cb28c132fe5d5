"""Running the ESP-IDF examples built for the linux target (tests/esp_idf_linux/build.sh: the real
ESP-IDF, FreeRTOS POSIX port, esp-mqtt, mbedTLS, NVS on an emulated flash file) against the
emulator. They take their settings from TBMQTT_* variables (examples/esp-idf/common/
example_settings.hpp) and log through ESP_LOG. The examples shared with Linux (examples/common)
end the process with their exit status (EspCommand runs them as the Linux tests run the Linux
build); for the others app_main returning does not end the process, so a run ends when the
example logs one of the outcomes it is waited for (with a deadline), then it is terminated. Each run gets its own emulated flash file (TBMQTT_FLASH_FILE) in a temporary
directory, removed afterwards unless the test keeps it for a second run.

EMU_ESP_IDF_BUILD_DIR names the build directory (build-idf). Unset: the ESP tests are skipped
(they run once in ./run test, not in both sanitizer passes). Set, a missing example is a failure."""

import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

ESP_BUILD_DIR = os.environ.get("EMU_ESP_IDF_BUILD_DIR", "")
TIMEOUT = 30


def esp_example_path(name):
    return os.path.join(ESP_BUILD_DIR, name, "tbmqtt_%s.elf" % name)


def require_esp_examples(*names):
    """Class decorator: skipped when EMU_ESP_IDF_BUILD_DIR is unset; fails when an example is missing."""
    def decorate(cls):
        if not ESP_BUILD_DIR:
            return unittest.skip("EMU_ESP_IDF_BUILD_DIR not set (tests/esp_idf_linux/build.sh builds them)")(cls)
        cls.__unittest_skip__ = False  # a Linux twin's class may be skipped when its binaries are absent
        missing = [n for n in names if not os.access(esp_example_path(n), os.X_OK)]
        if missing:
            def setUpClass(c):
                raise AssertionError("ESP-IDF examples not built in %s: %s" % (ESP_BUILD_DIR, " ".join(missing)))
            cls.setUpClass = classmethod(setUpClass)
        return cls
    return decorate


class EspApp:
    """One running ESP-IDF linux executable; its output (stdout and stderr) read line by line."""

    def __init__(self, name, env, flash_file=None, keep_flash=False):
        self.name = name
        self.dir = None
        if flash_file is None:
            self.dir = tempfile.mkdtemp(prefix="tbesp-")
            flash_file = os.path.join(self.dir, "flash.bin")
        self.flash_file = flash_file
        self.keep_flash = keep_flash
        full_env = dict(os.environ)
        full_env.update({k: str(v) for k, v in env.items()})
        full_env["TBMQTT_FLASH_FILE"] = flash_file
        self.output = []
        self.lines = queue.Queue()
        self.peeked = []  # lines text() took from `lines` that wait_for has not seen yet
        self.proc = subprocess.Popen([esp_example_path(name)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace", env=full_env)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def text(self):
        """Everything read so far (lines not waited for yet included: they stay for a later
        wait_for, so that a failure message built with text() swallows nothing)."""
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            self.peeked.append(line)
            if line is None:
                break
        return "\n".join(self.output + [l for l in self.peeked if l is not None])

    def _next_line(self, timeout):
        if self.peeked:
            return self.peeked.pop(0)
        return self.lines.get(timeout=timeout)

    def wait_for(self, pattern, timeout=TIMEOUT):
        """The first match of regex `pattern` in a line not consumed yet; AssertionError (with the
        output) on the deadline or when the process ended first."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._next_line(max(left, 0.001))
            except queue.Empty:
                line = False
            if line is False or line is None:
                ended = "ended, exit status %s" % self.proc.wait() if line is None else "deadline"
                raise AssertionError("%s: no line matching %r (%s):\n%s" % (self.name, pattern, ended, self.text()))
            self.output.append(line)
            m = regex.search(line)
            if m:
                return m

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if self.dir and not self.keep_flash:
            shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self):
        """SIGKILL: a power loss for the app (NVS is a MAP_SHARED file: written pages survive)."""
        self.proc.kill()
        self.proc.wait()


class EspCommand:
    """Mixin for a Linux example's test class whose example is one source for both platforms
    (examples/common): command() runs the ESP-IDF build instead, with the Linux arguments after
    the credentials as the example's TBMQTT_<NAME> settings (ESP_SETTINGS: example -> names).
    The example's exit status, stdout and stderr are the Linux build's (its ESP_LOG lines go to
    TBMQTT_LOG_FILE, shown when a test fails), so the Linux test's checks apply as they are."""

    ESP_SETTINGS = {}

    def esp_command(self, example, args, env):
        """([the ELF], environment): `env` (TBMQTT_URI, credentials) plus the settings from `args`,
        a fresh emulated flash file and the log file, in a directory removed after the test."""
        work = tempfile.mkdtemp(prefix="tbesp-")
        log = os.path.join(work, "esp_log.txt")

        def show_log():
            result = getattr(self._outcome, "result", None)  # failures are reported there at once (3.11+)
            failed = result is not None and any(t is self for t, _ in result.errors + result.failures)
            if failed and os.path.exists(log):
                with open(log, errors="replace") as f:
                    print("\n--- %s ESP_LOG ---\n%s" % (example, f.read()))
        self.addCleanup(shutil.rmtree, work, True)
        self.addCleanup(show_log)
        names = self.ESP_SETTINGS.get(example, ())
        if len(args) > len(names):
            raise AssertionError("%s: no ESP setting names for arguments %r" % (example, args[len(names):]))
        full = dict(os.environ)
        full.update({k: str(v) for k, v in env.items()})
        full.update({"TBMQTT_" + n: str(a) for n, a in zip(names, args)})
        full.update({"TBMQTT_FLASH_FILE": os.path.join(work, "flash.bin"), "TBMQTT_LOG_FILE": log})
        return [esp_example_path(example)], full


def run_until(name, env, outcomes, timeout=TIMEOUT, flash_file=None):
    """Runs `name` until a line matches one of `outcomes` (regex -> exit code). Returns a
    subprocess.CompletedProcess-like result: that code, and the output as stdout and stderr (so
    checks written for the Linux twins' exit codes and messages apply as they are)."""
    app = EspApp(name, env, flash_file=flash_file)
    try:
        m = app.wait_for("|".join("(?:%s)" % p for p in outcomes), timeout)
        code = next(c for p, c in outcomes.items() if re.search(p, m.group(0)))
    except AssertionError as e:
        code, app.output = 1, [str(e)]
    finally:
        app.stop()
    return subprocess.CompletedProcess([name], code, app.text(), app.text())

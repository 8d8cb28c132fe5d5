"""Files the emulator and its admin client write (registry.json with every device's secrets, OTA
packages, admin.json and the broker config) go through a fresh mkstemp temp file in the target's
directory, mode 0600, fsync and rename: a symlink planted at the old fixed temp name
(`<file>.tmp`) is never followed, and what it points to is never written."""

import json
import os
import shutil
import stat
import tempfile
import unittest

from emu import BUILD_DIR, Broker, CliEmulator, admin, has_emulator_commands, new_device

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
UNTOUCHED = "the victim's own content\n"


class PlantedSymlinks(unittest.TestCase):
    def setUp(self):
        self.outside = tempfile.mkdtemp(prefix="tbvictim-")
        self.addCleanup(shutil.rmtree, self.outside, True)

    def plant(self, path):
        """A symlink at `path` to a victim file outside; returns the victim's path."""
        victim = os.path.join(self.outside, os.path.basename(path) + ".victim")
        with open(victim, "w") as f:
            f.write(UNTOUCHED)
        os.symlink(victim, path)
        return victim

    def assert_not_followed(self, link, victim):
        self.assertTrue(os.path.islink(link), link)
        with open(victim) as f:
            self.assertEqual(f.read(), UNTOUCHED, victim)

    def assert_private_file(self, path):
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode), path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, path)

    def test_plugin_registry_and_ota_packages(self):
        b = Broker()
        self.addCleanup(b.cleanup)
        registry_link = os.path.join(b.state_dir, "registry.json.tmp")
        registry_victim = self.plant(registry_link)
        b.start()
        name, token = new_device(b)
        registry = os.path.join(b.state_dir, "registry.json")
        self.assert_private_file(registry)
        self.assert_not_followed(registry_link, registry_victim)
        with open(registry) as f:
            devices = {d["name"]: d for d in json.load(f)["devices"]}
        self.assertEqual(devices[name]["credentials"]["token"], token)

        ota = os.path.join(b.state_dir, "ota")
        os.makedirs(ota, mode=0o700, exist_ok=True)
        package_link = os.path.join(ota, devices[name]["id"] + "-fw.bin.tmp")
        package_victim = self.plant(package_link)
        package = os.path.join(self.outside, "fw.bin")
        with open(package, "wb") as f:
            f.write(b"firmware bytes")
        admin(b, "ota", "assign", name, package, "--title", "fw", "--version", "1")
        stored = os.path.join(ota, devices[name]["id"] + "-fw.bin")
        self.assert_private_file(stored)
        with open(stored, "rb") as f:
            self.assertEqual(f.read(), b"firmware bytes")
        self.assert_not_followed(package_link, package_victim)
        leftovers = [n for n in os.listdir(b.state_dir) + os.listdir(ota) if ".tmp-" in n]
        self.assertEqual(leftovers, [])

    @unittest.skipUnless(has_emulator_commands(), "build/bin/tbmqtt without `tbmqtt emulator`")
    def test_admin_client_files(self):
        home = tempfile.mkdtemp(prefix="tbtemp-")
        state = os.path.join(home, "tbmqtt-emulator")
        os.makedirs(state, mode=0o700)
        links = {n: os.path.join(state, n + ".tmp") for n in ("admin.json", "mosquitto.conf")}
        victims = {n: self.plant(link) for n, link in links.items()}
        emulator = CliEmulator(TBMQTT, [], home=home)
        self.addCleanup(emulator.stop)
        self.assertTrue(emulator.default_token)
        for n, link in links.items():
            self.assert_private_file(os.path.join(state, n))
            self.assert_not_followed(link, victims[n])
        with open(os.path.join(state, "admin.json")) as f:
            self.assertIn("password", json.load(f))


if __name__ == "__main__":
    unittest.main()

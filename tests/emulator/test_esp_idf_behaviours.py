"""The ESP client's behaviours on FreeRTOS + esp-mqtt + NVS (the real ESP-IDF, linux target),
with the test app tests/esp_idf_linux/apps/esp_soak against the emulator: 4 tasks publishing at
once while RPCs arrive (and the memory report), reconnect with back-off after the emulator restarts, and
store-and-forward in NVS across an app kill (-9) with nothing lost and each message stamped with
its capture time."""

import os
import re
import shutil
import tempfile
import time
import unittest

from esp_idf import EspApp, require_esp_examples
from emu import HOST, Broker, admin, new_device, request, wait_for


def unix_ms():
    return int(time.time() * 1000)


def soak_env(broker, token, mode, **more):
    env = {"TBMQTT_URI": "mqtt://%s:%d" % (HOST, broker.port), "TBMQTT_TOKEN": token, "TBMQTT_SOAK_MODE": mode}
    env.update({k: str(v) for k, v in more.items()})
    return env


@require_esp_examples("esp_soak")
class EspBehavioursTest(unittest.TestCase):
    def setUp(self):
        self.b = Broker().start()  # its own: the reconnect test restarts it
        self.addCleanup(self.b.cleanup)
        self.name, self.token = new_device(self.b)
        self.dir = tempfile.mkdtemp(prefix="tbespsoak-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def app(self, mode, flash_file=None, **more):
        app = EspApp("esp_soak", soak_env(self.b, self.token, mode, **more), flash_file=flash_file)
        self.addCleanup(app.stop)
        return app

    def rpc_ping(self):
        return admin(self.b, "rpc", self.name, "ping", "{}", "--timeout-ms", 30000)  # a loaded CI machine

    def test_four_tasks_publish_at_once_and_memory_is_reported(self):
        app = self.app("stress")
        app.wait_for(r"soak: connection up")
        app.wait_for(r"stress done: 200 messages, 0 failures", timeout=60)
        got = wait_for(lambda: (lambda m: m if len(m) >= 200 else None)(
            [p["value"] for p in request(self.b, "telemetry.series", {"device": self.name, "key": "msg"})]), 30)
        self.assertEqual(sorted(got), [t * 1000 + s for t in range(4) for s in range(50)])  # each once
        report = []
        while True:
            line = app.wait_for(r"memory: .*").group(0)
            if line == "memory: report done":
                break
            report.append(line)
        print("\n  ESP-IDF linux (esp_soak): " + "\n  ESP-IDF linux (esp_soak): ".join(report))
        per = re.search(r"allocations per publish qos0 ([\d.]+) qos1 ([\d.]+)", "\n".join(report))
        self.assertIsNotNone(per, report)
        # The client's publish path allocates nothing (QoS 0: esp-mqtt writes the packet at once).
        # QoS 1 (reported, not asserted): esp-mqtt's outbox keeps a calloc'ed item and a malloc'ed
        # copy of each packet, and esp_event_post_to() copies each PUBLISHED event: ~3 per publish.
        self.assertEqual(float(per.group(1)), 0.0, report)
        stacks = re.findall(r"stack high-water (\S+) (\d+)", "\n".join(report))
        self.assertEqual(sorted(n for n, _ in stacks),
                         ["main", "mqtt_task", "publisher0", "publisher1", "publisher2", "publisher3", "tbmqtt"])
        self.assertTrue(all(int(free) > 256 for _, free in stacks), stacks)  # no task near its stack's end

    def test_four_tasks_publish_at_once_while_rpcs_arrive_and_memory_is_reported(self):
        app = self.app("stress")
        app.wait_for(r"soak: connection up")
        for _ in range(5):
            try:
                answer = self.rpc_ping()
            except Exception as e:  # the app's log says why
                raise AssertionError("%s\n%s" % (e, app.text()))
            self.assertEqual(answer, {"pong": True})
        app.wait_for(r"stress done: 200 messages, 0 failures", timeout=60)
        got = wait_for(lambda: (lambda m: m if len(m) >= 200 else None)(
            [p["value"] for p in request(self.b, "telemetry.series", {"device": self.name, "key": "msg"})]), 30)
        self.assertEqual(sorted(got), [t * 1000 + s for t in range(4) for s in range(50)])  # each once
        report = []
        while True:
            line = app.wait_for(r"memory: .*").group(0)
            if line == "memory: report done":
                break
            report.append(line)
        print("\n  ESP-IDF linux (esp_soak): " + "\n  ESP-IDF linux (esp_soak): ".join(report))
        per = re.search(r"allocations per publish qos0 ([\d.]+) qos1 ([\d.]+)", "\n".join(report))
        self.assertIsNotNone(per, report)
        # The client's publish path allocates nothing (QoS 0: esp-mqtt writes the packet at once).
        # QoS 1 (reported, not asserted): esp-mqtt's outbox keeps a calloc'ed item and a malloc'ed
        # copy of each packet, and esp_event_post_to() copies each PUBLISHED event: ~3 per publish.
        self.assertEqual(float(per.group(1)), 0.0, report)
        stacks = re.findall(r"stack high-water (\S+) (\d+)", "\n".join(report))
        self.assertEqual(sorted(n for n, _ in stacks),
                         ["main", "mqtt_task", "publisher0", "publisher1", "publisher2", "publisher3", "tbmqtt"])
        self.assertTrue(all(int(free) > 256 for _, free in stacks), stacks)  # no task near its stack's end

    def test_reconnects_with_back_off_after_the_emulator_restarts_with_subscriptions_restored(self):
        # esp-mqtt's auto-reconnect is off: the client schedules each attempt (reconnect_min
        # doubling up to reconnect_max, jittered into [d/2, d]) and starts it; without that the app
        # would never come back.
        app = self.app("reconnect", TBMQTT_SOAK_RECONNECT_MIN=100, TBMQTT_SOAK_RECONNECT_MAX=1600)
        app.wait_for(r"soak: connection up")
        self.assertEqual(self.rpc_ping(), {"pong": True})
        self.b.stop()
        # Each failed attempt (connection refused) schedules the next one, up to attempt 6. (An
        # attempt made while the stopping broker still accepted starts the count again from 1.)
        attempt = 0
        while attempt < 6:
            m = app.wait_for(r"reconnect attempt (\d+) in (\d+) ms", timeout=30)
            n, delay = int(m.group(1)), int(m.group(2))
            self.assertIn(n, (1, attempt + 1), m.group(0))
            ceiling = min(100 << (n - 1), 1600)
            self.assertTrue(ceiling // 2 <= delay <= ceiling, (m.group(0), ceiling))
            attempt = n
        self.assertIn("soak: connection down", "\n".join(app.output))  # the loss was reported (by attempt 6)
        self.b.start()
        app.wait_for(r"connection up", timeout=30)
        n_after = [p["value"] for p in request(self.b, "telemetry.series", {"device": self.name, "key": "n"})]
        self.assertTrue(wait_for(lambda: len(request(self.b, "telemetry.series", {"device": self.name, "key": "n"}))
                                 > len(n_after) + 2, 10), "telemetry did not resume")
        self.assertEqual(self.rpc_ping(), {"pong": True})  # the RPC subscription is back (SUBACK checked)
        # Up again: the next loss starts from reconnect_min.
        self.b.stop()
        m = app.wait_for(r"reconnect attempt (\d+) in (\d+) ms", timeout=30)
        self.assertEqual(int(m.group(1)), 1, m.group(0))
        self.assertTrue(50 <= int(m.group(2)) <= 100, m.group(0))

    def test_store_and_forward_in_nvs_survives_a_kill_with_nothing_lost_and_capture_times(self):
        flash = os.path.join(self.dir, "flash.bin")
        self.b.stop()  # offline: everything goes to NVS
        captured_from = unix_ms()
        first = self.app("store", flash_file=flash, TBMQTT_SOAK_FIRST=0, TBMQTT_SOAK_COUNT=20)
        first.wait_for(r"queued 20")
        captured_until = unix_ms()
        first.kill()  # power loss: nothing was sent
        self.b.start()
        second_from = unix_ms()
        second = self.app("store", flash_file=flash, TBMQTT_SOAK_FIRST=20, TBMQTT_SOAK_COUNT=5)
        second.wait_for(r"queued 5")
        second.wait_for(r"soak: store forwarded", timeout=60)
        points = wait_for(lambda: (lambda s: s if len(s) >= 25 else None)(
            request(self.b, "telemetry.series", {"device": self.name, "key": "seq"})))
        seqs = [p["value"] for p in points]
        self.assertEqual(sorted(seqs), list(range(25)))
        self.assertEqual(len(seqs), 25)  # nothing lost, nothing twice
        # {"seq":n} was stored without "ts": it carries its capture time (stamped when stored,
        # the host's clock being set), not the time it reached the server after the restart.
        for p in points:
            if p["value"] < 20:
                self.assertTrue(captured_from <= p["ts"] <= captured_until, (p, captured_from, captured_until))
            else:
                self.assertGreaterEqual(p["ts"], second_from, p)

    def test_offline_queued_counts_the_store_and_sync_makes_it_survive_a_kill(self):
        # The store commits only when asked (TBMQTT_SOAK_SYNC): what survives the kill is what
        # sync_offline_store() committed. It keeps 15 of the 20 (drop_oldest): 5 dropped.
        flash = os.path.join(self.dir, "flash.bin")
        self.b.stop()
        first = self.app("store", flash_file=flash, TBMQTT_SOAK_FIRST=0, TBMQTT_SOAK_COUNT=20, TBMQTT_SOAK_SYNC=1,
                         TBMQTT_SOAK_MAX=15)
        first.wait_for(r"queued 20")
        first.wait_for(r"offline_queued 15 dropped 5")
        first.wait_for(r"soak: synced")
        first.kill()  # power loss right after the sync
        self.b.start()
        second = self.app("store", flash_file=flash, TBMQTT_SOAK_FIRST=20, TBMQTT_SOAK_COUNT=5)
        second.wait_for(r"soak: store forwarded", timeout=60)
        points = wait_for(lambda: (lambda s: s if len(s) >= 20 else None)(
            request(self.b, "telemetry.series", {"device": self.name, "key": "seq"})))
        seqs = [p["value"] for p in points]
        self.assertEqual(sorted(seqs), list(range(5, 25)))  # the 5 oldest dropped, nothing else lost

    def test_gateway_out_of_memory_fails_its_calls_with_out_of_memory_and_a_later_call_allocates(self):
        app = self.app("gateway_oom")
        m = app.wait_for(r"gateway oom: .*")
        self.assertEqual(m.group(0), "gateway oom: connect_device out_of_memory send_telemetry out_of_memory "
                                     "on_rpc out_of_memory is_connected 0")
        m = app.wait_for(r"gateway retry: (.*) gateway, connect_device (\S+)")
        self.assertEqual(m.group(1), "another")
        self.assertNotEqual(m.group(2), "out_of_memory")


if __name__ == "__main__":
    unittest.main()

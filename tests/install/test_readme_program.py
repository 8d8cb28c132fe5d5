#!/usr/bin/env python3
"""The README's C++ program, built exactly as README.md says, against an installed tree.

Usage: tests/install/test_readme_program.py BUILD_DIR
       tests/install/test_readme_program.py --deb PACKAGE.deb

Installs BUILD_DIR into a temporary prefix (`cmake --install --prefix`) — or with --deb, checks
the Debian package (`./run package`: its control fields and that it holds the libraries, headers,
CMake package, tbmqtt.pc, CLI and emulator) and unpacks it into a scratch root (`dpkg -x`,
prefix ROOT/usr) — then takes from README.md's
"A complete program" section the C++ block (hello.cpp), the pkg-config command, the CMakeLists.txt
block and the CMake commands, builds the program both ways with them, starts the *installed*
emulator (`PREFIX/bin/tbmqtt emulator start`, which finds the installed plugin) on a free port
and runs both binaries against it; the emulator must hold the telemetry they sent. A README
whose text does not build or run fails this test. Every wait has a deadline.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import json

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def fail(msg):
    sys.exit("install test: " + msg)


def readme_blocks():
    """The fenced blocks of the README section "A complete program", as (language, text)."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"^## A complete program\n(.*?)^## ", text, re.S | re.M)
    if not m:
        fail("README.md has no section '## A complete program'")
    return re.findall(r"^```(\w*)\n(.*?)^```", m.group(1), re.S | re.M)


def run(cmd, cwd, env=None, timeout=600):
    r = subprocess.run(cmd, cwd=cwd, env=env, shell=isinstance(cmd, str), capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        fail("%s failed (%d):\n%s%s" % (cmd, r.returncode, r.stdout, r.stderr))
    return r.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_deb(deb, root):
    """The package's control fields and contents (as `apt install ./tbmqtt_*.deb` would install
    them), unpacked into `root`; returns the prefix (ROOT/usr)."""
    fields = {k: run(["dpkg-deb", "-f", deb, k], cwd=root).strip() for k in ("Package", "Version", "Depends")}
    if fields["Package"] != "tbmqtt" or not fields["Version"]:
        fail("%s: control fields %s" % (deb, fields))
    for dep in ("libmosquitto-dev", "libssl-dev", "libmbedtls-dev", "mosquitto"):
        if dep not in fields["Depends"]:
            fail("%s: Depends lacks %s: %s" % (deb, dep, fields["Depends"]))
    listed = run(["dpkg-deb", "-c", deb], cwd=root)
    paths = [l.split()[-1] if " -> " not in l else l.split(" -> ")[0].split()[-1] for l in listed.splitlines()]
    paths = [p[1:] if p.startswith(".") else p for p in paths]
    libdir = r"/usr/lib(/[^/]+-linux-gnu[^/]*)?"
    wanted = {
        "the static library": libdir + r"/libtbmqtt\.a",
        "the core library": libdir + r"/libtbmqtt_core\.a",
        "the client header": r"/usr/include/tbmqtt/linux/client\.hpp",
        "the core headers": r"/usr/include/tbmqtt/json\.hpp",
        "the CMake package": libdir + r"/cmake/tbmqtt/tbmqttConfig\.cmake",
        "the CMake targets": libdir + r"/cmake/tbmqtt/tbmqttTargets\.cmake",
        "tbmqtt.pc": libdir + r"/pkgconfig/tbmqtt\.pc",
        "the CLI": r"/usr/bin/tbmqtt",
        "the emulator admin tool": r"/usr/bin/tbmqtt-emulator-admin",
        "the emulator plugin": r"/usr/lib/libtbmqtt_emulator\.so",
    }
    for what, pattern in wanted.items():
        if not any(re.fullmatch(pattern, p) for p in paths):
            fail("%s does not hold %s (%s)" % (deb, what, pattern))
    if any("/esp_idf/" in p or p.startswith("/usr/local") for p in paths):
        fail("%s holds ESP-IDF headers or /usr/local files" % deb)
    run(["dpkg-deb", "-x", deb, root], cwd=root)
    # Installed for real, tbmqtt.pc lands where pkg-config looks by itself (no PKG_CONFIG_PATH).
    pc = [p for p in paths if p.endswith("/tbmqtt.pc")][0]
    searched = run(["pkg-config", "--variable", "pc_path", "pkg-config"], cwd=root).strip().split(":")
    if os.path.dirname(pc) not in searched:
        fail("%s installs tbmqtt.pc in %s, where pkg-config does not look (%s)" % (deb, pc, searched))
    return os.path.join(root, "usr")


def main():
    deb = None
    if sys.argv[1] == "--deb":
        debs = sys.argv[2:]
        if len(debs) != 1 or not os.path.isfile(debs[0]):
            fail("--deb takes one package file, got %s" % debs)
        deb = os.path.abspath(debs[0])
    else:
        build = os.path.abspath(sys.argv[1])
    blocks = readme_blocks()
    cpp = [b for lang, b in blocks if lang == "cpp"]
    cmake = [b for lang, b in blocks if lang == "cmake"]
    sh = [b for lang, b in blocks if lang == "sh"]
    if len(cpp) != 1 or len(cmake) != 1 or len(sh) != 2:
        fail("expected one cpp, one cmake and two sh blocks in 'A complete program', got %d/%d/%d"
             % (len(cpp), len(cmake), len(sh)))
    pkg_config_cmd = [l for l in sh[0].splitlines() if "pkg-config" in l]
    cmake_cmd = [l for l in sh[1].splitlines() if l.startswith("cmake")]
    if len(pkg_config_cmd) != 1 or len(cmake_cmd) != 1:
        fail("the sh blocks should hold one pkg-config command and one cmake command")

    work = tempfile.mkdtemp(prefix="tbmqtt-install-")
    broker = None
    try:
        if deb:
            root = os.path.join(work, "root")
            os.makedirs(root)
            prefix = check_deb(deb, root)
            how = "the Debian package unpacked"
        else:
            prefix = os.path.join(work, "prefix")
            run(["cmake", "--install", build, "--prefix", prefix], cwd=work)
            how = "cmake --install"
        for f in ("bin/tbmqtt", "bin/tbmqtt-emulator-admin", "lib/libtbmqtt_emulator.so",
                  "include/tbmqtt/linux/client.hpp"):
            if not os.path.exists(os.path.join(prefix, f)):
                fail("%s has no %s" % (how, f))

        # pkg-config, as the README says (PKG_CONFIG_PATH for a --prefix install).
        a = os.path.join(work, "pkgconfig")
        os.makedirs(a)
        open(os.path.join(a, "hello.cpp"), "w").write(cpp[0])
        pc_dirs = [os.path.dirname(p) for p in
                   subprocess.run(["find", prefix, "-name", "tbmqtt.pc"], capture_output=True,
                                  text=True).stdout.split()]
        if len(pc_dirs) != 1:
            fail("%s has not one tbmqtt.pc" % how)
        if not deb and pc_dirs[0] != os.path.join(prefix, "lib", "pkgconfig"):
            fail("tbmqtt.pc is in %s, the README says PREFIX/lib/pkgconfig" % pc_dirs[0])
        env = dict(os.environ, PKG_CONFIG_PATH=pc_dirs[0])
        run(pkg_config_cmd[0], cwd=a, env=env)

        # CMake, as the README says (CMAKE_PREFIX_PATH for a --prefix install).
        b = os.path.join(work, "cmake")
        os.makedirs(b)
        open(os.path.join(b, "hello.cpp"), "w").write(cpp[0])
        open(os.path.join(b, "CMakeLists.txt"), "w").write(cmake[0])
        env = dict(os.environ, CMAKE_PREFIX_PATH=prefix)
        for part in cmake_cmd[0].split("&&"):
            run(part.strip(), cwd=b, env=env)

        # The installed emulator on a free port (it finds the installed plugin by itself).
        port = free_port()
        state = os.path.join(work, "state")
        tbmqtt = os.path.join(prefix, "bin", "tbmqtt")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TBMQTT_")}
        broker = subprocess.Popen([tbmqtt, "emulator", "start", "--port", str(port), "--state", state],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        token = []
        got = threading.Event()

        def read():
            for line in broker.stdout:
                if line.startswith("default device token: "):
                    token.append(line.split(":", 1)[1].strip())
                    got.set()
            got.set()
        threading.Thread(target=read, daemon=True).start()
        if not got.wait(30) or not token:
            fail("the installed emulator did not start")

        admin = [tbmqtt, "--port", str(port), "emulator", "--state", state]
        for name, binary in (("pkg-config", os.path.join(a, "hello")),
                             ("cmake", os.path.join(b, "build", "hello"))):
            device = "hello-" + name
            device_token = "tok-%s-%d" % (name, os.getpid())  # one device per build: no shared state
            run(admin + ["device", "add", device, "--token", device_token], cwd=work, env=env)
            r = subprocess.run([binary, "127.0.0.1", str(port)], env=dict(env, TBMQTT_TOKEN=device_token),
                               capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                fail("the program built with %s exited %d: %s" % (name, r.returncode, r.stderr))
            values = json.loads(run(admin + ["telemetry", device], cwd=work, env=env))
            if values != {"temperature": 21.5, "humidity": 40}:
                fail("the emulator has no telemetry from the %s build: %s" % (name, values))
            # Wrong token: the program reports it and fails.
            r = subprocess.run([binary, "127.0.0.1", str(port)], env=dict(env, TBMQTT_TOKEN="wrong"),
                               capture_output=True, text=True, timeout=30)
            if r.returncode != 1 or "refused_credentials" not in r.stderr:
                fail("the %s build with a wrong token: exit %d, %s" % (name, r.returncode, r.stderr))
        print("README program: built with pkg-config and with CMake against %s, ran against its emulator: ok" % how)
    finally:
        if broker is not None:
            broker.terminate()
            try:
                broker.wait(10)
            except subprocess.TimeoutExpired:
                broker.kill()
                broker.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

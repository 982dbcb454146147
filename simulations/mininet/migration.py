#!/usr/bin/python3
"""The VM-migration scenario in Mininet: livmap and real OOR 1.3 xTRs, the VM moving back and forth.

  lm<pid> (LinuxBridge, no controller; underlay 10.99.0.0/24)
    ms   `livmap serve`                     10.99.0.2  (operator API 127.0.0.1:8080 inside ms)
    xa   OOR xTR of site "local"            10.99.0.3  EID 10.16.10.0/24   (proxy-reply off)
    xb   OOR xTR of site "cloud"            10.99.0.4  EID 192.168.20.0/24 (proxy-reply on)
    xc   OOR xTR of site "corr"             10.99.0.6  EID 172.16.30.0/24  (proxy-reply off)
  hc   correspondent 172.16.30.10/24 behind xc (gateway 172.16.30.1)
  vm   the VM 10.16.10.50/24 (its own /32, TTL 1 min), gateway 10.16.10.1. The far end of its
       veth, gw0, carries the gateway (10.16.10.1/32, the same MAC at both sites) and lives in
       xa or xb: a move moves gw0 into the other xTR, so the VM keeps its NIC, address and ARP entry.

Every config comes from `livmap xtr-config` (a spec for these addresses, key lisp-interop-key,
HMAC-SHA-1). Each OOR runs under `unshare -m` with a private tmpfs on /tmp, because its API socket
path ipc:///tmp/oor-ipc is fixed. A move: gw0 into the other site's xTR; then `livmap oor-update`
(inside that OOR's namespaces) gives the new site's xTR, then the old site's, the EID database
with the VM at the new site through OOR's local API (no restart); with --switchover api,
POST /api/v1/moves {"eid":"10.16.10.50/32","site":...} runs alongside the new xTR's update.
A probe sends a UDP datagram every 1 ms from hc to the VM (echoed by the VM) for the whole
series; each move's outage is measured in the probes from it to the next move.

usage (root; `npm run build` first; Debian's python3, not a pyenv one):
  simulations/mininet/migration.py [--moves 15] [--gaps 1,5,30] [--tail 5]
      [--switchover register|api] [--out DIR] [--capture] [--cli] [--check]

Writes, through the shared results step (dist/simulations/results-cli.js), DIR/results.json,
DIR/timelines/move-N.svg, DIR/comparison.svg and a table on stdout; also DIR/probe.json (every
probe), DIR/moves.jsonl (every move's steps) and DIR/logs/ (every process's log and config).
Exit 0 every move recovered before the next one, 3 some move did not, 77 cannot run here (the
reason is printed), 2 usage or set-up error. Every process it starts is bounded by `timeout`; it
never runs `mn -c` (which deletes /tmp/*.log).
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEY = "lisp-interop-key"
API_TOKEN = "mininet-simulation-token"
GW_MAC = "02:00:00:00:10:01"  # the VM's gateway MAC, the same at both sites
VM_MAC = "02:00:00:00:10:50"
VM_EID = "10.16.10.50"
CORR = "172.16.30.10"
ECHO_PORT = 7000
RLOC = {"xa": "10.99.0.3", "xb": "10.99.0.4", "xc": "10.99.0.6"}
SITE_OF = {"xa": "local", "xb": "cloud"}
SKIP = 77


def log(text):
    sys.stderr.write("mininet scenario: %s\n" % text)
    sys.stderr.flush()


def now_ms():
    return time.time() * 1000.0


def unavailable():
    """Why this machine cannot run the scenario, or None."""
    if os.geteuid() != 0:
        return "needs root (Mininet creates network namespaces and a bridge)"
    try:
        import mininet.net  # noqa: F401  (only checking it is there)
    except ImportError:
        return "needs Debian's mininet package (apt-get install mininet) and /usr/bin/python3 (got %s)" % sys.executable
    for tool, package in (("oor", "openoverlayrouter"), ("brctl", "bridge-utils"), ("mnexec", "mininet"),
                          ("unshare", "util-linux"), ("nsenter", "util-linux"), ("node", "nodejs")):
        if shutil.which(tool) is None:
            return "needs '%s' on PATH (package %s)" % (tool, package)
    return None


def spec(vm_site, data_dir):
    """The scenario spec for `livmap xtr-config`, with the VM at `vm_site`."""
    def site(name, xtr, eid, proxy):
        return {"name": name, "underlay": "10.99.0.0/24", "eidPrefixes": [{"eid": eid, "iid": 0}],
                "key": {"alg": "hmac-sha1", "secret": KEY}, "proxyReply": proxy, "ttl": 10,
                "xtrs": [{"name": xtr, "rlocs": [{"address": RLOC[xtr], "priority": 1, "weight": 100}]}]}
    return {
        "description": "Mininet migration scenario, VM at site %s" % vm_site,
        "mapServers": ["10.99.0.2"], "mapResolvers": ["10.99.0.2"],
        "livmap": {"dataDir": data_dir, "listen": ["10.99.0.2:4342"]},
        "sites": [site("local", "xa", "10.16.10.0/24", False), site("cloud", "xb", "192.168.20.0/24", True),
                  site("corr", "xc", "172.16.30.0/24", False)],
        "vms": [{"name": "vm1", "eid": VM_EID, "iid": 0, "site": vm_site, "ttl": 1}],
    }


def write_configs(work):
    """OOR configs for each VM site (work/oor-<site>/<xtr>.conf) and livmap.json, via livmap xtr-config."""
    for vm_site in ("local", "cloud"):
        spec_file = os.path.join(work, "spec-%s.json" % vm_site)
        with open(spec_file, "w") as f:
            json.dump(spec(vm_site, os.path.join(work, "data")), f, indent=1)
        livmap_config = os.path.join(work, "livmap.json" if vm_site == "local" else "livmap-cloud.json")
        subprocess.run([os.path.join(ROOT, "bin", "livmap"), "xtr-config", "--spec", spec_file,
                        "--out", os.path.join(work, "oor-" + vm_site), "--livmap-config", livmap_config],
                       check=True, stdout=subprocess.DEVNULL)
    # The spec has no API section: the operator API listens inside ms only, with a known token.
    path = os.path.join(work, "livmap.json")
    with open(path) as f:
        config = json.load(f)
    config["api"] = {"listen": "127.0.0.1:8080", "token": API_TOKEN}
    with open(path, "w") as f:
        json.dump(config, f, indent=1)


# Run by Python inside ms: prints the HTTP status of POST /api/v1/moves (argv: token, JSON body).
POST_MOVE = """
import sys, urllib.error, urllib.request
request = urllib.request.Request("http://127.0.0.1:8080/api/v1/moves", data=sys.argv[2].encode(), method="POST",
                                 headers={"authorization": "Bearer " + sys.argv[1], "content-type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=5) as reply:
        print(reply.status)
except urllib.error.HTTPError as err:
    print(err.code, err.read().decode(errors="replace"))
"""


class ReplyWaiter(threading.Thread):
    """Notes when a running HTTP client got its reply (its HTTP status on stdout)."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client = client
        self.status = "no reply"
        self.done_at = None

    def run(self):
        self.status = self.client.communicate()[0].decode(errors="replace").strip()
        self.done_at = now_ms()


class Lab:
    def __init__(self, work, lifetime_s):
        self.work = work
        self.lifetime_s = lifetime_s
        self.procs = []  # (name, Popen), each its own session (mnexec -d): killed by group
        self.logs = []
        self.oor = {}
        self.net = None
        self.bridge = "lm%d" % (os.getpid() % 100000)

    # --- processes -------------------------------------------------------------------------
    def start(self, host, name, argv):
        """A background process in `host`'s namespace, bounded by the lab's lifetime."""
        out = open(os.path.join(self.work, name + ".log"), "w")
        self.logs.append(out)
        p = self.net[host].popen(["timeout", str(self.lifetime_s)] + argv, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((name, p))
        return p

    def start_oor(self, xtr, conf):
        # timeout runs inside the new mount namespace, so its pid is a handle on that namespace
        # for `livmap oor-update`, which finds ipc:///tmp/oor-ipc under /proc/PID/root.
        # The config is read before the tmpfs hides /tmp (the output directory may live there).
        script = ('c=$(cat %s) && mount -t tmpfs -o size=16m tmpfs /tmp && printf "%%s\\n" "$c" >/tmp/oor.conf'
                  ' && exec timeout %d oor -f /tmp/oor.conf') % (shlex.quote(conf), self.lifetime_s)
        out = open(os.path.join(self.work, "oor-%s.log" % xtr), "w")
        self.logs.append(out)
        p = self.net[xtr].popen(["unshare", "-m", "sh", "-c", script], stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(("oor-" + xtr, p))
        self.oor[xtr] = p

    def start_capture(self, path):
        """dumpcap on the underlay bridge (root namespace): every Map-Register, -Notify, -Request."""
        out = open(os.path.join(self.work, "capture.log"), "w")
        self.logs.append(out)
        p = subprocess.Popen(["timeout", str(self.lifetime_s), "dumpcap", "-q", "-i", self.bridge, "-f", "udp port 4342",
                              "-w", path], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(("capture", p))
        time.sleep(1)  # dumpcap needs a moment before it captures

    def wait_log(self, name, text, seconds):
        path = os.path.join(self.work, name + ".log")
        deadline = time.time() + seconds
        while time.time() < deadline:
            with open(path) as f:
                if text in f.read():
                    return
            time.sleep(0.05)
        with open(path) as f:
            tail = f.read()[-2000:]
        raise RuntimeError("timed out waiting for %r in %s.log:\n%s" % (text, name, tail))

    def stop_processes(self):
        for _, p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 5
        for name, p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                log("%s did not stop on SIGTERM: SIGKILL" % name)
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        for f in self.logs:
            f.close()

    # --- topology ------------------------------------------------------------------------
    def build(self):
        from mininet.net import Mininet
        from mininet.nodelib import LinuxBridge
        net = Mininet(topo=None, controller=None, switch=LinuxBridge, build=False, autoSetMacs=False)
        self.net = net
        underlay = net.addSwitch(self.bridge, cls=LinuxBridge)
        net.addHost("ms", ip="10.99.0.2/24")
        for x in ("xa", "xb", "xc"):
            net.addHost(x, ip=RLOC[x] + "/24")
        for h in ("ms", "xa", "xb", "xc"):
            net.addLink(h, underlay, intfName1=h + "-ul0")
        net.addHost("hc", ip=CORR + "/24", defaultRoute="via 172.16.30.1")
        net.addLink("hc", "xc", intfName1="hc-eth0", intfName2="xc-site0", params2={"ip": "172.16.30.1/24"})
        net.addHost("vm", ip=None)
        self.vm_link = net.addLink("vm", "xa", intfName1="vm-eth0", intfName2="gw0", addr1=VM_MAC, addr2=GW_MAC)
        net.build()
        net.start()
        # A bridge-netfilter host (e.g. after dockerd) must not filter the lab's bridged traffic.
        net[self.bridge].cmd("ip link set %s type bridge nf_call_iptables 0 nf_call_arptables 0" % self.bridge)
        for x in ("xa", "xb", "xc"):
            net[x].cmd("sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0")
        vm = net["vm"]
        vm.cmd("ip addr add %s/24 dev vm-eth0 && ip link set vm-eth0 up && ip route add default via 10.16.10.1" % VM_EID)
        self.gateway_up("xa")

    def gateway_up(self, xtr):
        # One `ip` process: each spawn costs tens of ms on a loaded 2-core machine.
        self.net[xtr].cmd("printf 'link set gw0 up\\naddr add 10.16.10.1/32 dev gw0\\nroute add %s/32 dev gw0\\n' | ip -batch -" % VM_EID)

    def move_gateway(self, src, dst):
        """The VM's link leaves `src` and comes up at `dst` (same veth, same MACs)."""
        intf = self.vm_link.intf2
        s, d = self.net[src], self.net[dst]
        s.delIntf(intf)
        intf.node = d
        d.addIntf(intf, moveIntfFn=lambda name, node: s.cmd("ip link set %s netns %d" % (name, node.pid)))
        self.gateway_up(dst)

    # --- the service and the xTRs --------------------------------------------------------
    def start_everything(self):
        livmap = os.path.join(ROOT, "bin", "livmap")
        self.start("ms", "livmap", ["node", livmap, "serve", "--config", os.path.join(self.work, "livmap.json")])
        self.wait_log("livmap", "operator API listening", 30)
        for x in ("xa", "xb", "xc"):
            self.start_oor(x, os.path.join(self.work, "oor-local", x + ".conf"))
        daemon = os.path.join(ROOT, "dist", "simulations", "netns", "daemon.js")
        self.start("vm", "echo", ["node", daemon, "echo", "--port", str(ECHO_PORT),
                                  "--lifetime-ms", str(self.lifetime_s * 1000)])
        self.wait_log("echo", "ready", 20)

    def wait_for_traffic(self, seconds):
        """Probes hc -> VM until one is answered (each xTR resolves the other's EID on first use)."""
        daemon = os.path.join(ROOT, "dist", "simulations", "netns", "daemon.js")
        out, err, code = self.net["hc"].pexec(["node", daemon, "warmup", "--bind", CORR, "--to", "%s:%d" % (VM_EID, ECHO_PORT),
                                               "--timeout-ms", str(seconds * 1000)])
        if code != 0:
            raise RuntimeError("the correspondent never reached the VM before any move: %s" % (out + err).strip())
        return out.strip()

    def wait_probe_started(self, seconds):
        """Until the probe has bound its socket (it sends from then on): node can take over a
        second to start on a loaded machine."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.net["hc"].cmd("ss -Huan src %s" % CORR).strip():
                return
            time.sleep(0.05)
        raise RuntimeError("the probe did not start within %d s" % seconds)

    def oor_update(self, xtr, vm_site):
        """`livmap oor-update` in the xTR's network namespace, reaching OOR's API socket in its own
        /tmp through /proc/PID/root (entering its mount namespace would hide this checkout when it
        lives under /tmp). Returns (when OOR answered OK, or None; a note for the results)."""
        conf = os.path.join(self.work, "oor-" + vm_site, xtr + ".conf")
        pid = self.oor[xtr].pid
        argv = ["nsenter", "-t", str(pid), "-n", "--",
                os.path.join(ROOT, "bin", "livmap"), "oor-update", "--conf", conf,
                "--api", "ipc:///proc/%d/root/tmp/oor-ipc" % pid,
                "--nudge", RLOC[xtr] + ":4342", "--timeout", "3000", "--json"]
        spawned = now_ms()
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=15)
        exited = now_ms()
        out = r.stdout.decode(errors="replace").strip()
        try:
            reply = json.loads(out.split("\n")[-1])
        except ValueError:
            reply = {}
        if r.returncode != 0 or reply.get("ok") is not True:
            return None, "exit %d: %s %s" % (r.returncode, out, r.stderr.decode(errors="replace").strip())
        # The verb's own clock: when it started (after node loaded it) and when OOR answered OK.
        answered = reply["startedAt"] + reply["totalMs"]
        return answered, ("exit 0: OK: holds %s; node started the verb %.0f ms after the spawn, the verb took %.1f ms "
                          "(OOR replied %.1f ms after the request), the process exited %.0f ms after that") % (
            ", ".join(reply.get("eids", [])), reply["startedAt"] - spawned, reply["totalMs"], reply.get("replyMs", -1), exited - answered)

    def start_post_move(self, site):
        """POST /api/v1/moves from inside ms (the API listens there only), running alongside."""
        body = json.dumps({"eid": VM_EID + "/32", "site": site})
        client = self.net["ms"].popen([sys.executable, "-c", POST_MOVE, API_TOKEN, body],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        post = ReplyWaiter(client)
        post.start()
        return post

    def stop(self):
        self.stop_processes()
        if self.net is not None:
            self.net.stop()
        leftover = subprocess.run(["ip", "link", "show", self.bridge], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if leftover.returncode == 0:
            raise RuntimeError("bridge %s is still there after net.stop()" % self.bridge)


def parse_gaps(text):
    gaps = [float(g) for g in text.split(",") if g.strip()]
    if not gaps or any(g < 0.5 or g > 600 for g in gaps):
        raise argparse.ArgumentTypeError("seconds between moves, each 0.5..600, comma-separated")
    return gaps


def run_series(lab, args, daemon):
    """The moves; returns their records (the shared results format's MoveRecord, times in epoch ms)."""
    gaps = [args.gaps[i % len(args.gaps)] for i in range(args.moves - 1)]
    # Slack: a move whose steps overrun delays the next one.
    probe_s = args.pre + sum(gaps) + args.tail + 3
    probe = lab.start("hc", "probe", ["node", daemon, "probe", "--bind", CORR, "--to", "%s:%d" % (VM_EID, ECHO_PORT),
                                      "--interval-ms", "1", "--duration-ms", str(int(probe_s * 1000))])
    lab.wait_probe_started(20)
    next_at = time.time() + args.pre
    at = "xa"
    moves = []
    for i in range(args.moves):
        to = "xb" if at == "xa" else "xa"
        old_site, new_site = SITE_OF[at], SITE_OF[to]
        time.sleep(max(0.0, next_at - time.time()))
        move = {"index": i + 1, "from": old_site, "to": new_site, "gapS": gaps[i - 1] if i > 0 else 0}
        move["moveAt"] = now_ms()
        lab.move_gateway(at, to)
        move["linkMovedAt"] = now_ms()
        # At switchover the API call and the new site's xTR update run side by side.
        post = lab.start_post_move(new_site) if args.switchover == "api" else None
        answered, note = lab.oor_update(to, new_site)
        move["newXtrUpdatedAt"] = answered
        notes = ["oor-update %s (new site): %s" % (to, note)]
        if post is not None:
            post.join(10)
            if post.status == "200":
                move["apiMoveAt"] = post.done_at
            notes.append("POST /api/v1/moves: HTTP %s" % post.status)
        answered, note = lab.oor_update(at, new_site)
        move["oldXtrUpdatedAt"] = answered
        notes.append("oor-update %s (old site): %s" % (at, note))
        move["notes"] = notes
        moves.append(move)
        def after(key):
            return "after %.1f ms" % (move[key] - move["moveAt"]) if move[key] is not None else "FAILED"
        log("move %d %s -> %s: link moved after %.1f ms, new xTR took the VM %s, old xTR dropped it %s%s" % (
            i + 1, old_site, new_site, move["linkMovedAt"] - move["moveAt"], after("newXtrUpdatedAt"),
            after("oldXtrUpdatedAt"), ", " + notes[1] if post is not None else ""))
        at = to
        next_at = move["moveAt"] / 1000.0 + (gaps[i] if i < len(gaps) else args.tail)
    probe_end = moves[-1]["moveAt"] + args.tail * 1000
    probe.wait(timeout=probe_s + 30)
    return moves, probe_end


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=15, help="number of moves, alternating local->cloud, cloud->local (15)")
    parser.add_argument("--gaps", type=parse_gaps, default=[1.0, 5.0, 30.0],
                        help="seconds between moves, comma-separated, used in turn (1,5,30)")
    parser.add_argument("--tail", type=float, default=5.0, help="seconds of probing after the last move (5)")
    parser.add_argument("--switchover", choices=("register", "api"), default="register",
                        help="register: the xTR updates alone tell livmap; api: also POST /api/v1/moves at switchover")
    parser.add_argument("--pre", type=float, default=1.0, help="seconds of probing before the first move (1)")
    parser.add_argument("--out", default=os.path.join(ROOT, "sim-results", "mininet"))
    parser.add_argument("--capture", action="store_true",
                        help="also capture the underlay's LISP control traffic (UDP 4342) with dumpcap into DIR/underlay.pcapng")
    parser.add_argument("--cli", action="store_true", help="open the Mininet CLI after the set-up instead of moving the VM")
    parser.add_argument("--check", action="store_true", help="only say whether this machine can run it (exit 0 or 77)")
    args = parser.parse_args()
    if not 1 <= args.moves <= 100:
        parser.error("--moves must be 1..100")
    if not 0.5 <= args.tail <= 600:
        parser.error("--tail must be 0.5..600 s")
    why = unavailable()
    if why:
        log("SKIP: " + why)
        return SKIP
    if args.check:
        return 0
    if args.capture and shutil.which("dumpcap") is None:
        log("--capture needs dumpcap (apt-get install tshark)")
        return 2
    daemon = os.path.join(ROOT, "dist", "simulations", "netns", "daemon.js")
    results_cli = os.path.join(ROOT, "dist", "simulations", "results-cli.js")
    for path in (daemon, results_cli, os.path.join(ROOT, "dist", "mapserver", "cli", "main.js")):
        if not os.path.exists(path):
            log("no %s: run `npm run build` first" % path)
            return 2
    # A test runner's loader options (tap's TypeScript import hooks) would slow every node start.
    os.environ.pop("NODE_OPTIONS", None)

    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    # Not under /tmp: every OOR sees a private tmpfs there, and its config must stay visible.
    work = tempfile.mkdtemp(prefix="work-", dir=out_dir)
    write_configs(work)
    series_s = args.pre + sum(args.gaps[i % len(args.gaps)] for i in range(args.moves - 1)) + args.tail
    lab = Lab(work, int(series_s + 180))

    from mininet.log import setLogLevel
    setLogLevel("warning")

    def on_signal(_signum, _frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    cleanup_error = []

    log("%d moves (gaps %s s, tail %s s), switchover %s, OOR 1.3 xTRs, bridge %s" % (
        args.moves, ",".join("%g" % g for g in args.gaps), "%g" % args.tail, args.switchover, lab.bridge))
    try:
        lab.build()
        if args.capture:
            lab.start_capture(os.path.join(out_dir, "underlay.pcapng"))
        lab.start_everything()
        log("traffic flows hc -> VM (%s)" % lab.wait_for_traffic(30))
        if args.cli:
            from mininet.cli import CLI
            CLI(lab.net)
            return 0
        moves, probe_end = run_series(lab, args, daemon)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    except Exception as err:  # a set-up or tool failure: exit 2, not the "did not recover" 3
        log("failed: %s: %s" % (type(err).__name__, err))
        return 2
    finally:
        try:
            lab.stop()
        except Exception as err:  # reported, and the run fails, after the logs are kept
            cleanup_error.append(err)
        logs = os.path.join(out_dir, "logs")
        os.makedirs(logs, exist_ok=True)
        for name in os.listdir(work):
            if name.endswith(".log") or name.endswith(".json"):
                shutil.copy(os.path.join(work, name), logs)
        for vm_site in ("local", "cloud"):
            for name in os.listdir(os.path.join(work, "oor-" + vm_site)):
                shutil.copy(os.path.join(work, "oor-" + vm_site, name), os.path.join(logs, "vm-%s-%s" % (vm_site, name)))
        shutil.rmtree(work, ignore_errors=True)
        if cleanup_error:
            log("clean-up FAILED: %s" % cleanup_error[0])
        else:
            log("cleaned up: processes stopped, %s deleted, Mininet stopped" % lab.bridge)
    if cleanup_error:
        return 2

    shutil.copy(os.path.join(out_dir, "logs", "probe.log"), os.path.join(out_dir, "probe.json"))
    with open(os.path.join(out_dir, "moves.jsonl"), "w") as f:
        for move in moves:
            f.write(json.dumps(move) + "\n")
    # The shared results step: results.json, timelines/move-N.svg, comparison.svg, a table.
    return subprocess.run(["node", results_cli, "--probe", os.path.join(out_dir, "probe.json"),
                           "--moves", os.path.join(out_dir, "moves.jsonl"), "--emulator", "mininet", "--xtr", "oor",
                           "--switchover", args.switchover, "--probe-end", "%.3f" % probe_end, "--out", out_dir]).returncode


if __name__ == "__main__":
    sys.exit(main())

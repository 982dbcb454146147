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
path ipc:///tmp/oor-ipc is fixed. A move: gw0 into the other site's xTR, then (with
--switchover api) POST /api/v1/moves {"eid":"10.16.10.50/32","site":...}, then `livmap oor-update`
gives the new site's xTR and then the old one their new local EID database through OOR's local
API (no restart). A probe sends a UDP datagram every 1 ms from hc to the VM (echoed by the VM) for
the whole series; each move's outage is measured in the probes between it and the next move.

usage (root; `npm run build` first; Debian's python3, not a pyenv one):
  /usr/bin/python3 simulations/mininet/migration.py [--moves 15] [--gaps 1,2,5,10]
      [--switchover none|api] [--out DIR] [--cli] [--check]

Writes DIR/mininet-moves.json (every move's times and outage) and DIR/probe.json (every probe),
and copies the logs to DIR/logs. Exit 0 when every move recovered before the next one, 1 when
one did not, 77 = cannot run here (the reason is printed), 2 = usage or set-up error.
Everything it starts stops at --lifetime at the latest; it never runs `mn -c` (which deletes
/tmp/*.log).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
XTR_OF = {"local": "xa", "cloud": "xb"}
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
    for tool, package in (("oor", "openoverlayrouter"), ("brctl", "bridge-utils"), ("ping", "iputils-ping"),
                          ("mnexec", "mininet"), ("unshare", "util-linux"), ("nsenter", "util-linux"),
                          ("curl", "curl"), ("node", "nodejs")):
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
        # for `nsenter -m` (where `livmap oor-update` finds ipc:///tmp/oor-ipc).
        script = "mount -t tmpfs -o size=16m tmpfs /tmp && exec timeout %d oor -f %s" % (self.lifetime_s, conf)
        out = open(os.path.join(self.work, "oor-%s.log" % xtr), "w")
        self.logs.append(out)
        p = self.net[xtr].popen(["unshare", "-m", "sh", "-c", script], stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(("oor-" + xtr, p))
        self.oor[xtr] = p

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
        """Pings hc -> VM until one answers (each xTR resolves the other's EID on first use)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.net["hc"].cmd("ping -c1 -W1 %s >/dev/null; echo $?" % VM_EID).strip() == "0":
                return
        raise RuntimeError("no traffic from hc to the VM within %d s after the xTRs started" % seconds)

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
        """`livmap oor-update` in the xTR's network and mount namespaces (its own /tmp)."""
        conf = os.path.join(self.work, "oor-" + vm_site, xtr + ".conf")
        argv = ["nsenter", "-t", str(self.oor[xtr].pid), "-m", "-n", "--",
                os.path.join(ROOT, "bin", "livmap"), "oor-update", "--conf", conf,
                "--nudge", RLOC[xtr] + ":4342", "--timeout", "3000"]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=15)
        return r.returncode, r.stdout.decode(errors="replace").strip()

    def post_move(self, site):
        body = json.dumps({"eid": VM_EID + "/32", "site": site})
        out, err, code = self.net["ms"].pexec(
            ["curl", "-sS", "-m", "5", "-w", "\n%{http_code}", "-X", "POST", "-H", "authorization: Bearer " + API_TOKEN,
             "-H", "content-type: application/json", "--data", body, "http://127.0.0.1:8080/api/v1/moves"])
        lines = (out + err).strip().split("\n")
        return (lines[-1] if code == 0 else "curl exit %d" % code), "\n".join(lines[:-1])

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
        raise argparse.ArgumentTypeError("--gaps: seconds between moves, each 0.5..600, comma-separated")
    return gaps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=15, help="number of moves, alternating local->cloud, cloud->local (15)")
    parser.add_argument("--gaps", type=parse_gaps, default=[1.0, 2.0, 5.0, 10.0],
                        help="seconds from each move to the next, comma-separated, used in turn (1,2,5,10)")
    parser.add_argument("--switchover", choices=("none", "api"), default="none",
                        help="api: POST /api/v1/moves at switchover, before the xTRs are updated")
    parser.add_argument("--pre", type=float, default=1.0, help="seconds of probing before the first move (1)")
    parser.add_argument("--out", default=os.path.join(ROOT, "sim-results", "mininet"))
    parser.add_argument("--cli", action="store_true", help="open the Mininet CLI after the set-up instead of moving the VM")
    parser.add_argument("--check", action="store_true", help="only say whether this machine can run it (exit 0 or 77)")
    args = parser.parse_args()
    if not 1 <= args.moves <= 100:
        parser.error("--moves must be 1..100")
    why = unavailable()
    if why:
        log("SKIP: " + why)
        return SKIP
    if args.check:
        return 0
    daemon = os.path.join(ROOT, "dist", "simulations", "netns", "daemon.js")
    if not os.path.exists(daemon):
        log("no %s: run `npm run build` first" % daemon)
        return 2

    gaps = [args.gaps[i % len(args.gaps)] for i in range(args.moves)]
    # Slack: a move whose steps overrun delays the next one.
    probe_s = args.pre + sum(gaps) + 3
    lifetime_s = int(probe_s + 120)
    os.makedirs(args.out, exist_ok=True)
    # Not under /tmp: every OOR sees a private tmpfs there, and its config must stay visible.
    work = tempfile.mkdtemp(prefix="work-", dir=os.path.abspath(args.out))
    write_configs(work)

    from mininet.log import setLogLevel
    setLogLevel("warning")
    lab = Lab(work, lifetime_s)
    interrupted = []

    def on_signal(signum, _frame):
        interrupted.append(signum)
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)

    moves = []
    try:
        lab.build()
        lab.start_everything()
        lab.wait_for_traffic(30)
        log("OOR xTRs registered and resolving; traffic flows hc -> VM")
        if args.cli:
            from mininet.cli import CLI
            CLI(lab.net)
            return 0
        probe = lab.start("hc", "probe", ["node", daemon, "probe", "--bind", CORR, "--to", "%s:%d" % (VM_EID, ECHO_PORT),
                                          "--interval-ms", "1", "--duration-ms", str(int(probe_s * 1000))])
        lab.wait_probe_started(20)
        start = time.time() + args.pre
        at = "xa"
        for i, gap in enumerate(gaps):
            to = "xb" if at == "xa" else "xa"
            old_site, new_site = SITE_OF[at], SITE_OF[to]
            time.sleep(max(0.0, start - time.time()))
            move = {"move": i + 1, "direction": "%s-to-%s" % (old_site, new_site), "gapS": gap}
            move["moveAt"] = now_ms()
            lab.move_gateway(at, to)
            move["relinkedAt"] = now_ms()
            if args.switchover == "api":
                status, body = lab.post_move(new_site)
                move["apiAt"], move["apiStatus"], move["apiReply"] = now_ms(), status, body
            rc, out = lab.oor_update(to, new_site)
            move["newXtrUpdatedAt"], move["newXtrUpdate"] = now_ms(), {"xtr": to, "exit": rc, "output": out}
            rc, out = lab.oor_update(at, new_site)
            move["oldXtrUpdatedAt"], move["oldXtrUpdate"] = now_ms(), {"xtr": at, "exit": rc, "output": out}
            moves.append(move)
            log("move %d %s: relink %.1f ms, new xTR updated after %.1f ms (exit %d), old after %.1f ms (exit %d)%s" % (
                i + 1, move["direction"], move["relinkedAt"] - move["moveAt"], move["newXtrUpdatedAt"] - move["moveAt"],
                move["newXtrUpdate"]["exit"], move["oldXtrUpdatedAt"] - move["moveAt"], move["oldXtrUpdate"]["exit"],
                ", POST /moves %s" % move["apiStatus"] if "apiStatus" in move else ""))
            at = to
            start += gap
        probe.wait(timeout=probe_s + 30)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    except Exception as err:  # a set-up or tool failure: exit 2, not the "did not recover" 1
        log("failed: %s: %s" % (type(err).__name__, err))
        return 2
    finally:
        lab.stop()
        logs = os.path.join(args.out, "logs")
        os.makedirs(logs, exist_ok=True)
        for name in os.listdir(work):
            if name.endswith(".log") or name.endswith(".conf") or name.endswith(".json"):
                shutil.copy(os.path.join(work, name), logs)
        for vm_site in ("local", "cloud"):
            for name in os.listdir(os.path.join(work, "oor-" + vm_site)):
                shutil.copy(os.path.join(work, "oor-" + vm_site, name), os.path.join(logs, "%s-vm-%s" % (name, vm_site)))
        shutil.rmtree(work, ignore_errors=True)
        log("cleaned up: processes stopped, %s deleted, Mininet stopped" % lab.bridge)

    with open(os.path.join(args.out, "logs", "probe.log")) as f:
        lines = [l for l in f.read().strip().split("\n") if l.startswith("{")]
    if not lines:
        log("the probe printed nothing")
        return 2
    probes = json.loads(lines[-1])
    with open(os.path.join(args.out, "probe.json"), "w") as f:
        json.dump(probes, f)
    return analyze(args, moves, probes, daemon)


def analyze(args, moves, probes, daemon):
    """Each move's outage, measured in the probes sent from 0.5 s before it until its gap ended
    or the next move began, whichever came first."""
    slices = os.path.join(args.out, "slices")
    os.makedirs(slices, exist_ok=True)
    runs = []
    for i, move in enumerate(moves):
        end = move["moveAt"] + move["gapS"] * 1000
        if i + 1 < len(moves):
            end = min(end, moves[i + 1]["moveAt"])
        keep = [k for k, t in enumerate(probes["sendWall"]) if move["moveAt"] - 500 <= t < end]
        part = {"intervalMs": probes["intervalMs"], "sendWall": [probes["sendWall"][k] for k in keep],
                "rttMs": [probes["rttMs"][k] for k in keep]}
        path = os.path.join(slices, "move-%02d.json" % move["move"])
        with open(path, "w") as f:
            json.dump(part, f)
        runs += ["--run", "%s,%r,%r,%s" % (path, move["moveAt"], move["newXtrUpdatedAt"], move["direction"])]
    result = json.loads(subprocess.run(["node", daemon, "analyze"] + runs, check=True, stdout=subprocess.PIPE).stdout)
    failed = []
    for move, outage in zip(moves, result["runs"]):
        move["outage"] = outage
        # Signed: traffic may come back before the verb's process has exited and been reaped.
        move["backAfterNewXtrUpdatedMs"] = None if outage["censored"] else round(
            move["moveAt"] + outage["gapToMs"] - move["newXtrUpdatedAt"], 1)
        move["recovered"] = not outage["censored"]
        if not move["recovered"]:
            failed.append(move["move"])
    report = {
        "scenario": "mininet", "xtr": "oor", "switchover": args.switchover,
        "measure": result["downtime"] + "; backAfterNewXtrUpdatedMs: the first answered probe after the outage minus the moment `livmap oor-update` returned for the new site's xTR (negative: before it returned)",
        "moves": moves,
    }
    with open(os.path.join(args.out, "mininet-moves.json"), "w") as f:
        json.dump(report, f, indent=1)
    for move in moves:
        o = move["outage"]
        print("move %2d %-15s %9.1f ms lost (%5d probes), traffic back %s after the new xTR was updated%s" % (
            move["move"], move["direction"], o["downtimeMs"], o["lostProbes"],
            "%.1f ms" % move["backAfterNewXtrUpdatedMs"] if move["backAfterNewXtrUpdatedMs"] is not None else "never",
            "" if move["recovered"] else ": NOT RECOVERED before the next move (%.0f s)" % move["gapS"]))
    if failed:
        print("moves that did not recover: %s" % ", ".join(str(m) for m in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# The VM-migration scenario in Linux network namespaces, with real packets.
#
#   underlay bridge (namespace <P>-ul, 10.99.0.0/24)
#     <P>-ms  livmap            10.99.0.2
#     <P>-xa  xTR local         10.99.0.3   EID 10.16.10.0/24 (P=0)
#     <P>-xb  xTR cloud         10.99.0.4   EID 192.168.20.0/24 (P=1)
#     <P>-xc  xTR corr          10.99.0.6   EID 172.16.30.0/24, correspondent 172.16.30.10 (P=0)
#   <P>-vm  the VM 10.16.10.50/24, gateway 10.16.10.1; the other end of its veth (vm0) lives in
#           xa or xb, and a move is `ip link set vm0 netns <other site>`.
#
# Emulated xTRs (default): simulations/netns/daemon.js xtr on the RLOC, with a TUN device lisp0
# served by tun.py: the kernel routes remote EIDs into lisp0, the xTR LISP-encapsulates them on
# UDP 4341 across the underlay, the far xTR decapsulates and writes them into its lisp0.
# With `--xtr oor` and an `oor` binary on PATH, real OOR 1.3 xTRs run instead, from configs
# written by `livmap xtr-config`; a move restarts both site xTRs with the new database (OOR 1.3
# cannot change its EIDs at runtime without LMAPI). Not tried here: no oor binary.
#
# The probe is a UDP datagram every 1 ms from 172.16.30.10 to 10.16.10.50:7000 (echoed by the
# VM); downtime = longest gap in answered probes around the move (as in the loopback scenario).
# Moves alternate local -> cloud, cloud -> local. Everything runs under `timeout`, and the
# EXIT trap kills what it started and deletes every namespace it created (links and the bridge
# live inside them, so nothing is left in the root namespace).
#
# The old emulated xTR withdraws the VM's /32 (Map-Register with TTL 0) when it leaves, which
# OOR never does: livmap keeps a re-registering ETR's first-registration time, so without the
# withdrawal a VM moving *back* to an xTR whose old registration has not expired (180 s) stays
# bound to the other xTR. --no-withdraw shows that (every second move then fails).
#
# usage: simulations/netns/run.sh [--runs N] [--mobility on|off] [--time-scale S] [--no-withdraw]
#                                 [--keep-old-registering MS] [--xtr emulated|oor] [--out DIR]
# needs: root, iproute2 with netns, /dev/net/tun, python3, node, and `npm run build` first
# (or LIVMAP_SIM_JS=<dir with simulations/netns/daemon.js>). Exit 77 = skipped.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
JS=${LIVMAP_SIM_JS:-$ROOT/dist}
RUNS=3
MOBILITY=on
SCALE=1
KEEP=0
WITHDRAW=withdraw
XTR=emulated
OUT=$ROOT/sim-results/netns
KEY=livmap-netns-key
PROBE_MS=2500   # probing per move
PRE_S=1.0       # probing before the move (includes the probe's start and first resolution)

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --mobility) MOBILITY=$2; shift 2 ;;
    --time-scale) SCALE=$2; shift 2 ;;
    --keep-old-registering) KEEP=$2; shift 2 ;;
    --no-withdraw) WITHDRAW=; shift ;;
    --xtr) XTR=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$RUNS" =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] && [ "$RUNS" -le 50 ] || { echo "--runs must be 1..50" >&2; exit 2; }

skip() { echo "SKIP netns scenario: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || skip "needs root and iproute2 'ip'"
PROBE_NS="lvsprobe$$"
ip netns add "$PROBE_NS" >/dev/null 2>&1 || skip "'ip netns add' failed: needs root with CAP_SYS_ADMIN/CAP_NET_ADMIN"
ip netns del "$PROBE_NS"
[ -c /dev/net/tun ] || skip "needs /dev/net/tun"
command -v node >/dev/null 2>&1 || skip "needs node"
command -v python3 >/dev/null 2>&1 || skip "needs python3 (tun.py)"
if [ "$XTR" = oor ]; then command -v oor >/dev/null 2>&1 || skip "--xtr oor but no 'oor' binary on PATH"; fi
[ -f "$JS/simulations/netns/daemon.js" ] || { echo "no $JS/simulations/netns/daemon.js: run 'npm run build' first" >&2; exit 2; }

DAEMON="$JS/simulations/netns/daemon.js"
P="lvs$$"
NAMES=(ul ms xa xb xc vm)
LIFE=$(( 20 + RUNS * 6 ))   # seconds every process may live at most
PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/livmap-netns.XXXXXX")

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # Each process was started in its own process group (setsid): TERM the groups, KILL stragglers.
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 30); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for n in "${NAMES[@]}"; do ip netns del "$P-$n" 2>/dev/null || true; done
  if [ -d "$OUT" ]; then cp "$WORK"/*.log "$OUT"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns() { echo "$P-$1"; }
nsx() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
now_ms() { local t; t=$(date +%s%N); echo "${t:0:-6}.${t: -6:3}"; }
wait_for() { # file pattern seconds
  local deadline=$(( $(date +%s) + $3 ))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -le "$deadline" ] || { echo "timed out waiting for '$2' in $(basename "$1")" >&2; tail -5 "$1" >&2 || true; return 1; }
    sleep 0.05
  done
}
start() { # name log cmd... : background, bounded by timeout, remembered for cleanup
  local n=$1 log=$2; shift 2
  setsid ip netns exec "$(ns "$n")" timeout "$LIFE" "$@" >"$WORK/$log" 2>&1 &
  PIDS+=($!)
}

echo "netns scenario: prefix $P, $RUNS move(s), mobility $MOBILITY, xTRs $XTR, old xTR ${WITHDRAW:-does not withdraw}" >&2
for n in "${NAMES[@]}"; do
  ip netns add "$(ns "$n")"
  ip -n "$(ns "$n")" link set lo up
done
ip -n "$(ns ul)" link add br0 type bridge
ip -n "$(ns ul)" link set br0 up

underlay() { # role address
  ip -n "$(ns "$1")" link add ul0 type veth peer name "$1" netns "$(ns ul)"
  ip -n "$(ns ul)" link set "$1" master br0 up
  ip -n "$(ns "$1")" addr add "$2/24" dev ul0
  ip -n "$(ns "$1")" link set ul0 up
}
underlay ms 10.99.0.2
underlay xa 10.99.0.3
underlay xb 10.99.0.4
underlay xc 10.99.0.6

for x in xa xb xc; do
  nsx "$x" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  if [ "$XTR" = emulated ]; then
    ip -n "$(ns "$x")" tuntap add dev lisp0 mode tun
    ip -n "$(ns "$x")" link set lisp0 up
  fi
done

# The VM and its gateway side (same MAC at both sites, so the VM's ARP entry stays valid).
ip -n "$(ns vm)" link add eth0 type veth peer name vm0 netns "$(ns xa)"
ip -n "$(ns vm)" addr add 10.16.10.50/24 dev eth0
ip -n "$(ns vm)" link set eth0 up
ip -n "$(ns vm)" route add default via 10.16.10.1
ip -n "$(ns xa)" link set vm0 address 02:00:00:00:10:01
vm_side() { # site: give vm0 the gateway address and the VM's host route there
  ip -n "$(ns "$1")" -batch - <<EOF
addr add 10.16.10.1/32 dev vm0
link set vm0 up
route add 10.16.10.50/32 dev vm0
EOF
}
vm_side xa
ip -n "$(ns xc)" addr add 172.16.30.10/32 dev lo

if [ "$XTR" = emulated ]; then
  # Remote EIDs go into lisp0; a VM that left is blackholed (no ICMP storms through the tunnel).
  for r in 172.16.30.0/24 192.168.20.0/24; do ip -n "$(ns xa)" route add "$r" dev lisp0; done
  for r in 172.16.30.0/24 10.16.10.0/24; do ip -n "$(ns xb)" route add "$r" dev lisp0; done
  for r in 10.16.10.0/24 192.168.20.0/24; do ip -n "$(ns xc)" route add "$r" dev lisp0; done
  for x in xa xb; do ip -n "$(ns "$x")" route add blackhole 10.16.10.50/32 metric 100; done
fi

start ms ms.log node "$DAEMON" ms --listen 10.99.0.2:4342 --key "$KEY" --mobility "$MOBILITY" \
  --site local=10.16.10.0/24 --site cloud=192.168.20.0/24 --site corr=172.16.30.0/24 --lifetime-ms $(( LIFE * 1000 - 1000 ))
wait_for "$WORK/ms.log" ready 15

oor_configs() { # dir vm-site: OOR configs for the VM at that site, via livmap xtr-config
  cat >"$WORK/spec-$2.json" <<EOF
{
  "description": "netns migration scenario, VM at $2",
  "mapServers": ["10.99.0.2"], "mapResolvers": ["10.99.0.2"],
  "livmap": { "dataDir": "./data", "listen": ["10.99.0.2:4342"] },
  "sites": [
    { "name": "local", "underlay": "10.99.0.0/24", "eidPrefixes": [{ "eid": "10.16.10.0/24", "iid": 0 }], "key": { "alg": "hmac-sha1", "secret": "$KEY" }, "proxyReply": false, "ttl": 10,
      "xtrs": [{ "name": "xa", "rlocs": [{ "address": "10.99.0.3", "priority": 1, "weight": 100 }] }] },
    { "name": "cloud", "underlay": "10.99.0.0/24", "eidPrefixes": [{ "eid": "192.168.20.0/24", "iid": 0 }], "key": { "alg": "hmac-sha1", "secret": "$KEY" }, "proxyReply": true, "ttl": 10,
      "xtrs": [{ "name": "xb", "rlocs": [{ "address": "10.99.0.4", "priority": 1, "weight": 100 }] }] },
    { "name": "corr", "underlay": "10.99.0.0/24", "eidPrefixes": [{ "eid": "172.16.30.0/24", "iid": 0 }], "key": { "alg": "hmac-sha1", "secret": "$KEY" }, "proxyReply": false, "ttl": 10,
      "xtrs": [{ "name": "xc", "rlocs": [{ "address": "10.99.0.6", "priority": 1, "weight": 100 }] }] }
  ],
  "vms": [{ "name": "vm1", "eid": "10.16.10.50", "iid": 0, "site": "$2", "ttl": 1 }]
}
EOF
  node "$ROOT/bin/livmap" xtr-config --spec "$WORK/spec-$2.json" --out "$1" >&2
}

declare -A RLOC=([xa]=10.99.0.3 [xb]=10.99.0.4 [xc]=10.99.0.6)
declare -A EID=([xa]=10.16.10.0/24 [xb]=192.168.20.0/24 [xc]=172.16.30.0/24)
declare -A PROXY=([xa]=no [xb]=yes [xc]=no)
declare -A OORPID=()

if [ "$XTR" = emulated ]; then
  for x in xa xb xc; do
    start "$x" "tun-$x.log" python3 "$HERE/tun.py" lisp0 5001 5002 "$LIFE"
    wait_for "$WORK/tun-$x.log" ready 10
    host=(); [ "$x" = xa ] && host=(--host 10.16.10.50)
    mkfifo "$WORK/ctl-$x"
    start "$x" "xtr-$x.log" node "$DAEMON" xtr --name "$x" --rloc "${RLOC[$x]}" --eid "${EID[$x]}" "${host[@]}" \
      --ms 10.99.0.2:4342 --key "$KEY" --proxy-reply "${PROXY[$x]}" --time-scale "$SCALE" \
      --tun 127.0.0.1:5001 --site-port 5002 --ctl-fifo "$WORK/ctl-$x" --lifetime-ms $(( LIFE * 1000 - 1000 ))
  done
  for x in xa xb xc; do wait_for "$WORK/xtr-$x.log" '"type":"registered"' 10; done
  wait_for "$WORK/xtr-xa.log" '"detail":"10.16.10.50/32"' 10
else
  oor_configs "$WORK/oor-local" local
  oor_configs "$WORK/oor-cloud" cloud
  for x in xa xb xc; do
    start "$x" "oor-$x.log" oor -f "$WORK/oor-local/$x.conf"
    OORPID[$x]=${PIDS[-1]}
  done
  sleep 3   # OOR sleeps ~2 s at start without a proxy-ETR
fi

start vm echo.log node "$DAEMON" echo --port 7000 --lifetime-ms $(( LIFE * 1000 - 1000 ))
wait_for "$WORK/echo.log" ready 10

control() { # site command: to the emulated xTR's command FIFO (a builtin: no fork mid-move)
  echo "$2" >"$WORK/ctl-$1"
}

mkdir -p "$OUT"
ANALYZE=()
site=xa
for i in $(seq 1 "$RUNS"); do
  if [ "$site" = xa ]; then to=xb; dir=local-to-cloud; else to=xa; dir=cloud-to-local; fi
  start xc "probe-$i.log" node "$DAEMON" probe --bind 172.16.30.10 --to 10.16.10.50:7000 --interval-ms 1 --duration-ms "$PROBE_MS" --lifetime-ms $(( PROBE_MS + 5000 ))
  probe_pid=${PIDS[-1]}
  sleep "$PRE_S"
  move_at=$(now_ms)
  ip -n "$(ns "$site")" link set vm0 netns "$(ns "$to")"
  vm_side "$to"
  if [ "$XTR" = emulated ]; then
    control "$to" "attach 10.16.10.50"
    control "$site" "detach 10.16.10.50 $KEEP $WITHDRAW"
  else
    # OOR 1.3: restart both site xTRs with the VM in the new site's database.
    target=$([ "$to" = xb ] && echo cloud || echo local)
    for x in "$site" "$to"; do
      kill -TERM -- "-${OORPID[$x]}" 2>/dev/null || true
      start "$x" "oor-$x-$i.log" oor -f "$WORK/oor-$target/$x.conf"
      OORPID[$x]=${PIDS[-1]}
    done
  fi
  move_done=$(now_ms)
  wait "$probe_pid" || true
  cp "$WORK/probe-$i.log" "$OUT/probe-$i.json"
  ANALYZE+=(--run "$OUT/probe-$i.json,$move_at,$move_done,$dir")
  echo "move $i ($dir) done" >&2
  site=$to
done

node "$DAEMON" analyze "${ANALYZE[@]}" >"$OUT/netns-results.json"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const x of r.runs) console.log(`${x.direction}: ${x.downtimeMs} ms lost (${x.lostProbes} probes), move commands took ${x.moveCommandsMs} ms, traffic back ${x.backAfterMoveDoneMs} ms after them${x.censored ? ", CENSORED" : ""}`);
  console.log(`median ${r.summary.median} ms, mean ${r.summary.mean} ms, p95 ${r.summary.p95} ms over ${r.summary.count} moves; back after the move commands: median ${r.backAfterMoveDone.median} ms`);
' "$OUT/netns-results.json"
echo "results: $OUT/netns-results.json" >&2

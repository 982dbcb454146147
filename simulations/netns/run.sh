#!/usr/bin/env bash
# The VM-migration scenario in Linux network namespaces, as users run it: the real livmap service
# (`bin/livmap serve`), real Open Overlay Router 1.3 xTRs (or emulated ones), the VM moving back
# and forth, every outage measured by a 1 ms UDP probe.
#
#   underlay bridge br0 (namespace <P>-ul, 10.99.0.0/24, gateway 10.99.0.1)
#     <P>-ms  livmap serve     10.99.0.2   (REST API on 127.0.0.1:8080 inside <P>-ms)
#     <P>-xa  xTR local        10.99.0.3   EID 10.16.10.0/24 (P=0)
#     <P>-xb  xTR cloud        10.99.0.4   EID 192.168.20.0/24 (P=1)
#     <P>-xc  xTR corr         10.99.0.6   EID 172.16.30.0/24, correspondent 172.16.30.10 (P=0)
#     <P>-rp  (--replay only)  10.99.0.9   another underlay address that re-sends a captured Map-Register
#   <P>-vm  the VM 10.16.10.50/24 (its own /32 EID, TTL 1 min), gateway 10.16.10.1; the other end
#           of its veth (vm0) lives in xa or xb, and a move is `ip link set vm0 netns <other site>`.
#
# Configs: `livmap xtr-config` writes the livmap config and the OOR configs for the VM at either
# site from one spec. --xtr oor (default): each OOR runs with its own /tmp (private mount
# namespace + tmpfs; its API socket /tmp/oor-ipc is fixed). A move: the VM's veth moves, then
# `livmap oor-update --conf` (in that OOR's network namespace, its socket via /proc/PID/root) gives the new site's xTR, then
# the old site's, the database with the VM at the new site: no OOR restart. --switchover api also
# calls POST /api/v1/moves at the switchover. --xtr emulated: simulations/xtr.ts xTRs (TUN via
# tun.py) that, like OOR, never withdraw: the old xTR's next burst simply omits the VM.
#
# Moves alternate local -> cloud -> local ...; --gaps are the seconds between moves (cycled). One
# continuous probe (172.16.30.10 -> 10.16.10.50:7000, echoed by the VM) covers the series; each
# move's window runs from its start to the next move. Results (simulations/results-cli.js):
# OUT/results.json, OUT/timelines/move-N.svg, OUT/comparison.svg, and a table on stdout.
# Variants: --stale (the old site's xTR is never updated: its bursts keep listing the VM),
# --replay (a Map-Register of the VM captured on the underlay before move 1 is re-sent from
# 10.99.0.9 after it; the binding must not change), --restart-ms (livmap serve is restarted
# halfway through the gap before the middle move).
#
# usage: simulations/netns/run.sh [--xtr oor|emulated] [--moves N] [--gaps 1,5,30]
#          [--switchover register|api] [--stale] [--replay] [--restart-ms] [--tail S] [--out DIR]
# needs: root, iproute2, util-linux (unshare, nsenter), node, python3, OOR (`apt-get install
# openoverlayrouter`) for --xtr oor, /dev/net/tun, and `npm run build` first.
# Exit: 0 every move recovered, 3 some move did not (results written), 77 skipped (a missing
# prerequisite), other = the scenario itself failed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
JS=$ROOT/dist
XTR=oor
MOVES=6
GAPS=1,5,30
SWITCHOVER=register
STALE=0
REPLAY=0
RESTART=0
TAIL_S=5
OUT=$ROOT/sim-results/netns
KEY=lisp-interop-key
VM=10.16.10.50
PROBE_INTERVAL_MS=1
# tap's TypeScript loader (when a test runs this) must not leak into the node processes below.
export NODE_OPTIONS=

while [ $# -gt 0 ]; do
  case "$1" in
    --xtr) XTR=$2; shift 2 ;;
    --moves) MOVES=$2; shift 2 ;;
    --gaps) GAPS=$2; shift 2 ;;
    --switchover) SWITCHOVER=$2; shift 2 ;;
    --stale) STALE=1; shift ;;
    --replay) REPLAY=1; shift ;;
    --restart-ms) RESTART=1; shift ;;
    --tail) TAIL_S=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$MOVES" =~ ^[0-9]+$ ]] && [ "$MOVES" -ge 1 ] && [ "$MOVES" -le 100 ] || { echo "--moves must be 1..100" >&2; exit 2; }
[[ "$GAPS" =~ ^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$ ]] || { echo "--gaps must be a comma-separated list of seconds" >&2; exit 2; }
[[ "$TAIL_S" =~ ^[0-9]+$ ]] || { echo "--tail must be whole seconds" >&2; exit 2; }
case "$XTR" in oor|emulated) ;; *) echo "--xtr must be oor or emulated" >&2; exit 2 ;; esac
case "$SWITCHOVER" in register|api) ;; *) echo "--switchover must be register or api" >&2; exit 2 ;; esac
IFS=, read -r -a GAP_LIST <<<"$GAPS"

skip() { echo "SKIP netns scenario: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network and mount namespaces)"
for cmd in ip unshare nsenter timeout setsid node python3; do command -v "$cmd" >/dev/null 2>&1 || skip "needs '$cmd' on PATH"; done
OOR_BIN=
if [ "$XTR" = oor ]; then
  OOR_BIN=$(command -v oor || true)
  [ -n "$OOR_BIN" ] || { [ -x /usr/sbin/oor ] && OOR_BIN=/usr/sbin/oor; } || true
  [ -n "$OOR_BIN" ] || skip "--xtr oor needs OOR 1.3 (apt-get install -y openoverlayrouter)"
fi
PROBE_NS="lvsprobe$$"
ip netns add "$PROBE_NS" >/dev/null 2>&1 || skip "'ip netns add' failed: needs CAP_SYS_ADMIN and CAP_NET_ADMIN"
ip netns del "$PROBE_NS"
[ -c /dev/net/tun ] || skip "needs /dev/net/tun"
[ -f "$JS/simulations/netns/daemon.js" ] && [ -f "$JS/simulations/results-cli.js" ] && [ -f "$JS/mapserver/cli/main.js" ] \
  || { echo "no build in $JS: run 'npm run build' first" >&2; exit 2; }

DAEMON="$JS/simulations/netns/daemon.js"
LIVMAP="$ROOT/bin/livmap"
P="lvs$$"
NAMES=(ul ms xa xb xc vm rp)
TOTAL_GAPS=0
for ((i = 1; i < MOVES; i++)); do TOTAL_GAPS=$(awk -v a="$TOTAL_GAPS" -v b="${GAP_LIST[$(( (i - 1) % ${#GAP_LIST[@]} ))]}" 'BEGIN { print a + b }'); done
LIFE=$(awk -v g="$TOTAL_GAPS" -v m="$MOVES" -v t="$TAIL_S" 'BEGIN { printf "%d", g + m * 10 + t + 120 }')  # seconds any process may live
PIDS=()
# Not under /tmp: each OOR gets a tmpfs on /tmp that would hide its config.
WORK=$(mktemp -d /var/tmp/livmap-netns.XXXXXX)

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
  if [ -d "$OUT" ]; then mkdir -p "$OUT/logs" && cp "$WORK"/*.log "$WORK"/*.jsonl "$OUT/logs/" 2>/dev/null || true; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns() { echo "$P-$1"; }
nsx() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
# Wall-clock ms with µs decimals, from bash's own clock (no fork in the middle of a move).
now_ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}.${t: -3}"; }
wait_for() { # file pattern seconds
  local deadline=$(( $(date +%s) + $3 ))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -le "$deadline" ] || { echo "timed out waiting for '$2' in $(basename "$1")" >&2; tail -5 "$1" >&2 || true; return 1; }
    sleep 0.05
  done
}
start() { # name log cmd... : background in namespace <name>, bounded by timeout, own process group
  local n=$1 log=$2; shift 2
  setsid ip netns exec "$(ns "$n")" timeout "$LIFE" "$@" >"$WORK/$log" 2>&1 &
  PIDS+=($!)
}
declare -A OORPID=()
start_oor() { # xtr conf log: oor with a private /tmp; its pid (= `timeout`'s) reaches both namespaces
  local x=$1 conf=$2 log=$3
  # The config is read before the tmpfs hides /tmp (it may live there), then handed to OOR inside it.
  setsid unshare -m sh -c 'c=$(cat "$4") && mount --make-rprivate / && mount -t tmpfs -o size=4m tmpfs /tmp && printf "%s\n" "$c" >/tmp/oor.conf && exec ip netns exec "$1" timeout "$2" "$3" -f /tmp/oor.conf' \
    oor-ns "$(ns "$x")" "$LIFE" "$OOR_BIN" "$conf" >"$WORK/$log" 2>&1 &
  PIDS+=($!)
  OORPID[$x]=$!
}
oor_update() { # xtr conf [json-out]: the hypervisor-hook step, in that OOR's network namespace
  local out=${3:-/dev/null} rc=0
  # Its API socket is reached through /proc/PID/root, in OOR's own /tmp: entering its mount
  # namespace instead would hide this checkout whenever it lives under /tmp.
  nsenter -t "${OORPID[$1]}" -n node "$LIVMAP" oor-update --api "ipc:///proc/${OORPID[$1]}/root/tmp/oor-ipc" --conf "$2" --timeout 5000 --json >"$out" 2>>"$WORK/oor-update.log" || rc=$?
  [ "$out" = /dev/null ] || cat "$out" >>"$WORK/oor-update.log"
  return "$rc"
}
answered_at() { # oor-update --json output: when OOR answered OK (verb start + its own duration), else null
  local j; j=$(cat "$1" 2>/dev/null || true)
  if [[ $j =~ \"ok\":true.*\"startedAt\":([0-9]+).*\"totalMs\":([0-9.]+) ]]; then
    awk -v s="${BASH_REMATCH[1]}" -v t="${BASH_REMATCH[2]}" 'BEGIN { printf "%.3f", s + t }'
  else
    echo null
  fi
}

echo "netns scenario: prefix $P, $MOVES moves (gaps ${GAPS} s), xTRs $XTR, switchover $SWITCHOVER$([ "$STALE" = 1 ] && echo ', stale old xTR')$([ "$REPLAY" = 1 ] && echo ', replay')$([ "$RESTART" = 1 ] && echo ', livmap restart')" >&2
for n in "${NAMES[@]}"; do
  ip netns add "$(ns "$n")"
  ip -n "$(ns "$n")" link set lo up
done
ip -n "$(ns ul)" link add br0 type bridge
ip -n "$(ns ul)" addr add 10.99.0.1/24 dev br0
ip -n "$(ns ul)" link set br0 up
# The underlay gateway (OOR wants a default route on its RLOC interface) hairpins on br0.
nsx ul sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.br0.send_redirects=0

underlay() { # role address
  ip -n "$(ns "$1")" link add ul0 type veth peer name "$1" netns "$(ns ul)"
  ip -n "$(ns ul)" link set "$1" master br0 up
  ip -n "$(ns "$1")" addr add "$2/24" dev ul0
  ip -n "$(ns "$1")" link set ul0 up
  ip -n "$(ns "$1")" route add default via 10.99.0.1
}
underlay ms 10.99.0.2
underlay xa 10.99.0.3
underlay xb 10.99.0.4
underlay xc 10.99.0.6
[ "$REPLAY" = 1 ] && underlay rp 10.99.0.9

for x in xa xb xc; do
  nsx "$x" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  if [ "$XTR" = emulated ]; then
    ip -n "$(ns "$x")" tuntap add dev lisp0 mode tun
    ip -n "$(ns "$x")" link set lisp0 up
  fi
done

# The VM and its gateway side (same MAC at both sites, so the VM's ARP entry stays valid).
ip -n "$(ns vm)" link add eth0 type veth peer name vm0 netns "$(ns xa)"
ip -n "$(ns vm)" addr add "$VM/24" dev eth0
ip -n "$(ns vm)" link set eth0 up
ip -n "$(ns vm)" route add default via 10.16.10.1
ip -n "$(ns xa)" link set vm0 address 02:00:00:00:10:01
vm_side() { # site: give vm0 the gateway address and the VM's host route there
  ip -n "$(ns "$1")" -batch - <<EOF
addr add 10.16.10.1/32 dev vm0
link set vm0 up
route add $VM/32 dev vm0
EOF
}
vm_side xa
ip -n "$(ns xc)" addr add 172.16.30.10/32 dev lo

if [ "$XTR" = emulated ]; then
  # Remote EIDs go into lisp0; a VM that left is blackholed (no ICMP storms through the tunnel).
  for r in 172.16.30.0/24 192.168.20.0/24; do ip -n "$(ns xa)" route add "$r" dev lisp0; done
  for r in 172.16.30.0/24 10.16.10.0/24; do ip -n "$(ns xb)" route add "$r" dev lisp0; done
  for r in 10.16.10.0/24 192.168.20.0/24; do ip -n "$(ns xc)" route add "$r" dev lisp0; done
  for x in xa xb; do ip -n "$(ns "$x")" route add blackhole "$VM/32" metric 100; done
fi

# ---- configs: one spec, the VM at either site ------------------------------------------------
write_spec() { # vm-site file
  cat >"$2" <<EOF
{
  "description": "netns migration scenario, VM at $1",
  "mapServers": ["10.99.0.2"], "mapResolvers": ["10.99.0.2"],
  "livmap": { "dataDir": "$WORK/data", "listen": ["10.99.0.2:4342"] },
  "sites": [
    { "name": "local", "underlay": "10.99.0.0/24", "eidPrefixes": [{ "eid": "10.16.10.0/24", "iid": 0 }], "key": { "alg": "hmac-sha1", "secret": "$KEY" }, "proxyReply": false, "ttl": 10,
      "xtrs": [{ "name": "xa", "rlocs": [{ "address": "10.99.0.3", "priority": 1, "weight": 100 }] }] },
    { "name": "cloud", "underlay": "10.99.0.0/24", "eidPrefixes": [{ "eid": "192.168.20.0/24", "iid": 0 }], "key": { "alg": "hmac-sha1", "secret": "$KEY" }, "proxyReply": true, "ttl": 10,
      "xtrs": [{ "name": "xb", "rlocs": [{ "address": "10.99.0.4", "priority": 1, "weight": 100 }] }] },
    { "name": "corr", "underlay": "10.99.0.0/24", "eidPrefixes": [{ "eid": "172.16.30.0/24", "iid": 0 }], "key": { "alg": "hmac-sha1", "secret": "$KEY" }, "proxyReply": false, "ttl": 10,
      "xtrs": [{ "name": "xc", "rlocs": [{ "address": "10.99.0.6", "priority": 1, "weight": 100 }] }] }
  ],
  "vms": [{ "name": "vm1", "eid": "$VM", "iid": 0, "site": "$1", "ttl": 1 }]
}
EOF
}
write_spec local "$WORK/spec-local.json"
write_spec cloud "$WORK/spec-cloud.json"
node "$LIVMAP" xtr-config --spec "$WORK/spec-local.json" --out "$WORK/oor-local" --livmap-config "$WORK/livmap.json" >&2
node "$LIVMAP" xtr-config --spec "$WORK/spec-cloud.json" --out "$WORK/oor-cloud" >&2
declare -A SITE_OF=([xa]=local [xb]=cloud)

SERVE_RUN=1
start_serve() {
  start ms "serve-$SERVE_RUN.log" node "$LIVMAP" serve --config "$WORK/livmap.json"
  SERVE_PID=${PIDS[-1]}
  # The API (and its token file, written on first start) comes up after the LISP sockets. If
  # serve exits instead (a taken port: its one line says so), stop at once with that line.
  local log="$WORK/serve-$SERVE_RUN.log" deadline=$(( $(date +%s) + 20 ))
  until grep -q 'operator API listening' "$log" 2>/dev/null; do
    kill -0 "$SERVE_PID" 2>/dev/null || { echo "livmap serve did not start:" >&2; cat "$log" >&2; exit 2; }
    [ "$(date +%s)" -le "$deadline" ] || { echo "livmap serve not listening after 20 s:" >&2; tail -5 "$log" >&2; exit 1; }
    sleep 0.05
  done
  SERVE_RUN=$(( SERVE_RUN + 1 ))
}
start_serve
TOKEN_FILE="$WORK/data/api-token"
[ -s "$TOKEN_FILE" ] || { echo "livmap serve wrote no API token at $TOKEN_FILE" >&2; exit 1; }
api() { # method path [body]: livmap's REST API from inside its namespace
  local body=(); [ $# -ge 3 ] && body=(--body "$3")
  nsx ms node "$DAEMON" http --method "$1" --url "http://127.0.0.1:8080/api/v1$2" --token-file "$TOKEN_FILE" "${body[@]}"
}

# ---- xTRs -------------------------------------------------------------------------------------
declare -A RLOC=([xa]=10.99.0.3 [xb]=10.99.0.4 [xc]=10.99.0.6)
declare -A EID=([xa]=10.16.10.0/24 [xb]=192.168.20.0/24 [xc]=172.16.30.0/24)
declare -A PROXY=([xa]=no [xb]=yes [xc]=no)
if [ "$XTR" = emulated ]; then
  for x in xa xb xc; do
    start "$x" "tun-$x.log" python3 "$HERE/tun.py" lisp0 5001 5002 "$LIFE"
    wait_for "$WORK/tun-$x.log" ready 10
    host=(); [ "$x" = xa ] && host=(--host "$VM")
    mkfifo "$WORK/ctl-$x"
    start "$x" "xtr-$x.log" node "$DAEMON" xtr --name "$x" --rloc "${RLOC[$x]}" --eid "${EID[$x]}" "${host[@]}" \
      --ms 10.99.0.2:4342 --key "$KEY" --proxy-reply "${PROXY[$x]}" \
      --tun 127.0.0.1:5001 --site-port 5002 --ctl-fifo "$WORK/ctl-$x" --lifetime-ms $(( LIFE * 1000 - 1000 ))
  done
  for x in xa xb xc; do wait_for "$WORK/xtr-$x.log" '"type":"registered"' 15; done
  # The VM's /32 is registered from the start, like the OOR config that lists it.
  echo "attach $VM" >"$WORK/ctl-xa"
  wait_for "$WORK/xtr-xa.log" "\"detail\":\"$VM/32\"" 10
else
  for x in xa xb xc; do start_oor "$x" "$WORK/oor-local/$x.conf" "oor-$x.log"; done
  # Registered = livmap holds the site prefixes and the VM at xa (OOR sleeps ~2 s at start).
  deadline=$(( $(date +%s) + 30 ))
  until api GET /registrations 2>/dev/null | node -e '
      const r = JSON.parse(require("fs").readFileSync(0, "utf8")).registrations.map((x) => x.eid);
      process.exit(["10.16.10.0/24", "192.168.20.0/24", "172.16.30.0/24", process.argv[1] + "/32"].every((e) => r.includes(e)) ? 0 : 1);' "$VM"; do
    [ "$(date +%s)" -le "$deadline" ] || { echo "the OOR xTRs did not register within 30 s" >&2; tail -3 "$WORK"/oor-*.log >&2; exit 1; }
    sleep 0.3
  done
fi

start vm echo.log node "$DAEMON" echo --port 7000 --lifetime-ms $(( LIFE * 1000 - 1000 ))
wait_for "$WORK/echo.log" ready 10
# The first packets resolve the VM (and the reverse path): probe until one is answered.
nsx xc node "$DAEMON" warmup --bind 172.16.30.10 --to "$VM:7000" --timeout-ms 20000 >&2 \
  || { echo "the correspondent never reached the VM before any move" >&2; exit 1; }

if [ "$REPLAY" = 1 ]; then
  # Capture a Map-Register of the VM from xa (the site it is about to leave); a burst is
  # triggered by re-installing xa's unchanged database (emulated: by the next attach burst).
  nsx ul python3 "$HERE/capture.py" xa 10.99.0.3 "$VM" "$WORK/captured-register.bin" 15 >"$WORK/capture.log" 2>&1 &
  CAPTURE_PID=$!
  wait_for "$WORK/capture.log" listening 10
  if [ "$XTR" = oor ]; then oor_update xa "$WORK/oor-local/xa.conf"; else echo "attach $VM" >"$WORK/ctl-xa"; fi
  wait "$CAPTURE_PID" || { echo "no Map-Register of $VM captured on the underlay" >&2; cat "$WORK/capture.log" >&2; exit 1; }
fi

# ---- the series ---------------------------------------------------------------------------------
PRE_S=1
# Probing ends with SIGTERM after the tail; the duration is only a bound.
PROBE_MS=$(( (LIFE - 20) * 1000 ))
start xc probe.log node "$DAEMON" probe --bind 172.16.30.10 --to "$VM:7000" --interval-ms "$PROBE_INTERVAL_MS" \
  --duration-ms "$PROBE_MS" --lifetime-ms $(( PROBE_MS + 10000 ))
PROBE_PID=${PIDS[-1]}
sleep "$PRE_S"
: >"$WORK/moves.jsonl"
: >"$WORK/events.jsonl"
RESTART_BEFORE=$(( MOVES / 2 + 1 ))
site=xa
series_start=$(now_ms)
next_at=$series_start
gap=0
for ((i = 1; i <= MOVES; i++)); do
  if [ "$site" = xa ]; then to=xb; else to=xa; fi
  from_site=${SITE_OF[$site]}; to_site=${SITE_OF[$to]}
  if [ "$RESTART" = 1 ] && [ "$i" = "$RESTART_BEFORE" ] && [ "$i" -gt 1 ]; then
    # Halfway through the gap before this move: restart livmap serve.
    half=$(awk -v n="$next_at" -v g="$gap" -v now="$(now_ms)" 'BEGIN { d = (n - g * 500 - now) / 1000; print (d > 0 ? d : 0) }')
    sleep "$half"
    stop_at=$(now_ms)
    kill -TERM -- "-$SERVE_PID" 2>/dev/null || true
    while kill -0 -- "-$SERVE_PID" 2>/dev/null; do sleep 0.02; done
    start_serve
    printf '{"type":"livmap-restart","at":%s,"listeningAt":%s}\n' "$stop_at" "$(now_ms)" >>"$WORK/events.jsonl"
  fi
  # Wait for this move's time (the gap after the previous move).
  wait_s=$(awk -v n="$next_at" -v now="$(now_ms)" 'BEGIN { d = (n - now) / 1000; print (d > 0 ? d : 0) }')
  sleep "$wait_s"

  move_at=$(now_ms)
  ip -n "$(ns "$site")" link set vm0 netns "$(ns "$to")"
  vm_side "$to"
  link_at=$(now_ms)
  api_json=
  if [ "$SWITCHOVER" = api ]; then
    ( api POST /moves "{\"eid\":\"$VM/32\",\"site\":\"$to_site\"}" >>"$WORK/api-moves.log" 2>&1 && now_ms >"$WORK/api-at" ) &
    API_JOB=$!
  fi
  if [ "$XTR" = oor ]; then
    # Both sites' hooks run at once, as two hypervisor hosts would; each records when OOR said OK.
    rm -f "$WORK/upd-new.json" "$WORK/upd-old.json"
    oor_update "$to" "$WORK/oor-$to_site/$to.conf" "$WORK/upd-new.json" &
    NEW_JOB=$!
    if [ "$STALE" = 0 ]; then oor_update "$site" "$WORK/oor-$to_site/$site.conf" "$WORK/upd-old.json" & OLD_JOB=$!; fi
    wait "$NEW_JOB" || echo "move $i: oor-update of $to failed (see logs/oor-update.log)" >&2
    new_at=$(answered_at "$WORK/upd-new.json")
    old_json=
    if [ "$STALE" = 0 ]; then
      wait "$OLD_JOB" || echo "move $i: oor-update of $site failed (see logs/oor-update.log)" >&2
      old_json=",\"oldXtrUpdatedAt\":$(answered_at "$WORK/upd-old.json")"
    fi
  else
    echo "attach $VM" >"$WORK/ctl-$to"
    new_at=$(now_ms)
    old_json=
    if [ "$STALE" = 0 ]; then echo "detach $VM" >"$WORK/ctl-$site"; old_json=",\"oldXtrUpdatedAt\":$(now_ms)"; fi
  fi
  if [ "$SWITCHOVER" = api ]; then
    wait "$API_JOB" || echo "move $i: POST /moves failed (see logs/api-moves.log)" >&2
    [ -s "$WORK/api-at" ] && api_json=",\"apiMoveAt\":$(cat "$WORK/api-at")"
    rm -f "$WORK/api-at"
  fi
  printf '{"index":%d,"from":"%s","to":"%s","gapS":%s,"moveAt":%s,"linkMovedAt":%s,"newXtrUpdatedAt":%s%s%s}\n' \
    "$i" "$from_site" "$to_site" "$gap" "$move_at" "$link_at" "$new_at" "$old_json" "$api_json" >>"$WORK/moves.jsonl"
  echo "move $i: $from_site -> $to_site" >&2

  if [ "$REPLAY" = 1 ] && [ "$i" = 1 ]; then
    # After the move has settled: re-send xa's captured Map-Register from another address.
    sleep 0.5
    before=$(api GET "/lookup?eid=$VM" | tr -d '\n')
    replay_at=$(now_ms)
    nsx rp node "$DAEMON" replay --bind 10.99.0.9 --to 10.99.0.2:4342 --file "$WORK/captured-register.bin" >&2
    sleep 0.3
    after=$(api GET "/lookup?eid=$VM" | tr -d '\n')
    printf '{"type":"replay","at":%s,"from":"10.99.0.9","bindingBefore":%s,"bindingAfter":%s}\n' "$replay_at" "$before" "$after" >>"$WORK/events.jsonl"
  fi

  gap=${GAP_LIST[$(( (i - 1) % ${#GAP_LIST[@]} ))]}
  next_at=$(awk -v m="$move_at" -v g="$gap" 'BEGIN { printf "%.3f", m + g * 1000 }')
  site=$to
done

sleep "$TAIL_S"
probe_end=$(now_ms)
kill -TERM -- "-$PROBE_PID" 2>/dev/null || true
wait "$PROBE_PID" || true
mkdir -p "$OUT"
cp "$WORK/probe.log" "$OUT/probe.json"
cp "$WORK/moves.jsonl" "$WORK/events.jsonl" "$OUT/"
variants=()
[ "$STALE" = 1 ] && variants+=(--variant stale)
[ "$REPLAY" = 1 ] && variants+=(--variant replay)
[ "$RESTART" = 1 ] && variants+=(--variant restart-ms)
rc=0
node "$JS/simulations/results-cli.js" --probe "$OUT/probe.json" --moves "$OUT/moves.jsonl" --events "$OUT/events.jsonl" \
  --emulator netns --xtr "$XTR" --switchover "$SWITCHOVER" "${variants[@]}" --probe-end "$probe_end" --out "$OUT" || rc=$?
if [ "$REPLAY" = 1 ]; then
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
    for (const e of lines.filter((x) => x.type === "replay")) {
      const rlocs = (b) => JSON.stringify((b.rlocs || []).map((r) => r.address ?? r.rloc ?? r));
      const changed = rlocs(e.bindingBefore) !== rlocs(e.bindingAfter);
      console.log(`replay from ${e.from}: binding ${changed ? "CHANGED" : "unchanged"} (${rlocs(e.bindingBefore)} -> ${rlocs(e.bindingAfter)})`);
    }' "$OUT/events.jsonl"
fi
exit "$rc"

#!/usr/bin/env bash
# Two env servers in separate network namespaces (ip netns + veth), driven as one env by one client in
# the root namespace; every row is checked against the in-process env of the server's seed. Then, on
# fresh servers, server A is killed and restarted mid-run: the client must reconnect, report A's
# episodes lost and stay exact everywhere else.
# Needs root and iproute2; otherwise prints "skipped: <reason>" and exits 0. Uses only the veth
# addresses it creates (10.231.{1,2}.0/30) and loopback; every wait is bounded.
set -euo pipefail

skip() { echo "skipped: $*"; exit 0; }
fail() { echo "netns-bridge: FAILED: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"
[ -d node_modules/zeromq ] || skip "node_modules/zeromq missing (npm install)"
if ip -4 addr show | grep -q ' 10\.231\.[12]\.'; then skip "10.231.1.0/30 or 10.231.2.0/30 already in use here"; fi

TAG="tt$$"
NS_A="${TAG}a"
NS_B="${TAG}b"
TOKEN="netns-$$-$RANDOM"
LOG_DIR="$(mktemp -d)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  ip link del "${TAG}ha" 2>/dev/null || true
  ip link del "${TAG}hb" 2>/dev/null || true
  rm -rf "$LOG_DIR"
}
trap cleanup EXIT

if ! ip netns add "$NS_A" 2>/dev/null; then skip "ip netns add is not permitted here"; fi
ip netns add "$NS_B" || skip "ip netns add is not permitted here"

# One veth pair per namespace: host side 10.231.N.1, namespace side 10.231.N.2.
setup_ns() {
  local ns=$1 host_if=$2 peer_if=$3 net=$4
  ip link add "$host_if" type veth peer name "$peer_if" || skip "cannot create veth pairs here"
  ip link set "$peer_if" netns "$ns"
  ip addr add "10.231.$net.1/30" dev "$host_if"
  ip link set "$host_if" up
  ip netns exec "$ns" ip addr add "10.231.$net.2/30" dev "$peer_if"
  ip netns exec "$ns" ip link set "$peer_if" up
  ip netns exec "$ns" ip link set lo up
}
setup_ns "$NS_A" "${TAG}ha" "${TAG}pa" 1
setup_ns "$NS_B" "${TAG}hb" "${TAG}pb" 2

ADDR_A="tcp://10.231.1.2:5555"
ADDR_B="tcp://10.231.2.2:5555"

# Starts a server in a namespace; waits (bounded) for its endpoint line. Sets LAST_PID.
start_server() {
  local ns=$1 bind=$2 envs=$3 seed=$4 log=$5
  ip netns exec "$ns" node --import tsx src/lib/bridge/child-server.ts --bind "$bind" --envs "$envs" --seed "$seed" --token "$TOKEN" >"$log" 2>"$log.err" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  for _ in $(seq 1 300); do
    grep -q '"endpoint"' "$log" 2>/dev/null && return 0
    kill -0 "$LAST_PID" 2>/dev/null || fail "server in $ns exited: $(cat "$log.err")"
    sleep 0.1
  done
  fail "server in $ns did not start within 30 s: $(cat "$log.err")"
}

start_server "$NS_A" "$ADDR_A" 2 0 "$LOG_DIR/a.out"
PID_A=$LAST_PID
start_server "$NS_B" "$ADDR_B" 2 2 "$LOG_DIR/b.out"
PID_B=$LAST_PID
echo "netns-bridge: servers up in $NS_A ($ADDR_A) and $NS_B ($ADDR_B)"

# Phase 1: 300 steps of both servers as one 4-env env, compared with in-process envs of seeds 0 and 2.
node --import tsx src/lib/bridge/drive.ts --remote "$ADDR_A,$ADDR_B" --seeds 0,2 --steps 300 --token "$TOKEN" \
  >"$LOG_DIR/drive1.json" || fail "phase 1: $(cat "$LOG_DIR/drive1.json")"
echo "netns-bridge: phase 1 $(cat "$LOG_DIR/drive1.json")"
grep -q '"mismatches":0' "$LOG_DIR/drive1.json" || fail "phase 1 rows differ"
grep -q '"lost_episodes":0' "$LOG_DIR/drive1.json" || fail "phase 1 lost episodes"

# Phase 2: fresh servers; kill server A (SIGKILL) 50 steps into the run and restart it. The client
# must reconnect, report A's 2 episodes lost, and stay exact on B (and on A's new episodes).
kill "$PID_A" "$PID_B"
wait "$PID_A" "$PID_B" 2>/dev/null || true
start_server "$NS_A" "$ADDR_A" 2 0 "$LOG_DIR/a2.out"
PID_A=$LAST_PID
start_server "$NS_B" "$ADDR_B" 2 2 "$LOG_DIR/b2.out"
node --import tsx src/lib/bridge/drive.ts --remote "$ADDR_A,$ADDR_B" --seeds 0,2 --steps 200 --step-delay-ms 5 \
  --announce-every 50 --token "$TOKEN" --timeout-ms 500 --retries 60 --retry-delay-ms 100 \
  >"$LOG_DIR/drive2.json" 2>"$LOG_DIR/drive2.err" &
DRIVE=$!
PIDS+=("$DRIVE")
for _ in $(seq 1 300); do
  grep -q 'drive: step 50$' "$LOG_DIR/drive2.err" 2>/dev/null && break
  kill -0 "$DRIVE" 2>/dev/null || fail "phase 2 client stopped early: $(cat "$LOG_DIR/drive2.err")"
  sleep 0.1
done
grep -q 'drive: step 50$' "$LOG_DIR/drive2.err" || fail "phase 2 client did not reach step 50 within 30 s"
kill -KILL "$PID_A"
wait "$PID_A" 2>/dev/null || true
start_server "$NS_A" "$ADDR_A" 2 0 "$LOG_DIR/a3.out"
wait "$DRIVE" || fail "phase 2: $(cat "$LOG_DIR/drive2.json") $(cat "$LOG_DIR/drive2.err")"
echo "netns-bridge: phase 2 $(cat "$LOG_DIR/drive2.json")"
grep -q '"mismatches":0' "$LOG_DIR/drive2.json" || fail "phase 2 rows differ"
grep -q '"lost_episodes":2,' "$LOG_DIR/drive2.json" || fail "phase 2 should lose exactly server A's 2 episodes"
echo "netns-bridge: ok"

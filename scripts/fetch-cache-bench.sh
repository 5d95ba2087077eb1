#!/bin/bash
# The fetcher cache, measured by hand: an app of N instances (tutti-services
# on tutti-local, one agent) that fetches a 100 MB .tgz from a local HTTP
# server, with cache: false and true alternating; prints one line per run:
#   fetch cache=BOOL instances=N seconds=S downloads=D
# Usage: scripts/fetch-cache-bench.sh [INSTANCES=10] [PAIRS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
PAIRS=${2:-3}
B=$PWD/build/bin
for b in tutti-local tutti-services; do
  [ -x "$B/$b" ] || { echo "build first: $B/$b is missing" >&2; exit 1; }
done
W=$(mktemp -d /tmp/tutti-fetch-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$W/www/src"
head -c 100M /dev/urandom > "$W/www/src/blob.bin"
tar -czf "$W/www/blob.tgz" -C "$W/www/src" blob.bin
WWW=$(free_port)
# Counts the downloads in its log (one line per GET).
(cd "$W/www" && exec python3 -m http.server "$WWW" --bind 127.0.0.1 2> "$W/www.log" > /dev/null) &
pids+=($!)

run() {  # cache instances
  local d="$W/run" port msg api
  rm -rf "$d"; mkdir -p "$d"
  port=$(free_port); msg=$(free_port); api=$(free_port)
  "$B/tutti-local" --port="$port" --message_port="$msg" --num_agents=1 --work_dir="$d/work" \
    --resources="cpus:32;mem:65536;disk:400000" > "$d/local.log" 2>&1 &
  local local_pid=$!
  "$B/tutti-services" --master="127.0.0.1:$msg" --http_address=127.0.0.1 --http_port="$api" \
    --state_dir="$d/state" > "$d/services.log" 2>&1 &
  local svc_pid=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$api/v2/info" > /dev/null && break; sleep 0.1; done
  local before start end running
  before=$(grep -c 'GET /blob.tgz' "$W/www.log" || true)
  start=$(date +%s.%N)
  curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$api/v2/apps" -d \
    "{\"id\":\"/c\",\"cmd\":\"ls -l blob.bin; sleep 3600\",\"cpus\":0.1,\"mem\":64,\"disk\":300,\"instances\":$2,\"fetch\":[{\"uri\":\"http://127.0.0.1:$WWW/blob.tgz\",\"cache\":$1}]}" > /dev/null
  for _ in $(seq 3000); do
    running=$(curl -sf "http://127.0.0.1:$api/v2/apps/c" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["app"]["tasksRunning"])' 2> /dev/null || echo 0)
    [ "$running" = "$2" ] && break
    sleep 0.1
  done
  end=$(date +%s.%N)
  echo "fetch cache=$1 instances=$2 seconds=$(python3 -c "print(round($end - $start, 3))")" \
    "downloads=$(( $(grep -c 'GET /blob.tgz' "$W/www.log" || true) - before ))"
  curl -sf -X DELETE "http://127.0.0.1:$api/v2/apps/c" > /dev/null || true
  kill "$svc_pid" 2> /dev/null || true
  kill "$local_pid" 2> /dev/null || true   # SIGTERM: the agent shuts its executors down
  wait "$svc_pid" "$local_pid" 2> /dev/null || true
}

for _ in $(seq "$PAIRS"); do
  run false "$N"
  run true "$N"
done

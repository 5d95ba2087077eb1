#!/usr/bin/env bash
# A five-minute tour: builds tutti, starts a local cluster (a master and two
# agents in one tutti-local process), runs a few tasks with tutti-execute,
# shows their output, and stops the cluster on exit.
#
#   scripts/demo.sh          # run the tour, then stop the cluster
#   scripts/demo.sh --keep   # leave the cluster running afterwards
set -euo pipefail
cd "$(dirname "$0")/.."

KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"

HTTP_PORT=${TUTTI_DEMO_PORT:-5050}
MSG_PORT=${TUTTI_DEMO_MESSAGE_PORT:-6050}
MASTER=127.0.0.1:$MSG_PORT
WORK=$(mktemp -d /tmp/tutti-demo-XXXXXX)

if curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/health"; then
  echo "Something already listens on port $HTTP_PORT (a cluster from 'demo.sh --keep'?)." >&2
  echo "Stop it, or run with TUTTI_DEMO_PORT=... TUTTI_DEMO_MESSAGE_PORT=..." >&2
  exit 1
fi

echo "==> Starting a local cluster: tutti-local --num_agents=2 (logs in $WORK/cluster.log)"
build/bin/tutti-local --num_agents=2 --port="$HTTP_PORT" --message_port="$MSG_PORT" \
  --work_dir="$WORK/agents" --resources="cpus:2;mem:2048;disk:4096" >"$WORK/cluster.log" 2>&1 &
CLUSTER=$!
cleanup() {
  if [ "$KEEP" = 1 ]; then
    echo "==> The cluster keeps running (pid $CLUSTER). Stop it with: kill $CLUSTER"
  else
    echo "==> Stopping the cluster"
    kill "$CLUSTER" 2>/dev/null || true
    wait "$CLUSTER" 2>/dev/null || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

for _ in $(seq 100); do
  agents=$(curl -s "http://127.0.0.1:$HTTP_PORT/master/state" 2>/dev/null |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["slaves"]))' 2>/dev/null || echo 0)
  [ "$agents" = 2 ] && break
  sleep 0.1
done
echo "==> $agents agents registered"

echo
echo "==> One task: tutti-execute --command='echo hello from tutti; uname -sr'"
build/bin/tutti-execute --master="$MASTER" --name=hello --command='echo hello from tutti; uname -sr'

echo
echo "==> A failing task exits with the command's status:"
set +e
build/bin/tutti-execute --master="$MASTER" --name=fails --command='echo about to fail >&2; exit 7'
echo "    (tutti-execute exited with $?)"
set -e

echo
echo "==> Ten copies at once: tutti-execute --instances=10"
build/bin/tutti-execute --master="$MASTER" --name=many --instances=10 \
  --command='echo "task $TUTTI_TASK_ID in $TUTTI_SANDBOX"' | grep -c TASK_FINISHED |
  xargs -I{} echo "    {} of 10 tasks finished"

echo
echo "==> A MapReduce: tutti-batch runs examples/wordcount on a 5 MB corpus (split, 8 maps,"
echo "    4 reduces, merge) and checks the counts against sort | uniq -c"
TUTTI_BATCH=build/bin/tutti-batch frameworks/batch/examples/wordcount/run.sh "$MASTER" \
  "$WORK/wordcount" 5 8 4 | sed 's/^/    /'

echo
echo "==> What the tasks printed, read back through the agents' /files/read:"
python3 - "$HTTP_PORT" <<'PY'
import json, sys, urllib.request, urllib.parse
port = sys.argv[1]
state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/master/state"))
for agent in state["slaves"]:
    base = f"http://{agent['hostname']}:{agent['port']}"
    a = json.load(urllib.request.urlopen(base + "/state"))
    for fw in a["frameworks"] + a["completed_frameworks"]:
        for ex in fw["executors"] + fw["completed_executors"]:
            if ex["id"] not in ("hello", "fails", "many-0", "many-1"):
                continue
            for f in ("stdout", "stderr"):
                q = urllib.parse.urlencode({"path": ex["directory"] + "/" + f, "offset": 0})
                data = json.load(urllib.request.urlopen(base + "/files/read?" + q))["data"]
                if data.strip():
                    print(f"    {ex['id']:8} {f}: {data.strip()}")
PY

echo
echo "==> The operator CLI: tutti agent list; tutti task list --all; tutti task log hello"
build/bin/tutti --master="127.0.0.1:$HTTP_PORT" agent list | sed 's/^/    /'
build/bin/tutti --master="127.0.0.1:$HTTP_PORT" task list --all | head -6 | sed 's/^/    /'
build/bin/tutti --master="127.0.0.1:$HTTP_PORT" task log hello | sed 's/^/    /'

echo
echo "==> Where to look:"
echo "    http://127.0.0.1:$HTTP_PORT/master/state       cluster state (Mesos's shape)"
echo "    http://127.0.0.1:$HTTP_PORT/metrics/snapshot   master metrics"
grep -o "agent [0-9]*: http://[^ ]*" "$WORK/cluster.log" | sed 's/^/    /'
echo "    build/bin/tutti-execute --master=$MASTER --command='...'   run your own"

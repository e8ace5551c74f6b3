#!/usr/bin/env bash
# `make demo`: Hourglass end to end, nothing mocked. One hourglass-supervisor
# runs the whole tree (embedded dev server, bridge host, the sample worker);
# we run a workflow, look at the tree, SIGKILL the bridge host in the middle of
# a workflow, watch the cascade, finish the workflow, and stop gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin

tmp=$(mktemp -d /tmp/hourglass-demo-XXXXXX)
run="$tmp/run"
log="$tmp/supervisor.log"
supervisor=""
cleanup() {
  if [ -n "$supervisor" ] && kill -0 "$supervisor" 2>/dev/null; then
    kill "$supervisor" 2>/dev/null || true
    wait "$supervisor" 2>/dev/null || true
  fi
  [ -n "${KEEP_DEMO:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "demo failed: $*"
  echo "--- last lines of the supervisor's log:"
  tail -n 40 "$log" || true
  exit 1
}
ctl() { "$bin/hourglass" ctl --runtime-dir "$run" "$@"; }
hg() { "$bin/hourglass" "$@" --bridge-socket "$run/bridge.sock"; }
indent() { sed 's/^/   /'; }
pid_of() {  # pid_of SUPERVISOR CHILD: the child's pid from `ctl which-children`
  ctl which-children "$1" | awk -v id="$2" '$1 == id { print $4 }'
}
wait_ready() {  # until `ctl whereis default` answers (the worker is registered)
  for _ in $(seq 1 400); do
    ctl whereis default > /dev/null 2>&1 && return 0
    sleep 0.05
  done
  fail "the tree did not become ready"
}

echo "== Hourglass demo =="
echo

echo "-- 1. hourglass-supervisor: the whole tree, one command"
echo "   \$ hourglass-supervisor --runtime-dir $run --queue default"
"$bin/hourglass-supervisor" --runtime-dir "$run" --queue default > "$log" 2>&1 &
supervisor=$!
wait_ready
echo "   up: embedded dev server, bridge host, one worker for task queue 'default'"
echo

echo "-- 2. Hello: a C++ workflow calling a C++ activity, through the tree"
echo "   \$ hourglass workflow execute --type Hello --task-queue default --input '\"World\"'"
hg workflow execute --type Hello --task-queue default --workflow-id demo-hello --input '"World"' | indent
echo

echo "-- 3. hourglass ctl status"
ctl status | indent
echo

echo "-- 4. SIGKILL the bridge host while a workflow waits for a signal"
hg workflow start --type KitchenSink --task-queue default --workflow-id demo-cascade \
  --input '{"signals":["go"],"actions":[{"activity":"noop"},{"signal":"go"},{"return":"finished across the cascade"}]}' \
  > /dev/null
sleep 0.5
old_bridge=$(pid_of subsystem bridgehost)
old_worker=$(ctl whereis default)
kill -KILL "$old_bridge"
echo "   bridge host $old_bridge killed (worker was $old_worker)"
for _ in $(seq 1 200); do
  new_worker=$(ctl whereis default 2>/dev/null || true)
  [ -n "$new_worker" ] && [ "$new_worker" != "$old_worker" ] && break
  sleep 0.05
done
[ -n "$new_worker" ] && [ "$new_worker" != "$old_worker" ] || fail "the worker was not replaced"
echo "   the supervisor's log of the cascade:"
sed -E 's/^\[[^]]*\] \[supervisor\] //' "$log" |
  sed -n "/'bridgehost' (pid $old_bridge) killed/,/'worker:default' (pid $new_worker) is ready/p" |
  grep -E "supervisor '|cascade" | indent
echo

echo "-- 5. the recovered tree: new bridge host, new epoch, new worker, one cascade"
ctl status | sed -n '/^bridge:/p;/bridgehost /p;/worker:default /p;/^registry:/,/^$/p' | indent
echo

echo "-- 6. the workflow started before the kill finishes on the new tree"
hg workflow signal --workflow-id demo-cascade --name go > /dev/null
hg workflow result --workflow-id demo-cascade | indent
echo "   and a new one:"
hg workflow execute --type Hello --task-queue default --workflow-id demo-hello-2 --input '"again"' | indent
echo

echo "-- 7. replay: the recorded histories of the samples against the current code"
"$bin/hourglass" replay tests/workerproc/histories/hello.json tests/workerproc/histories/kitchen_sink.json \
  --worker "$bin/hourglass-workerproc" | indent
echo

echo "-- 8. hourglass ctl stop: workers unregister and drain, then the bridge host, then the dev server"
ctl stop | indent
set +e
wait "$supervisor"
code=$?
set -e
supervisor=""
sed -E 's/^\[[^]]*\] \[supervisor\] //' "$log" | sed -n '/ctl stop/,$p' | grep -E "stopped '|exits" | indent
[ "$code" -eq 0 ] || fail "the supervisor exited $code"
echo "   hourglass-supervisor exited 0"

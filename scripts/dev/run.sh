#!/usr/bin/env bash
# run.sh is make run (ARCHITECTURE 6): the agent on its embedded default
# (in-process NATS on 127.0.0.1:4222, state under STATE_DIR), the fleet
# controller (harmony-fleet serve) against it, and the dev device enrolled
# with site=dev (once: idempotent). Ctrl-C stops both.
#
# Usage: scripts/dev/run.sh STATE_DIR   (make run builds bin/ first)
set -euo pipefail
state="${1:?usage: scripts/dev/run.sh STATE_DIR}"
mkdir -p "$state"
fleet=./bin/harmony-fleet

# Another server on the port would take our commands (init, device add,
# serve) for itself: refuse, before starting anything.
if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
	echo "run.sh: 127.0.0.1:4222 is in use (another make run, or a nats-server): stop it first" >&2
	exit 1
fi

pids=()
stop() {
	trap - INT TERM EXIT
	[ "${#pids[@]}" -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null || true
	wait
}
trap stop INT TERM EXIT

HARMONY_AGENT_STATE_DIR="$state" ./bin/harmony-agent run --dev --config configs/dev.yaml &
pids+=("$!")

# The embedded server is up once init answers (it creates nothing new:
# the agent made the stream and buckets).
for _ in $(seq 1 100); do
	"$fleet" init >/dev/null 2>&1 && break
	kill -0 "${pids[0]}" 2>/dev/null || exit 1
	sleep 0.1
done
# Enrol the dev device once; after that, only make sure of its label.
if ! "$fleet" device add dev-device --label site=dev >/dev/null 2>&1; then
	"$fleet" device label dev-device site=dev >/dev/null ||
		echo "run.sh: could not enrol dev-device (harmony-fleet device add dev-device --label site=dev)" >&2
fi

"$fleet" serve --http 127.0.0.1:8080 &
pids+=("$!")
echo "run.sh: agent and harmony-fleet serve running (dashboard: http://127.0.0.1:8080); try: $fleet deploy web -f configs/examples/web.yaml --selector site=dev --wait" >&2
wait -n "${pids[@]}"

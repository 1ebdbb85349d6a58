#!/usr/bin/env bash
# Measures the device agent's resident memory while it sits idle on a live MQTT connection.
#
# Usage: component/bench/idle_rss.sh [AGENT_BINARY] [SECONDS]
#
# AGENT_BINARY defaults to target/release/rotator-agent and SECONDS to 5. The script makes a
# throwaway CA, broker and device certificate with openssl, starts Debian's mosquitto on a free
# 127.0.0.1 port with `require_certificate true` (as the component tests do), and starts the
# agent against it. Nothing replies to the Jobs request, and with `jobs = 1` and zero retries the
# agent falls back to idle after about a second: connected, subscribed, waiting for
# notify-next. After SECONDS it prints VmRSS, VmHWM and the thread count from /proc/PID/status
# and the anonymous and file-backed split from /proc/PID/smaps_rollup, then stops both
# processes it started.
#
# RSS_COLD=1 evicts the binary from the page cache first, as on a device that just booted.
# RSS_MAPS=1 also lists the largest mappings by resident size.
#
# Needs openssl, /usr/sbin/mosquitto and python3 (only to pick a free port).

set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
agent=${1:-$repo/target/release/rotator-agent}
settle=${2:-5}
if [[ ! -x $agent ]]; then
    echo "agent binary $agent not found: run 'cargo build --release -p rotator-agent' first" >&2
    exit 1
fi
agent=$(realpath "$agent")

dir=$(mktemp -d)
broker_pid=
agent_pid=
cleanup() {
    [[ -n $agent_pid ]] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

cd "$dir"
ssl() { openssl "$@" 2>/dev/null; }
ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca.key -out ca.pem -days 2 -subj "/CN=Bench CA"
issue() { # stem common-name
    ssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"
    ssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2/O=Rotator Bench"
    printf 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$1.ext"
    ssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "$RANDOM" -days 2 \
        -extfile "$1.ext" -out "$1.crt"
}
issue broker localhost
issue device bench-core

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >mosquitto.conf <<EOF
per_listener_settings false
listener $port 127.0.0.1
cafile $dir/ca.pem
certfile $dir/broker.crt
keyfile $dir/broker.key
require_certificate true
use_identity_as_username true
allow_anonymous false
persistence false
log_dest file $dir/mosquitto.log
EOF
# As root, mosquitto switches to its own user, which cannot read this directory.
[[ $(id -u) == 0 ]] && echo "user root" >>mosquitto.conf
/usr/sbin/mosquitto -c mosquitto.conf >/dev/null 2>&1 &
broker_pid=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

cat >agent.toml <<EOF
thing-name = "bench-core"
host = "127.0.0.1"
port = $port
ca-file = "$dir/ca.pem"
certificate = "$dir/device.crt"
private-key = "$dir/device.key"
work-dir = "$dir/work"
[timeouts]
jobs = 1
[retries]
jobs = 0
EOF
if [[ -n ${RSS_COLD:-} ]]; then
    # Drop the binary's pages from the page cache, as after a reboot. Only this file is evicted.
    sync "$agent"
    python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$agent"
fi
RUST_LOG=info "$agent" --config agent.toml 2>agent.log &
agent_pid=$!
sleep "$settle"

if ! kill -0 "$agent_pid" 2>/dev/null; then
    echo "the agent exited early; its log:" >&2
    cat agent.log >&2
    exit 1
fi
if ! grep -q "connected" agent.log; then
    echo "the agent did not connect within ${settle} s; its log:" >&2
    cat agent.log >&2
    exit 1
fi

echo "binary: $agent ($(stat -c %s "$agent") bytes)"
echo "after ${settle} s idle on a mutual-TLS connection to mosquitto:"
grep -E '^(VmRSS|VmHWM|RssAnon|RssFile|VmData|Threads):' "/proc/$agent_pid/status"
echo "smaps_rollup:"
grep -E '^(Rss|Pss|Pss_Anon|Pss_File|Anonymous|Shared_Clean|Private_Clean|Private_Dirty):' \
    "/proc/$agent_pid/smaps_rollup"
if [[ -n ${RSS_MAPS:-} ]]; then
    # Largest mappings by resident size, for finding where the memory goes.
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6) }
         /^Rss:/ { rss[name] += $2 }
         END { for (n in rss) if (rss[n] > 0) printf "%8d kB  %s\n", rss[n], n }' \
        "/proc/$agent_pid/smaps" | sort -rn | head -15
fi

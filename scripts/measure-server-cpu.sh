#!/usr/bin/env bash
# Starts a release server, drives it with N bots for D seconds, and reports the server process's CPU
# (utime+stime from /proc/PID/stat over the steady part of the run) next to the bots' summary.
# Usage: scripts/measure-server-cpu.sh [BOTS] [DURATION] [WORLD]
set -euo pipefail
bots=${1:-200}; duration=${2:-60}; world=${3:-expo-hall}; port=${PORT:-7791}
bin=.build/release
"$bin/atrium" serve --port "$port" --bind-address 127.0.0.1 --log-level warning &
server=$!
trap 'kill -INT $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
sleep 1
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
"$bin/atrium-bots" run --server "127.0.0.1:$port" --world "$world" --bots "$bots" --duration "$duration" > /tmp/measure-bots.log &
botsPid=$!
# Skip the ramp (joins) and measure the steady state.
warm=$(( bots / 100 + 3 ))
sleep "$warm"
c0=$(cpu); t0=$(date +%s.%N)
sleep $(( duration - warm - 1 ))
c1=$(cpu); t1=$(date +%s.%N)
wait $botsPid || true
grep -E "connected  |failed  |RTT|  pose  |down kbps|bot CPU|saturated" /tmp/measure-bots.log
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" -v n="$bots" \
  'BEGIN { s=(c1-c0)/hz; w=t1-t0; printf "server CPU: %.3f cores (%.2f s CPU over %.1f s wall, steady state, %d bots)\n", s/w, s, w, n }'

#!/usr/bin/env bash
# Makes sure a Redis answers on 127.0.0.1:6379 (the tests' default), starting one if none does.
set -euo pipefail
if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then exit 0; fi
command -v redis-server >/dev/null 2>&1 || { echo "redis-server is not installed" >&2; exit 1; }
mkdir -p /tmp/voice-api-redis
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir /tmp/voice-api-redis \
  --save "" --appendonly no --logfile /tmp/voice-api-redis/redis.log
for _ in $(seq 1 50); do
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && exit 0
  sleep 0.1
done
echo "Redis did not start; see /tmp/voice-api-redis/redis.log" >&2
exit 1

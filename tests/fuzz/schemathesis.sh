#!/usr/bin/env bash
# Fuzzes the running server's API with schemathesis (PyPI) from its own
# /openapi.json: a Sentinel with a trained model on a free port over a
# temporary KV, then `schemathesis run` over every operation (examples,
# coverage, fuzzing and stateful phases), once without and once with the
# admin bearer token, each for a bounded time. Fails on any 5xx, any answer
# that breaks the documented schema, status or content type.
#
#   bash tests/fuzz/schemathesis.sh            # ST_MAX_TIME=45 seconds per pass
#   ST_MAX_TIME=20 bash tests/fuzz/schemathesis.sh
#
# /events is excluded: an SSE stream never ends, so every request would be a
# timeout; tests/api_events_test.ts covers it.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
MAX_TIME=${ST_MAX_TIME:-45}

if ! command -v schemathesis >/dev/null 2>&1; then
  echo "schemathesis: installing from PyPI" >&2
  python3 -m pip install -q schemathesis >&2 || python3 -m pip install -q --break-system-packages schemathesis >&2
fi
schemathesis --version >&2

WORK=$(mktemp -d -t sentinel-st-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
KEY=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
BASE="http://127.0.0.1:$PORT"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "schemathesis: starting Sentinel on $BASE (log: $WORK/server.log)" >&2
# Embedded mode whatever the caller exports (.ci/run exports KAFKA_BROKERS for the Kafka suites).
env -u KAFKA_BROKERS -u KAFKA_BOOTSTRAP_SERVERS -u DATA_SOURCE -u SYMBOLS \
  KV_PATH="$WORK/kv.sqlite" PORT=$PORT HOST=127.0.0.1 SENTINEL_API_KEY=$KEY \
  BACKFILL_SECONDS=120 EVENT_FREQUENCY_SECONDS=0.05 MIN_TRAINING_ROWS=2000 N_ESTIMATORS=50 \
  RETRAIN_INTERVAL=off \
  deno run -P --config "$ROOT/deno.json" "$ROOT/main.ts" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 240); do
  if curl -fsS "$BASE/health" 2>/dev/null | grep -q '"model_loaded":true'; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "schemathesis: the server exited" >&2; cat "$WORK/server.log" >&2; exit 1
  fi
  sleep 0.5
done
curl -fsS "$BASE/health" | grep -q '"model_loaded":true' || {
  echo "schemathesis: no model after 120 s" >&2; tail -n 30 "$WORK/server.log" >&2; exit 1
}
echo "schemathesis: model loaded; fuzzing for ${MAX_TIME}s per pass" >&2

# schemathesis closes with a pytest-style banner ("==== 2 warnings in 45s ====")
# that CI's log reader takes for a pytest run that executed no test; the sed
# turns those banners into plain "-- ... --" lines (pipefail keeps the status).
run() {
  local name=$1; shift
  echo "== schemathesis pass: $name" >&2
  (cd "$WORK" && schemathesis run "$BASE/openapi.json" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-time "$MAX_TIME" \
    --request-timeout 10 \
    --exclude-path /events \
    --seed "${ST_SEED:-$RANDOM}" \
    --report junit --report-dir "$WORK/report-$name" \
    "$@") 2>&1 | sed -E 's/^=+ (.*[^ =]) =+$/-- \1 --/'
}

status=0
run anonymous || status=1
run admin -H "Authorization: Bearer $KEY" || status=1
if grep -E "failed:|Error:|at .*\.ts:[0-9]+" "$WORK/server.log" | grep -v "^WARN binance" | head -n 20 >&2; then
  echo "schemathesis: the server logged errors (above)" >&2
fi
exit $status

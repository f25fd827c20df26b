#!/usr/bin/env bash
# A self-hosted KV Connect server (denokv, from crates.io) so that Sentinel's
# roles in separate processes, or on separate machines, share one Deno KV
# (DESIGN.md section 18). In the manner of tests/kafka/broker.sh.
#
#   scripts/denokv.sh start    fresh SQLite, start in the background, wait; last stdout line = URL
#   scripts/denokv.sh stop     stop the server this script started
#   scripts/denokv.sh status   exit 0 when running and answering; prints the URL
#   scripts/denokv.sh token    print the access token clients need (DENO_KV_ACCESS_TOKEN)
#   scripts/denokv.sh serve    like start, but in the foreground: stops when this script exits (Ctrl-C)
#
# Only the URL goes to stdout, so `KV_PATH=$(scripts/denokv.sh start)` works;
# progress goes to stderr. Clients run with KV_PATH=<url> and
# DENO_KV_ACCESS_TOKEN=$(scripts/denokv.sh token).
#
# Environment (all optional):
#   DENOKV_BIN            the denokv binary (default: denokv on PATH; `cargo install denokv`)
#   DENOKV_PORT           port (default 4512)
#   DENOKV_HOST           address to bind (default 127.0.0.1; 0.0.0.0 to serve other machines,
#                         with TLS in front: denokv speaks plain HTTP)
#   DENOKV_DIR            database, token, log and pid file (default data/denokv)
#   DENO_KV_ACCESS_TOKEN  the token to require (default: a random one, kept in $DENOKV_DIR/token)
#   DENOKV_KEEP_DATA=1    keep the database of the previous run instead of a fresh one
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${DENOKV_BIN:-denokv}"
port="${DENOKV_PORT:-4512}"
host="${DENOKV_HOST:-127.0.0.1}"
dir="${DENOKV_DIR:-$root/data/denokv}"
db="$dir/sentinel.sqlite"
log="$dir/denokv.log"
pidfile="$dir/denokv.pid"
tokenfile="$dir/token"
timeout_s="${DENOKV_START_TIMEOUT:-30}"
connect_host="$host"
[[ "$host" == "0.0.0.0" ]] && connect_host="127.0.0.1"
url="http://$connect_host:$port"

say() { printf '[denokv.sh] %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

server_pid() {
  [[ -s "$pidfile" ]] || return 1
  local pid
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'serve'; then
    return 1
  fi
  echo "$pid"
}

# True when denokv answers HTTP on the port (its KV Connect endpoint refuses a
# request without the token, which is answer enough).
answers() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' -X POST --max-time 2 "$url/" 2>/dev/null)" || true
  [[ "$code" =~ ^[1-5][0-9][0-9]$ ]]
}

token() {
  if [[ -n "${DENO_KV_ACCESS_TOKEN:-}" ]]; then
    echo "$DENO_KV_ACCESS_TOKEN"
  elif [[ -s "$tokenfile" ]]; then
    cat "$tokenfile"
  else
    die "no token yet: run '$0 start' first, or set DENO_KV_ACCESS_TOKEN"
  fi
}

cmd_start() {
  local pid
  if pid="$(server_pid)"; then
    if answers; then
      say "already running (pid $pid)"
      echo "$url"
      return 0
    fi
  fi
  command -v "$bin" >/dev/null || die "$bin not found: cargo install denokv (or set DENOKV_BIN)"
  command -v curl >/dev/null || die "curl is needed to check readiness"
  if answers; then die "something already answers on $url; set DENOKV_PORT"; fi
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [[ "${DENOKV_KEEP_DATA:-}" != "1" ]]; then rm -f "$db" "$db-wal" "$db-shm"; fi
  if [[ -n "${DENO_KV_ACCESS_TOKEN:-}" ]]; then
    printf '%s' "$DENO_KV_ACCESS_TOKEN" >"$tokenfile"
  else
    head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$tokenfile"
  fi
  chmod 600 "$tokenfile"
  : >"$log"
  say "starting denokv on $host:$port (database $db, log $log)"
  # The token goes through the environment, not argv, so `ps` does not show it.
  DENO_KV_ACCESS_TOKEN="$(<"$tokenfile")" setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" \
    "$bin" --sqlite-path "$db" serve --addr "$host:$port" >>"$log" 2>&1 </dev/null &
  local started=$SECONDS
  while ((SECONDS - started < timeout_s)); do
    if [[ -s "$pidfile" ]] && ! server_pid >/dev/null; then
      tail -n 20 "$log" >&2
      die "denokv exited during startup"
    fi
    if answers; then
      say "ready after $((SECONDS - started)) s (pid $(<"$pidfile")); token: $0 token"
      echo "$url"
      return 0
    fi
    sleep 0.2
  done
  tail -n 20 "$log" >&2
  cmd_stop || true
  die "denokv did not answer on $url after $timeout_s s"
}

cmd_stop() {
  local pid
  if ! pid="$(server_pid)"; then
    say "not running"
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  say "stopped"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  token) token ;;
  status)
    if server_pid >/dev/null && answers; then
      echo "$url"
    else
      say "not running"
      exit 3
    fi
    ;;
  serve)
    trap cmd_stop EXIT
    trap 'exit 130' INT TERM
    cmd_start
    say "serving until this script exits (Ctrl-C)"
    while server_pid >/dev/null; do sleep 1; done
    die "denokv exited; see $log"
    ;;
  *)
    echo "usage: $0 start|stop|status|token|serve" >&2
    exit 2
    ;;
esac

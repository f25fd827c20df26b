#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, no ZooKeeper, no Docker) for
# Sentinel's tests. DESIGN.md section 11; usage in tests/kafka/README.md.
#
#   tests/kafka/broker.sh start    fetch jars if missing, start, wait; last stdout line = address
#   tests/kafka/broker.sh stop     stop the broker this script started
#   tests/kafka/broker.sh status   print state; exit 0 when running and answering
#
# Only the broker address goes to stdout, so `KAFKA_BROKERS=$(tests/kafka/broker.sh start)`
# works; progress and diagnostics go to stderr.
#
# Environment (all optional):
#   KAFKA_PORT             client listener port (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default KAFKA_PORT + 1)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 90)
#   KAFKA_HEAP_OPTS        JVM heap flags (default "-Xms128m -Xmx512m")
#   KAFKA_KEEP_DATA=1      keep topics and offsets from the previous run instead of
#                          starting from freshly formatted storage
#   KAFKA_SASL_SSL_PORT    also open a SASL_SSL listener on this port, as managed Kafka
#                          services do: a CA and a broker certificate are made at start
#                          (openssl), users are created for PLAIN, SCRAM-SHA-256 and
#                          SCRAM-SHA-512, and $KAFKA_RUN_DIR/sasl_ssl.env holds the
#                          Sentinel settings (KAFKA_BROKERS, KAFKA_SSL, KAFKA_SSL_CA_FILE,
#                          KAFKA_SASL_*) that reach it
#   KAFKA_RUN_DIR          where config, logs, data and certificates go (default
#                          tests/kafka/run); a second broker from one checkout needs its own
#   JAVA_HOME / JAVA       which java to run
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
libs="$here/target/libs"
run="${KAFKA_RUN_DIR:-$here/run}"
data="$run/data"
props="$run/server.properties"
log4j="$run/log4j.properties"
log4j2="$run/log4j2.properties"
logging=(-Dlog4j2.configurationFile="$log4j2" -Dlog4j.configuration="file:$log4j")
log="$run/broker.log"
pidfile="$run/broker.pid"

port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
timeout_s="${KAFKA_START_TIMEOUT:-90}"
heap="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
address="127.0.0.1:$port"
sasl_port="${KAFKA_SASL_SSL_PORT:-}"
tls="$run/tls"
sasl_env="$run/sasl_ssl.env"
sasl_user="sentinel"
if [[ -n "${JAVA:-}" ]]; then java="$JAVA"
elif [[ -n "${JAVA_HOME:-}" ]]; then java="$JAVA_HOME/bin/java"
else java="java"; fi

say() { printf '[broker.sh] %s\n' "$*" >&2; }

die() {
  say "error: $*"
  exit 1
}

# For failures of the broker itself: its log says why.
die_with_log() {
  if [[ -s "$log" ]]; then
    say "last 40 lines of $log:"
    tail -n 40 "$log" >&2
  fi
  die "$@"
}

# The pid of the broker this script started, if that process is still alive
# (and, where /proc says so, still a Kafka JVM: pids are reused after a reboot).
broker_pid() {
  [[ -s "$pidfile" ]] || return 1
  local pid
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka'; then
    return 1
  fi
  echo "$pid"
}

# True when something accepts TCP connections on the client port.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
}

# True when a Kafka broker answers on the client port: sends an ApiVersions v0
# request (api key 18, correlation id 1, empty client id) and expects
# correlation id 1 with error code 0 back. A bare TCP connect is not enough:
# the kernel completes handshakes on a bound socket before Kafka processes requests.
answers_kafka() {
  local reply
  reply="$(timeout 3 bash -c "
    exec 3<>/dev/tcp/127.0.0.1/$port || exit 1
    printf '\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00' >&3
    head -c 10 <&3 | od -An -v -tx1
  " 2>/dev/null | tr -d ' \n')" || return 1
  # size(4 bytes, any) correlation_id=00000001 error_code=0000
  [[ "${reply:8:12}" == "000000010000" ]]
}

# Readiness: the broker answers requests AND has finished startup (it is
# registered and unfenced; before that, creating a topic fails with
# "only 0 broker(s) are registered").
ready() {
  answers_kafka && grep -q 'Kafka Server started' "$log" 2>/dev/null
}

# The Kafka version pinned in pom.xml.
pinned_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml" | head -n 1
}

fetch_jars() {
  local version
  version="$(pinned_version)"
  [[ -n "$version" ]] || die "no <kafka.version> in $here/pom.xml"
  if [[ -f "$libs/kafka_2.13-$version.jar" ]]; then return 0; fi
  # A different version's jars must not share the classpath with the new one.
  rm -rf "$libs"
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka's jars"
  say "fetching Apache Kafka $version jars from Maven Central into $libs (first run only, ~45 MB)..."
  local started=$SECONDS
  # -B: plain 'Downloading from central: ...' lines as progress, no ANSI bars.
  if ! (cd "$here" && mvn -B dependency:copy-dependencies \
      -DoutputDirectory=target/libs >&2); then
    rm -rf "$libs"
    die "mvn dependency:copy-dependencies failed (is Maven Central reachable?)"
  fi
  say "jars fetched in $((SECONDS - started)) s ($(ls "$libs" | wc -l) files)"
}

write_config() {
  mkdir -p "$run" "$data"
  cat >"$props" <<EOF
# Written by tests/kafka/broker.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port${sasl_port:+,SASL_SSL://127.0.0.1:$sasl_port}
advertised.listeners=PLAINTEXT://127.0.0.1:$port${sasl_port:+,SASL_SSL://127.0.0.1:$sasl_port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
# 50 partitions (the default) makes the first consumer group join slow on a small machine.
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
# Few threads: this is a test broker on a shared 2-core machine.
num.network.threads=2
num.io.threads=2
background.threads=2
EOF
  if [[ -n "$sasl_port" ]]; then
    cat >>"$props" <<EOF
# SASL_SSL listener (KAFKA_SASL_SSL_PORT): TLS with the certificate made by make_tls,
# then SASL. PLAIN users live in the JAAS line; SCRAM users in the metadata log
# (created by StorageTool format --add-scram).
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$(<"$tls/password")";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls/broker.p12
ssl.keystore.password=$(<"$tls/store-password")
ssl.key.password=$(<"$tls/store-password")
ssl.client.auth=none
EOF
  fi
  # Kafka's distribution ships its logging config in config/; the jars do not.
  # Kafka 4.x logs to log4j2, 3.x to log4j 1 (reload4j): both files are written
  # and both are passed, so changing kafka.version in pom.xml needs no edit here.
  cat >"$log4j2" <<'EOF'
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = warn
EOF
  cat >"$log4j" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
}

# A private CA and a broker certificate for 127.0.0.1/localhost, made fresh on
# every start (openssl), the broker's key store (PKCS12) and the SASL password.
make_tls() {
  command -v openssl >/dev/null || die "openssl is needed for KAFKA_SASL_SSL_PORT"
  rm -rf "$tls"
  mkdir -p "$tls"
  chmod 700 "$tls"
  head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$tls/password"
  head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$tls/store-password"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Sentinel test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout broker.key -out broker.csr
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
      -extfile broker.ext -out broker.pem
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -passout "file:store-password" -out broker.p12
  ) >>"$log" 2>&1 || die_with_log "making the test certificates with openssl failed"
  chmod 755 "$tls"
  chmod 600 "$tls"/*.key "$tls"/*password "$tls/broker.p12"
}

# The settings a Sentinel process (or a test) uses to reach the SASL_SSL listener.
write_sasl_env() {
  (
    umask 077
    cat >"$sasl_env" <<EOF
KAFKA_BROKERS=127.0.0.1:$sasl_port
KAFKA_SSL=true
KAFKA_SSL_CA_FILE=$tls/ca.pem
KAFKA_SASL_MECHANISM=scram-sha-256
KAFKA_SASL_USERNAME=$sasl_user
KAFKA_SASL_PASSWORD=$(<"$tls/password")
EOF
  )
}

format_storage() {
  # A cluster id is 16 random bytes in URL-safe base64 without padding (22 chars),
  # which is what `kafka-storage.sh random-uuid` prints, minus a JVM start.
  local cluster_id
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  say "formatting $data (cluster id $cluster_id)"
  local scram=()
  if [[ -n "$sasl_port" ]]; then
    local pw
    pw="$(<"$tls/password")"
    scram=(--add-scram "SCRAM-SHA-256=[name=$sasl_user,password=$pw]"
      --add-scram "SCRAM-SHA-512=[name=$sasl_user,password=$pw]")
  fi
  "$java" "${logging[@]}" -cp "$libs/*" kafka.tools.StorageTool \
    format --cluster-id="$cluster_id" -c "$props" "${scram[@]}" >>"$log" 2>&1 ||
    die_with_log "kafka.tools.StorageTool format failed"
}

# Serializes start and stop, so two test runs calling `start` at once share one
# broker. fd 9 stays open until the script exits; the broker does not inherit it.
lock() {
  mkdir -p "$run"
  exec 9>"$run/.lock"
  flock -w $((timeout_s + 60)) 9 || die "could not lock $run/.lock"
}

# Waits until the broker with pid file $pidfile is ready; seconds count from $1.
# Prints the address on success; on failure prints the log tail and exits.
wait_ready() {
  local started=$1 waited=$((SECONDS - $1)) next_report=5 pid i
  # The pid file appears as soon as the launcher's bash runs; on a loaded
  # machine that can take a moment, so wait for it rather than guess.
  for ((i = 0; i < 100; i++)); do
    [[ -s "$pidfile" ]] && break
    sleep 0.1
  done
  while true; do
    pid="$(broker_pid)" || die_with_log "the broker exited during startup"
    if ready; then
      say "ready after $waited s (pid $pid)"
      echo "$address"
      return 0
    fi
    if ((waited >= next_report)); then
      say "waiting for $address ... ${waited}s"
      next_report=$((waited + 5))
    fi
    ((waited < timeout_s)) || break
    sleep 0.5
    waited=$((SECONDS - started))
  done
  die_with_log "the broker (pid $pid) was not ready on $address after $timeout_s s"
}

cmd_start() {
  local pid started=$SECONDS
  if pid="$(broker_pid)"; then
    grep -q "^listeners=PLAINTEXT://127.0.0.1:$port," "$props" 2>/dev/null ||
      die "a broker from this script (pid $pid) is running on another port, see $props; run '$0 stop' first"
    if ready; then
      say "already running (pid $pid)"
      echo "$address"
      return 0
    fi
    # Most likely another `start` is still waiting for it (two test runs at once):
    # wait with it rather than restart a broker someone is about to use.
    say "pid $pid is alive but not ready yet; waiting for it"
    wait_ready "$started"
    return 0
  fi
  if port_open; then
    # A broker this script did not start (another checkout's, a left-over one)
    # is as good for tests, whose topics are uniquely named: use it.
    if answers_kafka && [[ -n "$sasl_port" ]]; then
      die "a Kafka broker not started by this script answers on $address, without the SASL_SSL listener asked for; set another KAFKA_PORT"
    fi
    if answers_kafka; then
      say "a Kafka broker not started by this script answers on $address; using it"
      echo "$address"
      return 0
    fi
    die "something else is listening on $address (not Kafka); set KAFKA_PORT"
  fi
  command -v "$java" >/dev/null || die "java not found (Java 17+ is needed)"
  fetch_jars

  started=$SECONDS
  mkdir -p "$run"
  # New certificates and users on every start, so storage is formatted afresh.
  if [[ "${KAFKA_KEEP_DATA:-}" != "1" || -n "$sasl_port" ]]; then rm -rf "$data"; fi
  : >"$log"
  if [[ -n "$sasl_port" ]]; then
    make_tls
    write_sasl_env
  else
    rm -f "$sasl_env"
  fi
  write_config
  if [[ ! -f "$data/meta.properties" ]]; then format_storage; fi

  say "starting kafka.Kafka on $address (log: $log)"
  rm -f "$pidfile" # stale: its process is gone, or we would have returned above
  # setsid: the broker leaves the caller's process group, so it outlives the
  # shell (or CI step) that started it. bash writes its own pid and then execs
  # java, so the pid file holds the JVM's pid whether or not setsid forked.
  # shellcheck disable=SC2086 # $heap is a list of JVM flags
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" \
    nohup "$java" $heap -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "${logging[@]}" -cp "$libs/*" kafka.Kafka "$props" >>"$log" 2>&1 </dev/null 9>&- &

  if ! (wait_ready "$started"); then
    say "stopping the broker that did not come up"
    cmd_stop || true
    exit 1
  fi
  if [[ -n "$sasl_port" ]]; then
    say "SASL_SSL listener on 127.0.0.1:$sasl_port; its client settings are in $sasl_env"
  fi
}

cmd_stop() {
  local pid
  if ! pid="$(broker_pid)"; then
    say "not running"
    rm -f "$pidfile"
    return 0
  fi
  say "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 300; i++)); do # controlled shutdown, up to 30 s
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "still alive after 30 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  say "stopped"
}

cmd_status() {
  local pid
  if pid="$(broker_pid)"; then
    if ready; then
      say "running (pid $pid) and answering on $address"
      echo "$address"
      return 0
    fi
    say "running (pid $pid) but not answering on $address"
    return 1
  fi
  say "not running"
  return 3
}

case "${1:-}" in
  start) lock && cmd_start ;;
  stop) lock && cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac

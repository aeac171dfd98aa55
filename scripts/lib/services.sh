# Starting the real servers the integration tests talk to: Redis (one node and a
# three-master cluster) and three memcached servers. Sourced by scripts/test.
#
# A server the environment already provides (REDIS_URL, …) is used when it answers;
# otherwise one is started on a free loopback port, from Debian's packages when the
# binary is missing, and stopped when the calling script exits.

SERVICES_DIR="$(mktemp -d "${TMPDIR:-/tmp}/session-test-services.XXXXXX")"
SERVICES_PIDFILES=()

services_cleanup() {
    local pidfile
    for pidfile in "${SERVICES_PIDFILES[@]}"; do
        [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    # A server may still be writing its log as it exits.
    rm -rf "$SERVICES_DIR" 2>/dev/null || { sleep 0.5; rm -rf "$SERVICES_DIR" 2>/dev/null; } || true
}

# ensure_command BINARY DEBIAN_PACKAGE: installs the package when BINARY is missing.
ensure_command() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "  $1 not found: installing Debian package $2"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
    command -v "$1" >/dev/null 2>&1 || { echo "could not install $2" >&2; return 1; }
}

# free_port [SPAN]: a loopback port that is free, and so is port+SPAN (cluster bus).
free_port() {
    python3 - "${1:-0}" <<'PY'
import random, socket, sys
span = int(sys.argv[1])
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
while True:
    port = random.randint(20000, 40000)
    if free(port) and (span == 0 or free(port + span)):
        print(port)
        break
PY
}

# wait_until SECONDS COMMAND...: retries COMMAND until it succeeds.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$deadline" ] && { echo "timed out waiting for: $*" >&2; return 1; }
        sleep 0.1
    done
}

# start_redis_node PORT [EXTRA ARGS...]: a throwaway redis-server on 127.0.0.1:PORT.
start_redis_node() {
    local port=$1
    shift
    local pidfile="$SERVICES_DIR/redis-$port.pid"
    SERVICES_PIDFILES+=("$pidfile")
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
        --daemonize yes --pidfile "$pidfile" --dir "$SERVICES_DIR" \
        --logfile "$SERVICES_DIR/redis-$port.log" "$@"
    wait_until 10 sh -c "redis-cli -p $port ping | grep -q PONG"
}

# Exports REDIS_URL: the given one if it answers, else a server of our own.
start_redis() {
    if [ -n "${REDIS_URL:-}" ] && command -v redis-cli >/dev/null 2>&1 \
        && redis-cli -u "$REDIS_URL" ping 2>/dev/null | grep -q PONG; then
        echo "  using Redis at REDIS_URL"
    else
        ensure_command redis-server redis-server
        local port
        port=$(free_port)
        start_redis_node "$port"
        export REDIS_URL="redis://127.0.0.1:$port/"
        echo "  started redis-server on 127.0.0.1:$port"
    fi
    # The tests start dedicated servers of their own (counting, kill and restart; TLS
    # ones with a throw-away PKI that the openssl CLI makes at test time).
    REDIS_SERVER_BIN="$(command -v redis-server)"
    export REDIS_SERVER_BIN
    ensure_command openssl openssl
}

# Exports REDIS_CLUSTER_URLS: three masters on loopback, slots spread by redis-cli.
start_redis_cluster() {
    if [ -n "${REDIS_CLUSTER_URLS:-}" ]; then
        echo "  using the Redis Cluster at REDIS_CLUSTER_URLS"
        return 0
    fi
    ensure_command redis-server redis-server
    local ports=() urls=() port
    for _ in 1 2 3; do
        port=$(free_port 10000)
        start_redis_node "$port" --cluster-enabled yes \
            --cluster-config-file "$SERVICES_DIR/nodes-$port.conf" --cluster-node-timeout 2000
        ports+=("127.0.0.1:$port")
        urls+=("redis://127.0.0.1:$port/")
    done
    redis-cli --cluster create "${ports[@]}" --cluster-replicas 0 --cluster-yes >"$SERVICES_DIR/cluster-create.log"
    local first=${ports[0]#127.0.0.1:}
    wait_until 20 sh -c "redis-cli -p $first cluster info | grep -q cluster_state:ok"
    REDIS_CLUSTER_URLS=$(IFS=,; echo "${urls[*]}")
    export REDIS_CLUSTER_URLS
    echo "  started a 3-master Redis Cluster on ${ports[*]}"
}

# memcached_answers HOST:PORT: true when a memcached answers `version` there.
memcached_answers() {
    python3 - "$1" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
try:
    with socket.create_connection((host.strip("[]"), int(port)), timeout=2) as s:
        s.sendall(b"version\r\n")
        sys.exit(0 if s.recv(64).startswith(b"VERSION") else 1)
except OSError:
    sys.exit(1)
PY
}

# Exports MEMCACHE_SERVERS: the given ones if they all answer, else three of our own.
start_memcached() {
    local server all_up=1
    if [ -n "${MEMCACHE_SERVERS:-}" ]; then
        for server in ${MEMCACHE_SERVERS//,/ }; do
            memcached_answers "$server" || all_up=0
        done
        if [ "$all_up" = 1 ]; then
            echo "  using memcached at MEMCACHE_SERVERS"
            MEMCACHED_BIN="$(command -v memcached || true)"
            export MEMCACHED_BIN
            return 0
        fi
    fi
    ensure_command memcached memcached
    local user_args=() servers=() port pidfile
    # memcached refuses to run as root unless told which user to run as.
    [ "$(id -u)" -eq 0 ] && user_args=(-u root)
    for _ in 1 2 3; do
        port=$(free_port)
        pidfile="$SERVICES_DIR/memcached-$port.pid"
        SERVICES_PIDFILES+=("$pidfile")
        memcached -d -l 127.0.0.1 -p "$port" -U 0 -P "$pidfile" "${user_args[@]}"
        wait_until 10 memcached_answers "127.0.0.1:$port"
        servers+=("127.0.0.1:$port")
    done
    MEMCACHE_SERVERS=$(IFS=,; echo "${servers[*]}")
    MEMCACHED_BIN="$(command -v memcached)"
    export MEMCACHE_SERVERS MEMCACHED_BIN
    echo "  started memcached on ${servers[*]}"
}

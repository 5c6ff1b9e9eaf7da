# Installs what ./run and ./test need and a fresh Debian machine lacks. Sourced by both.
# The ClickHouse library (566 MB) is cached outside the repository.

CHDB_VERSION="26.7.3-stable.1"
CHDB_LIBRARY="${ANALYTICS_CHDB_LIBRARY:-${HOME:-$(cd ~ && pwd)}/.cache/analytics/chdb/$CHDB_VERSION/libchdb.so}"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    echo "Installing $* (apt) …" >&2
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_redis() {
    command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || apt_install redis-server
}

ensure_clickhouse_library() {
    [ -f "$CHDB_LIBRARY" ] && return 0
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    echo "Fetching ClickHouse $CHDB_VERSION (the chdb library, about 180 MB) into $(dirname "$CHDB_LIBRARY") …" >&2
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "@chdb/lib-linux-x64-gnu@$CHDB_VERSION" >/dev/null && tar xzf ./*.tgz package/libchdb.so)
    mkdir -p "$(dirname "$CHDB_LIBRARY")"
    mv "$tmp/package/libchdb.so" "$CHDB_LIBRARY.partial" && mv "$CHDB_LIBRARY.partial" "$CHDB_LIBRARY"
    rm -rf "$tmp"
}

ensure_chromium() {
    [ -x /usr/bin/chromium ] || apt_install chromium
}

ensure_npm() {
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
}

# make_pool URL COUNT [CURL ARGS...]: the session cookies COUNT fresh clients got from
# URL, one `name=value` per line, in a file under $SERVICES_DIR (for pool.lua). Prints
# the file's path. Used by scripts/bench and scripts/soak.
make_pool() {
    local url=$1 count=$2 file
    shift 2
    file=$(mktemp "$SERVICES_DIR/pool.XXXXXX")
    for _ in $(seq "$count"); do
        curl -s -o /dev/null -D - "$@" "$url" \
            | awk 'tolower($1) == "set-cookie:" { split($2, pair, ";"); print pair[1] }' \
            | grep -v '=$' | head -1 >>"$file" || true
    done
    echo "$file"
}

#!/usr/bin/env bash
# Search latency over index nodes at 1M documents (BENCHMARKS.md, "The
# cluster"): the same 1M-document index served (a) by `mediawatch run`
# locally, (b) by the api role over one index node, (c) by the api role over
# three index nodes (replicas), each measured with wrk and the search mix of
# crates/server/bench/search.lua. The index nodes get hard-linked copies of
# one index (tantivy never rewrites a segment file), so the three cost no
# extra disk.
#
#   cargo run --release -p mediawatch-index --example index_bench -- 1000000 IDX/index --index-only --no-terms
#   crates/cluster/bench/search_1m.sh IDX/index WORKDIR
set -euo pipefail
INDEX=${1:?the 1M index directory}
W=${2:?a work directory}
BIN=${BIN:-target/release/mediawatch}
BASE=${BASE:-23000}
LUA=crates/server/bench/search.lua
rm -rf "$W" && mkdir -p "$W"
cp crates/server/bench/load.toml "$W/user.toml"
up() { "$BIN" --config "$W/user.toml" --data-dir "$W/data" cluster up --nats-nodes 1 --workers 1 --indexers 3 --port-base "$BASE"; }
up
"$BIN" --data-dir "$W/data" cluster down --grace 10s
trap '"$BIN" --data-dir "$W/data" cluster down --grace 10s; kill $(jobs -p) 2>/dev/null || true' EXIT
for i in 1 2 3; do
    rm -rf "$W/data/cluster/nodes/indexer-$i/index"
    cp -al "$INDEX" "$W/data/cluster/nodes/indexer-$i/index"
    # The writer's lock files must not be shared: a hard link is the same
    # file, and the lock is taken on it.
    rm -f "$W/data/cluster/nodes/indexer-$i/index"/.tantivy-*.lock
done
up
trap '"$BIN" --data-dir "$W/data" cluster down --grace 10s; kill $(jobs -p) 2>/dev/null || true' EXIT
sed "s#^index_nodes = .*#index_nodes = [\"http://127.0.0.1:$((BASE + 30))\"]#" "$W/data/cluster/cluster.toml" > "$W/one.toml"
"$BIN" --config "$W/one.toml" --data-dir "$W/api1" node --name api1 --role api --listen "127.0.0.1:$((BASE + 99))" > "$W/api1.log" 2>&1 &
mkdir -p "$W/local" && cp -al "$INDEX" "$W/local/index" && rm -f "$W/local/index"/.tantivy-*.lock
"$BIN" --config crates/server/bench/load.toml --data-dir "$W/local" run --listen "127.0.0.1:$((BASE + 98))" > "$W/local.log" 2>&1 &
for p in $((BASE + 98)) $((BASE + 99)) $((BASE + 50)); do
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$p/api/health" >/dev/null && break; sleep 0.2; done
    curl -s "http://127.0.0.1:$p/api/health"; echo
    # Warm the page cache and each node's readers.
    for _ in 1 2 3; do curl -s "http://127.0.0.1:$p/api/search?q=migranti" >/dev/null; done
done
for run in "local:$((BASE + 98))" "api over 1 index node:$((BASE + 99))" "api over 3 index nodes:$((BASE + 50))"; do
    echo "== ${run%%:*}"
    wrk -t1 -c4 -d30s --latency -s "$LUA" "http://127.0.0.1:${run##*:}" | grep -E "Requests/sec|requests in|Non-2xx|^ +50%|^ +90%|^ +99%|Latency"
done

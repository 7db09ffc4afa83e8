#!/usr/bin/env bash
# Schema-driven fuzzing of the HTTP API: starts a fresh `stowage dev` cluster (ACLs off), waits
# for a leader, and runs schemathesis against http-gateway/openapi.json with the checks
#   not_a_server_error, response_schema_conformance, status_code_conformance,
#   content_type_conformance.
# Exits non-zero when schemathesis reports a failure (or cannot run). The cluster is always
# stopped and its data removed, whatever happens.
#
# Environment:
#   STOWAGE_BIN                 the binary (default: $CARGO_TARGET_DIR/debug/stowage)
#   CARGO_TARGET_DIR            default ~/.cache/stowage/target
#   STOWAGE_OPENAPI             the document (default: http-gateway/openapi.json beside this repo)
#   STOWAGE_FUZZ_MAX_EXAMPLES   schemathesis --max-examples per operation (default 25)
#   STOWAGE_FUZZ_TIMEOUT        seconds the whole schemathesis run may take (default 900)
#   STOWAGE_FUZZ_WORKERS        concurrent schemathesis workers (default 1: with more, its coverage
#                               phase has been seen to fail inside Python with "AST constructor
#                               recursion depth mismatch", a runtime error, not a finding)
#   STOWAGE_FUZZ_SEED           a seed, to reproduce a run
#   STOWAGE_FUZZ_REPORT_DIR     if set, JUnit and NDJSON reports are written there
#   TMPDIR                      schemathesis is installed under ${TMPDIR:-/tmp}/stowage-schemathesis
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
schema=${STOWAGE_OPENAPI:-$repo/http-gateway/openapi.json}
target=${CARGO_TARGET_DIR:-$HOME/.cache/stowage/target}
bin=${STOWAGE_BIN:-$target/debug/stowage}
max_examples=${STOWAGE_FUZZ_MAX_EXAMPLES:-25}
run_timeout=${STOWAGE_FUZZ_TIMEOUT:-900}
workers=${STOWAGE_FUZZ_WORKERS:-1}
venv=${TMPDIR:-/tmp}/stowage-schemathesis

say() { printf 'api-fuzz: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[[ -f $schema ]] || die "no OpenAPI document at $schema"
[[ -x $bin ]] || die "no stowage binary at $bin (build it, or set STOWAGE_BIN)"
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"

# --- schemathesis, pinned, in its own venv --------------------------------------------------
st=$venv/bin/st
if ! { [[ -x $st ]] && "$st" --version 2>/dev/null | grep -qF "version $SCHEMATHESIS_VERSION"; }; then
    say "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$st" --version >&2

# --- a fresh cluster ------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/stowage-api-fuzz.XXXXXX")
dev_pid=""
st_pid=""

cleanup() {
    local rc=$?
    # Finish cleaning up whatever arrives meanwhile.
    trap '' INT TERM
    trap - EXIT
    if [[ -n $st_pid ]] && kill -0 "$st_pid" 2>/dev/null; then
        kill -TERM "$st_pid" 2>/dev/null || true
        wait "$st_pid" 2>/dev/null || true
    fi
    if [[ -n $dev_pid ]] && kill -0 "$dev_pid" 2>/dev/null; then
        say "stopping the dev cluster (pid $dev_pid)"
        kill -TERM "$dev_pid" 2>/dev/null || true
        # `stowage dev` stops its three nodes (SIGKILL after 10 s); give it a little longer.
        local deadline=$((SECONDS + 20))
        while kill -0 "$dev_pid" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.2
        done
        if kill -0 "$dev_pid" 2>/dev/null; then
            say "the dev cluster did not stop; killing its process group"
            kill -KILL -- "-$dev_pid" 2>/dev/null || kill -KILL "$dev_pid" 2>/dev/null || true
        fi
        wait "$dev_pid" 2>/dev/null || true
    fi
    # Nodes of the group that outlived their supervisor (it was killed) go too.
    if [[ -n $dev_pid ]]; then
        kill -KILL -- "-$dev_pid" 2>/dev/null || true
    fi
    if ((rc != 0)) && [[ -d $work/data ]]; then
        for log in "$work"/data/node*.log; do
            [[ -f $log ]] || continue
            say "last lines of $log:"
            tail -n 20 "$log" >&2 || true
        done
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A base port whose six ports (HTTP and RPC of three nodes) are all free.
port=$(python3 - <<'EOF'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    # Below the usual ephemeral range (32768+), so no outgoing connection takes one meanwhile.
    base = random.randrange(20000, 32700)
    if all(free(base + 10 * n + r) for n in range(3) for r in range(2)):
        print(base)
        break
else:
    raise SystemExit("no free ports")
EOF
)
base_url="http://127.0.0.1:$port"

say "starting stowage dev on $base_url (data in $work/data)"
# Its own process group, so that nothing it starts can outlive the run.
setsid "$bin" dev --data-dir "$work/data" --http-port "$port" >"$work/dev.log" 2>&1 &
dev_pid=$!

deadline=$((SECONDS + 90))
leader=""
while :; do
    if ! kill -0 "$dev_pid" 2>/dev/null; then
        cat "$work/dev.log" >&2 || true
        die "stowage dev exited before electing a leader"
    fi
    leader=$(curl -fsS --max-time 2 "$base_url/v1/status/leader" 2>/dev/null || true)
    if [[ -n $leader && $leader != '""' ]]; then
        break
    fi
    ((SECONDS < deadline)) || die "no leader on node 1 within 90 s"
    sleep 0.2
done
say "leader: $leader"

# --- fixtures: the records the document's examples name, so that the answers that carry a
# plugin, a volume with a claim, and its history are checked against their schemas too.
put() {
    local path=$1 body=$2 status
    status=$(curl -sS -o "$work/fixture.out" -w '%{http_code}' --max-time 10 -X PUT \
        -H 'Content-Type: application/json' --data "$body" "$base_url$path") || status=000
    if [[ $status != 200 ]]; then
        cat "$work/fixture.out" >&2 2>/dev/null || true
        die "fixture PUT $path answered $status"
    fi
}
put /v1/plugin/csi/fuzz-plugin \
    '{"Provider":"fuzz.csi","Version":"1.0.0","ControllerRequired":false,"NodesHealthy":1,"NodesExpected":1}'
put /v1/volume/csi/fuzz-vol \
    '{"ID":"fuzz-vol","Name":"fuzz volume","ExternalID":"ext-fuzz-vol","PluginID":"fuzz-plugin",
      "RequestedCapabilities":[{"AccessMode":"multi-node-multi-writer","AttachmentMode":"file-system"}],
      "MountOptions":{"FSType":"ext4","MountFlags":["noatime"]},"Secrets":{"token":"s3cr3t"},
      "Parameters":{"tier":"gold"},"Topologies":[{"Segments":{"zone":"a"}}]}'
put /v1/volume/csi/fuzz-vol/claim \
    '{"AllocationID":"5a1b6a5e-0000-4000-8000-000000000001","NodeID":"fuzz-node","Claim":"write",
      "State":"taken","AccessMode":"multi-node-multi-writer","AttachmentMode":"file-system",
      "JobID":"fuzz-job","TaskGroup":"group","Name":"fuzz-job.group[0]"}'
say "fixtures: plugin fuzz-plugin, volume fuzz-vol claimed by node fuzz-node"

# --- schemathesis ---------------------------------------------------------------------------
# Operations left out of the run, with why:
#   /v1/event/stream       a stream that never ends (a heartbeat every 10 s keeps it open).
#   /v1/operator/raft/peer removes cluster members: the run would take its own cluster apart.
cat >"$work/schemathesis.toml" <<'EOF'
# Blocking queries wait up to 5 minutes by default: every generated `wait` is 100ms instead.
[parameters]
"query.wait" = "100ms"

[[operations]]
include-path = "/v1/event/stream"
enabled = false

[[operations]]
include-path = "/v1/operator/raft/peer"
enabled = false

# Documented 501s (they need a CSI controller plugin): not server faults.
[[operations]]
include-path-regex = '^/v1/volumes/(external|snapshot)$|^/v1/volume/csi/\{volume_id\}/(create|delete)$'
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "501"]
EOF

args=(
    --config-file "$work/schemathesis.toml"
    run "$schema"
    --url "$base_url"
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance
    --max-examples "$max_examples"
    --workers "$workers"
    --request-timeout 20
    --suppress-health-check all
)
if [[ -n ${STOWAGE_FUZZ_SEED:-} ]]; then
    args+=(--seed "$STOWAGE_FUZZ_SEED")
fi
if [[ -n ${STOWAGE_FUZZ_REPORT_DIR:-} ]]; then
    mkdir -p "$STOWAGE_FUZZ_REPORT_DIR"
    args+=(--report junit,ndjson --report-dir "$STOWAGE_FUZZ_REPORT_DIR")
fi

say "schemathesis ${args[*]}"
# In the background, so that a signal to this script is acted on at once (the trap runs during
# `wait`, not after a foreground command). From $work: Hypothesis keeps its database in the
# working directory.
(cd "$work" && exec timeout --signal=INT --kill-after=30 "$run_timeout" "$st" "${args[@]}") &
st_pid=$!
set +e
wait "$st_pid"
st_rc=$?
set -e
st_pid=""
case $st_rc in
    0) say "schemathesis: no failures" ;;
    124 | 130) say "schemathesis did not finish within ${run_timeout}s" ;;
    *) say "schemathesis reported failures (exit $st_rc)" ;;
esac
exit "$st_rc"

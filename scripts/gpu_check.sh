#!/usr/bin/env bash
# GPU acceptance check (issues 4 and 16) of the shipped design: neobert-export
# and neobert-exportd link no LibTorch and dlopen libneobert_engine_torch.so,
# built here against the PyTorch install's CUDA LibTorch.
#
# On the GPU machine (Ubuntu 24.04, PyTorch 2.x + CUDA, transformers 5.x; see
# ../shared/device/README.md, whose recipe step 2 this follows) it:
#   1. builds the two binaries and the engine library with Debian's packages
#      from .debs/; the library must link libtorch_cuda, the binaries no LibTorch;
#   2. exports EVERY fixture variant (fixtures/index.json) with the sanity pass
#      on cuda:0 (the result must say cuda:0) and validates each export on
#      cuda:0 against its checkpoint;
#   3. runs scripts/gpu_check.py on every export: the real transformers
#      AutoTokenizer / AutoModel / AutoModelForMaskedLM /
#      AutoModelForSequenceClassification (trust_remote_code=True) against
#      `neobert-export forward` on cpu and cuda:0;
#   4. on a NeoBERT-250M-shaped checkpoint (bench/scale_checkpoint.py --size
#      250m, fp32): the export with the CUDA sanity pass, its phases (engine
#      load, weights, forward = the pass once the weights are loaded), the same
#      export with the CPU pass, validate on cuda:0 and on cpu;
#   5. neobert-exportd --device auto --workers 2 with two 250M exports
#      submitted at once: both SUCCEEDED on cuda:0, and they ran at the same
#      time (each started before the other finished).
# Figures go to $OUT/figures.json (with the commit and date), logs and JSON
# reports to $OUT (./gpu-check-out when $OUT is unset); exports stay in a
# scratch folder.
#
# Prepare HERE (Debian), from the project root, after a build whose fixtures
# exist (ctest --test-dir build -R fixtures):
#   EXTRA_DEBS="libssl-dev libssl3 zlib1g-dev libcpp-httplib-dev libcpp-httplib0.11 \
#     libbrotli-dev libbrotli1" bash ../shared/device/fetch-debs.sh        # -> .debs/
#   rm -rf .gpu && mkdir .gpu && cp -r build/fixtures build/fixture-cache .gpu/ &&
#     git rev-parse --short HEAD > .gpu/commit &&
#     { grep -qx /.gpu/ .git/info/exclude || echo /.gpu/ >> .git/info/exclude; }
# (in a worktree, .git/info/exclude is "$(git rev-parse --git-common-dir)/info/exclude").
# Then ONE device run (about 5 minutes; the build takes ~1 of them):
#   run(command="bash scripts/gpu_check.sh", carry=[".debs", ".gpu"], timeout_s=540)
# Rehearsal here, with the CPU build and no transformers (device checks then
# expect "cpu", step 3 is skipped, nothing is built):
#   GPU_CHECK_BIN=build/bin GPU_CHECK_DEVICE=cpu GPU_CHECK_PYTHON=/usr/bin/python3 \
#     bash scripts/gpu_check.sh build/fixtures
set -euo pipefail
cd "$(dirname "$0")/.."
FIXTURES="${1:-.gpu/fixtures}"
OUT="${OUT:-$PWD/gpu-check-out}"
DEVICE="${GPU_CHECK_DEVICE:-cuda:0}"     # where forward passes must land
PY="${GPU_CHECK_PYTHON:-python3}"
WORK="$(mktemp -d /tmp/gpu-check.XXXXXX)"
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
FAILED=()
step() { echo; echo "== $*"; }
fail() { echo "FAIL: $*"; FAILED+=("$*"); }
fig() { printf '%s\t%s\n' "$1" "$2" >> "$WORK/figures.tsv"; }  # name, value
now() { echo "$EPOCHREALTIME"; }
since() { "$PY" -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.2f}")' "$1" "$(now)"; }
# The first "result" event of an export/validate --json output, as one field.
result_field() {
  "$PY" -c 'import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{\"event\":\"result\""):
        v = json.loads(line)
        for k in sys.argv[2].split("."):
            v = v[k]
        print(v)
        break' "$1" "$2"
}
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "(no nvidia-smi)"
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || cat .gpu/commit 2>/dev/null || echo unknown)
echo "commit $COMMIT, forward passes expected on $DEVICE"
[ -f "$FIXTURES/index.json" ] || { echo "no fixtures in $FIXTURES (carry .gpu)"; exit 1; }
CACHE="$FIXTURES/../fixture-cache"
[ -d "$CACHE" ] || { echo "no tokenizer cache at $CACHE (carry .gpu/fixture-cache)"; exit 1; }

PLAIN_LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
if [ -n "${GPU_CHECK_BIN:-}" ]; then
  step "using the binaries in $GPU_CHECK_BIN (no build)"
  BIN="$(cd "$GPU_CHECK_BIN" && pwd)"
else
  step "build against the CUDA LibTorch of the PyTorch install"
  [ -f .debs/gpu-env.sh ] || { echo "no .debs/gpu-env.sh (run fetch-debs.sh here, carry .debs)"; exit 1; }
  # shellcheck disable=SC1091
  source .debs/gpu-env.sh
  # Our CMake finds Protobuf before Torch and keeps spdlog/fmt out of the
  # LibTorch translation units (the two pitfalls of the device README).
  # pkg-config would report Debian's /usr paths for the packages unpacked under
  # /opt/deb, so cpp-httplib is found by header and library instead.
  t0=$(now)
  if ! { cmake -S . -B build-gpu -G Ninja "${GPU_CMAKE_ARGS[@]}" -DNEOBERT_BUILD_TESTS=OFF \
           -DNEOBERT_BUILD_BENCH=OFF -DNEOBERT_HTTPLIB_PKGCONFIG=OFF &&
         cmake --build build-gpu --target neobert-export neobert-exportd neobert_engine_torch; } \
       > "$OUT/build.log" 2>&1; then
    tail -n 60 "$OUT/build.log"; echo "build failed"; exit 1
  fi
  grep -E "Found Torch|CUDA" "$OUT/build.log" | head -n 5 || true
  fig build_seconds "$(since "$t0")"
  BIN="$PWD/build-gpu/bin"
fi
ENGINE="$BIN/libneobert_engine_torch.so"
[ -f "$ENGINE" ] || { echo "no $ENGINE"; exit 1; }
# The design: LibTorch only in the dlopened library.
for exe in neobert-export neobert-exportd; do
  if ldd "$BIN/$exe" | grep -q libtorch; then fail "$exe links LibTorch (it must dlopen the engine)"; fi
done
if [ "$DEVICE" != cpu ]; then
  ldd "$ENGINE" | grep -q libtorch_cuda || fail "$ENGINE does not link libtorch_cuda"
fi
# The binaries need the carried libraries; Python must not see them (it has its own).
cat > "$WORK/neobert-export" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}" exec "$BIN/neobert-export" "\$@"
EOF
chmod +x "$WORK/neobert-export"
CLI="$WORK/neobert-export"
: > "$WORK/figures.tsv"

step "every fixture variant: export with the sanity pass on $DEVICE, validate on $DEVICE"
mapfile -t VARIANTS < <("$PY" -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["variants"]))' "$FIXTURES/index.json")
EXPORTS=()
for fx in "${VARIANTS[@]}"; do
  dest="$WORK/export/$fx"
  if ! "$CLI" export "$FIXTURES/$fx" -o "$dest" --device "$DEVICE" --local --json > "$WORK/export_$fx.json"; then
    tail -n 3 "$WORK/export_$fx.json"; fail "export $fx"; continue
  fi
  dev=$(result_field "$WORK/export_$fx.json" sanity_device)
  [ "$dev" = "$DEVICE" ] || fail "export $fx: sanity pass ran on '$dev'"
  EXPORTS+=("$dest")
  if "$CLI" validate "$dest" --source "$FIXTURES/$fx" --device "$DEVICE" --local --json > "$WORK/validate_$fx.json"; then
    echo "$fx: sanity on $dev; $("$PY" -c 'import json, sys; r = json.load(open(sys.argv[1]))
print(" ".join(c["name"] + ("=ok" if c["passed"] else "=warn" if c["advisory"] else "=FAIL") for c in r["checks"]))' \
      "$WORK/validate_$fx.json")"
  else
    cat "$WORK/validate_$fx.json"; fail "validate $fx on $DEVICE"
  fi
done
fig variants_exported "${#EXPORTS[@]}/${#VARIANTS[@]}"
"$PY" - "$WORK"/validate_*.json > "$OUT/validate.json" <<'EOF'
import json, os, sys
print(json.dumps({os.path.basename(p): json.load(open(p)) for p in sys.argv[1:]}, indent=1))
EOF

step "real transformers vs neobert-export forward, every export"
if LD_LIBRARY_PATH="$PLAIN_LD_LIBRARY_PATH" "$PY" -c 'import transformers' 2>/dev/null; then
  LD_LIBRARY_PATH="$PLAIN_LD_LIBRARY_PATH" "$PY" scripts/gpu_check.py --cli "$CLI" --out "$OUT" \
    --work "$WORK" "${EXPORTS[@]}" || fail "transformers comparison"
elif [ "$DEVICE" = cpu ]; then
  echo "SKIP: no transformers in $PY (rehearsal)"
else
  fail "no transformers in $PY"
fi

step "250M-shaped checkpoint (fp32): export with the sanity pass on $DEVICE and on cpu, validate"
LARGE="$WORK/large"
if LD_LIBRARY_PATH="$PLAIN_LD_LIBRARY_PATH" timeout 300 "$PY" bench/scale_checkpoint.py --size 250m \
     --out "$LARGE" --cache "$CACHE" > "$WORK/gen.txt" 2>&1; then
  cat "$WORK/gen.txt"
  timed() {  # name, then the command; records name_seconds
    local name=$1 t; shift; t=$(now)
    if "$@" > "$WORK/$name.out" 2>&1; then fig "${name}_seconds" "$(since "$t")"; echo "$name: $(since "$t") s"
    else tail -n 5 "$WORK/$name.out"; fail "$name"; fi
  }
  timed export_250m_sanity_on_device timeout 300 "$CLI" export "$LARGE" -o "$WORK/large_hf" --device "$DEVICE" --local --json
  # The pass's own phases, from the result's note (core/export/sanity_pass.h).
  note=$("$PY" -c 'import json, re, sys
for line in open(sys.argv[1]):
    if line.startswith("{\"event\":\"result\""):
        print(next(n for n in json.loads(line)["notes"] if n.startswith("sanity forward pass passed")))' \
    "$WORK/export_250m_sanity_on_device.out" 2>/dev/null || true)
  echo "  $note"
  fig sanity_250m_on_device_note "$note"
  timed validate_250m_on_device timeout 300 "$CLI" validate "$WORK/large_hf" --source "$LARGE" --device "$DEVICE" --local
  timed validate_250m_cpu timeout 300 "$CLI" validate "$WORK/large_hf" --source "$LARGE" --device cpu --local
  rm -rf "$WORK/large_hf"
  timed export_250m_sanity_cpu timeout 300 "$CLI" export "$LARGE" -o "$WORK/large_hf" --device cpu --local --json
  fig sanity_250m_cpu_note "$(grep -o 'sanity forward pass passed[^"]*' "$WORK/export_250m_sanity_cpu.out" || true)"
  rm -rf "$WORK/large_hf"
  timed export_250m_no_sanity timeout 300 "$CLI" export "$LARGE" -o "$WORK/large_hf" --no-sanity --local --json
  rm -rf "$WORK/large_hf"

  step "neobert-exportd --device auto --workers 2: two 250M exports at once"
  mkdir -p "$WORK/srv/in" "$WORK/srv/out"
  cp -al "$LARGE" "$WORK/srv/in/a" && cp -al "$LARGE" "$WORK/srv/in/b"  # hard links: no extra disk
  "$BIN/neobert-exportd" --listen 127.0.0.1:0 --input-root "$WORK/srv/in" \
    --output-root "$WORK/srv/out" --state-dir "$WORK/srv/state" --device auto --workers 2 \
    > "$WORK/srv/stdout" 2> "$OUT/server.log" &
  SERVER_PID=$!
  ADDR=""
  for _ in $(seq 1 300); do
    ADDR=$(sed -n 's/^listening on //p' "$WORK/srv/stdout" | head -n 1)
    [ -n "$ADDR" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ADDR" ]; then
    tail -n 20 "$OUT/server.log"; fail "neobert-exportd did not start"
  else
    t=$(now)
    "$CLI" export "$WORK/srv/in/a" -o "$WORK/srv/out/a" --server "$ADDR" > "$WORK/srv/a.txt" 2>&1 & A=$!
    "$CLI" export "$WORK/srv/in/b" -o "$WORK/srv/out/b" --server "$ADDR" > "$WORK/srv/b.txt" 2>&1 & B=$!
    wait "$A" || fail "server export a: $(tail -n 2 "$WORK/srv/a.txt")"
    wait "$B" || fail "server export b: $(tail -n 2 "$WORK/srv/b.txt")"
    fig server_two_exports_seconds "$(since "$t")"
    echo "two exports (each validated on the server before publishing): $(since "$t") s"
    "$CLI" jobs --server "$ADDR" --json > "$WORK/srv/jobs.json" || fail "server jobs"
    cp "$WORK/srv/jobs.json" "$OUT/server_jobs.json"
    # Both on the device, and overlapping: each started before the other ended
    # (start and end times from the server log's per-job "started" and
    # "finished:" lines; state and device from `jobs --json`).
    if ! "$PY" - "$WORK/srv/jobs.json" "$OUT/server.log" "$DEVICE" <<'EOF'
import datetime, json, re, sys
jobs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
done = {j["job_id"]: (j.get("result") or {}).get("device") for j in jobs if j.get("state") == "SUCCEEDED"}
when = {}
for line in open(sys.argv[2]):
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \w+ \[(job-\S+) [^]]*\] (started|finished)", line)
    if m:
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        when.setdefault(m.group(2), {})[m.group(3)] = t
print("succeeded on:", done, "start/end:", when)
ok = len(done) == 2 and all(d == sys.argv[3] for d in done.values())
spans = [(when.get(j, {}).get("started"), when.get(j, {}).get("finished")) for j in done]
if ok and all(a is not None and b is not None for a, b in spans):
    (s1, e1), (s2, e2) = spans
    ok = s1 < e2 and s2 < e1
    print("the two jobs overlapped" if ok else "the two jobs did NOT overlap")
elif ok:
    print("no started/finished lines in the server log: overlap not checked")
sys.exit(0 if ok else 1)
EOF
    then fail "server: two jobs SUCCEEDED on $DEVICE at the same time"; fi
  fi
  kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  tail -n 4 "$OUT/server.log"
else
  tail -n 5 "$WORK/gen.txt"; fail "could not generate the 250M checkpoint"
fi

step "figures"
"$PY" - "$WORK/figures.tsv" "$COMMIT" "$DEVICE" > "$OUT/figures.json" <<'EOF'
import datetime, json, sys
fig = dict(line.rstrip("\n").split("\t", 1) for line in open(sys.argv[1]) if "\t" in line)
fig.update(commit=sys.argv[2], device=sys.argv[3],
           date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"))
print(json.dumps(fig, indent=1))
EOF
cat "$OUT/figures.json"

step "result"
if [ ${#FAILED[@]} -gt 0 ]; then printf 'FAILED: %s\n' "${FAILED[@]}"; exit 1; fi
echo "gpu_check: all passed"

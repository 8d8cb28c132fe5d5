#!/usr/bin/env bash
# tbmqtt — builds the portable core for a Cortex-M3 (picolibc, semihosting), reports its size, then
# builds every portable unit test (tests/unit/test_*.cpp without a `// tbmqtt: host-only` line: the
# marker alone on its line, a reason may follow on the next one)
# against a tiny GoogleTest look-alike and runs the image under qemu-system-arm (mps2-an385).
#
# Usage: tests/embedded/run.sh [OUT_DIR]     (default: build/embedded under the repository root)
# Exit status: the test image's (0 = all passed), or nonzero when a build step fails.
# Environment: TBMQTT_EMBEDDED_CXXFLAGS adds compiler flags (e.g. -DTBMQTT_MAX_PENDING_REQUESTS=4);
#              TBMQTT_EMBEDDED_JOBS sets build parallelism (default: nproc).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
out="${1:-${repo}/build/embedded}"
mkdir -p "${out}"
out="$(cd "${out}" && pwd)"
jobs="${TBMQTT_EMBEDDED_JOBS:-$(nproc 2>/dev/null || echo 2)}"

cxx=arm-none-eabi-g++
for tool in "${cxx}" arm-none-eabi-ar arm-none-eabi-size qemu-system-arm; do
  command -v "${tool}" >/dev/null || { echo "run.sh: ${tool} not found" >&2; exit 127; }
done

arch=(-mcpu=cortex-m3 -mthumb)
cxxflags=("${arch[@]}" -Os -std=c++17 -fno-exceptions -fno-rtti -ffunction-sections -fdata-sections
          -Wall -Wextra -Werror --specs=picolibcpp.specs)
# shellcheck disable=SC2206  # word splitting of user-supplied extra flags is intended
extra=(${TBMQTT_EMBEDDED_CXXFLAGS:-})
# mps2-an385: 4 MB SSRAM1 at 0x0 (code), 4 MB SSRAM2/3 at 0x20000000 (data); 1 MB of it is stack.
# shellcheck disable=SC2054  # the commas belong to -Wl options
ldflags=("${arch[@]}" --specs=picolibcpp.specs --crt0=semihost --oslib=semihost
         -Wl,--defsym=__flash=0x0 -Wl,--defsym=__flash_size=0x400000
         -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000
         -Wl,--defsym=__stack_size=0x100000 -Wl,--gc-sections
         # The script must come after the --defsyms: with the specs' implicit -T first, picolibc.ld
         # evaluates DEFINED(__stack_size) too early and silently keeps its 2 KB default stack.
         -Tpicolibcpp.ld)

# compile SRC OBJ [extra flags...]: prints the compiler's messages prefixed by the source name.
compile() {
  local src="$1" obj="$2"
  shift 2
  if ! "${cxx}" "${cxxflags[@]}" "${extra[@]}" "$@" -c "${src}" -o "${obj}" 2>"${obj}.log"; then
    echo "FAILED to compile ${src#"${repo}"/}:" >&2
    cat "${obj}.log" >&2
    return 1
  fi
}

# ---- (a) the core alone -------------------------------------------------------------------------
core_sources=("${repo}"/src/core/*.cpp)
[[ -e "${core_sources[0]}" ]] || { echo "run.sh: no sources in src/core" >&2; exit 1; }
mkdir -p "${out}/core" "${out}/tests"
rm -f "${out}"/core/*.o "${out}"/core/*.log "${out}"/tests/*.o "${out}"/tests/*.log

echo "== building the core for cortex-m3 (-Os, no exceptions, no RTTI, -Werror)"
pids=()
status=0
for src in "${core_sources[@]}"; do
  compile "${src}" "${out}/core/$(basename "${src}" .cpp).o" -I"${repo}/include" &
  pids+=($!)
  if (( ${#pids[@]} >= jobs )); then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
done
for pid in "${pids[@]}"; do wait "${pid}" || status=1; done
(( status == 0 )) || { echo "run.sh: the core does not build for cortex-m3" >&2; exit 1; }

# Every header directly in include/tbmqtt/ is portable: each compiles alone for a bare Cortex-M
# (platform headers live in include/tbmqtt/linux/ and include/tbmqtt/esp_idf/).
echo "== each portable header alone for cortex-m3"
for header in "${repo}"/include/tbmqtt/*.hpp; do
  name="$(basename "${header}" .hpp)"
  printf '#include "tbmqtt/%s.hpp"\n' "${name}" >"${out}/core/header_${name}.cpp"
  compile "${out}/core/header_${name}.cpp" "${out}/core/header_${name}.o" -I"${repo}/include" -fsyntax-only ||
    { echo "run.sh: include/tbmqtt/${name}.hpp is not portable" >&2; exit 1; }
  rm -f "${out}/core/header_${name}".*
done

archive="${out}/libtbmqtt_core.a"
rm -f "${archive}"
arm-none-eabi-ar rcs "${archive}" "${out}"/core/*.o
arm-none-eabi-size "${archive}" | awk '
  NR == 1 { printf "%-16s %8s %6s %6s\n", "object", ".text", ".data", ".bss"; next }
  { name = $6; sub(/ \(ex .*/, "", name); printf "%-16s %8d %6d %6d\n", name, $1, $2, $3; t += $1; d += $2; b += $3 }
  END { printf "core .text=%d .data=%d .bss=%d\n", t, d, b }'

# ---- (a2) TBMQTT_WIRE_PROTOBUF: a JSON-only app links the protobuf codec only when it is on --------
# json_only_app.cpp linked with the core as built (on, the default) and with wire_codec.cpp built
# with TBMQTT_WIRE_PROTOBUF=0 ahead of the archive: the first image must hold protobuf code, the
# second none. Built and linked, not run.
echo "== a JSON-only app with TBMQTT_WIRE_PROTOBUF 1 and 0"
mkdir -p "${out}/json_only"
compile "${here}/json_only_app.cpp" "${out}/json_only/app.o" -I"${repo}/include" &
app_pid=$!
compile "${repo}/src/core/wire_codec.cpp" "${out}/json_only/wire_codec_off.o" -I"${repo}/include" \
  -DTBMQTT_WIRE_PROTOBUF=0 || exit 1
wait "${app_pid}" || exit 1
"${cxx}" "${ldflags[@]}" "${out}/json_only/app.o" "${archive}" -o "${out}/json_only/with_protobuf.elf"
"${cxx}" "${ldflags[@]}" "${out}/json_only/app.o" "${out}/json_only/wire_codec_off.o" "${archive}" \
  -o "${out}/json_only/json_only.elf"
protobuf_symbols() { arm-none-eabi-nm -C "$1" | grep -c 'tbmqtt::protobuf::' || true; }
text_of() { arm-none-eabi-size "$1" | awk 'NR == 2 { print $1 }'; }
with_pb=$(protobuf_symbols "${out}/json_only/with_protobuf.elf")
without_pb=$(protobuf_symbols "${out}/json_only/json_only.elf")
on_text=$(text_of "${out}/json_only/with_protobuf.elf")
off_text=$(text_of "${out}/json_only/json_only.elf")
echo "json-only app .text: TBMQTT_WIRE_PROTOBUF 1: ${on_text} (${with_pb} protobuf symbols), 0: ${off_text}" \
  "(${without_pb}); protobuf costs $((on_text - off_text)) bytes"
if (( with_pb == 0 || without_pb != 0 || off_text >= on_text )); then
  echo "run.sh: TBMQTT_WIRE_PROTOBUF 0 did not leave the protobuf code out of a JSON-only app" >&2
  exit 1
fi

# ---- (b) the test image -------------------------------------------------------------------------
tests=()
skipped=()
marker='^[[:space:]]*//[[:space:]]*tbmqtt:[[:space:]]*host-only[[:space:]]*$'
for src in "${repo}"/tests/unit/test_*.cpp; do
  [[ -e "${src}" ]] || continue
  # A marker with more on its line would silently not count: refuse it (the reason goes on the next line).
  if grep -E 'tbmqtt:[[:space:]]*host-only' "${src}" | grep -qvE "${marker}"; then
    echo "run.sh: ${src#"${repo}"/}: the host-only marker must be alone on its line: // tbmqtt: host-only" >&2
    exit 1
  fi
  if grep -qE "${marker}" "${src}"; then
    skipped+=("$(basename "${src}")")
  else
    tests+=("${src}")
  fi
done
(( ${#skipped[@]} == 0 )) || echo "host-only, not run here: ${skipped[*]}"
(( ${#tests[@]} > 0 )) || { echo "run.sh: no portable tests in tests/unit" >&2; exit 1; }

echo "== building the test image: ${#tests[@]} test files"
test_includes=(-I"${here}/gtest" -I"${repo}/include")
pids=()
status=0
for src in "${tests[@]}" "${here}/main.cpp"; do
  name="$(basename "${src}" .cpp)"
  [[ "${src}" == "${here}/main.cpp" ]] && name="embedded_main"
  compile "${src}" "${out}/tests/${name}.o" "${test_includes[@]}" &
  pids+=($!)
  if (( ${#pids[@]} >= jobs )); then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
done
for pid in "${pids[@]}"; do wait "${pid}" || status=1; done
(( status == 0 )) || { echo "run.sh: the test image does not build" >&2; exit 1; }

elf="${out}/test.elf"
"${cxx}" "${ldflags[@]}" "${out}"/tests/*.o "${archive}" -Wl,-Map="${out}/test.map" -o "${elf}"
arm-none-eabi-size "${elf}" | awk 'NR == 2 { printf "test.elf .text=%d .data=%d .bss=%d\n", $1, $2, $3 }'

# ---- run ----------------------------------------------------------------------------------------
echo "== running under qemu-system-arm -M mps2-an385"
set +e
timeout 300 qemu-system-arm -M mps2-an385 -cpu cortex-m3 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -kernel "${elf}" 2>&1 | tee "${out}/test.log"
rc=${PIPESTATUS[0]}
set -e
if (( rc == 124 )); then
  echo "run.sh: the test image did not finish within 300 s" >&2
fi
exit "${rc}"

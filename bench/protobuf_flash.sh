#!/usr/bin/env bash
# tbmqtt — flash cost of the protobuf support (src/core/protobuf.cpp) on a Cortex-M3, built as
# tests/embedded/run.sh builds the core (-Os, no exceptions, no RTTI, function sections), split by
# part with the symbol sizes; and, as a yardstick on the same host compiler, Debian's nanopb runtime
# (libprotobuf-nanopb.a, x86-64) against this codec built for x86-64 -Os.
# Usage: bench/protobuf_flash.sh [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/.." && pwd)"
out="${1:-${repo}/build/bench-flash}"
mkdir -p "${out}"
src="${repo}/src/core/protobuf.cpp"

arm=(arm-none-eabi-g++ -mcpu=cortex-m3 -mthumb -Os -std=c++17 -fno-exceptions -fno-rtti -ffunction-sections
     -fdata-sections --specs=picolibcpp.specs -I"${repo}/include")
"${arm[@]}" -c "${src}" -o "${out}/protobuf-m3.o"
total=$(arm-none-eabi-size -A "${out}/protobuf-m3.o" | awk '/^\.(text|rodata)/ {s += $2} END {print s}')
echo "protobuf.cpp on cortex-m3 -Os: ${total} bytes of code and constant data (whole codec)"
# Per part: symbol sizes (code and tables), by the function they belong to.
arm-none-eabi-nm -S -t d -C --size-sort "${out}/protobuf-m3.o" | awk '
  NF >= 4 {
    size = $2 + 0; name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name)
    part = "other"
    if (name ~ /writer::/ || name ~ /varint_size|wire_of|message_desc::find/) part = "writer (direct encoding)"
    else if (name ~ /reader::|validate|skip_value|read_varint|packed_ok|utf8_ok/) part = "reader + validate"
    else if (name ~ /decode_json|put_message|put_len|put_scalar|put_double/) part = "decode_json (protobuf -> JSON)"
    else if (name ~ /encode_json|encode_object|encode_value|add_number|is_default/) part = "encode_json (JSON -> protobuf)"
    else if (name ~ /transport::/) part = "ThingsBoard transport message tables"
    sum[part] += size
  }
  END { for (p in sum) printf "  %-40s %6d bytes\n", p, sum[p] }' | sort
host=(g++ -Os -std=c++17 -fno-exceptions -fno-rtti -I"${repo}/include")
"${host[@]}" -c "${src}" -o "${out}/protobuf-x86.o"
echo "yardstick on x86-64 (text+data, size -t):"
printf '  %-40s %6s bytes\n' "tbmqtt protobuf.cpp (-Os)" "$(size -t "${out}/protobuf-x86.o" | awk 'END {print $1 + $2}')"
nanopb=/usr/lib/x86_64-linux-gnu/libprotobuf-nanopb.a
if [ -f "${nanopb}" ]; then
  printf '  %-40s %6s bytes  (pb_encode+pb_decode+pb_common, no generated code)\n' "Debian nanopb runtime (libnanopb-dev)" \
    "$(size -t "${nanopb}" | awk 'END {print $1 + $2}')"
fi

#!/usr/bin/env bash
# Cross-builds the C kernels (Sources/CTailorKernels) for aarch64 Linux with the toolchain's clang,
# checks the library defines every function of its header and nothing it leaves undefined, and runs
# smoke.c under qemu. There is no aarch64 Swift toolchain here, so the Swift targets are not built:
# they have no architecture conditions, and `swift test -Xcc -DTAILOR_NO_X86_KERNELS` runs them
# against these same non-x86 kernels on x86-64. Run on demand, not in CI; needs Debian's
# libc6-dev-arm64-cross, gcc-aarch64-linux-gnu and qemu-user
# (apt-get install -y libc6-dev-arm64-cross gcc-aarch64-linux-gnu qemu-user).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../Sources/CTailorKernels"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sysroot=/usr/aarch64-linux-gnu
for need in "$sysroot/include" /usr/bin/aarch64-linux-gnu-gcc; do
    [ -e "$need" ] || { echo "check-aarch64: $need missing: apt-get install -y libc6-dev-arm64-cross gcc-aarch64-linux-gnu" >&2; exit 1; }
done
cc=(clang --target=aarch64-linux-gnu -isystem "$sysroot/include" -I"$src/include" -O2 -Wall -Wextra -Wno-unused-parameter -Werror)

for f in "$src"/*.c; do "${cc[@]}" -fPIC -c "$f" -o "$work/$(basename "$f" .c).o"; done
"${cc[@]}" -c "$here/smoke.c" -o "$work/smoke.o"
ld=aarch64-linux-gnu-gcc  # links with aarch64's libgcc and C runtime
"$ld" -shared -o "$work/libkernels.so" $(ls "$work"/*.o | grep -v smoke.o) -lm -Wl,--no-undefined

declared=$(grep -o '^[a-z_0-9 ]*\btailor_[a-z0-9_]*(' "$src/include/CTailorKernels.h" | grep -o 'tailor_[a-z0-9_]*' | sort -u)
defined=$(nm -D --defined-only "$work/libkernels.so")
missing=$(comm -23 <(echo "$declared") <(echo "$defined" | awk '{print $3}' | sort -u))
[ -z "$missing" ] || { echo "check-aarch64: declared but not defined on aarch64: $missing" >&2; exit 1; }
echo "check-aarch64: $(echo "$declared" | wc -l) functions of CTailorKernels.h defined for aarch64"

if command -v qemu-aarch64 >/dev/null; then
    "$ld" -static -o "$work/smoke" "$work/smoke.o" $(ls "$work"/*.o | grep -v smoke.o) -lm
    qemu-aarch64 "$work/smoke"
else
    echo "check-aarch64: qemu-aarch64 missing (apt-get install -y qemu-user): built, not run"
fi

#!/usr/bin/env bash
# Kill-and-resume session longer than the one in CI: `tailor train` with a checkpoint every step
# is killed with SIGKILL TRIALS times at random moments (every other kill as soon as a checkpoint
# write has started), resumed each time, and the final adapter compared byte for byte with an
# uninterrupted run; every checkpoint on disk is read after every kill.
#
#   Scripts/crash-safety.sh [TRIALS] [SEED]      TRIALS defaults to 50
#
# Prints the test's summary line ("crash-safety: seed …: N kills (M during a checkpoint write) …").
set -euo pipefail
cd "$(dirname "$0")/.."
export TAILOR_KILL_TRIALS=${1:-50}
[ -n "${2:-}" ] && export TAILOR_KILL_SEED=$2
swift build -c release -Xswiftc -enable-testing --build-tests >&2
swift test -c release -Xswiftc -enable-testing --skip-build --filter CrashSafetyTests 2>&1 | tee /dev/stderr | grep '^crash-safety:'

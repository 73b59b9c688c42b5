#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Socket activation lifecycle: attestd starts on the first connection, exits after the idle timeout, and leaves no transient object or session in the TPM when it exits.
source "$PATELA_SOURCE_DIR/test/lib.sh"

swtpm_start
ATTESTD_SOCK=$T/io.patela.Attest
systemd-socket-activate --listen="$ATTESTD_SOCK" --fdname=varlink -E PATELA_TPM2_TCTI="$TCTI" \
        -E PATELA_LOG_LEVEL=debug "$PATELA_BUILD_DIR/src/attestd/patela-attestd" --idle-timeout=1s \
        >>"$T/attestd.log" 2>&1 &
ATTESTD_PID=$!
PIDS+=("$ATTESTD_PID")
wait_for_socket "$ATTESTD_SOCK"

# Not started yet: systemd-socket-activate waits for the first connection.
grep -q "Identity loaded" "$T/attestd.log" && fail "attestd ran before any client"
vl GetIdentity >/dev/null
grep -q "Identity loaded" "$T/attestd.log" || fail "attestd did not load the identity"
pass "started by the first connection"

# While it runs, its EK and AK are loaded.
n=$(tpm2_getcap handles-transient | grep -c 0x || true)
[[ $n -eq 2 ]] || fail "expected EK and AK loaded, found $n transient objects"

# Idle: no client for 1 s → exit.
for ((i = 0; i < 40; i++)); do
        attestd_alive || break
        sleep 0.1
done
attestd_alive && fail "attestd still running 4 s after its last client with --idle-timeout=1s"
wait "$ATTESTD_PID" || fail "attestd exited with an error: $(tail -3 "$T/attestd.log")"
pass "exited after the idle timeout with status 0"

n=$(tpm2_getcap handles-transient | grep -c 0x || true)
s=$(tpm2_getcap handles-loaded-session | grep -c 0x || true)
[[ $n -eq 0 && $s -eq 0 ]] || fail "attestd left $n transient objects and $s sessions in the TPM"
pass "no transient object or session left in the TPM"

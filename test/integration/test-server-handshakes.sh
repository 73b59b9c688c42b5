#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# TLS handshakes that wait for their client cost the server no CPU (server-tls-wait.h): TCP connections that never
# speak, and handshakes stopped after the ClientHello (the server's flight sent, its client's Finished never
# coming), on the nodes' listener and on the metrics listener. libmicrohttpd alone spins a thread for each (both
# cores busy with 4 silent connections). The server answers meanwhile, ends those handshakes at their timeout
# (IdleTimeout=, at most 30 s; 30 s on the metrics listener) and counts them, closes at once those whose client
# left, and stops cleanly with handshakes waiting.
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

openssl rand -base64 32 >"$T/metrics-token"
chmod 600 "$T/metrics-token"
mport=$(random_port)
# IdleTimeout=5s: the handshakes' limit is 5 s (its minimum; 30 s at most).
server_start --idle-timeout=5s --metrics-listen="127.0.0.1:$mport" --metrics-token-file="$T/metrics-token"
port=${URL##*:}
MURL=https://127.0.0.1:$mport
HZ=$(getconf CLK_TCK)

# metric NAME: its value on the server's /metrics.
metric() {
        curl -sS --cacert "$T/ca/ca.crt" -H "Authorization: Bearer $(cat "$T/metrics-token")" "$MURL/metrics" |
                awk -v k="$1" '$1 == k { print $2 }'
}
# cpu_ticks: the server's user and system CPU time so far, in clock ticks.
cpu_ticks() {
        awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"
}
# closed FD [SECONDS]: the server ended the connection (what it sent is read up to its end of file within SECONDS,
# 0.2 by default).
closed() {
        timeout "${2:-0.2}" cat <&"$1" >/dev/null 2>&1
}

# A ClientHello as OpenSSL sends it (its record header, then the message), from s_client's message dump.
openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/ca/ca.crt" -tls1_3 -msg </dev/null 2>/dev/null |
        awk 'state == 0 && /^>>> .*RecordHeader/ { state = 1; next }
             state == 1 && /^>>> .*ClientHello/ { state = 2; next }
             /^[^ ]/ { if (state == 2) exit; next }
             state >= 1' | xxd -r -p >"$T/hello.bin"
[[ $(head -c 1 "$T/hello.bin" | xxd -p) == 16 && $(stat -c %s "$T/hello.bin") -gt 100 ]] ||
        fail "no ClientHello captured ($(stat -c %s "$T/hello.bin") bytes)"
[[ $(metric patela_tls_handshake_timeouts_total) == 0 ]] || fail "handshake timeouts counted before any"

# ---- waiting handshakes cost nothing --------------------------------------------------------------------------
silent=() stalled=() msilent=()
for i in 1 2 3 4 5 6; do
        exec {fd}<>"/dev/tcp/127.0.0.1/$port"
        silent+=("$fd")
done
for i in 1 2 3 4; do
        exec {fd}<>"/dev/tcp/127.0.0.1/$port"
        cat "$T/hello.bin" >&"$fd"
        stalled+=("$fd")
done
for i in 1 2; do
        exec {fd}<>"/dev/tcp/127.0.0.1/$mport"
        msilent+=("$fd")
done
opened=$(date +%s%N)
sleep 0.5
c0=$(cpu_ticks)
sleep 2
c1=$(cpu_ticks)
# 12 handshakes waiting: libmicrohttpd alone kept both cores busy (400 ticks of 2 s); a tenth of one core at most.
((c1 - c0 <= HZ / 5)) ||
        fail "the server used $((c1 - c0)) ticks of CPU in 2 s with 12 TLS handshakes waiting for their clients"
pass "12 handshakes waiting for their clients (6 silent, 4 after the ClientHello, 2 on the metrics listener): $((c1 - c0)) ticks of server CPU in 2 s"

# The server answers meanwhile, a handshake of its own included.
http GET /v1/health >/dev/null || fail "no answer while handshakes wait"
[[ $(metric 'patela_tls_handshakes_total{resumed="false"}') -ge 1 ]] || fail "the completed handshake was not counted"
for fd in "${stalled[@]}"; do
        ! closed "$fd" || fail "a handshake after its ClientHello ended before its timeout"
done
pass "served a request meanwhile; the stalled handshakes still open at 2.5 s"

# ---- each ends at its timeout, counted -----------------------------------------------------------------------
# The first to end, read as it ends; the others must have ended by then too (the timeout's resolution is 0.5 s).
closed "${silent[0]}" 10 || fail "a silent connection was not ended by its 5 s timeout"
elapsed=$((($(date +%s%N) - opened) / 1000000))
((elapsed >= 4500 && elapsed <= 7000)) || fail "the first waiting handshake ended after $elapsed ms, not at its 5 s timeout"
sleep 1
for fd in "${silent[@]}" "${stalled[@]}"; do
        closed "$fd" || fail "a waiting handshake was not ended by its 5 s timeout"
done
# The metrics listener's handshakes have 30 s.
for fd in "${msilent[@]}"; do
        ! closed "$fd" || fail "a metrics listener's handshake ended before its 30 s"
done
[[ $(metric patela_tls_handshake_timeouts_total) == 10 ]] ||
        fail "handshake timeouts counted: $(metric patela_tls_handshake_timeouts_total), not the nodes' listener's 10"
http GET /v1/health >/dev/null || fail "no answer after the timeouts"
pass "every waiting handshake of the nodes' listener ended at its 5 s timeout ($elapsed ms), counted; the metrics listener's still wait"

# ---- a client that leaves while its handshake waits -----------------------------------------------------------
# Its connection is resumed at once (the socket reports the close) and closed: no descriptor kept until the timeout.
fds() { find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
base=$(fds)
gone=()
for i in 1 2 3 4; do
        exec {fd}<>"/dev/tcp/127.0.0.1/$port"
        cat "$T/hello.bin" >&"$fd"
        gone+=("$fd")
done
sleep 0.5
(($(fds) >= base + 4)) || fail "the server does not hold the 4 waiting handshakes' connections ($(fds) descriptors, $base before)"
for fd in "${gone[@]}"; do
        exec {fd}>&-
done
for ((i = 0; i < 20 && $(fds) > base; i++)); do
        sleep 0.1
done
(($(fds) == base)) || fail "the server still holds $(($(fds) - base)) connections whose clients left during the handshake"
pass "4 clients that left while their handshakes waited: their connections closed within $((i * 100)) ms, not at the timeout"

# ---- a stop with handshakes waiting ----------------------------------------------------------------------------
for i in 1 2 3; do
        exec {fd}<>"/dev/tcp/127.0.0.1/$port"
        cat "$T/hello.bin" >&"$fd"
done
exec {fd}<>"/dev/tcp/127.0.0.1/$mport"
sleep 0.5
t0=$(date +%s%N)
server_stop
elapsed=$((($(date +%s%N) - t0) / 1000000))
((elapsed < 3000)) || fail "the server took $elapsed ms to stop with handshakes waiting"
pass "stopped cleanly in $elapsed ms with 4 handshakes waiting"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# TLS 1.3 session resumption on the nodes' listener (TLSTicketLifetime=): OpenSSL's s_client resumes with the
# ticket the server gave it (psk_dhe_ke: a key share in the resumed handshake too), the server counts full and
# resumed handshakes in /metrics; another server instance (another ticket key) refuses the ticket and makes a
# full handshake, as does a server with tickets off and a ticket past its lifetime; curl (libcurl with OpenSSL,
# patela-configd's library) resumes its second connection by itself; gnutls-cli resumes too.
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

openssl rand -base64 32 >"$T/metrics-token"
chmod 600 "$T/metrics-token"
ca_setup

# start_one NAME [OPTIONS…]: a server with its own database and metrics port; sets URL_NAME, MURL_NAME.
start_one() {
        local name=$1
        shift
        local mport=$(random_port)
        DB=$T/$name.db
        server_start --metrics-listen="127.0.0.1:$mport" --metrics-token-file="$T/metrics-token" "$@"
        printf -v "URL_$name" '%s' "$URL"
        printf -v "MURL_$name" '%s' "https://127.0.0.1:$mport"
        cp "$T/server.log" "$T/server-$name.log"
}

# handshakes MURL RESUMED: the server's count of completed handshakes, resumed (true) or full (false).
handshakes() {
        curl -sS --cacert "$T/ca/ca.crt" -H "Authorization: Bearer $(cat "$T/metrics-token")" "$1/metrics" |
                awk -v k="patela_tls_handshakes_total{resumed=\"$2\"}" '$1 == k { print $2 }'
}

# s_client URL OUT [ARGS…]: one TLS connection with a GET /v1/health; s_client's report in OUT.
s_client() {
        local url=$1 out=$2
        shift 2
        local hp=${url#https://}
        # The request once the handshake is up; the wait lets the server's tickets (sent after its Finished)
        # arrive before s_client closes, so that -sess_out saves one.
        { printf 'GET /v1/health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$hp"; sleep 0.5; } |
                openssl s_client -connect "$hp" -CAfile "$T/ca/ca.crt" -verify_return_error -tls1_3 -ign_eof \
                        "$@" >"$out" 2>&1 || true # exits 1: the server closes without close_notify (MHD_USE_TURBO)
        grep -q '^HTTP/1.1 200' "$out" || fail "no answer over $url: $(tail -5 "$out")"
}

start_one a
start_one b
start_one off --tls-ticket-lifetime=0
start_one short --tls-ticket-lifetime=2s

# ---- resumption with OpenSSL --------------------------------------------------------------------------------
s_client "$URL_a" "$T/full.out" -sess_out "$T/sess-a.pem"
grep -q '^New, TLSv1.3' "$T/full.out" || fail "first connection not a full TLS 1.3 handshake: $(grep -E '^(New|Reused)' "$T/full.out")"
grep -q 'TLS session ticket lifetime hint: 21600' "$T/sess-a.pem" 2>/dev/null ||
        openssl sess_id -in "$T/sess-a.pem" -text -noout | grep -q 'lifetime hint: 21600' ||
        fail "no ticket with the default 6 h lifetime: $(openssl sess_id -in "$T/sess-a.pem" -text -noout)"
s_client "$URL_a" "$T/resumed.out" -sess_in "$T/sess-a.pem"
grep -q '^Reused, TLSv1.3' "$T/resumed.out" || fail "ticket not accepted: $(grep -E '^(New|Reused)' "$T/resumed.out")"
# psk_dhe_ke: the resumed handshake has its own ECDHE (forward secrecy), and no certificate was sent.
grep -q 'Peer Temp Key: X25519\|Server Temp Key: X25519' "$T/resumed.out" ||
        fail "resumed without a key exchange (psk_ke): $(cat "$T/resumed.out")"
[[ $(handshakes "$MURL_a" false) == 1 && $(handshakes "$MURL_a" true) == 1 ]] ||
        fail "handshakes counted: full $(handshakes "$MURL_a" false), resumed $(handshakes "$MURL_a" true)"
pass "s_client resumed with the server's ticket (Reused, TLSv1.3, X25519 key share); counted 1 full, 1 resumed"

# ---- tickets another server made, tickets off, tickets past their lifetime ------------------------------------
s_client "$URL_b" "$T/other.out" -sess_in "$T/sess-a.pem"
grep -q '^New, TLSv1.3' "$T/other.out" || fail "another instance accepted the ticket: $(grep -E '^(New|Reused)' "$T/other.out")"
[[ $(handshakes "$MURL_b" false) == 1 && $(handshakes "$MURL_b" true) == 0 ]] || fail "instance b counted resumed handshakes"
pass "another server instance (its own key) refused the ticket: full handshake"

grep -q 'New Session Ticket arrived' "$T/full.out" || fail "s_client reports no ticket from a server with tickets"
s_client "$URL_off" "$T/off1.out" -sess_out "$T/sess-off.pem"
! grep -q 'New Session Ticket arrived' "$T/off1.out" && [[ ! -s $T/sess-off.pem ]] ||
        fail "TLSTicketLifetime=0 sent a ticket"
s_client "$URL_off" "$T/off2.out" -sess_in "$T/sess-a.pem"
grep -q '^New, TLSv1.3' "$T/off2.out" || fail "TLSTicketLifetime=0 resumed: $(grep -E '^(New|Reused)' "$T/off2.out")"
pass "TLSTicketLifetime=0: no ticket given, none accepted"

s_client "$URL_short" "$T/short1.out" -sess_out "$T/sess-short.pem"
s_client "$URL_short" "$T/short2.out" -sess_in "$T/sess-short.pem"
grep -q '^Reused, TLSv1.3' "$T/short2.out" || fail "2 s ticket not accepted at once"
sleep 3
s_client "$URL_short" "$T/short3.out" -sess_in "$T/sess-short.pem"
grep -q '^New, TLSv1.3' "$T/short3.out" || fail "ticket accepted past its lifetime: $(grep -E '^(New|Reused)' "$T/short3.out")"
pass "TLSTicketLifetime=2s: resumed at once, full handshake 3 s later"

# ---- curl (libcurl + OpenSSL, as patela-configd) resumes its second connection ---------------------------------
before=$(handshakes "$MURL_a" true)
# Connection: close makes the server close the first connection: the second URL needs a new one.
curl -sS --cacert "$T/ca/ca.crt" --tlsv1.3 -H 'Connection: close' -o /dev/null -o /dev/null \
        "$URL_a/v1/health" "$URL_a/v1/health" || fail "curl failed"
[[ $(handshakes "$MURL_a" true) == $((before + 1)) ]] ||
        fail "curl's second connection did not resume: resumed $before → $(handshakes "$MURL_a" true)"
pass "curl resumed its second connection"

# ---- gnutls-cli ----------------------------------------------------------------------------------------------
if command -v gnutls-cli >/dev/null; then
        port=${URL_a##*:}
        gnutls-cli --x509cafile "$T/ca/ca.crt" --port "$port" --resume 127.0.0.1 </dev/null >"$T/gnutls.out" 2>&1 ||
                fail "gnutls-cli: $(tail -5 "$T/gnutls.out")"
        grep -q 'This is a resumed session' "$T/gnutls.out" || fail "gnutls-cli did not resume: $(cat "$T/gnutls.out")"
        pass "gnutls-cli resumed"
fi

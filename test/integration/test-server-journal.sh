#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The server's events in the journal (issue 13, item 6): under journald (JOURNAL_STREAM set) a new pending node,
# a verdict, a rejected attestation, and an operator's `node enable` (sent to the journal even from a terminal,
# as an audit trail) are journal entries of their own with MESSAGE_ID=, PATELA_EVENT= and PATELA_NODE=. journald
# here is a socket of the test's own: in a private mount namespace, a tmpfs over /run/systemd/journal, and a
# reader of the native protocol's datagrams on its socket.
if [[ -z ${PATELA_JOURNAL_NS:-} ]]; then
        exec unshare --mount --propagation private env PATELA_JOURNAL_NS=1 bash "$0" "$@"
fi
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

mkdir -p /run/systemd/journal
mount -t tmpfs -o mode=0755 tmpfs /run/systemd/journal || fail "cannot mount a tmpfs over /run/systemd/journal"
# Each datagram as it came (KEY=value lines; no binary fields here), separated by a line "--".
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
out = open(sys.argv[1], "ab", buffering=0)
while True:
        out.write(s.recv(65536) + b"\n--\n")
' "$T/journal" &
PIDS+=("$!")
for ((i = 0; i < 50; i++)); do [[ -S /run/systemd/journal/socket ]] && break; sleep 0.1; done
[[ -S /run/systemd/journal/socket ]] || fail "the journal socket did not appear"

# entry ID: prints the entries with MESSAGE_ID=ID, one line per field.
entry() {
        awk -v id="MESSAGE_ID=$1" 'BEGIN { RS = "\n--\n" } index($0, id) { print $0 "\n--" }' "$T/journal"
}

fleet_setup
JOURNAL_STREAM=8:1 server_start
swtpm_start
attestd_start
node_identity
node_prove
fp=$(jq -r .fingerprint "$T/http.body")
ps_cli node enable "$fp" >/dev/null 2>"$T/enable.err"
grep -q "Node 1 ($fp) enabled." "$T/enable.err" || fail "node enable did not say so on its terminal: $(cat "$T/enable.err")"
node_session
verdict=$(jq -r .verdict "$T/token.json")
node_challenge
node_answer
jq '.secret = "'"$(head -c 32 /dev/zero | base64)"'"' "$T/attest.json" >"$T/bad.json"
http POST /v1/attest "$T/bad.json" >/dev/null
expect_error 403 SecretMismatch
sleep 0.2

for e in "6d3db5476185492bbe9f9acc36544810 node-pending PRIORITY=5" \
        "4af62b0f521145989b0e59cf1cde4bfe node-enabled PRIORITY=6" \
        "4c77cc2925d84eaeac88afff26322e75 node-not-trusted PRIORITY=4" \
        "d5f46b1072ca42408247e13f359f2e1b attestation-rejected PRIORITY=4"; do
        read -r id name prio <<<"$e"
        entry "$id" >"$T/entry"
        [[ $(grep -c '^--$' "$T/entry") == 1 ]] || fail "$name: not one entry: $(cat "$T/journal")"
        grep -qx "PATELA_EVENT=$name" "$T/entry" && grep -qx "PATELA_NODE=$fp" "$T/entry" && grep -qx "$prio" "$T/entry" &&
                grep -qx "SYSLOG_IDENTIFIER=patela-server" "$T/entry" || fail "$name: $(cat "$T/entry")"
done
entry 4c77cc2925d84eaeac88afff26322e75 | grep -qx "PATELA_VERDICT=$verdict" || fail "the verdict field"
entry 6d3db5476185492bbe9f9acc36544810 | grep -q "^MESSAGE=New node 1 from 127.0.0.1 is pending, fingerprint $fp" ||
        fail "the pending node's message"
entry d5f46b1072ca42408247e13f359f2e1b | grep -q "^MESSAGE=Attestation of node 1 ($fp) rejected: The secret does not match" ||
        fail "the rejection's message"
# Under journald the events are not also written to stderr (one entry each, not two).
! grep -q "is pending, fingerprint" "$T/server.log" || fail "the pending node logged twice: $(cat "$T/server.log")"
pass "pending, enabled (from a terminal), $verdict and a rejected attestation: journal entries with MESSAGE_ID and PATELA_NODE"

# A MESSAGE_ID of each entry is one the catalog explains.
for id in $(grep -o '^MESSAGE_ID=[0-9a-f]*' "$T/journal" | cut -d= -f2 | sort -u); do
        grep -qx -- "-- $id" "$PATELA_SOURCE_DIR/catalog/patela-server.catalog" || fail "$id has no catalog entry"
done
pass "every MESSAGE_ID sent has a catalog entry"
server_stop

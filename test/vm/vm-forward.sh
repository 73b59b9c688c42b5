#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# qemu's guestfwd=…-cmd: runs this once per guest connection, with the connection on stdin/stdout; it
# relays to the test's patela-server on 127.0.0.1:PORT (bash's /dev/tcp: no socat needed).
exec 3<>"/dev/tcp/127.0.0.1/$1"
cat <&3 &
cat >&3
wait

// SPDX-License-Identifier: LGPL-2.1-or-later

// The Go side of test-tlog-interop.sh, on golang.org/x/mod/sumdb/note and .../tlog (Debian's
// golang-golang-x-mod-dev, built offline in GOPATH mode): an implementation of signed notes and of the
// RFC 6962 tree that shares nothing with patela's C. Its verbs mirror test/tlog/tlog-tool.c:
//
//	interop keygen NAME                     signer key, then verifier key
//	interop sign SKEY FILE                  FILE's text as a note signed with SKEY
//	interop open VKEY FILE                  the text, if FILE is a note signed by VKEY (else exit 1)
//	interop checkpoint VKEY FILE N          FILE is a checkpoint signed by VKEY of the synthetic log of
//	                                        N entries: its size and root are this side's
//	interop inclusion ROOT SIZE INDEX ENTRY PROOF
//	                                        the file ENTRY is entry INDEX of the log of SIZE entries whose
//	                                        head is ROOT (base64), by the proof in the file PROOF (one base64
//	                                        hash per line): patela-server's log as a monitor would check it
//	interop consistency ROOT1 SIZE1 ROOT2 SIZE2 PROOF
//	                                        the log of SIZE1 entries with head ROOT1 is a prefix of the one of
//	                                        SIZE2 with head ROOT2, by the proof in the file PROOF
//	interop proofs MAX                      every root and proof of the synthetic logs of 1 … MAX entries
//	interop check                           verifies such lines read from the other side, and refuses each
//	                                        with one bit flipped or one hash dropped
//
// The synthetic log's entry i is "patela entry i\n".
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func entry(i int64) []byte {
	return []byte(fmt.Sprintf("patela entry %d\n", i))
}

// hashes is a log's stored hashes in tlog's own order (StoredHashIndex), appended record by record.
type hashes []tlog.Hash

func (h hashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(h)) {
			return nil, fmt.Errorf("hash %d is not stored", x)
		}
		out[i] = h[x]
	}
	return out, nil
}

func build(n int64) (hashes, error) {
	var h hashes
	for i := int64(0); i < n; i++ {
		add, err := tlog.StoredHashes(i, entry(i), h)
		if err != nil {
			return nil, err
		}
		h = append(h, add...)
	}
	return h, nil
}

func join(p []tlog.Hash) string {
	if len(p) == 0 {
		return "-"
	}
	s := make([]string, len(p))
	for i, x := range p {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

func proofs(max int64) error {
	h, err := build(max)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for size := int64(1); size <= max; size++ {
		root, err := tlog.TreeHash(size, h)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "root %d %s\n", size, root)
		for i := int64(0); i < size; i++ {
			p, err := tlog.ProveRecord(size, i, h)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "incl %d %d %s\n", size, i, join(p))
		}
		for m := int64(1); m <= size; m++ {
			p, err := tlog.ProveTree(size, m, h)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "cons %d %d %s\n", m, size, join(p))
		}
	}
	return nil
}

func parseProof(s string) ([]tlog.Hash, error) {
	if s == "-" {
		return nil, nil
	}
	var p []tlog.Hash
	for _, x := range strings.Split(s, ",") {
		h, err := tlog.ParseHash(x)
		if err != nil {
			return nil, err
		}
		p = append(p, h)
	}
	return p, nil
}

func check() error {
	roots := map[int64]tlog.Hash{}
	checked := 0
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "root" {
			n, err1 := strconv.ParseInt(f[1], 10, 64)
			h, err2 := tlog.ParseHash(f[2])
			if err1 != nil || err2 != nil {
				return fmt.Errorf("bad line %q", sc.Text())
			}
			roots[n] = h
			continue
		}
		if len(f) != 4 {
			return fmt.Errorf("bad line %q", sc.Text())
		}
		a, err1 := strconv.ParseInt(f[1], 10, 64)
		b, err2 := strconv.ParseInt(f[2], 10, 64)
		p, err3 := parseProof(f[3])
		if err1 != nil || err2 != nil || err3 != nil {
			return fmt.Errorf("bad line %q", sc.Text())
		}
		var verify func([]tlog.Hash) error
		switch f[0] {
		case "incl":
			verify = func(q []tlog.Hash) error {
				return tlog.CheckRecord(q, a, roots[a], b, tlog.RecordHash(entry(b)))
			}
		case "cons":
			verify = func(q []tlog.Hash) error {
				return tlog.CheckTree(q, b, roots[b], a, roots[a])
			}
		default:
			return fmt.Errorf("bad line %q", sc.Text())
		}
		if err := verify(p); err != nil {
			return fmt.Errorf("refused %q: %v", sc.Text(), err)
		}
		for i := range p {
			q := append([]tlog.Hash(nil), p...)
			q[i][(i*5)%tlog.HashSize] ^= 0x08
			if verify(q) == nil {
				return fmt.Errorf("accepted %q with hash %d changed", sc.Text(), i)
			}
		}
		if len(p) > 0 && verify(p[:len(p)-1]) == nil {
			return fmt.Errorf("accepted %q one hash short", sc.Text())
		}
		checked++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if checked == 0 {
		return errors.New("no proof read")
	}
	fmt.Printf("%d proofs verified, each refused once mutated\n", checked)
	return nil
}

// readProof reads a proof: one base64 hash per line.
func readProof(file string) ([]tlog.Hash, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var p []tlog.Hash
	for _, line := range strings.Fields(string(text)) {
		h, err := tlog.ParseHash(line)
		if err != nil {
			return nil, err
		}
		p = append(p, h)
	}
	return p, nil
}

func open(vkey, file string) (*note.Note, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	msg, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return note.Open(msg, note.VerifierList(v))
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "keygen":
		skey, vkey, err := note.GenerateKey(rand.Reader, args[1])
		if err != nil {
			return err
		}
		fmt.Printf("%s\n%s\n", skey, vkey)
	case len(args) == 3 && args[0] == "sign":
		s, err := note.NewSigner(args[1])
		if err != nil {
			return err
		}
		text, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, s)
		if err != nil {
			return err
		}
		os.Stdout.Write(msg)
	case len(args) == 3 && args[0] == "open":
		n, err := open(args[1], args[2])
		if err != nil {
			return err
		}
		fmt.Print(n.Text)
	case len(args) == 4 && args[0] == "checkpoint":
		n, err := open(args[1], args[2])
		if err != nil {
			return err
		}
		size, err := strconv.ParseInt(args[3], 10, 64)
		if err != nil {
			return err
		}
		lines := strings.Split(n.Text, "\n")
		if len(lines) < 4 || lines[0] == "" || lines[1] != strconv.FormatInt(size, 10) {
			return fmt.Errorf("checkpoint %q is not of size %d", n.Text, size)
		}
		root, err := base64.StdEncoding.DecodeString(lines[2])
		if err != nil || len(root) != tlog.HashSize {
			return fmt.Errorf("checkpoint root %q", lines[2])
		}
		h, err := build(size)
		if err != nil {
			return err
		}
		want, err := tlog.TreeHash(size, h)
		if err != nil {
			return err
		}
		if tlog.Hash(root) != want {
			return fmt.Errorf("checkpoint root %s, this side computes %s", lines[2], want)
		}
		fmt.Printf("checkpoint of %s: %d entries, root %s, signature verified\n", lines[0], size, want)
	case len(args) == 6 && args[0] == "inclusion":
		root, err := tlog.ParseHash(args[1])
		if err != nil {
			return err
		}
		size, err1 := strconv.ParseInt(args[2], 10, 64)
		index, err2 := strconv.ParseInt(args[3], 10, 64)
		if err1 != nil || err2 != nil {
			return errors.New("bad size or index")
		}
		entry, err := os.ReadFile(args[4])
		if err != nil {
			return err
		}
		p, err := readProof(args[5])
		if err != nil {
			return err
		}
		if err := tlog.CheckRecord(p, size, root, index, tlog.RecordHash(entry)); err != nil {
			return err
		}
		fmt.Printf("entry %d of %d verified under %s\n", index, size, root)
	case len(args) == 6 && args[0] == "consistency":
		root1, err1 := tlog.ParseHash(args[1])
		size1, err2 := strconv.ParseInt(args[2], 10, 64)
		root2, err3 := tlog.ParseHash(args[3])
		size2, err4 := strconv.ParseInt(args[4], 10, 64)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return err
		}
		p, err := readProof(args[5])
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(p, size2, root2, size1, root1); err != nil {
			return err
		}
		fmt.Printf("the log of %d entries is a prefix of the log of %d\n", size1, size2)
	case len(args) == 2 && args[0] == "proofs":
		max, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			return err
		}
		return proofs(max)
	case len(args) == 1 && args[0] == "check":
		return check()
	default:
		return errors.New("usage: see the comment at the top of interop.go")
	}
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
}

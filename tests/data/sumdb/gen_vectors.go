//go:build ignore

// Generator of go_vectors.json, run against Go's own golang.org/x/mod/sumdb code.
//
// Regenerate (needs a Go toolchain; nothing is downloaded):
//
//	mkdir -p /tmp/sumdbvec/mod && cd /tmp/sumdbvec/mod
//	cp -r $GOROOT/src/cmd/vendor/golang.org/x/mod/{sumdb,module,semver,internal} .
//	printf 'module golang.org/x/mod\n\ngo 1.23\n' > go.mod
//	mkdir -p cmd/vecgen && cp <repo>/tests/data/sumdb/gen_vectors.go cmd/vecgen/
//	GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off go run ./cmd/vecgen/gen_vectors.go > <repo>/tests/data/sumdb/go_vectors.json
//
// The vectors in the repo were produced with go1.27.3's vendored x/mod.

package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	testName   = "localhost.localdev/sumdb"
	testVKey   = "localhost.localdev/sumdb+00000c67+AcTrnkbUA+TU4heY3hkjiSES/DSQniBqIeQ/YppAUtK6"
	testSKey   = "PRIVATE+KEY+localhost.localdev/sumdb+00000c67+AXu6+oaVaOYuQOFrf1V59JK1owcFlJcHwwXHDfDGxSPk"
	peterSKey  = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
	peterVKey  = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
	peterText  = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

type hashList []tlog.Hash

func (h hashList) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = h[x]
	}
	return out, nil
}

// recordText is the deterministic record i used by the tlog vectors.
func recordText(i int) string {
	z := sha256.Sum256([]byte(fmt.Sprintf("zip %d", i)))
	m := sha256.Sum256([]byte(fmt.Sprintf("mod %d", i)))
	p := fmt.Sprintf("example.com/m%d", i)
	v := fmt.Sprintf("v1.0.%d", i)
	return fmt.Sprintf("%s %s h1:%s\n%s %s/go.mod h1:%s\n", p, v, b64(z[:]), p, v, b64(m[:]))
}

func tileJSON(t tlog.Tile) map[string]any {
	return map[string]any{"H": t.H, "L": t.L, "N": t.N, "W": t.W, "path": t.Path()}
}

func main() {
	out := map[string]any{}

	// ---- note ----
	nv := map[string]any{}
	signer, err := note.NewSigner(peterSKey)
	must(err)
	msg, err := note.Sign(&note.Note{Text: peterText}, signer)
	must(err)
	nv["peter"] = map[string]any{"skey": peterSKey, "vkey": peterVKey, "text": peterText, "msg": string(msg)}

	// Derive verifier key of the proxy_test.go signer key.
	seed, _ := base64.StdEncoding.DecodeString(strings.SplitN(testSKey, "+", 5)[4])
	pub := ed25519.NewKeyFromSeed(seed[1:]).Public().(ed25519.PublicKey)
	derived, err := note.NewEd25519VerifierKey(testName, pub)
	must(err)
	nv["proxy_test"] = map[string]any{"name": testName, "skey": testSKey, "vkey": testVKey, "derived_vkey": derived}

	// GenerateKey with deterministic "random" seeds.
	var gen []any
	for i, name := range []string{"EnochRoot", "sum.example.test", "localhost:8080/sumdb", "x"} {
		s := sha256.Sum256([]byte(fmt.Sprintf("seed %d", i)))
		sk, vk, err := note.GenerateKey(bytes.NewReader(s[:]), name)
		must(err)
		gen = append(gen, map[string]any{"name": name, "seed_hex": fmt.Sprintf("%x", s[:]), "skey": sk, "vkey": vk})
	}
	nv["generate"] = gen

	// Signed notes.
	tsigner, err := note.NewSigner(testSKey)
	must(err)
	var signed []any
	for _, text := range []string{
		"go.sum database tree\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"hello\n",
		"multi\nline\ntext with ünïcode\n",
	} {
		m, err := note.Sign(&note.Note{Text: text}, tsigner)
		must(err)
		signed = append(signed, map[string]any{"skeys": []string{testSKey}, "text": text, "msg": string(m)})
	}
	// Doubly signed note (test key then generated key).
	s0 := sha256.Sum256([]byte("seed 0"))
	enochS, enochV, _ := note.GenerateKey(bytes.NewReader(s0[:]), "EnochRoot")
	esigner, _ := note.NewSigner(enochS)
	m2, err := note.Sign(&note.Note{Text: "two sigs\n"}, tsigner, esigner)
	must(err)
	signed = append(signed, map[string]any{"skeys": []string{testSKey, enochS}, "text": "two sigs\n", "msg": string(m2)})
	nv["signed"] = signed

	// note.Open outcomes.
	good, _ := note.Sign(&note.Note{Text: "hello\n"}, tsigner)
	other, _ := note.Sign(&note.Note{Text: "hello\n"}, esigner)
	tampered := bytes.Replace(good, []byte("hello"), []byte("jello"), 1)
	var opens []any
	for _, c := range []struct {
		name  string
		msg   []byte
		vkeys []string
	}{
		{"good", good, []string{testVKey}},
		{"good_two_known", m2, []string{testVKey, enochV}},
		{"good_one_unknown", m2, []string{testVKey}},
		{"unknown_key", other, []string{testVKey}},
		{"tampered", tampered, []string{testVKey}},
		{"no_blank_line", []byte("hello\n— x AAAAAAA=\n"), []string{testVKey}},
		{"no_final_newline", good[:len(good)-1], []string{testVKey}},
		{"control_char", []byte("he\tllo\n\n— x AAAAAAA=\n"), []string{testVKey}},
		{"short_sig", []byte("hello\n\n— x AAAA\n"), []string{testVKey}},
	} {
		var vs []note.Verifier
		for _, k := range c.vkeys {
			v, err := note.NewVerifier(k)
			must(err)
			vs = append(vs, v)
		}
		n, err := note.Open(c.msg, note.VerifierList(vs...))
		r := map[string]any{"name": c.name, "msg": string(c.msg), "vkeys": c.vkeys}
		if err != nil {
			r["error"] = err.Error()
		} else {
			var sigs, unv []string
			for _, s := range n.Sigs {
				sigs = append(sigs, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
			}
			for _, s := range n.UnverifiedSigs {
				unv = append(unv, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
			}
			r["text"] = n.Text
			r["sigs"] = sigs
			r["unverified"] = unv
		}
		opens = append(opens, r)
	}
	nv["open"] = opens

	// Verifier / signer key parse errors.
	var badKeys []any
	for _, k := range []string{
		"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", // wrong hash
		"PeterNeumann+c74f20a3+ApRc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", // alg 2 -> hash mismatch first
		"PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // short hash
		"Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"",
	} {
		_, err := note.NewVerifier(k)
		e := ""
		if err != nil {
			e = err.Error()
		}
		badKeys = append(badKeys, map[string]any{"vkey": k, "error": e})
	}
	nv["bad_vkeys"] = badKeys
	out["note"] = nv

	// ---- tlog ----
	tv := map[string]any{}
	var rh []any
	for _, d := range []string{"", "a", "hello world\n", recordText(0)} {
		h := tlog.RecordHash([]byte(d))
		rh = append(rh, map[string]any{"data": d, "hash": h.String()})
	}
	tv["record_hash"] = rh
	h1 := tlog.RecordHash([]byte("left"))
	h2 := tlog.RecordHash([]byte("right"))
	tv["node_hash"] = map[string]any{"left": h1.String(), "right": h2.String(), "hash": tlog.NodeHash(h1, h2).String()}

	var shi [][3]int64
	for level := 0; level <= 6; level++ {
		for n := int64(0); n <= 40; n++ {
			shi = append(shi, [3]int64{int64(level), n, tlog.StoredHashIndex(level, n)})
		}
	}
	for _, n := range []int64{1000, 123456, 1 << 20, 1<<40 + 12345} {
		shi = append(shi, [3]int64{0, n, tlog.StoredHashIndex(0, n)})
		shi = append(shi, [3]int64{3, n, tlog.StoredHashIndex(3, n)})
	}
	tv["stored_hash_index"] = shi
	var split [][3]int64
	for idx := int64(0); idx < 300; idx++ {
		l, n := tlog.SplitStoredHashIndex(idx)
		split = append(split, [3]int64{idx, int64(l), n})
	}
	tv["split_stored_hash_index"] = split
	var shc [][2]int64
	for n := int64(0); n <= 70; n++ {
		shc = append(shc, [2]int64{n, tlog.StoredHashCount(n)})
	}
	tv["stored_hash_count"] = shc

	const numRecords = 600
	var records []string
	var hashes hashList
	treeHashes := map[string]string{}
	for i := 0; i < numRecords; i++ {
		text := recordText(i)
		records = append(records, text)
		hs, err := tlog.StoredHashes(int64(i), []byte(text), hashes)
		must(err)
		hashes = append(hashes, hs...)
		n := int64(i + 1)
		if n <= 40 || n == 255 || n == 256 || n == 257 || n == 511 || n == 512 || n == 513 || n == numRecords {
			th, err := tlog.TreeHash(n, hashes)
			must(err)
			treeHashes[fmt.Sprint(n)] = th.String()
		}
	}
	th0, _ := tlog.TreeHash(0, hashes)
	treeHashes["0"] = th0.String()
	tv["records"] = records
	tv["tree_hash"] = treeHashes
	var first []string
	for _, h := range hashes[:tlog.StoredHashCount(20)] {
		first = append(first, h.String())
	}
	tv["stored_hashes_20"] = first
	all := sha256.New()
	for _, h := range hashes {
		all.Write(h[:])
	}
	tv["stored_hashes_600_count"] = len(hashes)
	tv["stored_hashes_600_sha256"] = fmt.Sprintf("%x", all.Sum(nil))

	// Tiles of the 600-record tree at heights 8 and 2, plus some prefix tiles.
	var tiles []any
	addTile := func(t tlog.Tile) {
		data, err := tlog.ReadTileData(t, hashes)
		must(err)
		m := tileJSON(t)
		m["data"] = b64(data)
		tiles = append(tiles, m)
	}
	for _, t := range tlog.NewTiles(8, 0, numRecords) {
		addTile(t)
	}
	for _, t := range tlog.NewTiles(8, 0, 3) {
		addTile(t)
	}
	for _, t := range tlog.NewTiles(2, 0, 21) {
		addTile(t)
	}
	addTile(tlog.Tile{H: 8, L: 1, N: 0, W: 1})
	tv["tiles"] = tiles

	var nt []any
	for _, p := range [][2]int64{{0, 1}, {0, 3}, {1, 2}, {3, 600}, {256, 257}, {255, 256}, {600, 600}, {0, 70000}, {65535, 65537}} {
		var ts []any
		for _, t := range tlog.NewTiles(8, p[0], p[1]) {
			ts = append(ts, tileJSON(t))
		}
		nt = append(nt, map[string]any{"h": 8, "old": p[0], "new": p[1], "tiles": ts})
	}
	for _, p := range [][2]int64{{0, 21}, {5, 21}} {
		var ts []any
		for _, t := range tlog.NewTiles(2, p[0], p[1]) {
			ts = append(ts, tileJSON(t))
		}
		nt = append(nt, map[string]any{"h": 2, "old": p[0], "new": p[1], "tiles": ts})
	}
	tv["new_tiles"] = nt

	var tfi []any
	for _, idx := range []int64{0, 1, 2, 3, 100, 255, 256, 510, 511, 512, 1000, 1197, 123456789} {
		for _, h := range []int{1, 2, 8} {
			tfi = append(tfi, map[string]any{"h": h, "index": idx, "tile": tileJSON(tlog.TileForIndex(h, idx))})
		}
	}
	tv["tile_for_index"] = tfi

	var paths []any
	for _, t := range []tlog.Tile{
		{H: 3, L: 4, N: 1234067, W: 1},
		{H: 3, L: 4, N: 1234067, W: 8},
		{H: 8, L: 0, N: 0, W: 256},
		{H: 8, L: 0, N: 0, W: 1},
		{H: 8, L: 0, N: 999, W: 256},
		{H: 8, L: 0, N: 1000, W: 256},
		{H: 8, L: 2, N: 123456789, W: 17},
		{H: 8, L: -1, N: 0, W: 256},
		{H: 8, L: -1, N: 5, W: 7},
		{H: 8, L: -1, N: 1234567, W: 255},
		{H: 30, L: 63, N: 1000000, W: 1 << 30},
	} {
		paths = append(paths, tileJSON(t))
	}
	tv["tile_paths"] = paths
	var bad []any
	for _, p := range []string{
		"tile/8/0/000.p/256", "tile/8/0/000.p/0", "tile/8/0/0", "tile/8/0/x000/001",
		"tile/8/0/x001", "tile/0/0/000", "tile/31/0/000", "tile/8/-1/000", "tile/8/0", "tiles/8/0/000",
		"tile/8/0/1000", "tile/8/0/000/", "tile/8/0/001.p/1/2", "tile/08/0/000", "tile/8/00/000",
		"tile/8/data/000.p/256", "tile/8/0/000.p", "tile/8/0/x1/000",
	} {
		_, err := tlog.ParseTilePath(p)
		e := ""
		if err != nil {
			e = err.Error()
		}
		bad = append(bad, map[string]any{"path": p, "error": e})
	}
	tv["parse_tile_path"] = bad

	// Proofs.
	var rp []any
	for _, p := range [][2]int64{{1, 0}, {2, 1}, {7, 3}, {20, 0}, {20, 19}, {600, 300}, {600, 599}} {
		pr, err := tlog.ProveRecord(p[0], p[1], hashes)
		must(err)
		var hs []string
		for _, h := range pr {
			hs = append(hs, h.String())
		}
		rp = append(rp, map[string]any{"t": p[0], "n": p[1], "proof": hs})
	}
	tv["record_proofs"] = rp
	var tp []any
	for _, p := range [][2]int64{{1, 1}, {2, 1}, {7, 3}, {20, 8}, {20, 13}, {600, 1}, {600, 300}, {600, 600}} {
		pr, err := tlog.ProveTree(p[0], p[1], hashes)
		must(err)
		var hs []string
		for _, h := range pr {
			hs = append(hs, h.String())
		}
		tp = append(tp, map[string]any{"t": p[0], "n": p[1], "proof": hs})
	}
	tv["tree_proofs"] = tp

	// Tree note for 600 records signed with the proxy_test.go key.
	th600, _ := tlog.TreeHash(numRecords, hashes)
	treeText := tlog.FormatTree(tlog.Tree{N: numRecords, Hash: th600})
	treeMsg, err := note.Sign(&note.Note{Text: string(treeText)}, tsigner)
	must(err)
	tv["tree_note"] = map[string]any{"n": numRecords, "text": string(treeText), "msg": string(treeMsg)}
	rec, err := tlog.FormatRecord(42, []byte(records[42]))
	must(err)
	tv["format_record"] = map[string]any{"id": 42, "text": records[42], "msg": string(rec)}
	out["tlog"] = tv

	// ---- server (sumdb.NewTestServer + sumdb.NewServer) ----
	known := map[string]string{
		"rsc.io/quote@v1.5.2":                  "rsc.io/quote v1.5.2 h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=\nrsc.io/quote v1.5.2/go.mod h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0=\n",
		"rsc.io/QuoteX@v1.0.0":                 "rsc.io/QuoteX v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nrsc.io/QuoteX v1.0.0/go.mod h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=\n",
		"github.com/a/b@v2.0.0+incompatible":   "github.com/a/b v2.0.0+incompatible h1:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA=\ngithub.com/a/b v2.0.0+incompatible/go.mod h1:DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDA=\n",
		"example.com/x@v1.0.0-20190101000000-abcdefabcdef": "example.com/x v1.0.0-20190101000000-abcdefabcdef h1:EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEA=\nexample.com/x v1.0.0-20190101000000-abcdefabcdef/go.mod h1:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA=\n",
	}
	gosum := func(path, vers string) ([]byte, error) {
		if s, ok := known[path+"@"+vers]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	srv := sumdb.NewServer(sumdb.NewTestServer(testSKey, gosum))
	var exchanges []any
	get := func(path string) {
		req := httptest.NewRequest("GET", "http://sumdb.test"+path, nil)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		resp := w.Result()
		body, _ := io.ReadAll(resp.Body)
		exchanges = append(exchanges, map[string]any{
			"path": path, "status": resp.StatusCode,
			"content_type": resp.Header.Get("Content-Type"), "body": b64(body),
		})
	}
	for _, p := range []string{
		"/latest",
		"/lookup/rsc.io/quote@v1.5.2",
		"/lookup/rsc.io/!quote!x@v1.0.0",
		"/lookup/rsc.io/quote@v1.5.2",
		"/tile/8/0/000.p/2",
		"/tile/8/data/000.p/2",
		"/lookup/example.com/missing@v1.0.0",
		"/lookup/github.com/a/b@v2.0.0+incompatible",
		"/lookup/example.com/x@v1.0.0-20190101000000-abcdefabcdef",
		"/latest",
		"/tile/8/0/000.p/4",
		"/tile/8/0/000.p/3",
		"/tile/8/0/000.p/1",
		"/tile/8/data/000.p/4",
		"/tile/8/data/000.p/1",
		"/tile/2/0/000",
		"/tile/2/1/000.p/1",
		"/tile/1/0/000",
		"/tile/1/0/001",
		"/tile/1/1/000",
		"/tile/1/2/000.p/1",
		"/tile/2/data/000",
		"/tile/1/data/001",
		"/lookup/bad",
		"/lookup/rsc.io/quote@1.5.2",
		"/lookup/rsc.io/Quote@v1.0.0",
		"/lookup/rsc.io/quote@v1.5.2@v1",
		"/tile/bad",
		"/tile/8/0/000.p/256",
		"/tile/8/x/000",
		"/nosuch",
		"/",
	} {
		get(p)
	}
	out["server"] = map[string]any{"signer": testSKey, "vkey": testVKey, "known": known, "exchanges": exchanges}

	// ---- dirhash ----
	files := map[string]string{
		"example.com/x@v1.0.0/go.mod": "module example.com/x\n\ngo 1.21\n",
		"example.com/x@v1.0.0/x.go":   "package x\n\nconst X = 1\n",
		"example.com/x@v1.0.0/LICENSE": "public domain\n",
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	open := func(n string) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(files[n])), nil }
	zh, err := dirhash.Hash1(names, open)
	must(err)
	mh, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(files["example.com/x@v1.0.0/go.mod"])), nil
	})
	must(err)
	out["dirhash"] = map[string]any{"files": files, "h1": zh, "gomod": files["example.com/x@v1.0.0/go.mod"], "gomod_h1": mh}

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	must(enc.Encode(out))
}

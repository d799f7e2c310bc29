// SPDX-License-Identifier: MIT

package jr_test

import (
	"strconv"
	"testing"
)

// The iterator walks every page: 250 keys with COUNT 10 take many.
func TestScanIteratorWalksEveryPage(t *testing.T) {
	c := newClient(t)
	want := map[string]bool{}
	for i := 0; i < 250; i++ {
		k := "go:scan:" + strconv.Itoa(i)
		must(t)(c.Do(bg, "SET", k, i))
		want[k] = true
		must(t)(c.Do(bg, "HSET", "go:scan:h", "f"+strconv.Itoa(i), i))
	}
	got := map[string]bool{}
	it := c.Scan("go:scan:[0-9]*", 10)
	for it.Next(bg) {
		got[it.Val()] = true
	}
	if it.Err() != nil || len(got) != len(want) {
		t.Fatalf("Scan: %d keys of %d, %v", len(got), len(want), it.Err())
	}
	fields := 0
	h := c.HScan("go:scan:h", "", 20)
	for h.Next(bg) {
		field := h.Val()
		if !h.Next(bg) || h.Val() != field[1:] {
			t.Fatalf("HScan: field %s, value %q", field, h.Val())
		}
		fields++
	}
	if h.Err() != nil || fields != 250 {
		t.Fatalf("HScan: %d fields, %v", fields, h.Err())
	}
	// A wrong type ends the walk with the server's error.
	bad := c.SScan("go:scan:h", "", 0)
	if bad.Next(bg) || bad.Err() == nil {
		t.Fatalf("SSCAN of a hash: %v", bad.Err())
	}
}

// SPDX-License-Identifier: MIT

//go:build go1.21

package jr

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
)

func pinClient(tb testing.TB) *Client {
	ep := os.Getenv("JR_TEST_ENDPOINT")
	c, err := NewClient(&Options{Endpoints: []string{ep}, LoopDelivery: os.Getenv("JR_TEST_LOOP_DELIVERY") == "1"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// The pinned path sends what the copying one sends: strings, byte slices,
// empty ones and encoded numbers mixed, in a client and a database view.
func TestPinnedArgumentsArriveIntact(t *testing.T) {
	c := pinClient(t)
	defer func(m int) { pinMin = m }(pinMin)
	pinMin = 1 // every command with a string takes the pinned path
	big := bytes.Repeat([]byte("0123456789"), 10000)
	ctx := context.Background()
	for _, v := range []interface{}{big, string(big), "", []byte{}, "x"} {
		if _, err := c.Do(ctx, "SET", "go:pin:k", v); err != nil {
			t.Fatal(err)
		}
		r, err := c.Do(ctx, "GET", "go:pin:k")
		want := v
		if s, ok := v.(string); ok {
			want = []byte(s)
		}
		if err != nil || !bytes.Equal(r.Bytes, want.([]byte)) {
			t.Fatalf("GET after a pinned SET of %d bytes: %d bytes, %v", len(want.([]byte)), len(r.Bytes), err)
		}
	}
	if _, err := c.Do(ctx, "HSET", "go:pin:h", "n", 42, "f", 1.5, "b", true, "s", big); err != nil {
		t.Fatal(err)
	}
	r, err := c.Do(ctx, "HMGET", "go:pin:h", "n", "f", "b", "s")
	if err != nil || r.Array[0].Text() != "42" || r.Array[1].Text() != "1.5" || r.Array[2].Text() != "1" ||
		!bytes.Equal(r.Array[3].Bytes, big) {
		t.Fatalf("HMGET after a pinned HSET with numbers: %v", err)
	}
	db, err := c.DB(3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Do(ctx, "SET", "go:pin:db", big); err != nil {
		t.Fatal(err)
	}
	if r, err := db.Do(ctx, "STRLEN", "go:pin:db"); err != nil || r.Int != int64(len(big)) {
		t.Fatalf("STRLEN in db 3: %v, %v", r, err)
	}
	if _, err := c.Do(ctx, "SELECT", "1"); err == nil {
		t.Fatal("SELECT through the pinned path was not refused")
	}
}

// BenchmarkSetPinned compares SET through the copying path and the pinned
// one, by value size:
//
//	JR_TEST_ENDPOINT=... go test -run '^$' -bench SetPinned -count 5
func BenchmarkSetPinned(b *testing.B) {
	c := pinClient(b)
	ctx := context.Background()
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10, 4 << 20} {
		val := bytes.Repeat([]byte{'v'}, size)
		for _, pinned := range []bool{false, true} {
			name := strconv.Itoa(size>>10) + "KiB/copy"
			if pinned {
				name = strconv.Itoa(size>>10) + "KiB/pinned"
			}
			b.Run(name, func(b *testing.B) {
				defer func(m int) { pinMin = m }(pinMin)
				pinMin = 1 << 62
				if pinned {
					pinMin = 1
				}
				b.SetBytes(int64(size))
				for i := 0; i < b.N; i++ {
					if _, err := c.Do(ctx, "SET", "go:pin:bench", val); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

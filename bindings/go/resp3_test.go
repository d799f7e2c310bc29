// SPDX-License-Identifier: MIT

package jr_test

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	jr "github.com/libjr/libjr/bindings/go"
)

// JR_EXPECT_RESP3=1 (scripts/test's run against the hiredis-1.2 libjr):
// a libjr without RESP3 fails the RESP3 tests instead of skipping them, so
// a run against the wrong libjr cannot pass silently.
var expectRESP3 = os.Getenv("JR_EXPECT_RESP3") == "1"

// resp3Client is a client with Protocol 3 (and what mod sets), or skips the
// test when this libjr was built with hiredis 0.14 (no RESP3): then
// NewClient must fail with ErrInvalid and say why. With JR_EXPECT_RESP3=1
// that fails the test.
func resp3Client(t *testing.T, mod ...func(*jr.Options)) *jr.Client {
	t.Helper()
	o := &jr.Options{Endpoints: []string{endpoint}, Protocol: 3, LoopDelivery: loopDelivery}
	for _, f := range mod {
		f(o)
	}
	c, err := jr.NewClient(o)
	if err != nil {
		var le *jr.Error
		if errors.Is(err, jr.ErrInvalid) && errors.As(err, &le) && strings.Contains(le.Cause, "hiredis") {
			if expectRESP3 {
				t.Fatalf("JR_EXPECT_RESP3=1, but libjr has no RESP3: %v", err)
			}
			t.Skipf("libjr has no RESP3: %v", err)
		}
		t.Fatalf("NewClient(Protocol: 3): %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Built against hiredis 0.14, Protocol 3 is refused with a reason; against
// 1.x it is accepted. Either way, 4 is refused.
func TestProtocolOption(t *testing.T) {
	c, err := jr.NewClient(&jr.Options{Endpoints: []string{endpoint}, Protocol: 3})
	if err != nil {
		var le *jr.Error
		if !errors.Is(err, jr.ErrInvalid) || !errors.As(err, &le) ||
			!strings.Contains(le.Cause, "hiredis >= 1.0") || !strings.Contains(err.Error(), "RESP3") {
			t.Fatalf("Protocol 3 refused without saying why: %v", err)
		}
		t.Logf("this libjr: %v", err)
	} else {
		c.Close()
	}
	if err := (&jr.Options{Protocol: 4}).Validate(); !errors.Is(err, jr.ErrInvalid) {
		t.Fatalf("Protocol 4: %v", err)
	}
	if err := (&jr.Options{Protocol: 2}).Validate(); err != nil {
		t.Fatalf("Protocol 2: %v", err)
	}
}

// RESP3's types from real commands, mapped to Go values.
func TestRESP3Kinds(t *testing.T) {
	c := resp3Client(t)
	must(t)(c.Do(bg, "DEL", "go:r3:h", "go:r3:s"))
	must(t)(c.Do(bg, "HSET", "go:r3:h", "a", "1", "b", "2"))
	r := must(t)(c.Do(bg, "HGETALL", "go:r3:h"))
	if m := r.Map(); r.Kind != jr.KindMap || len(r.Array) != 4 || m["a"].Text() != "1" || m["b"].Text() != "2" {
		t.Fatalf("HGETALL: %v (%s)", r, r.Kind)
	}
	if m, err := c.HGetAll(bg, "go:r3:h"); err != nil || m["b"] != "2" {
		t.Fatalf("HGetAll over RESP3: %v, %v", m, err)
	}
	must(t)(c.Do(bg, "SADD", "go:r3:s", "x", "y", "z"))
	if r := must(t)(c.Do(bg, "SMEMBERS", "go:r3:s")); r.Kind != jr.KindSet || len(r.Array) != 3 {
		t.Fatalf("SMEMBERS: %v (%s)", r, r.Kind)
	}
	if _, err := c.Get(bg, "go:r3:missing"); err != jr.Nil {
		t.Fatalf("Get of a missing key over RESP3: %v", err)
	}
	for _, tc := range []struct {
		arg  string
		kind jr.Kind
		ok   func(jr.Reply) bool
	}{
		{"double", jr.KindDouble, func(r jr.Reply) bool { return r.Float == 3.141 && r.Text() == "3.141" }},
		{"bignum", jr.KindBignum, func(r jr.Reply) bool {
			return strings.HasPrefix(r.Text(), "1234567999999999999999999999999999999")
		}},
		{"true", jr.KindBool, func(r jr.Reply) bool { return r.Bool && r.Int == 1 && r.String() == "true" }},
		{"false", jr.KindBool, func(r jr.Reply) bool { return !r.Bool && r.Int == 0 }},
		{"verbatim", jr.KindVerb, func(r jr.Reply) bool {
			return r.Format == "txt" && strings.Contains(r.Text(), "verbatim") && !strings.HasPrefix(r.Text(), "txt:")
		}},
		{"map", jr.KindMap, func(r jr.Reply) bool {
			m := r.Map()
			return len(m) == 3 && m["0"].Kind == jr.KindBool && !m["0"].Bool && m["1"].Bool
		}},
		{"set", jr.KindSet, func(r jr.Reply) bool { return len(r.Array) == 3 && r.Array[0].Kind == jr.KindInteger }},
		{"null", jr.KindNil, func(r jr.Reply) bool { return r.IsNil() }},
	} {
		r, err := c.Do(bg, "DEBUG", "PROTOCOL", tc.arg)
		if err != nil || r.Kind != tc.kind || !tc.ok(r) {
			t.Errorf("DEBUG PROTOCOL %s: %v %#v (%v)", tc.arg, err, r, r.Kind)
		}
	}
	// A long double (no inline copy) and the infinities.
	must(t)(c.Do(bg, "DEL", "go:r3:z"))
	must(t)(c.Do(bg, "ZADD", "go:r3:z", "0.1234567890123456789012345", "m", "inf", "top"))
	if r := must(t)(c.Do(bg, "ZSCORE", "go:r3:z", "m")); r.Kind != jr.KindDouble || math.Abs(r.Float-0.12345678901234568) > 1e-15 {
		t.Fatalf("ZSCORE: %#v", r)
	}
	if r := must(t)(c.Do(bg, "ZSCORE", "go:r3:z", "top")); r.Kind != jr.KindDouble || !math.IsInf(r.Float, 1) {
		t.Fatalf("ZSCORE of inf: %#v", r)
	}
	// Inside an array: ZRANGE WITHSCORES pairs (arrays of member, double).
	r = must(t)(c.Do(bg, "ZRANGE", "go:r3:z", "0", "-1", "WITHSCORES"))
	if r.Kind != jr.KindArray || len(r.Array) != 2 || r.Array[1].Array[1].Kind != jr.KindDouble ||
		!math.IsInf(r.Array[1].Array[1].Float, 1) {
		t.Fatalf("ZRANGE WITHSCORES: %v", r)
	}
	// HELLO stays refused, with advice in Go's terms.
	if _, err := c.Do(bg, "HELLO", "3"); !errors.Is(err, jr.ErrRefused) ||
		!strings.Contains(err.Error(), "Options.Protocol") {
		t.Fatalf("HELLO: %v", err)
	}
}

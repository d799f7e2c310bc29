// SPDX-License-Identifier: MIT

package jr_test

import (
	"errors"
	"testing"

	jr "github.com/libjr/libjr/bindings/go"
)

// Sharded pub/sub (Redis 7 SSUBSCRIBE / SPUBLISH) and names the server
// refuses. The inbox type and countKind are in tx_test.go.

// find returns the first message satisfying f.
func find(ms []jr.Message, f func(jr.Message) bool) (jr.Message, bool) {
	for _, m := range ms {
		if f(m) {
			return m, true
		}
	}
	return jr.Message{}, false
}

func isConfirm(kind, name string, count int64) func(jr.Message) bool {
	return func(m jr.Message) bool {
		return m.Kind == kind && m.Channel == name && m.Count == count && m.Err == nil
	}
}

// publish runs PUBLISH or SPUBLISH and checks how many subscribers it reached.
func publish(t *testing.T, c *jr.Client, cmd, channel, payload string, want int64) {
	t.Helper()
	r := must(t)(c.Do(bg, cmd, channel, payload))
	if r.Kind != jr.KindInteger || r.Int != want {
		t.Fatalf("%s %s reached %v subscribers, want %d", cmd, channel, r, want)
	}
}

func TestShardedPubSubDeliversSMessages(t *testing.T) {
	c := newClient(t)
	var in inbox
	sub, err := c.Subscribe(in.add)
	if err != nil {
		t.Fatal(err)
	}
	// Each confirmation carries the server's count for the connection.
	for i, name := range []string{"go:shard1", "go:shard2"} {
		if err := sub.SSubscribe(name); err != nil {
			t.Fatal(err)
		}
		in.wait(t, "ssubscribe "+name, func(ms []jr.Message) bool {
			_, ok := find(ms, isConfirm("ssubscribe", name, int64(i+1)))
			return ok
		})
	}
	// Sharded channels are their own namespace: PUBLISH does not reach them.
	publish(t, c, "PUBLISH", "go:shard1", "plain", 0)
	publish(t, c, "SPUBLISH", "go:shard1", "hello", 1)
	publish(t, c, "SPUBLISH", "go:shard2", "bin\x00ary", 1)
	in.wait(t, "smessages", func(ms []jr.Message) bool { return countKind(ms, "smessage") == 2 })

	// One name, then (no names) the rest.
	if err := sub.SUnsubscribe("go:shard1"); err != nil {
		t.Fatal(err)
	}
	in.wait(t, "sunsubscribe go:shard1", func(ms []jr.Message) bool {
		_, ok := find(ms, isConfirm("sunsubscribe", "go:shard1", 1))
		return ok
	})
	publish(t, c, "SPUBLISH", "go:shard1", "gone", 0)
	publish(t, c, "SPUBLISH", "go:shard2", "still", 1)
	// An unsubscribe takes effect at once: a message libjr has not read yet
	// would be dropped (SPUBLISH's count only says the server queued it).
	in.wait(t, "smessage still", func(ms []jr.Message) bool { return countKind(ms, "smessage") == 3 })
	if err := sub.SUnsubscribe(); err != nil {
		t.Fatal(err)
	}
	in.wait(t, "sunsubscribe go:shard2", func(ms []jr.Message) bool {
		_, ok := find(ms, isConfirm("sunsubscribe", "go:shard2", 0))
		return ok
	})
	publish(t, c, "SPUBLISH", "go:shard2", "gone", 0)

	sub.Close()
	in.wait(t, "closed", func(ms []jr.Message) bool { return len(ms) > 0 && ms[len(ms)-1].Kind == "closed" })
	in.mu.Lock()
	defer in.mu.Unlock()
	var got []string
	for _, m := range in.got {
		switch m.Kind {
		case "smessage":
			if m.Err != nil || m.Pattern != "" {
				t.Errorf("smessage %+v", m)
			}
			got = append(got, m.Channel+"="+string(m.Payload))
		case "message", "pmessage", "subscribe", "unsubscribe":
			t.Errorf("unexpected %+v", m)
		}
	}
	want := []string{"go:shard1=hello", "go:shard2=bin\x00ary", "go:shard2=still"}
	if len(got) != len(want) {
		t.Fatalf("smessages %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("smessages %q, want %q", got, want)
		}
	}
	if countKind(in.got, "closed") != 1 {
		t.Fatal("closed more than once")
	}
	if err := sub.SSubscribe("x"); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("SSubscribe after Close: %v", err)
	}
	if err := sub.SUnsubscribe(); !errors.Is(err, jr.ErrClosed) {
		t.Fatalf("SUnsubscribe after Close: %v", err)
	}
}

// isRefused matches a refusal of name for kind with a NOPERM server error.
func isRefused(kind, name string) func(jr.Message) bool {
	return func(m jr.Message) bool {
		var se *jr.ServerError
		return m.Kind == kind && m.Channel == name && errors.As(m.Err, &se) && se.Prefix() == "NOPERM"
	}
}

func TestRefusedSubscriptionsAreReported(t *testing.T) {
	const user = "go-sub-limited"
	admin := newClient(t)
	must(t)(admin.Do(bg, "ACL", "SETUSER", user, "on", ">pw", "~*", "resetchannels", "&ok:*", "+@all"))
	t.Cleanup(func() {
		// Runs before admin's Close (cleanups run last-registered first).
		if r, err := admin.Do(bg, "ACL", "DELUSER", user); err != nil || r.Int != 1 {
			t.Errorf("ACL DELUSER %s: %v %v", user, r, err)
		}
	})
	lim := newClient(t, func(o *jr.Options) { o.Username, o.Password = user, "pw" })
	var in inbox
	sub, err := lim.Subscribe(in.add)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SSubscribe("no:shard"); err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe("no:plain"); err != nil {
		t.Fatal(err)
	}
	if err := sub.PSubscribe("no:*"); err != nil {
		t.Fatal(err)
	}
	in.wait(t, "refusals", func(ms []jr.Message) bool {
		_, ok1 := find(ms, isRefused("ssubscribe", "no:shard"))
		_, ok2 := find(ms, isRefused("subscribe", "no:plain"))
		_, ok3 := find(ms, isRefused("psubscribe", "no:*"))
		return ok1 && ok2 && ok3
	})
	// Refused names are not subscribed, and the subscriber still works:
	// allowed names are confirmed with counts that leave the refused out.
	publish(t, admin, "SPUBLISH", "no:shard", "x", 0)
	publish(t, admin, "PUBLISH", "no:plain", "x", 0)
	if err := sub.SSubscribe("ok:shard"); err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe("ok:plain"); err != nil {
		t.Fatal(err)
	}
	in.wait(t, "confirmations", func(ms []jr.Message) bool {
		_, ok1 := find(ms, isConfirm("ssubscribe", "ok:shard", 1))
		_, ok2 := find(ms, isConfirm("subscribe", "ok:plain", 1))
		return ok1 && ok2
	})
	publish(t, admin, "SPUBLISH", "ok:shard", "sharded", 1)
	publish(t, admin, "PUBLISH", "ok:plain", "plain", 1)
	in.wait(t, "messages", func(ms []jr.Message) bool {
		_, ok1 := find(ms, func(m jr.Message) bool {
			return m.Kind == "smessage" && m.Channel == "ok:shard" && string(m.Payload) == "sharded"
		})
		_, ok2 := find(ms, func(m jr.Message) bool {
			return m.Kind == "message" && m.Channel == "ok:plain" && string(m.Payload) == "plain"
		})
		return ok1 && ok2
	})
	sub.Close()
	in.wait(t, "closed", func(ms []jr.Message) bool { return len(ms) > 0 && ms[len(ms)-1].Kind == "closed" })
	in.mu.Lock()
	defer in.mu.Unlock()
	refused := 0
	for _, m := range in.got {
		if m.Err == nil {
			continue
		}
		refused++
		if m.Count != 0 || m.Reply.Kind != jr.KindArray || len(m.Reply.Array) != 3 ||
			m.Reply.Array[2].Kind != jr.KindError {
			t.Errorf("refusal %+v", m)
		}
	}
	if refused != 3 {
		t.Errorf("%d refusals, want 3: %+v", refused, in.got)
	}
}

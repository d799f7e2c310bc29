// SPDX-License-Identifier: MIT

package jr_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
)

// startSentinel runs `redis-server --sentinel` on a free loopback port,
// watching the test server as master `name`; it is stopped by PID when the
// test ends.
func startSentinel(t *testing.T, name string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server on PATH for a sentinel")
	}
	addr := deadEndpoint(t)
	host, port, _ := net.SplitHostPort(addr)
	mhost, mport, _ := net.SplitHostPort(endpoint)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("port %s\nbind %s\ndir %s\nsentinel monitor %s %s %s 1\n", port, host, dir, name, mhost, mport)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel on %s did not start", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Several sentinels through the typed options: the first is down, the
// second names the master, and commands reach it.
func TestSentinelsFindTheMaster(t *testing.T) {
	live := startSentinel(t, "gomaster")
	dead := deadEndpoint(t)
	c := newClient(t, func(o *jr.Options) {
		o.Endpoints = nil
		o.Sentinels = []string{dead, live}
		o.SentinelMaster = "gomaster"
	})
	must(t)(c.Do(bg, "SET", "go:sentinel:k", "v"))
	if v, err := c.Get(bg, "go:sentinel:k"); err != nil || v != "v" {
		t.Fatalf("GET through the sentinel's master: %q, %v", v, err)
	}
	eps, err := c.EndpointStats()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range eps {
		if e.Endpoint == endpoint && e.Completed >= 2 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no completed requests on the master %s: %+v", endpoint, eps)
	}

	// A master name no sentinel knows: a clear ErrConnect, not a hang, and
	// a connect-failed event from "sentinel" that names each sentinel's
	// answer. (libjr gives no jr_error_detail for it yet: the reason is in
	// the event only.)
	events := make(chan string, 16)
	wrong := newClient(t, func(o *jr.Options) {
		o.Endpoints = nil
		o.Sentinels = []string{live}
		o.SentinelMaster = "no-such-master"
		o.ConnectRetries = -1
		o.OnEvent = func(ev jr.Event, ep, detail string) {
			if ev == jr.EventConnectFailed && ep == "sentinel" {
				events <- detail
			}
		}
	})
	if _, err = wrong.Do(bg, "PING"); !errors.Is(err, jr.ErrConnect) {
		t.Fatalf("an unknown master name: %v", err)
	}
	select {
	case d := <-events:
		if !strings.Contains(d, live) {
			t.Fatalf("the sentinel event does not name %s: %q", live, d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connect-failed event from sentinel")
	}
}

// Sentinels without a master name: NewClient refuses.
func TestSentinelsNeedAMasterName(t *testing.T) {
	_, err := jr.NewClient(&jr.Options{Sentinels: []string{"127.0.0.1:26379"}})
	if !errors.Is(err, jr.ErrInvalid) {
		t.Fatalf("Sentinels without SentinelMaster: %v", err)
	}
}

// SPDX-License-Identifier: MIT

package jr_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
)

// The Redis Cluster calls, credential rotation and TLS options, against a
// standalone server (JR_TEST_ENDPOINT, or servers of the tests' own).

func TestEndpointsOfAStandaloneServer(t *testing.T) {
	c := newClient(t)
	nodes, err := c.Endpoints(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0] != (jr.Node{Address: endpoint, Role: "standalone"}) {
		t.Fatalf("endpoints: %+v", nodes)
	}
	// From many goroutines at once.
	inGoroutines(20, func(int) {
		if n, err := c.Endpoints(bg); err != nil || len(n) != 1 {
			t.Errorf("endpoints: %v %v", n, err)
		}
	})
}

func TestDoAllMastersIsAClusterErrorOnAStandaloneServer(t *testing.T) {
	c := newClient(t)
	res, err := c.DoAllMasters(bg, "DBSIZE")
	if !errors.Is(err, jr.ErrCluster) || res != nil {
		t.Fatalf("all masters: %v %v", res, err)
	}
	var e *jr.Error
	if !errors.As(err, &e) || e.Name() != "JR_ECLUSTER" || !e.Unsent() || !jr.IsUnsent(err) {
		t.Fatalf("error: %#v", err)
	}
	tctx, cancel := context.WithTimeout(bg, time.Second)
	defer cancel()
	if _, err := c.DoAllMasters(tctx, "DBSIZE"); !errors.Is(err, jr.ErrCluster) {
		t.Fatalf("with a deadline: %v", err)
	}
	// Refused before anything is sent; bad arguments too.
	if _, err := c.DoAllMasters(bg, "SUBSCRIBE", "x"); !errors.Is(err, jr.ErrRefused) {
		t.Fatalf("refused: %v", err)
	}
	if _, err := c.DoAllMasters(bg); !errors.Is(err, jr.ErrInvalid) {
		t.Fatalf("empty: %v", err)
	}
	if r := must(t)(c.Do(bg, "PING")); r.Text() != "PONG" {
		t.Fatal(r)
	}
}

func TestParseNodeResults(t *testing.T) {
	s := func(x string) jr.Reply { return jr.Reply{Kind: jr.KindString, Bytes: []byte(x)} }
	pair := func(a string, r jr.Reply) jr.Reply {
		return jr.Reply{Kind: jr.KindArray, Array: []jr.Reply{s(a), r}}
	}
	raw := jr.Reply{Kind: jr.KindArray, Array: []jr.Reply{
		pair("10.0.0.1:7000", jr.Reply{Kind: jr.KindInteger, Int: 3}),
		pair("10.0.0.2:7000", jr.Reply{Kind: jr.KindError, Bytes: []byte("JR_ECONNLOST: connection lost")}),
		pair("10.0.0.3:7000", jr.Reply{Kind: jr.KindError, Bytes: []byte("ERR unknown command")}),
	}}
	got, err := jr.ParseNodeResults(raw)
	if err != nil || len(got) != 3 {
		t.Fatalf("%v %v", got, err)
	}
	if got[0].Address != "10.0.0.1:7000" || got[0].Reply.Int != 3 || got[0].Err != nil {
		t.Fatalf("node 0: %+v", got[0])
	}
	if !errors.Is(got[1].Err, jr.ErrConnLost) {
		t.Fatalf("node 1: %+v", got[1])
	}
	var se *jr.ServerError
	if !errors.As(got[2].Err, &se) || se.Prefix() != "ERR" {
		t.Fatalf("node 2: %+v", got[2])
	}
	if _, err := jr.ParseNodeResults(jr.Reply{Kind: jr.KindInteger}); !errors.Is(err, jr.ErrProto) {
		t.Fatalf("shape: %v", err)
	}
	nodes, err := jr.ParseNodes(jr.Reply{Kind: jr.KindArray, Array: []jr.Reply{pair("a:1", s("master"))}})
	if err != nil || nodes[0] != (jr.Node{Address: "a:1", Role: "master"}) {
		t.Fatalf("nodes: %v %v", nodes, err)
	}
	if _, err := jr.ParseNodes(jr.Reply{Kind: jr.KindArray, Array: []jr.Reply{s("a:1")}}); !errors.Is(err, jr.ErrProto) {
		t.Fatalf("nodes shape: %v", err)
	}
}

func TestDoToTheServersOwnAddress(t *testing.T) {
	c := newClient(t)
	if r := must(t)(c.DoTo(bg, endpoint, "SET", "go:cl:to", "v1")); r.Text() != "OK" {
		t.Fatal(r)
	}
	if r := must(t)(c.Do(bg, "GET", "go:cl:to")); r.Text() != "v1" {
		t.Fatal(r)
	}
	tctx, cancel := context.WithTimeout(bg, time.Second)
	defer cancel()
	if r := must(t)(c.DoTo(tctx, endpoint, "GET", "go:cl:to")); r.Text() != "v1" {
		t.Fatal(r)
	}
	var se *jr.ServerError
	if _, err := c.DoTo(bg, endpoint, "NOSUCHCOMMAND"); !errors.As(err, &se) {
		t.Fatalf("server error: %v", err)
	}
	for _, bad := range []string{"", "127.0.0.1:1\x00"} {
		if _, err := c.DoTo(bg, bad, "PING"); !errors.Is(err, jr.ErrInvalid) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

func TestClusterCallsHonourTheContext(t *testing.T) {
	c := newClient(t)
	// A deadline is libjr's deadline: the command times out (it may have run).
	tctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.DoTo(tctx, endpoint, "DEBUG", "SLEEP", "0.3")
	if !errors.Is(err, context.DeadlineExceeded) || jr.IsUnsent(err) {
		t.Fatalf("deadline: %v", err)
	}
	if !errors.Is(err, jr.ErrTimedOut) && !errors.Is(err, jr.ErrAbandoned) {
		t.Fatalf("deadline code: %v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("returned after %v", d)
	}
	// A cancel returns at once; the command runs on.
	cctx, ccancel := context.WithCancel(bg)
	go func() {
		time.Sleep(30 * time.Millisecond)
		ccancel()
	}()
	_, err = c.DoTo(cctx, endpoint, "DEBUG", "SLEEP", "0.2")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, jr.ErrAbandoned) {
		t.Fatalf("cancel: %v", err)
	}
	// An ended context sends nothing.
	if _, err := c.Endpoints(cctx); !errors.Is(err, jr.ErrCanceled) || !jr.IsUnsent(err) {
		t.Fatalf("ended context: %v", err)
	}
	if r := must(t)(c.Do(bg, "PING")); r.Text() != "PONG" {
		t.Fatal(r)
	}
}

func TestClusterCallsAfterClose(t *testing.T) {
	c := newClient(t)
	c.Close()
	if _, err := c.Endpoints(bg); !errors.Is(err, jr.ErrClosed) {
		t.Fatal(err)
	}
	if _, err := c.DoTo(bg, endpoint, "PING"); !errors.Is(err, jr.ErrClosed) {
		t.Fatal(err)
	}
	if err := c.SetAuth("", "x"); !errors.Is(err, jr.ErrClosed) {
		t.Fatal(err)
	}
}

// ---- A redis-server of the test's own -----------------------------------------------

type ownServer struct {
	addr string
	cmd  *exec.Cmd
}

func startServer(t *testing.T, extra ...string) *ownServer {
	t.Helper()
	port := strings.TrimPrefix(deadEndpoint(t), "127.0.0.1:")
	dir := t.TempDir()
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}, extra...)
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	s := &ownServer{addr: "127.0.0.1:" + port, cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; i < 500; i++ {
		r := s.raw("", "PING")
		if strings.Contains(r, "PONG") || strings.Contains(r, "NOAUTH") {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return nil
}

// raw runs an inline command on a side connection (after AUTH auth, if any)
// and returns the raw reply.
func (s *ownServer) raw(auth, line string) string {
	conn, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()
	msg, want := line+"\r\n", 1
	if auth != "" {
		msg, want = "AUTH "+auth+"\r\n"+msg, 2
	}
	if _, err := conn.Write([]byte(msg)); err != nil {
		return ""
	}
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var out []byte
	buf := make([]byte, 4096)
	for strings.Count(string(out), "\n") < want {
		n, err := conn.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	return string(out)
}

// disconnects counts EventDisconnected.
type disconnects struct {
	mu sync.Mutex
	n  int
	ch chan struct{}
}

func newDisconnects() *disconnects { return &disconnects{ch: make(chan struct{}, 16)} }

func (d *disconnects) hook(ev jr.Event, endpoint, detail string) {
	if ev == jr.EventDisconnected {
		d.mu.Lock()
		d.n++
		d.mu.Unlock()
		d.ch <- struct{}{}
	}
}

func (d *disconnects) wait(t *testing.T) {
	t.Helper()
	select {
	case <-d.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect seen")
	}
}

func TestSetAuthRotatesTheCredentialsOfNewConnections(t *testing.T) {
	s := startServer(t, "--requirepass", "old-secret")
	dis := newDisconnects()
	c := newClient(t, func(o *jr.Options) {
		o.Endpoints = []string{s.addr}
		o.Password = "old-secret"
		o.ConnectRetries = -1
		o.OnEvent = dis.hook
	})
	id := must(t)(c.Do(bg, "CLIENT", "ID")).Int
	// Rotate on the server; the live connection stays authenticated.
	if r := s.raw("old-secret", "CONFIG SET requirepass new-secret"); !strings.HasSuffix(r, "+OK\r\n") {
		t.Fatalf("CONFIG SET: %q", r)
	}
	if err := c.SetAuth("", "new-secret"); err != nil {
		t.Fatal(err)
	}
	if got := must(t)(c.Do(bg, "CLIENT", "ID")).Int; got != id {
		t.Fatalf("connection replaced: %d != %d", got, id)
	}
	// Drop it from a side connection: the reconnect uses the new password.
	if r := s.raw("new-secret", "CLIENT KILL ID "+strconv.FormatInt(id, 10)); !strings.HasSuffix(r, ":1\r\n") {
		t.Fatalf("CLIENT KILL: %q", r)
	}
	dis.wait(t)
	if r := must(t)(c.Do(bg, "PING")); r.Text() != "PONG" {
		t.Fatal(r)
	}
	id2 := must(t)(c.Do(bg, "CLIENT", "ID")).Int
	if id2 == id {
		t.Fatal("same connection after the kill")
	}
	// With a user name (AUTH default <password>).
	s.raw("new-secret", "CONFIG SET requirepass third")
	if err := c.SetAuth("default", "third"); err != nil {
		t.Fatal(err)
	}
	s.raw("third", "CLIENT KILL ID "+strconv.FormatInt(id2, 10))
	dis.wait(t)
	if r := must(t)(c.Do(bg, "ACL", "WHOAMI")); r.Text() != "default" {
		t.Fatal(r)
	}
	if err := c.SetAuth("", "a\x00b"); !errors.Is(err, jr.ErrInvalid) {
		t.Fatalf("NUL: %v", err)
	}
}

func TestWithoutSetAuthTheReconnectFailsWithErrAuth(t *testing.T) {
	s := startServer(t, "--requirepass", "old-secret")
	dis := newDisconnects()
	c := newClient(t, func(o *jr.Options) {
		o.Endpoints = []string{s.addr}
		o.Password = "old-secret"
		o.ConnectRetries = -1
		o.OnEvent = dis.hook
	})
	id := must(t)(c.Do(bg, "CLIENT", "ID")).Int
	s.raw("old-secret", "CONFIG SET requirepass new-secret")
	s.raw("new-secret", "CLIENT KILL ID "+strconv.FormatInt(id, 10))
	dis.wait(t)
	if _, err := c.Do(bg, "PING"); !errors.Is(err, jr.ErrAuth) || !jr.IsUnsent(err) {
		t.Fatalf("expected ErrAuth: %v", err)
	}
	if err := c.SetAuth("", "new-secret"); err != nil {
		t.Fatal(err)
	}
	if r := must(t)(c.Do(bg, "PING")); r.Text() != "PONG" {
		t.Fatal(r)
	}
}

// ---- TLS --------------------------------------------------------------------------

func TestTLSOptionsReachTheCore(t *testing.T) {
	// Files that cannot be used: an error at creation.
	_, err := jr.NewClient(&jr.Options{Endpoints: []string{endpoint}, TLS: true, TLSCAFile: "/nonexistent/jr-ca.crt"})
	if !errors.Is(err, jr.ErrTLS) {
		t.Fatalf("bad CA file: %v", err)
	}
	var e *jr.Error
	if !errors.As(err, &e) || e.Name() != "JR_ETLS" {
		t.Fatalf("name: %v", err)
	}
	_, err = jr.NewClient(&jr.Options{Endpoints: []string{endpoint}, TLS: true,
		TLSCertFile: "/nonexistent/c.crt", TLSKeyFile: "/nonexistent/c.key"})
	if !errors.Is(err, jr.ErrTLS) {
		t.Fatalf("bad certificate: %v", err)
	}
	// TLS to a plain-TCP server: the handshake fails, commands get ErrConnect.
	var mu sync.Mutex
	failed := 0
	c := newClient(t, func(o *jr.Options) {
		o.TLS = true
		o.TLSInsecureSkipVerify = true
		o.TLSServerName = "localhost"
		o.ConnectRetries = -1
		o.ConnectTimeout = 300 * time.Millisecond
		o.OnEvent = func(ev jr.Event, _, _ string) {
			if ev == jr.EventConnectFailed {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}
	})
	if _, err := c.Do(bg, "PING"); !errors.Is(err, jr.ErrConnect) {
		t.Fatalf("TLS to plain TCP: %v", err)
	}
	// rediss:// turns TLS on (the same failure); Settings take every key.
	u := newClient(t, func(o *jr.Options) {
		o.Endpoints = nil
		o.URL = "rediss://" + endpoint
		o.ConnectRetries = -1
		o.ConnectTimeout = 300 * time.Millisecond
		o.Settings = map[string]string{"tls_verify": "0"}
	})
	if _, err := u.Do(bg, "PING"); !errors.Is(err, jr.ErrConnect) {
		t.Fatalf("rediss: %v", err)
	}
	s := newClient(t, func(o *jr.Options) {
		o.Settings = map[string]string{"tls": "0", "tls_ca_dir": "/etc/ssl/certs", "tls_server_name": "x"}
	})
	must(t)(s.Do(bg, "PING"))
	if _, err := jr.NewClient(&jr.Options{Settings: map[string]string{"no_such_key": "1"}}); !errors.Is(err, jr.ErrNoEnt) {
		t.Fatalf("unknown key: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if failed == 0 {
		t.Fatal("no EventConnectFailed")
	}
}

// makeCerts makes a CA, a server certificate for localhost/127.0.0.1 and a
// client certificate with the openssl command.
func makeCerts(dir string) bool {
	script := `openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=jr-go-ca &&
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost &&
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.cnf &&
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.cnf &&
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=jr-client &&
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2`
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	return cmd.Run() == nil
}

func TestMutualTLSThroughTheOptions(t *testing.T) {
	dir := t.TempDir()
	if !makeCerts(dir) {
		t.Skip("openssl could not make test certificates")
	}
	f := func(n string) string { return filepath.Join(dir, n) }
	if _, err := os.Stat(f("client.crt")); err != nil {
		t.Skip(err)
	}
	tlsAddr := deadEndpoint(t)
	startServer(t, "--tls-port", strings.TrimPrefix(tlsAddr, "127.0.0.1:"),
		"--tls-cert-file", f("server.crt"), "--tls-key-file", f("server.key"),
		"--tls-ca-cert-file", f("ca.crt"), "--tls-auth-clients", "yes")
	c := newClient(t, func(o *jr.Options) {
		o.Endpoints = []string{tlsAddr}
		o.TLS = true
		o.TLSCAFile = f("ca.crt")
		o.TLSCertFile = f("client.crt")
		o.TLSKeyFile = f("client.key")
		o.TLSServerName = "localhost"
	})
	if r := must(t)(c.Do(bg, "PING")); r.Text() != "PONG" {
		t.Fatal(r)
	}
	if nodes, err := c.Endpoints(bg); err != nil || nodes[0].Role != "standalone" {
		t.Fatalf("%v %v", nodes, err)
	}
	if r := must(t)(c.DoTo(bg, tlsAddr, "ECHO", "over-tls")); r.Text() != "over-tls" {
		t.Fatal(r)
	}
	// Without the client certificate the server refuses the handshake.
	anon := newClient(t, func(o *jr.Options) {
		o.Endpoints = []string{tlsAddr}
		o.TLS = true
		o.TLSCAFile = f("ca.crt")
		o.ConnectRetries = -1
	})
	if _, err := anon.Do(bg, "PING"); err == nil {
		t.Fatal("a handshake without the client certificate worked")
	}
}

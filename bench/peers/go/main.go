// SPDX-License-Identifier: MIT

// Command jr-peers is bench/peers.sh's Go driver: libjr's binding next to
// go-redis v9 and rueidis, each used the way its README shows (default
// options), in one process.
//
//	jr-peers -endpoint 127.0.0.1:6379 [-clients jr,go-redis,rueidis]
//	         [-ops GET,SET] [-sizes 3,1000] [-callers 1,64,1024]
//	         [-pipeline 100] [-secs 1] [-warmup 0.2] [-reps 3] [-diag]
//
// A cell is (op, size, callers): `callers` goroutines each run one command
// at a time (jr: Client.Do; go-redis: Get/Set; rueidis: Do with a built
// command) for -secs after -warmup. -pipeline P adds, per (op, size), a
// cell of one goroutine sending batches of P commands (jr: DoMulti, or P
// Submits and a wait for their callbacks with -clients jr-submits;
// go-redis: Pipeline().Exec; rueidis: DoMulti);
// its p50 is a batch's. Clients take turns cell by cell (interleaved),
// -reps times. Prints one line per measurement:
//
//	sample lang=go client=jr op=GET size=3 callers=64 rep=1 ops_per_s=N p50_us=X errors=E cs_per_op=C cpu_us_per_op=U
//
// cs_per_op and cpu_us_per_op: the process's context switches and CPU time,
// all threads, per command while measuring (getrusage). -diag adds a line
// on stderr per measurement: read and write system calls per command and
// each thread's CPU time (/proc; see diag.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	jr "github.com/libjr/libjr/bindings/go"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

var ctx = context.Background()

// A client runs one command, or an explicit pipeline of n; false on error.
type client interface {
	one(get bool, key string, val []byte) bool
	batch(get bool, key string, val []byte, n int) bool
	close()
}

// jrClient's batch is one DoMulti (jr_client_submit_many: one wake-up of
// libjr's loop thread, one write); submits set, it is n Submits with a
// callback each (how the cells were run before DoMulti, for comparing).
type jrClient struct {
	c       *jr.Client
	submits bool
}

func (j jrClient) one(get bool, key string, val []byte) bool {
	var r jr.Reply
	var err error
	if get {
		r, err = j.c.Do(ctx, "GET", key)
	} else {
		r, err = j.c.Do(ctx, "SET", key, val)
	}
	return err == nil && (r.Kind == jr.KindString || r.Kind == jr.KindStatus)
}

func (j jrClient) batch(get bool, key string, val []byte, n int) bool {
	if j.submits {
		return j.submitBatch(get, key, val, n)
	}
	cmds := make([][]interface{}, n)
	for i := range cmds {
		if get {
			cmds[i] = []interface{}{"GET", key}
		} else {
			cmds[i] = []interface{}{"SET", key, val}
		}
	}
	replies, errs := j.c.DoMulti(ctx, cmds...)
	for i, err := range errs {
		if err != nil || (replies[i].Kind != jr.KindString && replies[i].Kind != jr.KindStatus) {
			return false
		}
	}
	return true
}

func (j jrClient) submitBatch(get bool, key string, val []byte, n int) bool {
	var left, bad int32 = int32(n), 0
	done := make(chan struct{})
	cb := func(r jr.Reply, err error) {
		if err != nil || (r.Kind != jr.KindString && r.Kind != jr.KindStatus) {
			atomic.AddInt32(&bad, 1)
		}
		if atomic.AddInt32(&left, -1) == 0 {
			close(done)
		}
	}
	for i := 0; i < n; i++ {
		var err error
		if get {
			_, err = j.c.Submit(cb, "GET", key)
		} else {
			_, err = j.c.Submit(cb, "SET", key, val)
		}
		if err != nil {
			return false // (the wait below would not end)
		}
	}
	<-done
	return bad == 0
}

func (j jrClient) close() { j.c.Close() }

type goRedis struct{ c *redis.Client }

func (g goRedis) one(get bool, key string, val []byte) bool {
	if get {
		_, err := g.c.Get(ctx, key).Bytes()
		return err == nil
	}
	return g.c.Set(ctx, key, val, 0).Err() == nil
}

func (g goRedis) batch(get bool, key string, val []byte, n int) bool {
	p := g.c.Pipeline()
	for i := 0; i < n; i++ {
		if get {
			p.Get(ctx, key)
		} else {
			p.Set(ctx, key, val, 0)
		}
	}
	cmds, err := p.Exec(ctx)
	return err == nil && len(cmds) == n
}

func (g goRedis) close() { g.c.Close() }

type rueidisClient struct{ c rueidis.Client }

func (r rueidisClient) cmd(get bool, key string, val []byte) rueidis.Completed {
	if get {
		return r.c.B().Get().Key(key).Build()
	}
	return r.c.B().Set().Key(key).Value(rueidis.BinaryString(val)).Build()
}

func (r rueidisClient) one(get bool, key string, val []byte) bool {
	res := r.c.Do(ctx, r.cmd(get, key, val))
	if get {
		_, err := res.AsBytes()
		return err == nil
	}
	return res.Error() == nil
}

func (r rueidisClient) batch(get bool, key string, val []byte, n int) bool {
	cmds := make(rueidis.Commands, n)
	for i := range cmds {
		cmds[i] = r.cmd(get, key, val)
	}
	for _, res := range r.c.DoMulti(ctx, cmds...) {
		if res.Error() != nil {
			return false
		}
	}
	return true
}

func (r rueidisClient) close() { r.c.Close() }

func connect(name, endpoint string) (client, error) {
	switch name {
	case "jr", "jr-loop", "jr-nospin", "jr-submits":
		// Not in the default list, for comparing: jr-loop with
		// Options.LoopDelivery; jr-nospin with call_spin_us 0 (a lone Do
		// sleeps at once instead of spinning for its reply first);
		// jr-submits sends its pipelines as separate Submits, not DoMulti.
		o := &jr.Options{Endpoints: []string{endpoint}, LoopDelivery: name == "jr-loop"}
		if name == "jr-nospin" {
			o.Settings = map[string]string{"call_spin_us": "0"}
		}
		c, err := jr.NewClient(o)
		if err != nil {
			return nil, err
		}
		return jrClient{c, name == "jr-submits"}, nil
	case "go-redis":
		c := redis.NewClient(&redis.Options{Addr: endpoint})
		return goRedis{c}, c.Ping(ctx).Err()
	case "rueidis":
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{endpoint}})
		if err != nil {
			return nil, err
		}
		return rueidisClient{c}, nil
	}
	return nil, fmt.Errorf("unknown client %q (jr, jr-loop, jr-nospin, jr-submits, go-redis, rueidis)", name)
}

// usage is the process's context switches (voluntary + involuntary) and
// CPU time (user + system, microseconds), all threads.
func usage() (float64, float64) {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	us := func(t syscall.Timeval) float64 { return float64(t.Sec)*1e6 + float64(t.Usec) }
	return float64(u.Nvcsw + u.Nivcsw), us(u.Utime) + us(u.Stime)
}

type measured struct {
	opsPerS, p50us      float64
	errors              int64
	csPerOp, cpuUsPerOp float64
	diag                string // -diag's, or ""
}

var diagOn bool

// cell runs one cell.
func cell(c client, get bool, size, callers, pipeline int, secs, warmup float64) measured {
	key := fmt.Sprintf("peers:set:%d", size)
	if get {
		key = fmt.Sprintf("peers:get:%d", size)
	}
	val := []byte(strings.Repeat("x", size))
	var measuring, stop atomic.Bool
	var errs int64
	lats := make([][]uint32, callers)
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			lat := make([]uint32, 0, 4096)
			for !stop.Load() {
				t0 := time.Now()
				var ok bool
				if pipeline > 0 {
					ok = c.batch(get, key, val, pipeline)
				} else {
					ok = c.one(get, key, val)
				}
				if measuring.Load() {
					lat = append(lat, uint32(min(time.Since(t0).Nanoseconds(), 1<<32-1)))
					if !ok {
						atomic.AddInt64(&errs, 1)
					}
				}
			}
			lats[i] = lat
		}(i)
	}
	time.Sleep(time.Duration(warmup * float64(time.Second)))
	measuring.Store(true)
	t0 := time.Now()
	var d0, d1 diagSnap
	if diagOn {
		d0 = takeDiag()
	}
	cs0, cpu0 := usage()
	time.Sleep(time.Duration(secs * float64(time.Second)))
	measuring.Store(false)
	cs1, cpu1 := usage()
	if diagOn {
		d1 = takeDiag()
	}
	elapsed := time.Since(t0).Seconds()
	stop.Store(true)
	wg.Wait()
	var all []uint32
	for _, l := range lats {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return measured{errors: errs}
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	per := 1
	if pipeline > 0 {
		per = pipeline
	}
	n := float64(len(all) * per)
	m := measured{n / elapsed, float64(all[len(all)/2]) / 1000, errs, (cs1 - cs0) / n, (cpu1 - cpu0) / n, ""}
	if diagOn {
		m.diag = diagLine(d0, d1, n)
	}
	return m
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "jr-peers: not a number: %q\n", f)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:6379", "redis-server host:port")
	clients := flag.String("clients", "jr,go-redis,rueidis", "clients, in turn")
	ops := flag.String("ops", "GET,SET", "commands")
	sizes := flag.String("sizes", "3,1000", "value sizes in bytes")
	callers := flag.String("callers", "1,64,1024", "concurrent goroutines per cell")
	pipeline := flag.Int("pipeline", 100, "explicit-pipeline batch (0: no such cells)")
	secs := flag.Float64("secs", 1, "seconds measured per cell")
	warmup := flag.Float64("warmup", 0.2, "seconds of warm-up per cell")
	reps := flag.Int("reps", 3, "repetitions")
	flag.BoolVar(&diagOn, "diag", false, "per measurement, on stderr: read/write system calls per command and each thread's CPU ms (Linux /proc)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "jr-peers: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	type named struct {
		name string
		c    client
	}
	var cs []named
	for _, n := range strings.Split(*clients, ",") {
		c, err := connect(n, *endpoint)
		if err != nil {
			fmt.Fprintf(os.Stderr, "jr-peers: %s: %v\n", n, err)
			os.Exit(1)
		}
		defer c.close()
		cs = append(cs, named{n, c})
	}
	var opList []string
	for _, o := range strings.Split(*ops, ",") {
		if o != "GET" && o != "SET" {
			fmt.Fprintf(os.Stderr, "jr-peers: unknown op %q (GET, SET)\n", o)
			os.Exit(2)
		}
		opList = append(opList, o)
	}
	for _, size := range ints(*sizes) {
		if !cs[0].c.one(false, fmt.Sprintf("peers:get:%d", size), []byte(strings.Repeat("x", size))) {
			fmt.Fprintf(os.Stderr, "jr-peers: cannot SET peers:get:%d\n", size)
			os.Exit(1)
		}
	}
	type cellSpec struct {
		op             string
		size, n, batch int
	}
	var cells []cellSpec
	for _, o := range opList {
		for _, size := range ints(*sizes) {
			for _, n := range ints(*callers) {
				cells = append(cells, cellSpec{o, size, n, 0})
			}
			if *pipeline > 0 {
				cells = append(cells, cellSpec{o, size, 1, *pipeline})
			}
		}
	}
	for rep := 1; rep <= *reps; rep++ {
		for _, cl := range cells {
			for _, c := range cs {
				m := cell(c.c, cl.op == "GET", cl.size, cl.n, cl.batch, *secs, *warmup)
				callers := strconv.Itoa(cl.n)
				if cl.batch > 0 {
					callers = fmt.Sprintf("%dx%d", cl.n, cl.batch)
				}
				fmt.Printf("sample lang=go client=%s op=%s size=%d callers=%s rep=%d ops_per_s=%.0f p50_us=%.1f errors=%d cs_per_op=%.2f cpu_us_per_op=%.2f\n",
					c.name, cl.op, cl.size, callers, rep, m.opsPerS, m.p50us, m.errors, m.csPerOp, m.cpuUsPerOp)
				if diagOn {
					fmt.Fprintf(os.Stderr, "diag lang=go client=%s op=%s size=%d callers=%s rep=%d %s\n",
						c.name, cl.op, cl.size, callers, rep, m.diag)
				}
			}
		}
	}
}

// SPDX-License-Identifier: MIT

// Package jr is the Go binding of libjr, a pipelining, multiplexing Redis
// client core with a stable C ABI (jr.h).
//
// One Client owns one libjr client: a loop thread and one multiplexed
// connection. Commands from any number of goroutines share the connection
// and are written together (automatic pipelining). The client runs libjr in
// poll dispatch mode: a dispatcher goroutine waits on libjr's descriptor and
// runs the completions, so no C thread ever calls into Go. With
// Options.LoopDelivery, libjr's loop thread enters Go once per batch of
// completions and runs them itself (faster; see LoopDelivery).
//
//	c, err := jr.NewClient(&jr.Options{Endpoints: []string{"127.0.0.1:6379"}})
//	if err != nil { ... }
//	defer c.Close()
//	if _, err := c.Do(ctx, "SET", "greeting", "hello"); err != nil { ... }
//	r, err := c.Do(ctx, "GET", "greeting")   // r.Text() == "hello"
//
// Errors are of two kinds: *ServerError (the server's error reply) and
// *Error (a library error code, matched with errors.Is against ErrTimedOut,
// ErrConnLost, ...; Unsent() says whether a retry is safe).
package jr

/*
#cgo pkg-config: jr
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/cgo"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Version is the libjr version at run time ("0.1.0").
func Version() string { return C.GoString(C.jr_version_string()) }

// RefusalReason says why a command is refused and which method to use
// instead, or "" when the command is allowed.
func RefusalReason(name string) string {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	p := C.jr_refusal_reason(cs, C.size_t(len(name)))
	if p == nil {
		return ""
	}
	return goAdvice.Replace(C.GoString(p))
}

// goAdvice turns libjr's advice, written for C, into this package's API.
var goAdvice = strings.NewReplacer(
	"use jr_db_new(client, n)", "use Client.DB(n)",
	"use jr_client_drain / jr_client_free", "use Client.Close",
	"use a transaction handle with watched keys", "use Client.Watch(keys...)",
	"use a transaction handle", "use Client.Multi",
	"use a pub/sub handle", "use Client.Subscribe",
	"use a monitor handle", "use Client.Monitor",
	`set the "protocol" option to 3 for RESP3, and "username"/"password" for AUTH`,
	"set Options.Protocol = 3 for RESP3, and Options.Username/Password for AUTH",
)

// refusedError is ErrRefused for the command whose name is first in list,
// with the reason.
func refusedError(list []interface{}) *Error {
	e := &Error{Code: C.JR_EREFUSED}
	if len(list) > 0 {
		var name string
		switch v := list[0].(type) {
		case string:
			name = v
		case []byte:
			name = string(v)
		}
		if name != "" {
			if why := RefusalReason(name); why != "" {
				e.Cause = strings.ToUpper(name) + ": " + why
			}
		}
	}
	return e
}

// Event is a connection event (JR_EVENT_*).
type Event int

const (
	EventConnected     Event = C.JR_EVENT_CONNECTED
	EventDisconnected  Event = C.JR_EVENT_DISCONNECTED
	EventConnectFailed Event = C.JR_EVENT_CONNECT_FAILED
	EventLog           Event = C.JR_EVENT_LOG
	// EventState is another state change of a connection, pool, cluster map
	// or subscription connection (log lines only, see Options.Logger).
	EventState Event = C.JR_EVENT_STATE
)

func (e Event) String() string {
	switch e {
	case EventConnected:
		return "connected"
	case EventDisconnected:
		return "disconnected"
	case EventConnectFailed:
		return "connect_failed"
	case EventLog:
		return "log"
	case EventState:
		return "state"
	}
	return "event(" + strconv.Itoa(int(e)) + ")"
}

func timeUntil(t time.Time) time.Duration {
	d := time.Until(t)
	if d <= 0 {
		return time.Millisecond // the shortest deadline (0 would mean none)
	}
	return d
}

// RequestID names a submitted command for Cancel.
type RequestID uint64

// Client is a libjr client. All methods are safe for concurrent use.
type Client struct {
	*client
}

type client struct {
	g       *C.jr_go_client
	raw     *C.jr_client
	mu      sync.RWMutex // write-locked by Close; read-locked around C calls
	closed  bool
	onEvent func(Event, string, string)
	log     *logQueue     // Options.Logger's, or nil
	done    chan struct{} // closed when the dispatcher returns
	dbs     map[*DB]struct{}
	objs    map[closer]struct{} // transactions, watches, subscribers, monitors
	scratch []interface{}       // deliver's; used by the dispatcher, then by Close
	pend    deferred
	owner   cgo.Handle // loop delivery: what jrGoReady is given (0: dispatcher)
	doing   int32      // Do calls in progress (atomic; see call)
}

// NewClient creates a client. Connecting is lazy: the first command
// connects, and connection failures arrive as command errors (ErrConnect).
// opts may be nil.
func NewClient(opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	co, err := opts.build()
	if err != nil {
		return nil, err
	}
	defer C.jr_options_free(co)
	var g *C.jr_go_client
	withEvents, withLog, loop := C.int(0), C.int(0), C.int(0)
	if opts.OnEvent != nil {
		withEvents = 1
	}
	sink := newLogSink(opts.Logger)
	if sink != nil {
		withLog = 1
	}
	if opts.LoopDelivery {
		loop = 1
	}
	var why *C.char
	if rc := C.jr_go_client_new(co, withEvents, withLog, loop, &g, &why); rc < 0 {
		e := &Error{Code: int(rc)}
		if why != nil {
			e.Cause = C.GoString(why)
			C.free(unsafe.Pointer(why))
		}
		return nil, e
	}
	c := &client{
		g:       g,
		raw:     C.jr_go_client_raw(g),
		onEvent: opts.OnEvent,
		done:    make(chan struct{}),
		dbs:     make(map[*DB]struct{}),
		objs:    make(map[closer]struct{}),
	}
	if sink != nil {
		c.log = newLogQueue(sink)
	}
	if loop != 0 {
		c.owner = cgo.NewHandle(c)
		C.jr_go_set_owner(g, C.uintptr_t(c.owner))
	}
	go c.dispatcher()
	cl := &Client{c}
	runtime.SetFinalizer(cl, func(cl *Client) { _ = cl.Close() })
	return cl, nil
}

// dispatchMax bounds one dispatch round (the batch grows only at Close).
const dispatchMax = 1024

// dispatcher runs events, and completions unless loop delivery runs them
// (jrGoReady); it ends at Close.
func (c *client) dispatcher() {
	defer close(c.done)
	var items *C.jr_go_done
	var stopping C.int
	for {
		if c.owner != 0 {
			stopping = C.jr_go_wait_events(c.g)
		} else {
			c.runBatch(items, int(C.jr_go_wait(c.g, dispatchMax, &items, &stopping)), true)
		}
		if c.onEvent != nil || c.log != nil {
			c.events()
		}
		if stopping != 0 {
			return
		}
	}
}

// jrGoReady runs a batch that the loop thread's ready hook recorded (the
// hook releases it when this returns).
//
//export jrGoReady
func jrGoReady(owner C.uintptr_t, items *C.jr_go_done, n C.size_t) {
	c := cgo.Handle(owner).Value().(*client)
	c.runBatch(items, int(n), false)
}

//export jrGoStartLoop
func jrGoStartLoop(g, run, arg C.uintptr_t) {
	go func() {
		// Never unlocked: the thread ends with the loop.
		runtime.LockOSThread()
		C.jr_go_run_loop(g, run, arg)
	}()
}

// runBatch runs n recorded completions (and releases them if release),
// then sends the Submits their callbacks made (see deferred).
func (c *client) runBatch(items *C.jr_go_done, n int, release bool) {
	if n == 0 {
		return
	}
	atomic.StoreInt32(&c.pend.on, 1)
	c.deliver(unsafe.Slice(items, n))
	if release {
		C.jr_go_batch_release(c.g)
	}
	c.flushDeferred()
}

// inDelivery reports whether the caller is a callback that loop delivery
// runs (on c's loop thread, where waiting for c deadlocks).
func (c *client) inDelivery() bool {
	return c.owner != 0 && C.jr_go_delivering() == C.uintptr_t(c.owner)
}

// deferred holds the Submits made while the dispatcher runs a batch of
// callbacks: they are sent together, in one C call, when the batch ends, so
// that commands issued by callbacks leave in one write (as libjr's own
// loop-thread submits do) instead of waking libjr's loop once each.
//
// The queue is guarded by handles.mu, which a deferred Submit takes anyway
// for its handle: one lock per Submit, not two.
type deferred struct {
	on       int32 // 1 while a batch runs (atomic; changed under handles.mu when turned off)
	args     args
	argcs    []C.size_t
	timeouts []C.int64_t
	handles  []C.uintptr_t
	okName   []byte // the last command name found allowed (refused's cache is a sync.Map)
	// flush's scratch (dispatcher only)
	rcs []C.int
	ids []C.jr_req_id
	fl  args
	fa  []C.size_t
	ft  []C.int64_t
	fh  []C.uintptr_t
}

// tryDefer queues a Submit if a batch is running; false means "submit it
// yourself". The refusal check stays synchronous.
func (c *client) tryDefer(timeout C.int64_t, cb func(Reply, error), list []interface{}) (RequestID, bool, error) {
	p := &c.pend
	if atomic.LoadInt32(&p.on) == 0 {
		return 0, false, nil
	}
	handles.mu.Lock()
	if atomic.LoadInt32(&p.on) == 0 { // turned on without the lock, off under it
		handles.mu.Unlock()
		return 0, false, nil
	}
	nb, nl := len(p.args.buf), len(p.args.lens)
	if err := p.args.encode(list); err != nil {
		p.args.buf, p.args.lens = p.args.buf[:nb], p.args.lens[:nl]
		handles.mu.Unlock()
		return 0, true, err
	}
	if name := p.args.buf[nb : nb+int(p.args.lens[nl])]; !bytes.Equal(name, p.okName) {
		if refused(name) {
			p.args.buf, p.args.lens = p.args.buf[:nb], p.args.lens[:nl]
			handles.mu.Unlock()
			return 0, true, refusedError(list)
		}
		p.okName = append(p.okName[:0], name...)
	}
	h, gen := handles.putLocked(cb)
	p.argcs = append(p.argcs, C.size_t(len(p.args.lens)-nl))
	p.timeouts = append(p.timeouts, timeout)
	p.handles = append(p.handles, C.uintptr_t(h))
	handles.mu.Unlock()
	return requestID(h, gen), true, nil
}

// flushDeferred ends a batch: it sends the queued Submits and records their
// ids (cancelling those whose Cancel came first), or delivers their failure
// to their callback as their one completion.
func (c *client) flushDeferred() {
	p := &c.pend
	handles.mu.Lock()
	atomic.StoreInt32(&p.on, 0)
	n := len(p.handles)
	if n == 0 {
		handles.mu.Unlock()
		return
	}
	// Swap the queue out so that Submits from other goroutines go on.
	p.args, p.fl = p.fl, p.args
	p.argcs, p.fa = p.fa[:0], p.argcs
	p.timeouts, p.ft = p.ft[:0], p.timeouts
	p.handles, p.fh = p.fh[:0], p.handles
	p.args.buf, p.args.lens = p.args.buf[:0], p.args.lens[:0]
	handles.mu.Unlock()
	if cap(p.rcs) < n {
		p.rcs = make([]C.int, n)
		p.ids = make([]C.jr_req_id, n)
	}
	rcs, ids := p.rcs[:n], p.ids[:n]
	C.jr_go_submit_many(c.g, p.fl.bufPtr(), p.fl.lensPtr(), &p.fa[0], &p.ft[0], &p.fh[0], C.size_t(n), &rcs[0], &ids[0])
	var failed, cancels int
	handles.mu.Lock()
	for i := 0; i < n; i++ {
		if rcs[i] < 0 {
			failed++
			continue
		}
		sl := &handles.slots[p.fh[i]-1]
		sl.jrid = uint64(ids[i])
		if sl.cancel {
			cancels++
		}
	}
	handles.mu.Unlock()
	if failed > 0 || cancels > 0 {
		for i := 0; i < n; i++ {
			h := handle(p.fh[i])
			if rcs[i] < 0 {
				if f, ok := handles.take(h).(func(Reply, error)); ok {
					callSafely(f, Reply{}, &Error{Code: int(rcs[i])})
				}
				continue
			}
			handles.mu.Lock()
			cancel := handles.slots[h-1].cancel
			handles.mu.Unlock()
			if cancel {
				c.cancelRaw(uint64(ids[i]))
			}
		}
	}
	p.fl.buf, p.fl.lens = p.fl.buf[:0], p.fl.lens[:0]
}

// refusedNames caches jr_refusal_reason by command name (as sent).
var refusedNames sync.Map // string -> bool

func refused(name []byte) bool {
	if v, ok := refusedNames.Load(string(name)); ok {
		return v.(bool)
	}
	r := RefusalReason(string(name)) != ""
	if len(name) <= 32 {
		refusedNames.Store(string(name), r)
	}
	return r
}

// events runs the queued connection events and log lines (on the
// dispatcher goroutine: the loop thread only queued them).
func (c *client) events() {
	head := C.jr_go_take_events(c.g)
	for e := head; e != nil; e = e.next {
		if e.level == 0 {
			c.onEvent(Event(e.event), C.GoString(e.endpoint), C.GoString(e.detail))
		} else if c.log != nil {
			c.log.push(logLine{int(e.level), Event(e.event), C.GoString(e.endpoint), C.GoString(e.detail)})
		}
	}
	C.jr_go_events_free(head)
}

// result is what a Do waits for.
type result struct {
	reply Reply
	err   error
}

// request is the handle value of a Do: a reusable 1-buffered channel.
type request struct {
	ch chan result
}

var requestPool = sync.Pool{New: func() interface{} { return &request{ch: make(chan result, 1)} }}

// deliver runs the recorded completions (on the dispatcher goroutine, or in
// Close). Each command handle is freed here, exactly once; the slots of a
// whole batch are released under one lock.
func (c *client) deliver(items []C.jr_go_done) {
	if cap(c.scratch) < len(items) {
		c.scratch = make([]interface{}, len(items))
	}
	deliverInto(items, c.scratch[:len(items)])
}

// deliverCaptured runs completions that a call made inline (see
// jr_go_captured), on the calling goroutine.
func deliverCaptured(b *C.jr_go_batch) {
	if b == nil {
		return
	}
	var items *C.jr_go_done
	n := int(C.jr_go_captured(b, &items))
	deliverInto(unsafe.Slice(items, n), make([]interface{}, n))
	C.jr_go_captured_free(b)
}

func deliverInto(items []C.jr_go_done, vals []interface{}) {
	defer func() {
		for i := range vals {
			vals[i] = nil
		}
	}()
	handles.mu.Lock()
	for i := range items {
		h := handle(items[i].handle)
		if items[i].kind == C.JR_GO_MESSAGE {
			vals[i] = handles.slots[h-1].v // lives until its last message
		} else {
			vals[i] = handles.takeLocked(h)
		}
	}
	handles.mu.Unlock()
	for i := 0; i < len(items); {
		i = deliverFrom(items, vals, i)
	}
}

// deliverFrom runs completions from i on and returns where it stopped: at
// the end, or just after a callback that panicked (reported on stderr; the
// rest of the batch still runs). One recover per batch, not per callback.
func deliverFrom(items []C.jr_go_done, vals []interface{}, i int) (next int) {
	defer func() {
		if p := recover(); p != nil {
			println("jr: panic in a Submit callback:", fmt.Sprint(p))
			next = i + 1
		}
	}()
	for ; i < len(items); i++ {
		d := &items[i]
		if d.kind == C.JR_GO_MESSAGE {
			if s, ok := vals[i].(messageSink); ok {
				s.message(handle(d.handle), d)
			}
			continue
		}
		reply, err := fromDone(d)
		switch t := vals[i].(type) {
		case *request:
			t.ch <- result{reply, err}
		case func(Reply, error):
			t(reply, err)
		case completer:
			t.complete(reply, err)
		}
	}
	return i
}

// completer is a command completion handled inside the package (a queued
// transaction command, an EXEC).
type completer interface {
	complete(r Reply, err error)
}

// messageSink receives pub/sub and MONITOR messages; it deletes its handle
// on the last one.
type messageSink interface {
	message(h handle, d *C.jr_go_done)
}

// callSafely runs a user callback; a panic in it is reported on stderr and
// does not stop the dispatcher.
func callSafely(f func(Reply, error), r Reply, err error) {
	defer func() {
		if p := recover(); p != nil {
			println("jr: panic in a Submit callback:", fmt.Sprint(p))
		}
	}()
	f(r, err)
}

// Close frees the client: every pending command completes (ErrClosed if it
// was not sent, ErrShutdown if it was) and its Do returns. Database views
// are closed too. Close is idempotent. It must not be called from a Submit
// callback (it waits for the dispatcher goroutine that runs them; with
// LoopDelivery it returns ErrMisuse there).
func (cl *Client) Close() error {
	c := cl.client
	if c.inDelivery() {
		return ErrMisuse
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	// From here no C call on this client starts (they check closed under
	// the read lock) and none is running.
	c.closed = true
	var captured []*C.jr_go_batch
	for o := range c.objs {
		if b := o.closeLocked(); b != nil {
			captured = append(captured, b)
		}
	}
	c.objs = nil
	for db := range c.dbs {
		C.jr_db_free(db.raw)
		db.raw = nil
	}
	c.dbs = nil
	c.mu.Unlock()
	for _, b := range captured {
		deliverCaptured(b) // e.g. discarded transactions' commands
	}
	C.jr_go_stop(c.g)
	<-c.done
	var items *C.jr_go_done
	n := int(C.jr_go_client_free(c.g, &items))
	if n > 0 {
		c.deliver(unsafe.Slice(items, n))
	}
	if c.onEvent != nil || c.log != nil {
		c.events()
	}
	if c.log != nil {
		c.log.close()
	}
	C.jr_go_destroy(c.g)
	c.g = nil
	if c.owner != 0 {
		c.owner.Delete() // the loop thread that used it is gone
	}
	runtime.SetFinalizer(cl, nil)
	return nil
}

// ---- Arguments -------------------------------------------------------------

// args is a flat buffer of arguments (no Go pointers inside, so it may be
// passed to C).
type args struct {
	buf  []byte
	lens []C.size_t
	id   C.jr_req_id // out-parameter of the submit (here, not on the heap per call)
}

var argsPool = sync.Pool{New: func() interface{} { return &args{buf: make([]byte, 0, 256), lens: make([]C.size_t, 0, 8)} }}

func getArgs() *args { return argsPool.Get().(*args) }

func putArgs(a *args) {
	if cap(a.buf) > 64<<10 {
		return
	}
	a.buf, a.lens = a.buf[:0], a.lens[:0]
	argsPool.Put(a)
}

// encode appends every argument: string, []byte, integers, floats, bool
// ("1"/"0") and fmt.Stringer are accepted.
func (a *args) encode(list []interface{}) error {
	for _, v := range list {
		n := len(a.buf)
		switch x := v.(type) {
		case string:
			a.buf = append(a.buf, x...)
		case []byte:
			a.buf = append(a.buf, x...)
		case int:
			a.buf = strconv.AppendInt(a.buf, int64(x), 10)
		case int64:
			a.buf = strconv.AppendInt(a.buf, x, 10)
		case int32:
			a.buf = strconv.AppendInt(a.buf, int64(x), 10)
		case uint:
			a.buf = strconv.AppendUint(a.buf, uint64(x), 10)
		case uint64:
			a.buf = strconv.AppendUint(a.buf, x, 10)
		case uint32:
			a.buf = strconv.AppendUint(a.buf, uint64(x), 10)
		case float64:
			a.buf = strconv.AppendFloat(a.buf, x, 'g', -1, 64)
		case float32:
			a.buf = strconv.AppendFloat(a.buf, float64(x), 'g', -1, 32)
		case bool:
			if x {
				a.buf = append(a.buf, '1')
			} else {
				a.buf = append(a.buf, '0')
			}
		case fmt.Stringer:
			a.buf = append(a.buf, x.String()...)
		default:
			return fmt.Errorf("jr: unsupported argument type %T: %w", v, ErrInvalid)
		}
		a.lens = append(a.lens, C.size_t(len(a.buf)-n))
	}
	if len(a.lens) == 0 {
		return fmt.Errorf("jr: empty command: %w", ErrInvalid)
	}
	return nil
}

func (a *args) bufPtr() *C.char {
	if cap(a.buf) == 0 {
		a.buf = make([]byte, 0, 1)
	}
	return (*C.char)(unsafe.Pointer(&a.buf[:1][0]))
}

func (a *args) lensPtr() *C.size_t { return &a.lens[0] }

// ---- Commands --------------------------------------------------------------

// timeoutOf is the libjr deadline of a Do. A context with a deadline is
// enforced by the binding (ctx.Done -> jr_cancel), so libjr gets none; a
// context without one leaves the client's command_timeout_ms in force.
func timeoutOf(ctx context.Context) C.int64_t {
	if _, ok := ctx.Deadline(); ok {
		return 0
	}
	return -1
}

// submit hands a command to libjr with a new handle for v. On error the
// handle is freed (the callback rule: no completion will come). It returns
// the handle, its generation and libjr's id.
func (c *client) submit(db *DB, timeout C.int64_t, v interface{}, list []interface{}) (handle, uint32, uint64, error) {
	if pinArgs && bigArgs(list) {
		return c.submitPinned(db, timeout, v, list)
	}
	a := getArgs()
	defer putArgs(a)
	if err := a.encode(list); err != nil {
		return 0, 0, 0, err
	}
	h, gen := handles.put(v)
	c.mu.RLock()
	rc := C.int(C.JR_ECLOSED)
	if raw, open := c.target(db); open {
		rc = C.jr_go_submit(c.g, raw, a.bufPtr(), a.lensPtr(), C.size_t(len(a.lens)), timeout, C.uintptr_t(h), &a.id)
	}
	c.mu.RUnlock()
	if rc < 0 {
		handles.take(h)
		if rc == C.JR_EREFUSED {
			return 0, 0, 0, refusedError(list)
		}
		return 0, 0, 0, &Error{Code: int(rc)}
	}
	return h, gen, uint64(a.id), nil
}

// target is the database view a command goes to (nil: the client's
// default) and whether the client and that view are still open. The caller
// holds c.mu (read): db.raw is nil once the view is closed.
func (c *client) target(db *DB) (*C.jr_db, bool) {
	if c.closed {
		return nil, false
	}
	if db == nil {
		return nil, true
	}
	return db.raw, db.raw != nil
}

// submitFunc is Submit: the callback form, whose RequestID names the
// handle slot (libjr's id is filled in once the command is sent).
func (c *client) submitFunc(db *DB, timeout C.int64_t, cb func(Reply, error), list []interface{}) (RequestID, error) {
	if db == nil {
		if id, queued, err := c.tryDefer(timeout, cb, list); queued {
			return id, err
		}
	}
	h, gen, id, err := c.submit(db, timeout, cb, list)
	if err != nil {
		return 0, err
	}
	handles.setID(h, gen, id)
	return requestID(h, gen), nil
}

func (c *client) do(ctx context.Context, db *DB, list []interface{}) (Reply, error) {
	if err := ctx.Err(); err != nil {
		return Reply{}, &Error{Code: C.JR_ECANCELED, ctx: err}
	}
	if c.inDelivery() {
		return Reply{}, ErrMisuse
	}
	// Alone (no other Do of this client in progress) and uncancellable: the
	// reply is waited for in C on this goroutine's thread (see call).
	if atomic.AddInt32(&c.doing, 1) == 1 && ctx.Done() == nil {
		r, err, ok := c.call(db, list)
		if ok {
			atomic.AddInt32(&c.doing, -1)
			return r, err
		}
	}
	defer atomic.AddInt32(&c.doing, -1)
	req := requestPool.Get().(*request)
	_, _, id, err := c.submit(db, timeoutOf(ctx), req, list)
	if err != nil {
		requestPool.Put(req)
		return Reply{}, err
	}
	var r result
	if done := ctx.Done(); done == nil {
		// Cannot be cancelled (context.Background): a plain receive, not a
		// select (selectgo locks the channel twice per Do).
		r = <-req.ch
	} else {
		select {
		case r = <-req.ch:
		case <-done:
			c.cancelRaw(id)
			// The completion still comes exactly once (the cancel code, or
			// the reply if it won the race).
			r = <-req.ch
		}
	}
	requestPool.Put(req)
	if e, ok := r.err.(*Error); ok {
		if cerr := ctx.Err(); cerr != nil {
			e.ctx = cerr
		}
	}
	return r.reply, r.err
}

// call runs a Do in one cgo call that waits for the reply itself
// (jr_client_call: a short spin, then a futex the loop thread wakes): one
// thread wake-up per command instead of libjr's loop waking the dispatcher
// goroutine, which then wakes the caller. Only for a Do that runs alone
// (c.doing): a blocked cgo call holds its thread, so concurrent Do calls
// keep to the channel path, which costs no thread each. ok is false when it
// does not apply: big arguments (pinned, not copied) and the commands that
// can block on the server (BLPOP, WAIT, XREAD BLOCK, ...: their names start
// with B, W or X), since Close waits for a call in progress (the read lock)
// where it completes a submitted command at once.
// callsInC counts the Do calls that took this path (the tests read it).
var callsInC int64

func (c *client) call(db *DB, list []interface{}) (Reply, error, bool) {
	if pinArgs && bigArgs(list) {
		return Reply{}, nil, false
	}
	a := getArgs()
	defer putArgs(a)
	if err := a.encode(list); err != nil {
		return Reply{}, err, true
	}
	if a.lens[0] > 0 {
		switch a.buf[0] | 0x20 {
		case 'b', 'w', 'x':
			return Reply{}, nil, false
		}
	}
	var d C.jr_go_done
	atomic.AddInt64(&callsInC, 1)
	c.mu.RLock()
	rc := C.int(C.JR_ECLOSED)
	if raw, open := c.target(db); open {
		rc = C.jr_go_call(c.g, raw, a.bufPtr(), a.lensPtr(), C.size_t(len(a.lens)), -1, &d)
	}
	c.mu.RUnlock()
	if rc == C.JR_EREFUSED {
		C.jr_go_done_release(&d)
		return Reply{}, refusedError(list), true
	}
	if rc == C.JR_ECLOSED && d.status == 0 { // not called
		return Reply{}, &Error{Code: int(rc)}, true
	}
	r, err := fromDone(&d)
	C.jr_go_done_release(&d)
	return r, err, true
}

func (c *client) cancelRaw(id uint64) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return false
	}
	return C.jr_cancel(c.raw, C.jr_req_id(id)) == C.JR_OK
}

func (c *client) cancel(r RequestID) bool {
	id, ok := handles.lookup(r)
	if !ok {
		return false // completed
	}
	if id == 0 {
		return true // deferred: cancelled when it is sent
	}
	return c.cancelRaw(id)
}

// Do runs a command and waits for its reply. Arguments may be string,
// []byte, integers, floats, bool or fmt.Stringer.
//
// The context bounds the command: when it is done first (deadline or
// cancel) the command is cancelled (jr_cancel) and Do returns an *Error
// (ErrCanceled: not sent, or ErrAbandoned: it may have run) that also
// matches ctx.Err() with errors.Is. If the reply won that race, Do returns
// the reply. Without a context deadline the client's CommandTimeout applies
// (ErrQueueTimeout / ErrTimedOut).
//
// A Do that runs alone with a context that cannot be cancelled waits for
// its reply on its own thread, in C (see README: one thread hop instead of
// two); Close then waits for it to return.
func (c *Client) Do(ctx context.Context, args ...interface{}) (Reply, error) {
	return c.do(ctx, nil, args)
}

// Submit sends a command without waiting: cb is called exactly once with
// its result, on the client's dispatcher goroutine, so it must not block
// (calling Do from it deadlocks; Submit is fine). If Submit returns an
// error, cb is never called.
//
// Submits made while the dispatcher runs a batch of callbacks (typically by
// those callbacks) are queued and sent together when the batch has run, the
// way libjr's own loop-thread submits leave in one write. Such a Submit
// fails at once only for bad arguments or a refused command; any other
// failure to send it (e.g. ErrClosed, ErrFull) arrives at cb as its one
// completion.
func (c *Client) Submit(cb func(Reply, error), args ...interface{}) (RequestID, error) {
	return c.submitFunc(nil, -1, cb, args)
}

// SubmitTimeout is Submit with a deadline (0: none).
func (c *Client) SubmitTimeout(timeout time.Duration, cb func(Reply, error), args ...interface{}) (RequestID, error) {
	return c.submitFunc(nil, C.int64_t(ms(timeout)), cb, args)
}

// Cancel cancels a submitted command: it completes with ErrCanceled (not
// yet written) or ErrAbandoned (written; its reply is dropped), unless its
// reply won the race. It returns false when the command had already
// completed.
func (c *Client) Cancel(id RequestID) bool { return c.cancel(id) }

// ---- Database views --------------------------------------------------------

// DB runs commands in one database on the client's shared connection.
type DB struct {
	c   *client
	raw *C.jr_db
	n   int
}

// DB returns a view of database n. Close it when done (Client.Close closes
// the views that are left).
func (c *Client) DB(n int) (*DB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	var raw *C.jr_db
	if err := codeError(C.jr_db_new(c.raw, C.int(n), &raw)); err != nil {
		return nil, err
	}
	db := &DB{c: c.client, raw: raw, n: n}
	c.dbs[db] = struct{}{}
	return db, nil
}

// Do is Client.Do in this database.
func (db *DB) Do(ctx context.Context, args ...interface{}) (Reply, error) {
	return db.c.do(ctx, db, args)
}

// Submit is Client.Submit in this database.
func (db *DB) Submit(cb func(Reply, error), args ...interface{}) (RequestID, error) {
	return db.c.submitFunc(db, -1, cb, args)
}

// Close frees the view.
func (db *DB) Close() error {
	db.c.mu.Lock()
	defer db.c.mu.Unlock()
	if db.raw != nil {
		C.jr_db_free(db.raw)
		db.raw = nil
		delete(db.c.dbs, db)
	}
	return nil
}

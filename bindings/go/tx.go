// SPDX-License-Identifier: MIT

package jr

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"sync"
	"unsafe"
)

// closer is an object freed with its client (under the client's write
// lock). It may return completions its freeing ran inline.
type closer interface {
	closeLocked() *C.jr_go_batch
}

// encodeArgs flattens args for a C call; release with putArgs.
func encodeArgs(list []interface{}) (*args, error) {
	a := getArgs()
	if err := a.encode(list); err != nil {
		putArgs(a)
		return nil, err
	}
	return a, nil
}

func stringArgs(s []string) []interface{} {
	l := make([]interface{}, len(s))
	for i, v := range s {
		l[i] = v
	}
	return l
}

// ---- MULTI/EXEC --------------------------------------------------------------

// Result is the outcome of one command of a transaction.
type Result struct {
	Reply Reply
	Err   error // *ServerError (it failed at run time, or EXECABORT), *Error
}

// Tx is a MULTI/EXEC transaction being built. Queue commands, then Exec:
// MULTI, the commands and EXEC are written contiguously on one connection.
// A Tx is used by one goroutine at a time and is spent by Exec or Discard.
type Tx struct {
	c   *client
	mu  sync.Mutex
	raw *C.jr_multi
	st  *txState
}

type txState struct {
	results  []Result
	exec     Result
	mu       sync.Mutex
	pending  int
	finished chan struct{}
}

func (st *txState) done() {
	st.mu.Lock()
	st.pending--
	last := st.pending == 0
	st.mu.Unlock()
	if last {
		close(st.finished)
	}
}

// txItem is the handle value of one queued command.
type txItem struct {
	st *txState
	i  int
}

func (t *txItem) complete(r Reply, err error) {
	t.st.results[t.i] = Result{r, err}
	t.st.done()
}

// txExec is the handle value of the EXEC.
type txExec struct{ st *txState }

func (t *txExec) complete(r Reply, err error) {
	t.st.exec = Result{r, err}
	t.st.done()
}

// Multi starts a transaction on the client's default database.
func (c *Client) Multi() (*Tx, error) { return c.multi(-1) }

// Multi starts a transaction in this database.
func (db *DB) Multi() (*Tx, error) { return db.c.multi(db.n) }

func (c *client) multi(db int) (*Tx, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	var raw *C.jr_multi
	if err := codeError(C.jr_multi_new(c.raw, C.int(db), &raw)); err != nil {
		return nil, err
	}
	return c.track(raw), nil
}

func (c *client) track(raw *C.jr_multi) *Tx {
	tx := &Tx{c: c, raw: raw, st: &txState{finished: make(chan struct{})}}
	c.objs[tx] = struct{}{}
	return tx
}

// Queue adds a command; its result is in Exec's []Result, in order.
// Refused commands (MULTI, WATCH, SUBSCRIBE, ...) fail with ErrRefused.
func (tx *Tx) Queue(args ...interface{}) error {
	a, err := encodeArgs(args)
	if err != nil {
		return err
	}
	defer putArgs(a)
	tx.c.mu.RLock()
	defer tx.c.mu.RUnlock()
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.raw == nil {
		return ErrClosed
	}
	st := tx.st
	item := &txItem{st: st, i: len(st.results)}
	h, _ := handles.put(item)
	rc := C.jr_go_multi_add(tx.raw, a.bufPtr(), a.lensPtr(), C.size_t(len(a.lens)), C.uintptr_t(h))
	if rc < 0 {
		handles.take(h)
		if rc == C.JR_EREFUSED {
			return refusedError(args)
		}
		return &Error{Code: int(rc)}
	}
	st.results = append(st.results, Result{})
	return nil
}

// Exec sends the transaction and waits for it. It returns every command's
// Result in order, and an error when EXEC did not run them: a *ServerError
// (EXECABORT: a command was rejected when queued), ErrWatch (a watched key
// changed), or another library error; the Results then carry the error that
// each command got. A context deadline becomes EXEC's deadline; a context
// cancelled without one stops the wait only (ctx.Err()).
func (tx *Tx) Exec(ctx context.Context) ([]Result, error) {
	tx.c.mu.RLock()
	tx.mu.Lock()
	raw, st := tx.raw, tx.st
	tx.raw = nil
	if raw == nil {
		tx.mu.Unlock()
		tx.c.mu.RUnlock()
		return nil, ErrClosed
	}
	st.pending = len(st.results) + 1
	h, _ := handles.put(&txExec{st: st})
	timeout := C.int64_t(-1)
	if dl, ok := ctx.Deadline(); ok {
		timeout = C.int64_t(ms(timeUntil(dl)))
	}
	var captured *C.jr_go_batch
	rc := C.jr_go_multi_exec(raw, timeout, C.uintptr_t(h), &captured)
	tx.mu.Unlock()
	tx.c.mu.RUnlock()
	tx.c.untrack(tx)
	if rc < 0 {
		// Every queued command was completed inline with rc; no EXEC callback.
		handles.take(h)
		st.mu.Lock()
		st.pending--
		st.mu.Unlock()
		st.exec = Result{Err: &Error{Code: int(rc)}}
		deliverCaptured(captured)
	}
	select {
	case <-st.finished:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return st.results, st.exec.Err
}

// Discard drops the transaction: its commands are not sent (their Results
// would carry ErrDiscarded).
func (tx *Tx) Discard() {
	tx.c.mu.RLock()
	tx.mu.Lock()
	b := tx.discardLocked()
	tx.mu.Unlock()
	tx.c.mu.RUnlock()
	tx.c.untrack(tx)
	deliverCaptured(b)
}

func (tx *Tx) discardLocked() *C.jr_go_batch {
	if tx.raw == nil {
		return nil
	}
	var captured *C.jr_go_batch
	C.jr_go_multi_discard(tx.raw, &captured)
	tx.raw = nil
	return captured
}

func (tx *Tx) closeLocked() *C.jr_go_batch {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.discardLocked()
}

func (c *client) untrack(o closer) {
	c.mu.Lock()
	if c.objs != nil {
		delete(c.objs, o)
	}
	c.mu.Unlock()
}

// ---- WATCH -------------------------------------------------------------------

// Watch is a conditional transaction: WATCH on a dedicated pooled
// connection, reads with Do, then Multi for the transaction that ends the
// watch (its Exec fails with ErrWatch if a watched key changed). Close
// releases the connection.
type Watch struct {
	c   *client
	mu  sync.Mutex
	raw *C.jr_watch
	db  int
}

// Watch watches keys on the default database.
func (c *Client) Watch(keys ...string) (*Watch, error) { return c.watch(-1, keys) }

// Watch watches keys in this database.
func (db *DB) Watch(keys ...string) (*Watch, error) { return db.c.watch(db.n, keys) }

func (c *client) watch(db int, keys []string) (*Watch, error) {
	a, err := encodeArgs(stringArgs(keys))
	if err != nil {
		return nil, err
	}
	defer putArgs(a)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	var raw *C.jr_watch
	if err := codeError(C.jr_go_watch_new(c.raw, C.int(db), a.bufPtr(), a.lensPtr(), C.size_t(len(a.lens)), &raw)); err != nil {
		return nil, err
	}
	w := &Watch{c: c, raw: raw, db: db}
	c.objs[w] = struct{}{}
	return w, nil
}

// Do runs a command on the watched connection and waits for it. The
// command cannot be cancelled: a context deadline becomes its libjr
// deadline, and a context cancelled without one stops the wait only.
func (w *Watch) Do(ctx context.Context, args ...interface{}) (Reply, error) {
	a, err := encodeArgs(args)
	if err != nil {
		return Reply{}, err
	}
	req := &request{ch: make(chan result, 1)}
	h, _ := handles.put(req)
	timeout := C.int64_t(-1)
	if dl, ok := ctx.Deadline(); ok {
		timeout = C.int64_t(ms(timeUntil(dl)))
	}
	w.c.mu.RLock()
	w.mu.Lock()
	rc := C.int(C.JR_ECLOSED)
	if w.raw != nil {
		rc = C.jr_go_watch_submit(w.raw, a.bufPtr(), a.lensPtr(), C.size_t(len(a.lens)), timeout, C.uintptr_t(h))
	}
	w.mu.Unlock()
	w.c.mu.RUnlock()
	putArgs(a)
	if rc < 0 {
		handles.take(h)
		return Reply{}, &Error{Code: int(rc)}
	}
	select {
	case r := <-req.ch:
		return r.reply, r.err
	case <-ctx.Done():
		return Reply{}, &Error{Code: C.JR_EABANDONED, ctx: ctx.Err()}
	}
}

// Multi starts the transaction that ends the watch (once; ErrMisuse the
// second time).
func (w *Watch) Multi() (*Tx, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.raw == nil || w.c.closed {
		return nil, ErrClosed
	}
	var raw *C.jr_multi
	if err := codeError(C.jr_watch_multi(w.raw, &raw)); err != nil {
		return nil, err
	}
	return w.c.track(raw), nil
}

// Close releases the watched connection (after its transaction, if any).
func (w *Watch) Close() error {
	w.c.mu.RLock()
	w.closeLocked()
	w.c.mu.RUnlock()
	w.c.untrack(w)
	return nil
}

func (w *Watch) closeLocked() *C.jr_go_batch {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.raw != nil {
		C.jr_watch_free(w.raw)
		w.raw = nil
	}
	return nil
}

// ---- Pub/sub and MONITOR --------------------------------------------------------

// Message is one pub/sub or MONITOR delivery.
//
// A name the server refuses (e.g. NOPERM from ACL channel rules) arrives as
// a Message of the subscribing kind ("subscribe", "psubscribe" or
// "ssubscribe") with Channel set to the name and Err set to the server's
// *ServerError; that name is not subscribed (libjr dropped it). So check Err
// before treating a subscribe kind as a confirmation:
//
//	if m.Err != nil { // refused: errors.As(m.Err, &se); se.Prefix() == "NOPERM"
//	} else if m.Kind == "ssubscribe" { // in effect; m.Count: the server's count
//	}
type Message struct {
	// "message", "pmessage", "smessage" (a sharded channel's message),
	// "subscribe", "psubscribe", "ssubscribe", "unsubscribe",
	// "punsubscribe", "sunsubscribe", "pong", "monitor" (Payload is the
	// line), "lost" (a connection was lost, or a sharded channel's slot is
	// moving; messages may be missed), "resubscribed" (every name is
	// subscribed again) or "closed" (the last one).
	Kind    string
	Channel string // message, pmessage, smessage; the name for (un)subscribe kinds
	Pattern string // pmessage
	Payload []byte // message, pmessage, smessage, pong, monitor
	// (un)subscribe kinds: the server's count for the connection (channels
	// + patterns of the shared connection for the plain and p- kinds,
	// sharded channels of the node's connection for the s- kinds), as
	// Redis sent it; 0 when refused.
	Count int64
	// Non-nil (a *ServerError) when the server refused the name Channel of
	// a "subscribe", "psubscribe" or "ssubscribe": it is not subscribed.
	Err   error
	Reply Reply // the raw reply
}

// MessageHandler runs on the client's dispatcher goroutine for every
// delivery, "closed" last; it must not block.
type MessageHandler func(Message)

type messageTarget struct {
	handler MessageHandler
}

func (t *messageTarget) message(h handle, d *C.jr_go_done) {
	m := toMessage(d)
	func() {
		defer func() {
			if p := recover(); p != nil {
				println("jr: panic in a message handler:", p)
			}
		}()
		t.handler(m)
	}()
	if d.status == C.JR_ECLOSED {
		handles.take(h)
	}
}

func toMessage(d *C.jr_go_done) Message {
	switch d.status {
	case C.JR_SUB_LOST:
		return Message{Kind: "lost"}
	case C.JR_SUB_RESUBSCRIBED:
		return Message{Kind: "resubscribed"}
	case C.JR_ECLOSED:
		return Message{Kind: "closed"}
	}
	var r Reply
	if d.status == 0 {
		if Kind(d._type) == KindArray {
			r = convert(d.reply)
		} else {
			r, _ = fromDone(d)
		}
	}
	if r.Kind == KindStatus {
		return Message{Kind: "monitor", Payload: r.Bytes, Reply: r}
	}
	m := Message{Reply: r}
	if r.Kind != KindArray || len(r.Array) == 0 {
		return m
	}
	a := r.Array
	m.Kind = a[0].Text()
	switch {
	case (m.Kind == "message" || m.Kind == "smessage") && len(a) == 3:
		m.Channel, m.Payload = a[1].Text(), a[2].Bytes
	case m.Kind == "pmessage" && len(a) == 4:
		m.Pattern, m.Channel, m.Payload = a[1].Text(), a[2].Text(), a[3].Bytes
	case m.Kind == "pong" && len(a) >= 2:
		m.Payload = a[1].Bytes
	case len(a) == 3 && a[2].Kind == KindError:
		// [kind, name, error]: the server refused the name.
		m.Channel, m.Err = a[1].Text(), a[2].Err()
	case len(a) == 3:
		m.Channel, m.Count = a[1].Text(), a[2].Int
	}
	return m
}

// Subscriber is a pub/sub subscriber. All subscribers of a client share one
// subscription connection for channels and patterns, and one per serving
// node for sharded channels; libjr resubscribes after a reconnect.
type Subscriber struct {
	c   *client
	mu  sync.Mutex
	raw *C.jr_sub
}

// Subscribe creates a subscriber whose handler gets every Message.
func (c *Client) Subscribe(handler MessageHandler) (*Subscriber, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	h, _ := handles.put(&messageTarget{handler: handler})
	var raw *C.jr_sub
	if err := codeError(C.jr_go_sub_new(c.raw, C.uintptr_t(h), &raw)); err != nil {
		handles.take(h)
		return nil, err
	}
	s := &Subscriber{c: c.client, raw: raw}
	c.objs[s] = struct{}{}
	return s, nil
}

// The kinds of names (jr_sub_subscribe's pattern argument).
const (
	subChannels = C.JR_SUB_CHANNELS
	subPatterns = C.JR_SUB_PATTERNS
	subSharded  = C.JR_SUB_SHARDED
)

func (s *Subscriber) names(sub bool, kind C.int, names []string) error {
	a := getArgs()
	defer putArgs(a)
	if len(names) > 0 {
		if err := a.encode(stringArgs(names)); err != nil {
			return err
		}
	}
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raw == nil {
		return ErrClosed
	}
	var lens *C.size_t
	if len(a.lens) > 0 {
		lens = a.lensPtr()
	}
	return codeError(C.jr_go_sub_names(s.raw, cbool(sub), kind, a.bufPtr(), lens, C.size_t(len(a.lens))))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Subscribe adds channels (confirmed by "subscribe" messages; a refused
// name by a "subscribe" Message with Err set).
func (s *Subscriber) Subscribe(channels ...string) error {
	return s.names(true, subChannels, channels)
}

// PSubscribe adds patterns (confirmed by "psubscribe" messages).
func (s *Subscriber) PSubscribe(patterns ...string) error {
	return s.names(true, subPatterns, patterns)
}

// SSubscribe adds sharded channels (Redis 7 SSUBSCRIBE; published with
// SPUBLISH, delivered as "smessage"), confirmed by "ssubscribe" messages.
// libjr subscribes each on the node that serves its slot (in a cluster) and
// moves it when the slot moves ("lost", then "resubscribed").
func (s *Subscriber) SSubscribe(channels ...string) error {
	return s.names(true, subSharded, channels)
}

// Unsubscribe removes channels (none: all of this subscriber's).
func (s *Subscriber) Unsubscribe(channels ...string) error {
	return s.names(false, subChannels, channels)
}

// PUnsubscribe removes patterns (none: all of this subscriber's).
func (s *Subscriber) PUnsubscribe(patterns ...string) error {
	return s.names(false, subPatterns, patterns)
}

// SUnsubscribe removes sharded channels (none: all of this subscriber's
// sharded channels), confirmed by "sunsubscribe" messages.
func (s *Subscriber) SUnsubscribe(channels ...string) error {
	return s.names(false, subSharded, channels)
}

// Ping is answered by a "pong" message carrying text.
func (s *Subscriber) Ping(text string) error {
	cs := C.CString(text)
	defer C.free(unsafe.Pointer(cs))
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raw == nil {
		return ErrClosed
	}
	return codeError(C.jr_sub_ping(s.raw, cs, C.size_t(len(text))))
}

// Close unsubscribes everything; the handler gets "closed" last.
func (s *Subscriber) Close() error {
	s.c.mu.RLock()
	s.closeLocked()
	s.c.mu.RUnlock()
	s.c.untrack(s)
	return nil
}

func (s *Subscriber) closeLocked() *C.jr_go_batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raw != nil {
		C.jr_sub_free(s.raw)
		s.raw = nil
	}
	return nil
}

// Monitor is a MONITOR stream: a "monitor" Message per command the server
// runs, "closed" last.
type Monitor struct {
	c   *client
	mu  sync.Mutex
	raw *C.jr_monitor
}

// Monitor starts a MONITOR stream.
func (c *Client) Monitor(handler MessageHandler) (*Monitor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	h, _ := handles.put(&messageTarget{handler: handler})
	var raw *C.jr_monitor
	if err := codeError(C.jr_go_monitor_new(c.raw, C.uintptr_t(h), &raw)); err != nil {
		handles.take(h)
		return nil, err
	}
	m := &Monitor{c: c.client, raw: raw}
	c.objs[m] = struct{}{}
	return m, nil
}

// Close stops the stream.
func (m *Monitor) Close() error {
	m.c.mu.RLock()
	m.closeLocked()
	m.c.mu.RUnlock()
	m.c.untrack(m)
	return nil
}

func (m *Monitor) closeLocked() *C.jr_go_batch {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.raw != nil {
		C.jr_monitor_free(m.raw)
		m.raw = nil
	}
	return nil
}

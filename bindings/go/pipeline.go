// SPDX-License-Identifier: MIT

package jr

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"sync"
	"sync/atomic"
)

// multi is one DoMulti in flight: the results, the number of accepted
// commands that have not completed, and the channel its caller waits on.
// Each accepted command holds a handle to its own multiSlot (one slice per
// batch, no allocation per command); the completion that brings left to 0
// signals done, once for the batch.
type multi struct {
	replies []Reply
	errs    []error
	left    int32
	done    chan struct{}
	slots   []multiSlot
}

type multiSlot struct {
	m *multi
	i int
}

func (s *multiSlot) complete(r Reply, err error) {
	m := s.m
	m.replies[s.i], m.errs[s.i] = r, err
	if atomic.AddInt32(&m.left, -1) == 0 {
		m.done <- struct{}{}
	}
}

// multiArgsPool keeps the flat buffers of pipelines, which are larger than
// argsPool keeps (a batch of 100 SETs of 1000 bytes is 100 KB: growing a
// fresh one each time cost a quarter of such a batch's time).
var multiArgsPool = sync.Pool{New: func() interface{} { return &args{} }}

func putMultiArgs(a *args) {
	if cap(a.buf) > 16<<20 {
		return
	}
	a.buf, a.lens = a.buf[:0], a.lens[:0]
	multiArgsPool.Put(a)
}

// doMulti is DoMulti on db (nil: the client's default database).
func (c *client) doMulti(ctx context.Context, db *DB, cmds [][]interface{}) ([]Reply, []error) {
	n := len(cmds)
	replies, errs := make([]Reply, n), make([]error, n)
	if n == 0 {
		return replies, errs
	}
	fail := func(err error) ([]Reply, []error) {
		for i := range errs {
			errs[i] = err
		}
		return replies, errs
	}
	if err := ctx.Err(); err != nil {
		return fail(&Error{Code: C.JR_ECANCELED, ctx: err})
	}
	if c.inDelivery() {
		return fail(ErrMisuse)
	}
	// Every command's arguments into one flat buffer; a command that does
	// not encode gets its error and is left out (the others still go).
	a := multiArgsPool.Get().(*args)
	defer putMultiArgs(a)
	argcs := make([]C.size_t, 0, n)
	sent := make([]int, 0, n) // cmds index of each command handed to C
	for i, list := range cmds {
		nb, nl := len(a.buf), len(a.lens)
		if err := a.encode(list); err != nil {
			a.buf, a.lens = a.buf[:nb], a.lens[:nl]
			errs[i] = err
			continue
		}
		argcs = append(argcs, C.size_t(len(a.lens)-nl))
		sent = append(sent, i)
	}
	k := len(sent)
	if k == 0 {
		return replies, errs
	}
	m := &multi{replies: replies, errs: errs, done: make(chan struct{}, 1), slots: make([]multiSlot, k)}
	hs := make([]C.uintptr_t, k)
	rcs := make([]C.int, k)
	ids := make([]C.jr_req_id, k)
	handles.mu.Lock()
	for j, i := range sent {
		m.slots[j] = multiSlot{m: m, i: i}
		h, _ := handles.putLocked(&m.slots[j])
		hs[j] = C.uintptr_t(h)
	}
	handles.mu.Unlock()
	// Counted before the submit: a completion may run before it returns.
	m.left = int32(k)
	c.mu.RLock()
	if raw, open := c.target(db); open {
		C.jr_go_pipeline(c.g, raw, a.bufPtr(), a.lensPtr(), &argcs[0], C.size_t(k), timeoutOf(ctx),
			&hs[0], &rcs[0], &ids[0])
	} else {
		for j := range rcs {
			rcs[j] = C.JR_ECLOSED
		}
	}
	c.mu.RUnlock()
	// Refused commands: no completion will come; free their handles and
	// fill in their errors here.
	refusedN := 0
	for j, rc := range rcs {
		if rc >= 0 {
			continue
		}
		refusedN++
		handles.take(handle(hs[j]))
		i := sent[j]
		if rc == C.JR_EREFUSED {
			errs[i] = refusedError(cmds[i])
		} else {
			errs[i] = &Error{Code: int(rc)}
		}
	}
	if refusedN == k {
		return replies, errs
	}
	if refusedN > 0 && atomic.AddInt32(&m.left, -int32(refusedN)) == 0 {
		// All the accepted ones completed already.
		return replies, errs
	}
	if done := ctx.Done(); done == nil {
		<-m.done
	} else {
		select {
		case <-m.done:
		case <-done:
			// Cancel the unfinished commands (a finished one's id is
			// unknown to libjr by now: ENOENT); each still completes
			// exactly once, with the cancel code or its reply.
			c.mu.RLock()
			if !c.closed {
				C.jr_go_cancel_many(c.g, &ids[0], C.size_t(k))
			}
			c.mu.RUnlock()
			<-m.done
			if cerr := ctx.Err(); cerr != nil {
				for j, i := range sent {
					if e, ok := errs[i].(*Error); ok && rcs[j] >= 0 {
						e.ctx = cerr
					}
				}
			}
		}
	}
	return replies, errs
}

// DoMulti runs an explicit pipeline: cmds in order, handed to libjr in one
// call (jr_client_submit_many) that wakes its loop thread once, so that the
// batch goes out in as few writes as the socket takes, and it waits for all
// of them. It returns one Reply and one error per command, at the
// command's index: errs[i] is nil when replies[i] is the reply (a server
// error reply is an error, *ServerError, as with Do). Commands run in the
// order given on the client's connection; a command that fails does not
// stop the others (it is a pipeline, not a transaction: see Multi). A
// command with bad arguments or that libjr refuses (see RefusalReason) gets
// its error without being sent; the others still go.
//
// Each command takes arguments as Do does, e.g.
//
//	replies, errs := c.DoMulti(ctx,
//		[]interface{}{"SET", "k", "v"},
//		[]interface{}{"INCR", "n"},
//		[]interface{}{"GET", "k"})
//
// The context bounds the whole batch: when it is done first, the commands
// that have not completed are cancelled (jr_cancel) and get an *Error
// (ErrCanceled or ErrAbandoned) that also matches ctx.Err(); the ones whose
// reply won the race keep it. DoMulti always returns after every command
// has completed. Without a context deadline the client's CommandTimeout
// applies to each command. Like Do, it must not be called from a Submit
// callback (it would wait for the goroutine that runs them; with
// LoopDelivery it returns ErrMisuse there).
func (c *Client) DoMulti(ctx context.Context, cmds ...[]interface{}) (replies []Reply, errs []error) {
	return c.doMulti(ctx, nil, cmds)
}

// DoMulti is Client.DoMulti in this database (jr_db_submit_many).
func (db *DB) DoMulti(ctx context.Context, cmds ...[]interface{}) (replies []Reply, errs []error) {
	return db.c.doMulti(ctx, db, cmds)
}

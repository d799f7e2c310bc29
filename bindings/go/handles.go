// SPDX-License-Identifier: MIT

package jr

import "sync"

// handle is what C holds for a Go value: a non-zero integer passed as
// uintptr_t (never a Go pointer, so the cgo pointer rules hold). It plays
// the role of runtime/cgo.Handle with the same contract (freed exactly once,
// by the one completion), but as a slot table under one mutex: a cgo.Handle
// costs a sync.Map store and delete per command, which was a fifth of the
// binding's time per pipelined command, and the dispatcher frees a whole
// batch of slots under one lock. A slot also remembers the libjr request id
// of a Submit, so that a RequestID (slot index + generation) stays valid for
// Cancel even when the command was deferred (see jr_go_submit).
type handle uintptr

type slot struct {
	v      interface{}
	gen    uint32
	jrid   uint64 // libjr's id once submitted (0 while deferred)
	cancel bool   // Cancel arrived while the submit was deferred
}

type handleTable struct {
	mu    sync.Mutex
	slots []slot
	free  []uint32
}

var handles handleTable

// put stores v and returns its handle (never 0) and generation.
func (t *handleTable) put(v interface{}) (handle, uint32) {
	t.mu.Lock()
	h, gen := t.putLocked(v)
	t.mu.Unlock()
	return h, gen
}

func (t *handleTable) putLocked(v interface{}) (handle, uint32) {
	var i uint32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		i = uint32(len(t.slots))
		t.slots = append(t.slots, slot{})
	}
	s := &t.slots[i]
	s.v = v
	s.gen++
	s.jrid = 0
	s.cancel = false
	return handle(i) + 1, s.gen
}

// take returns the value and frees the handle.
func (t *handleTable) take(h handle) interface{} {
	t.mu.Lock()
	v := t.takeLocked(h)
	t.mu.Unlock()
	return v
}

func (t *handleTable) takeLocked(h handle) interface{} {
	i := uint32(h - 1)
	s := &t.slots[i]
	v := s.v
	if v == nil {
		panic("jr: handle freed twice")
	}
	s.v = nil
	t.free = append(t.free, i)
	return v
}

// setID records libjr's id for a live handle of generation gen; it reports
// whether a Cancel is waiting for it.
func (t *handleTable) setID(h handle, gen uint32, id uint64) (cancel bool) {
	t.mu.Lock()
	s := &t.slots[h-1]
	if s.v != nil && s.gen == gen {
		s.jrid = id
		cancel = s.cancel
	}
	t.mu.Unlock()
	return cancel
}

// requestID names a slot generation for Cancel.
func requestID(h handle, gen uint32) RequestID {
	return RequestID(uint64(gen)<<32 | uint64(h))
}

// lookup returns libjr's id for a RequestID, or marks the still-deferred
// command for cancelling (then id is 0). ok is false when the command has
// completed.
func (t *handleTable) lookup(r RequestID) (id uint64, ok bool) {
	h, gen := handle(uint32(r)), uint32(uint64(r)>>32)
	t.mu.Lock()
	defer t.mu.Unlock()
	if h == 0 || int(h) > len(t.slots) {
		return 0, false
	}
	s := &t.slots[h-1]
	if s.v == nil || s.gen != gen {
		return 0, false
	}
	if s.jrid == 0 {
		s.cancel = true
	}
	return s.jrid, true
}

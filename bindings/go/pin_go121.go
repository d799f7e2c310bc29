// SPDX-License-Identifier: MIT

//go:build go1.21

package jr

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// pinArgs: with Go >= 1.21, a command whose string and []byte arguments
// add up to pinMin bytes or more is handed to libjr where its arguments
// are, pinned with runtime.Pinner for the time of the call, instead of
// being copied into the flat buffer first (libjr copies them into its
// write buffer anyway: one copy instead of two). Below pinMin the pins
// cost more than the copy saves (BenchmarkSetPinned in pin_test.go).
const pinArgs = true

// pinMin is a variable for the benchmark.
var pinMin = 16 << 10

func bigArgs(list []interface{}) bool {
	n := 0
	for _, v := range list {
		switch x := v.(type) {
		case string:
			n += len(x)
		case []byte:
			n += len(x)
		}
	}
	return n >= pinMin
}

// submitPinned is submit without the copy: strings and byte slices are
// pinned and pointed at; other arguments are encoded into a small buffer
// (pinned too, once it no longer grows).
func (c *client) submitPinned(db *DB, timeout C.int64_t, v interface{}, list []interface{}) (handle, uint32, uint64, error) {
	a := getArgs()
	defer putArgs(a)
	var pin runtime.Pinner
	defer pin.Unpin()
	ptrs := make([]unsafe.Pointer, len(list)) // nil: at offs[i] in a.buf
	offs := make([]int, len(list))
	for i, x := range list {
		switch y := x.(type) {
		case string:
			if len(y) > 0 {
				ptrs[i] = unsafe.Pointer(unsafe.StringData(y))
			}
			a.lens = append(a.lens, C.size_t(len(y)))
		case []byte:
			if len(y) > 0 {
				ptrs[i] = unsafe.Pointer(unsafe.SliceData(y))
			}
			a.lens = append(a.lens, C.size_t(len(y)))
		default:
			offs[i] = len(a.buf)
			if err := a.encode(list[i : i+1]); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	base := unsafe.Pointer(a.bufPtr())
	pin.Pin(base)
	argv := make([]*C.char, len(list))
	for i := range list {
		if ptrs[i] != nil {
			pin.Pin(ptrs[i])
			argv[i] = (*C.char)(ptrs[i])
		} else {
			argv[i] = (*C.char)(unsafe.Add(base, offs[i]))
		}
	}
	h, gen := handles.put(v)
	c.mu.RLock()
	rc := C.int(C.JR_ECLOSED)
	if raw, open := c.target(db); open {
		rc = C.jr_go_submit_argv(c.g, raw, &argv[0], a.lensPtr(), C.size_t(len(a.lens)), timeout,
			C.uintptr_t(h), &a.id)
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

// SPDX-License-Identifier: MIT

package jr

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Redis Cluster calls (jr.h "Redis Cluster"). libjr discovers a cluster by
// itself and routes every command by its key's slot; these calls are for what
// routing cannot express. All of them work on a standalone server too, except
// DoAllMasters, which fails there with ErrCluster.
//
// libjr cannot cancel these requests once submitted: a context deadline is
// passed to libjr as the request's deadline, and a context that ends first
// makes the call return at once with ErrAbandoned (the command may still run;
// its reply is dropped), which also matches ctx.Err() with errors.Is.

// Node is one node of Client.Endpoints.
type Node struct {
	Address string // "host:port"
	Role    string // "master", "replica", or "standalone" outside a cluster
}

// NodeResult is one master's answer to Client.DoAllMasters: its reply, or its
// own error (a *ServerError when the node rejected the command, an *Error
// when libjr could not get an answer from it, e.g. ErrConnLost).
type NodeResult struct {
	Address string
	Reply   Reply
	Err     error
}

// Endpoints returns the nodes libjr knows: one {address, "standalone"} for a
// standalone server, every master and replica of a cluster. Credentials never
// appear.
func (c *Client) Endpoints(ctx context.Context) ([]Node, error) {
	r, err := c.route(ctx, routeEndpoints, "", nil)
	if err != nil {
		return nil, err
	}
	return ParseNodes(r)
}

// DoAllMasters runs a command on every master of a cluster and returns one
// NodeResult per master; a node's failure is its NodeResult.Err, not a
// failure of the call. On a standalone server it returns ErrCluster.
func (c *Client) DoAllMasters(ctx context.Context, args ...interface{}) ([]NodeResult, error) {
	r, err := c.route(ctx, routeAllMasters, "", args)
	if err != nil {
		return nil, err
	}
	return ParseNodeResults(r)
}

// DoTo runs a command on one node ("host:port"), without following
// redirections (a cluster node may answer MOVED). On a standalone server its
// own address works. An address that does not parse is ErrInvalid.
func (c *Client) DoTo(ctx context.Context, node string, args ...interface{}) (Reply, error) {
	if strings.IndexByte(node, 0) >= 0 {
		return Reply{}, fmt.Errorf("jr: node address with a NUL byte: %w", ErrInvalid)
	}
	return c.route(ctx, routeTo, node, args)
}

// SetAuth rotates the credentials: every connection made from now on
// (reconnects, pooled, pub/sub and cluster node connections) sends AUTH with
// these (username "": password-only AUTH). Connections already authenticated
// are not touched.
func (c *Client) SetAuth(username, password string) error {
	if strings.IndexByte(username, 0) >= 0 || strings.IndexByte(password, 0) >= 0 {
		return fmt.Errorf("jr: credentials with a NUL byte: %w", ErrInvalid)
	}
	var cu *C.char
	if username != "" {
		cu = C.CString(username)
		defer C.free(unsafe.Pointer(cu))
	}
	cp := C.CString(password)
	defer C.free(unsafe.Pointer(cp))
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	return codeError(C.jr_client_set_auth(c.raw, cu, cp))
}

type route int

const (
	routeEndpoints route = iota
	routeAllMasters
	routeTo
)

// route submits one of the cluster requests and waits for it (see the
// package comment above about contexts).
func (c *client) route(ctx context.Context, how route, node string, list []interface{}) (Reply, error) {
	if err := ctx.Err(); err != nil {
		return Reply{}, &Error{Code: C.JR_ECANCELED, ctx: err}
	}
	timeout := C.int64_t(-1)
	d, hasDeadline := ctx.Deadline()
	if hasDeadline {
		// Rounded up: libjr's deadline is never before the context's.
		timeout = C.int64_t(ms(timeUntil(d) + time.Millisecond - 1))
	}
	a := getArgs()
	defer putArgs(a)
	if how != routeEndpoints {
		if err := a.encode(list); err != nil {
			return Reply{}, err
		}
	}
	var cnode *C.char
	if how == routeTo {
		cnode = C.CString(node)
		defer C.free(unsafe.Pointer(cnode))
	}
	// Not pooled: a request given up on (ctx) still gets its completion.
	req := &request{ch: make(chan result, 1)}
	h, _ := handles.put(req)
	c.mu.RLock()
	rc := C.int(C.JR_ECLOSED)
	if !c.closed {
		switch how {
		case routeEndpoints:
			rc = C.jr_go_endpoints(c.g, C.uintptr_t(h))
		case routeAllMasters:
			rc = C.jr_go_submit_all_masters(c.g, a.bufPtr(), a.lensPtr(), C.size_t(len(a.lens)), timeout, C.uintptr_t(h))
		case routeTo:
			rc = C.jr_go_submit_to(c.g, cnode, a.bufPtr(), a.lensPtr(), C.size_t(len(a.lens)), timeout, C.uintptr_t(h))
		}
	}
	c.mu.RUnlock()
	if rc < 0 {
		handles.take(h)
		return Reply{}, &Error{Code: int(rc)}
	}
	select {
	case r := <-req.ch:
		if e, ok := r.err.(*Error); ok {
			if cerr := ctx.Err(); cerr != nil {
				e.ctx = cerr
			} else if hasDeadline && (e.Code == C.JR_ETIMEDOUT || e.Code == C.JR_EQUEUETIMEOUT || e.Code == C.JR_EPOOLTIMEOUT) {
				// libjr's deadline is the context's: its timer may simply
				// not have fired yet.
				e.ctx = context.DeadlineExceeded
			}
		}
		return r.reply, r.err
	case <-ctx.Done():
		return Reply{}, &Error{Code: C.JR_EABANDONED, ctx: ctx.Err()}
	}
}

// ParseNodes reads the raw reply of jr_client_endpoints ([[address, role],
// ...]); another shape is ErrProto.
func ParseNodes(r Reply) ([]Node, error) {
	rows, err := pairs(r)
	if err != nil {
		return nil, err
	}
	out := make([]Node, len(rows))
	for i, row := range rows {
		if k := row[1].Kind; k != KindString && k != KindStatus {
			return nil, fmt.Errorf("jr: endpoints reply: role of kind %v: %w", k, ErrProto)
		}
		out[i] = Node{Address: row[0].Text(), Role: row[1].Text()}
	}
	return out, nil
}

// ParseNodeResults reads the raw reply of jr_client_submit_all_masters
// ([[address, reply], ...], a node's failure being an error element that
// starts with the libjr code name, "JR_ECONNLOST: ..."); another shape is
// ErrProto.
func ParseNodeResults(r Reply) ([]NodeResult, error) {
	rows, err := pairs(r)
	if err != nil {
		return nil, err
	}
	out := make([]NodeResult, len(rows))
	for i, row := range rows {
		out[i].Address = row[0].Text()
		answer := row[1]
		if answer.Kind != KindError {
			out[i].Reply = answer
			continue
		}
		text := answer.Text()
		name := text
		if j := strings.IndexByte(text, ':'); j >= 0 {
			name = text[:j]
		}
		if code, ok := codeOfName(name); ok {
			out[i].Err = &Error{Code: code}
		} else {
			out[i].Err = &ServerError{Msg: text}
		}
	}
	return out, nil
}

// pairs checks the [[address, x], ...] shape.
func pairs(r Reply) ([][]Reply, error) {
	if r.Kind != KindArray {
		return nil, fmt.Errorf("jr: expected an array of pairs, got %v: %w", r.Kind, ErrProto)
	}
	out := make([][]Reply, len(r.Array))
	for i, row := range r.Array {
		if row.Kind != KindArray || len(row.Array) != 2 ||
			(row.Array[0].Kind != KindString && row.Array[0].Kind != KindStatus) {
			return nil, fmt.Errorf("jr: element %d is not an [address, value] pair: %w", i, ErrProto)
		}
		out[i] = row.Array
	}
	return out, nil
}

var (
	codeNamesOnce sync.Once
	codeNames     map[string]int
)

// codeOfName returns the JR_E* code named name ("JR_ECONNLOST").
func codeOfName(name string) (int, bool) {
	codeNamesOnce.Do(func() {
		codeNames = make(map[string]int)
		for code := -1; code >= -64; code-- {
			if n := C.GoString(C.jr_err_name(C.int(code))); n != "JR_E?" {
				codeNames[n] = code
			}
		}
	})
	code, ok := codeNames[name]
	return code, ok
}

// SPDX-License-Identifier: MIT

package jr

/*
#include <jr/jr.h>
*/
import "C"

import (
	"context"
	"errors"
	"strings"
)

// Error is a library error: a negative JR_E* code from libjr (timeout, lost
// connection, cancel, ...). Compare with errors.Is against the sentinels
// (ErrTimedOut, ErrConnLost, ...). When the command ended because its
// context did, the error also matches ctx.Err() (context.Canceled or
// context.DeadlineExceeded) through errors.Is. ErrAuth from a handshake the
// server refused has the server's text in Detail ("WRONGPASS ..."). Cause
// is what libjr knows beyond the code: the endpoint and the reason
// ("connect 127.0.0.1:6379: ECONNREFUSED: connection refused"). Error()
// shows both.
type Error struct {
	Code   int    // a JR_E* value (negative)
	Detail string // the server's error text that came with it, or ""
	Cause  string // libjr's detail (endpoint and cause), or ""
	ctx    error  // the context's error, if the context ended the command
}

func (e *Error) Error() string {
	msg := "jr: " + codeText(e.Code) + " (" + e.Name() + ")"
	if e.Cause != "" {
		msg += ": " + e.Cause
	}
	if e.Detail != "" && !strings.Contains(e.Cause, e.Detail) {
		msg += ": " + e.Detail
	}
	if e.ctx != nil {
		msg += ": " + e.ctx.Error()
	}
	return msg
}

// Name is the code's name, e.g. "JR_ECONNLOST".
func (e *Error) Name() string { return C.GoString(C.jr_err_name(C.int(e.Code))) }

// Unsent reports whether the command certainly did not reach the server
// (so it is safe to retry).
func (e *Error) Unsent() bool { return C.jr_err_unsent(C.int(e.Code)) != 0 }

// Is matches another *Error with the same code (the sentinels), and the
// classes ErrTimeout and ErrConnection.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case *Error:
		return t.Code == e.Code
	case *errorClass:
		return t.has(e)
	}
	return false
}

// Timeout reports whether the command ran out of time: a libjr deadline
// (ErrTimedOut, ErrQueueTimeout, ErrPoolTimeout) or its context's deadline.
// It is the method net.Error has, for code that checks timeouts that way.
func (e *Error) Timeout() bool {
	switch e.Code {
	case C.JR_ETIMEDOUT, C.JR_EQUEUETIMEOUT, C.JR_EPOOLTIMEOUT:
		return true
	}
	return errors.Is(e.ctx, context.DeadlineExceeded)
}

// goTexts replace the libjr texts that name C functions.
var goTexts = map[int]string{
	C.JR_EREFUSED: "command refused on this client or handle (not sent; RefusalReason says why)",
}

// codeText is the code's description, in Go's terms.
func codeText(code int) string {
	if t, ok := goTexts[code]; ok {
		return t
	}
	return C.GoString(C.jr_strerror(C.int(code)))
}

// errorClass is a set of library error codes that errors.Is matches as one
// kind (ErrTimeout, ErrConnection).
type errorClass struct {
	msg   string
	codes []int
	ctx   error // a context error that belongs to the class too
}

func (c *errorClass) Error() string { return c.msg }

func (c *errorClass) has(e *Error) bool {
	for _, code := range c.codes {
		if e.Code == code {
			return true
		}
	}
	return c.ctx != nil && errors.Is(e.ctx, c.ctx)
}

// Classes of errors for errors.Is: a timeout or a connection failure,
// whichever code libjr gave. A *ServerError matches ErrServer. To read the
// details, errors.As into *Error (Code, Cause, Unsent) or *ServerError
// (Msg, Prefix).
var (
	// ErrTimeout: a libjr deadline (ErrTimedOut, ErrQueueTimeout,
	// ErrPoolTimeout) or the context's deadline (also matched by
	// context.DeadlineExceeded).
	ErrTimeout error = &errorClass{msg: "jr: timeout", codes: []int{C.JR_ETIMEDOUT,
		C.JR_EQUEUETIMEOUT, C.JR_EPOOLTIMEOUT}, ctx: context.DeadlineExceeded}
	// ErrConnection: no connection could be made (ErrConnect, ErrAuth: the
	// handshake was refused) or it was lost with the command in flight
	// (ErrConnLost).
	ErrConnection error = &errorClass{msg: "jr: connection failed", codes: []int{C.JR_ECONNECT,
		C.JR_ECONNLOST, C.JR_EAUTH}}
	// ErrServer: an error reply from the server (any *ServerError).
	ErrServer error = &errorClass{msg: "jr: server error reply"}
)

// Nil is the error of the typed helpers (Get, HGet, LPop, ...) for a
// missing key or field: test it with errors.Is(err, jr.Nil) or err ==
// jr.Nil, as with go-redis's redis.Nil. Do is unchanged: a nil reply is
// Reply{Kind: KindNil} with a nil error (Reply.IsNil).
var Nil error = nilError{}

type nilError struct{}

func (nilError) Error() string { return "jr: nil" }

// Unwrap returns the context error that ended the command, if any.
func (e *Error) Unwrap() error { return e.ctx }

// Sentinel library errors, one per code (see jr.h for their meaning).
var (
	ErrInvalid      = &Error{Code: C.JR_EINVAL}
	ErrNoMem        = &Error{Code: C.JR_ENOMEM}
	ErrClosed       = &Error{Code: C.JR_ECLOSED}
	ErrConnect      = &Error{Code: C.JR_ECONNECT}
	ErrConnLost     = &Error{Code: C.JR_ECONNLOST}
	ErrTimedOut     = &Error{Code: C.JR_ETIMEDOUT}
	ErrQueueTimeout = &Error{Code: C.JR_EQUEUETIMEOUT}
	ErrProto        = &Error{Code: C.JR_EPROTO}
	ErrTooBig       = &Error{Code: C.JR_ETOOBIG}
	ErrRefused      = &Error{Code: C.JR_EREFUSED}
	ErrCanceled     = &Error{Code: C.JR_ECANCELED}
	ErrAbandoned    = &Error{Code: C.JR_EABANDONED}
	ErrAuth         = &Error{Code: C.JR_EAUTH}
	ErrShutdown     = &Error{Code: C.JR_ESHUTDOWN}
	ErrMisuse       = &Error{Code: C.JR_EMISUSE}
	ErrNoEnt        = &Error{Code: C.JR_ENOENT}
	ErrInternal     = &Error{Code: C.JR_EINTERNAL}
	ErrFull         = &Error{Code: C.JR_EFULL}
	ErrDiscarded    = &Error{Code: C.JR_EDISCARDED}
	ErrWatch        = &Error{Code: C.JR_EWATCH}
	ErrPoolTimeout  = &Error{Code: C.JR_EPOOLTIMEOUT}
	ErrCrossSlot    = &Error{Code: C.JR_ECROSSSLOT}
	ErrCluster      = &Error{Code: C.JR_ECLUSTER}
	ErrForked       = &Error{Code: C.JR_EFORKED}
	ErrTLS          = &Error{Code: C.JR_ETLS}
)

func codeError(rc C.int) error {
	if rc >= 0 {
		return nil
	}
	return &Error{Code: int(rc)}
}

// IsUnsent reports whether err is a library error whose command certainly
// did not reach the server.
func IsUnsent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Unsent()
}

// ServerError is an error reply from the server ("WRONGTYPE ...").
type ServerError struct {
	Msg string
}

func (e *ServerError) Error() string { return e.Msg }

// Is matches ErrServer.
func (e *ServerError) Is(target error) bool { return target == ErrServer }

// Prefix is the first word of the message ("WRONGTYPE", "ERR"), by Redis
// convention the error's kind.
func (e *ServerError) Prefix() string {
	if i := strings.IndexByte(e.Msg, ' '); i >= 0 {
		return e.Msg[:i]
	}
	return e.Msg
}

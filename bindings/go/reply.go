// SPDX-License-Identifier: MIT

package jr

/*
#include "shim.h"
*/
import "C"

import (
	"strconv"
	"unsafe"
)

// Kind is the type of a reply (the numbers of jr.h / hiredis).
type Kind uint8

const (
	KindString  Kind = C.JR_REPLY_STRING
	KindArray   Kind = C.JR_REPLY_ARRAY
	KindInteger Kind = C.JR_REPLY_INTEGER
	KindNil     Kind = C.JR_REPLY_NIL
	KindStatus  Kind = C.JR_REPLY_STATUS
	KindError   Kind = C.JR_REPLY_ERROR
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindArray:
		return "array"
	case KindInteger:
		return "integer"
	case KindNil:
		return "nil"
	case KindStatus:
		return "status"
	case KindError:
		return "error"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Reply is an owned copy of a server reply.
//
// A top-level error reply is returned as a *ServerError, not as a Reply; an
// error element inside an array (e.g. of an EXEC) is a Reply of KindError
// (see Err).
type Reply struct {
	Kind  Kind
	Bytes []byte  // KindString, KindStatus, KindError
	Int   int64   // KindInteger
	Array []Reply // KindArray
}

// Text is the reply's bytes as a string ("" for non-string kinds).
func (r Reply) Text() string { return string(r.Bytes) }

// String formats the reply for humans.
func (r Reply) String() string {
	switch r.Kind {
	case KindString, KindStatus:
		return string(r.Bytes)
	case KindError:
		return "(error) " + string(r.Bytes)
	case KindInteger:
		return strconv.FormatInt(r.Int, 10)
	case KindNil:
		return "(nil)"
	case KindArray:
		s := "["
		for i, e := range r.Array {
			if i > 0 {
				s += " "
			}
			s += e.String()
		}
		return s + "]"
	}
	return "(?)"
}

// IsNil reports a nil reply (GET on a missing key).
func (r Reply) IsNil() bool { return r.Kind == KindNil }

// Err is a *ServerError for an error element, nil otherwise.
func (r Reply) Err() error {
	if r.Kind == KindError {
		return &ServerError{Msg: string(r.Bytes)}
	}
	return nil
}

// convert copies a borrowed reply tree (array elements through the C
// accessors).
func convert(r *C.jr_reply) Reply {
	k := Kind(C.jr_reply_get_type(r))
	switch k {
	case KindString, KindStatus, KindError:
		var n C.size_t
		p := C.jr_reply_str(r, &n)
		return Reply{Kind: k, Bytes: C.GoBytes(unsafe.Pointer(p), C.int(n))}
	case KindInteger:
		return Reply{Kind: k, Int: int64(C.jr_reply_integer(r))}
	case KindArray:
		n := int(C.jr_reply_len(r))
		arr := make([]Reply, n)
		for i := 0; i < n; i++ {
			arr[i] = convert(C.jr_reply_element(r, C.size_t(i)))
		}
		return Reply{Kind: k, Array: arr}
	}
	return Reply{Kind: KindNil}
}

// fromDone turns one recorded completion into (Reply, error) without a C
// call for scalar replies.
func fromDone(d *C.jr_go_done) (Reply, error) {
	if d.status < 0 {
		e := &Error{Code: int(d.status)}
		if Kind(d._type) == KindError { // JR_EAUTH: the server's refusal
			e.Detail = C.GoStringN((*C.char)(doneStr(d)), C.int(d.len))
		}
		if d.detail != nil {
			e.Cause = C.GoString(d.detail)
		}
		return Reply{}, e
	}
	k := Kind(d._type)
	switch k {
	case KindString, KindStatus:
		return Reply{Kind: k, Bytes: C.GoBytes(doneStr(d), C.int(d.len))}, nil
	case KindError:
		return Reply{}, &ServerError{Msg: C.GoStringN((*C.char)(doneStr(d)), C.int(d.len))}
	case KindInteger:
		return Reply{Kind: k, Int: int64(d.integer)}, nil
	case KindArray:
		return convert(d.reply), nil
	}
	return Reply{Kind: KindNil}, nil
}

// doneStr is where a recorded string reply's bytes are: copied into the
// record when short (see JR_GO_INLINE), else in the referenced reply.
func doneStr(d *C.jr_go_done) unsafe.Pointer {
	if d.str == nil {
		return unsafe.Pointer(&d.inl[0])
	}
	return unsafe.Pointer(d.str)
}

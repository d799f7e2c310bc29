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
	// RESP3 (Options.Protocol = 3). A RESP2 connection never gives these.
	KindDouble Kind = C.JR_REPLY_DOUBLE // Float (and its text in Bytes)
	KindBool   Kind = C.JR_REPLY_BOOL   // Bool (Int is 0 or 1)
	KindMap    Kind = C.JR_REPLY_MAP    // Array: key, value, key, value, ...
	KindSet    Kind = C.JR_REPLY_SET    // Array
	KindPush   Kind = C.JR_REPLY_PUSH   // Array (pushes go to handlers, never to Do)
	KindBignum Kind = C.JR_REPLY_BIGNUM // Bytes: the decimal digits
	KindVerb   Kind = C.JR_REPLY_VERB   // Bytes: the text; Format: "txt", "mkd", ...
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
	case KindDouble:
		return "double"
	case KindBool:
		return "bool"
	case KindMap:
		return "map"
	case KindSet:
		return "set"
	case KindPush:
		return "push"
	case KindBignum:
		return "bignum"
	case KindVerb:
		return "verbatim"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Reply is an owned copy of a server reply.
//
// A top-level error reply is returned as a *ServerError, not as a Reply; an
// error element inside an array (e.g. of an EXEC) is a Reply of KindError
// (see Err). A RESP3 map keeps the wire's order in Array (keys and values
// alternate, as in a RESP2 HGETALL); Map indexes it. RESP3 attributes are
// skipped by libjr.
type Reply struct {
	Kind   Kind
	Bytes  []byte  // KindString, KindStatus, KindError; the text of KindDouble, KindBignum, KindVerb
	Int    int64   // KindInteger; 0 or 1 for KindBool
	Array  []Reply // KindArray, KindMap (alternating keys and values), KindSet, KindPush
	Float  float64 // KindDouble
	Bool   bool    // KindBool
	Format string  // KindVerb: its 3-letter format ("txt", "mkd")
}

// Map returns a KindMap's (or an even KindArray's, e.g. a RESP2 HGETALL)
// pairs by the key's text; nil for other kinds. A key repeated keeps its
// last value.
func (r Reply) Map() map[string]Reply {
	if (r.Kind != KindMap && r.Kind != KindArray) || len(r.Array)%2 != 0 {
		return nil
	}
	m := make(map[string]Reply, len(r.Array)/2)
	for i := 0; i < len(r.Array); i += 2 {
		m[r.Array[i].String()] = r.Array[i+1]
	}
	return m
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
	case KindBignum, KindVerb, KindDouble:
		return string(r.Bytes)
	case KindBool:
		return strconv.FormatBool(r.Bool)
	case KindArray, KindSet, KindPush, KindMap:
		s := "["
		switch r.Kind {
		case KindMap:
			s = "map["
		case KindSet:
			s = "set["
		case KindPush:
			s = "push["
		}
		for i, e := range r.Array {
			if i > 0 {
				if r.Kind == KindMap && i%2 == 1 {
					s += ":"
				} else {
					s += " "
				}
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
	case KindBool:
		i := int64(C.jr_reply_integer(r))
		return Reply{Kind: k, Int: i, Bool: i != 0}
	case KindDouble, KindBignum, KindVerb:
		var n C.size_t
		p := C.jr_reply_str(r, &n)
		out := Reply{Kind: k, Bytes: C.GoBytes(unsafe.Pointer(p), C.int(n))}
		switch k {
		case KindDouble:
			out.Float = float64(C.jr_reply_double(r))
		case KindVerb:
			if f := C.jr_reply_verb_format(r); f != nil {
				out.Format = C.GoString(f)
			}
		}
		return out
	case KindArray, KindMap, KindSet, KindPush:
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
	case KindBool:
		return Reply{Kind: k, Int: int64(d.integer), Bool: d.integer != 0}, nil
	case KindBignum:
		return Reply{Kind: k, Bytes: C.GoBytes(doneStr(d), C.int(d.len))}, nil
	case KindDouble:
		// The server's text: "1.5", "inf", "-inf", "nan" (ParseFloat reads
		// them all, as jr_reply_double does).
		b := C.GoBytes(doneStr(d), C.int(d.len))
		f, _ := strconv.ParseFloat(string(b), 64)
		return Reply{Kind: k, Bytes: b, Float: f}, nil
	case KindArray, KindMap, KindSet, KindPush, KindVerb:
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

// SPDX-License-Identifier: MIT

//go:build !go1.21

package jr

/*
#include "shim.h"
*/
import "C"

// Go < 1.21 has no runtime.Pinner: arguments are always copied into the
// flat buffer (see pin_go121.go).
const pinArgs = false

func bigArgs([]interface{}) bool { return false }

func (c *client) submitPinned(db *DB, timeout C.int64_t, v interface{}, list []interface{}) (handle, uint32, uint64, error) {
	panic("jr: no runtime.Pinner before Go 1.21")
}

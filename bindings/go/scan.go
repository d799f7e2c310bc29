// SPDX-License-Identifier: MIT

package jr

import "context"

// ScanIterator walks a SCAN, SSCAN, HSCAN or ZSCAN cursor one page at a
// time, as go-redis's ScanIterator does:
//
//	it := c.Scan("user:*", 100)
//	for it.Next(ctx) {
//		use(it.Val())
//	}
//	if err := it.Err(); err != nil { ... }
//
// HScan yields a field then its value, ZScan a member then its score. With
// Go >= 1.23, All(ctx) is the same walk as a range-over-func iterator.
type ScanIterator struct {
	do     func(ctx context.Context, args ...interface{}) (Reply, error)
	cmd    []interface{} // "SCAN" or "HSCAN", key
	opts   []interface{} // MATCH / COUNT
	cursor string
	page   []Reply
	i      int
	val    string
	err    error
	last   bool // the server returned cursor 0
}

func newScan(do func(context.Context, ...interface{}) (Reply, error), cmd []interface{}, match string, count int) *ScanIterator {
	it := &ScanIterator{do: do, cmd: cmd, cursor: "0"}
	if match != "" {
		it.opts = append(it.opts, "MATCH", match)
	}
	if count > 0 {
		it.opts = append(it.opts, "COUNT", count)
	}
	return it
}

// Scan walks the keyspace (SCAN cursor [MATCH match] [COUNT count]; ""
// and 0 leave them out). A key changed during the walk may be seen twice
// or not at all, as SCAN promises.
func (c *Client) Scan(match string, count int) *ScanIterator {
	return newScan(c.Do, []interface{}{"SCAN"}, match, count)
}

// SScan walks a set's members.
func (c *Client) SScan(key, match string, count int) *ScanIterator {
	return newScan(c.Do, []interface{}{"SSCAN", key}, match, count)
}

// HScan walks a hash: a field, then its value.
func (c *Client) HScan(key, match string, count int) *ScanIterator {
	return newScan(c.Do, []interface{}{"HSCAN", key}, match, count)
}

// ZScan walks a sorted set: a member, then its score.
func (c *Client) ZScan(key, match string, count int) *ScanIterator {
	return newScan(c.Do, []interface{}{"ZSCAN", key}, match, count)
}

// Next advances to the next element, fetching pages as needed; false at
// the end or on an error (Err).
func (it *ScanIterator) Next(ctx context.Context) bool {
	for it.err == nil {
		if it.i < len(it.page) {
			it.val = string(it.page[it.i].Bytes)
			it.page[it.i] = Reply{}
			it.i++
			return true
		}
		if it.last {
			return false
		}
		args := make([]interface{}, 0, len(it.cmd)+1+len(it.opts))
		args = append(append(append(args, it.cmd...), it.cursor), it.opts...)
		r, err := it.do(ctx, args...)
		if err != nil {
			it.err = err
			return false
		}
		if r.Kind != KindArray || len(r.Array) != 2 || r.Array[0].Kind != KindString ||
			r.Array[1].Kind != KindArray {
			it.err = unexpected(it.cmd[0].(string), r)
			return false
		}
		it.cursor = string(r.Array[0].Bytes)
		it.last = it.cursor == "0"
		it.page, it.i = r.Array[1].Array, 0
	}
	return false
}

// Val is the current element.
func (it *ScanIterator) Val() string { return it.val }

// Err is the error that ended the walk, or nil.
func (it *ScanIterator) Err() error { return it.err }

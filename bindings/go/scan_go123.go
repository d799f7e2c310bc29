// SPDX-License-Identifier: MIT

//go:build go1.23

package jr

import (
	"context"
	"iter"
)

// All is the walk as an iterator: each element with a nil error, or a
// final ("", err) when a page fails; breaking out of the loop stops
// fetching.
//
//	for key, err := range c.Scan("user:*", 100).All(ctx) {
//		if err != nil { ... }
//		use(key)
//	}
func (it *ScanIterator) All(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for it.Next(ctx) {
			if !yield(it.val, nil) {
				return
			}
		}
		if it.err != nil {
			yield("", it.err)
		}
	}
}

// SPDX-License-Identifier: MIT

package jr

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Typed helpers for the commands most code starts with. A missing key or
// field is the error Nil (as go-redis's redis.Nil); every other reply
// shape they do not expect is an error that says what came. Anything else:
// Do.

// Get is GET key: the value, or Nil when the key does not exist.
func (c *Client) Get(ctx context.Context, key string) (string, error) {
	return stringOf(c.Do(ctx, "GET", key))
}

// GetBytes is Get as bytes (the Reply's own copy, not shared).
func (c *Client) GetBytes(ctx context.Context, key string) ([]byte, error) {
	return bytesOf(c.Do(ctx, "GET", key))
}

// Set is SET key value, with PX expiration when it is > 0 (millisecond
// precision; at least 1 ms).
func (c *Client) Set(ctx context.Context, key string, value interface{}, expiration time.Duration) error {
	var r Reply
	var err error
	if expiration > 0 {
		r, err = c.Do(ctx, "SET", key, value, "PX", ms(expiration))
	} else {
		r, err = c.Do(ctx, "SET", key, value)
	}
	if err != nil {
		return err
	}
	if r.Kind != KindStatus {
		return unexpected("SET", r)
	}
	return nil
}

// SetNX is SET key value NX [PX]: true when it was set, false when the key
// existed.
func (c *Client) SetNX(ctx context.Context, key string, value interface{}, expiration time.Duration) (bool, error) {
	var r Reply
	var err error
	if expiration > 0 {
		r, err = c.Do(ctx, "SET", key, value, "NX", "PX", ms(expiration))
	} else {
		r, err = c.Do(ctx, "SET", key, value, "NX")
	}
	if err != nil {
		return false, err
	}
	switch r.Kind {
	case KindStatus:
		return true, nil
	case KindNil:
		return false, nil
	}
	return false, unexpected("SET NX", r)
}

// Del is DEL keys...: how many existed.
func (c *Client) Del(ctx context.Context, keys ...string) (int64, error) {
	return intOf(c.Do(ctx, append([]interface{}{"DEL"}, stringArgs(keys)...)...))
}

// Exists is EXISTS keys...: how many exist (a key named twice counts twice).
func (c *Client) Exists(ctx context.Context, keys ...string) (int64, error) {
	return intOf(c.Do(ctx, append([]interface{}{"EXISTS"}, stringArgs(keys)...)...))
}

// Incr is INCR key: the new value.
func (c *Client) Incr(ctx context.Context, key string) (int64, error) {
	return intOf(c.Do(ctx, "INCR", key))
}

// IncrBy is INCRBY key n: the new value.
func (c *Client) IncrBy(ctx context.Context, key string, n int64) (int64, error) {
	return intOf(c.Do(ctx, "INCRBY", key, n))
}

// HGet is HGET key field: the value, or Nil when the key or the field does
// not exist.
func (c *Client) HGet(ctx context.Context, key, field string) (string, error) {
	return stringOf(c.Do(ctx, "HGET", key, field))
}

// HSet is HSET key field value [field value ...]: how many fields were
// added.
func (c *Client) HSet(ctx context.Context, key string, fieldValues ...interface{}) (int64, error) {
	return intOf(c.Do(ctx, append([]interface{}{"HSET", key}, fieldValues...)...))
}

// HGetAll is HGETALL key: the fields and values (empty when the key does
// not exist, as Redis answers).
func (c *Client) HGetAll(ctx context.Context, key string) (map[string]string, error) {
	r, err := c.Do(ctx, "HGETALL", key)
	if err != nil {
		return nil, err
	}
	if (r.Kind != KindArray && r.Kind != KindMap) || len(r.Array)%2 != 0 {
		return nil, unexpected("HGETALL", r)
	}
	m := make(map[string]string, len(r.Array)/2)
	for i := 0; i < len(r.Array); i += 2 {
		m[string(r.Array[i].Bytes)] = string(r.Array[i+1].Bytes)
	}
	return m, nil
}

// LPop is LPOP key: the first element, or Nil when the list is empty.
func (c *Client) LPop(ctx context.Context, key string) (string, error) {
	return stringOf(c.Do(ctx, "LPOP", key))
}

// RPush is RPUSH key values...: the list's new length.
func (c *Client) RPush(ctx context.Context, key string, values ...interface{}) (int64, error) {
	return intOf(c.Do(ctx, append([]interface{}{"RPUSH", key}, values...)...))
}

// unexpected is the error for a reply of a shape the helper cannot read
// (a wrong command for the helper, or a server that answers differently).
func unexpected(cmd string, r Reply) error {
	return fmt.Errorf("jr: %s: unexpected %s reply %s", cmd, r.Kind, strconv.Quote(truncate(r.String(), 64)))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func stringOf(r Reply, err error) (string, error) {
	b, err := bytesOf(r, err)
	return string(b), err
}

func bytesOf(r Reply, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	switch r.Kind {
	case KindNil:
		return nil, Nil
	case KindString, KindStatus, KindVerb:
		return r.Bytes, nil
	}
	return nil, unexpected("reply", r)
}

func intOf(r Reply, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	if r.Kind != KindInteger {
		return 0, unexpected("reply", r)
	}
	return r.Int, nil
}

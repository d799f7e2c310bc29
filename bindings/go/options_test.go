// SPDX-License-Identifier: MIT

package jr

import (
	"reflect"
	"strconv"
	"testing"
	"time"
)

// Fields of Options that set no option key, and why.
var optionFieldsWithoutKey = map[string]string{
	"ConnectCommands": "commands, set with jr_options_add_connect_command",
	"Settings":        "passes any key through as text; libjr checks it",
	"OnEvent":         "the event callback, set with jr_options_set_event_cb",
	"Logger":          "the log hook, set with jr_options_set_log_cb",
}

// libjr keys without a typed field in Options, and why. Each is reachable
// through Options.Settings. A key libjr adds fails TestOptionsMatchLibjr
// until it gets a field or a line here.
var keysWithoutField = map[string]string{
	"socket_timeout_ms":  "tuning: Settings",
	"silence_timeout_ms": "tuning: Settings",
	"recv_buffer_size":   "tuning: Settings",
	"tcp_keepalive_s":    "tuning: Settings",
	"tcp_nodelay":        "tuning: Settings",
	"max_bulk_len":       "reader limits: Settings",
	"max_elements":       "reader limits: Settings",
	"max_reply_bytes":    "reader limits: Settings",
	"max_queued":         "back-pressure: Settings",
	"max_queued_bytes":   "back-pressure: Settings",
	"max_connections":    "pool size: Settings",
	"call_spin_us":       "jr_client_call only, which the binding does not use",
	"loop_spin_us":       "tuning: Settings",
	"dispatch":           "the binding chooses: poll, or loop with LoopDelivery (shim.c)",
	"read_from_replicas": "cluster and Sentinel reads: Settings",
	"cluster":            "cluster detection: Settings",
}

// A value for a field of each kind that libjr accepts; a field whose kind
// has none here fails the test until it gets one.
func optionSample(f reflect.StructField) (reflect.Value, bool) {
	switch f.Name {
	case "URL":
		return reflect.ValueOf("redis://127.0.0.1:6380/2"), true
	case "Endpoints":
		return reflect.ValueOf([]string{"127.0.0.1:6380"}), true
	case "Sentinels":
		return reflect.ValueOf([]string{"127.0.0.1:26379", "[::1]:26380", "sentinel-host"}), true
	case "Protocol":
		return reflect.ValueOf(2), true // 3 is refused by a libjr built with hiredis 0.14
	case "ClientCacheBytes":
		return reflect.ValueOf(int64(1) << 20), true
	case "ClientCachePrefixes":
		return reflect.ValueOf([]string{"user:", ""}), true
	}
	switch v := reflect.New(f.Type).Elem(); {
	case f.Type == reflect.TypeOf(time.Duration(0)):
		return reflect.ValueOf(1500 * time.Millisecond), true
	case v.Kind() == reflect.String:
		v.SetString("sample")
		return v, true
	case v.Kind() == reflect.Int:
		v.SetInt(2)
		return v, true
	case v.Kind() == reflect.Bool:
		v.SetBool(true)
		return v, true
	}
	return reflect.Value{}, false
}

// TestOptionsMatchLibjr checks the typed fields of Options against libjr's
// option table (DescribeOptions): each field, set alone, sets keys libjr
// knows, with values of the key's type and in its range; a zero Options
// sets nothing (libjr's defaults apply); and every key libjr knows has a
// field or a reason in keysWithoutField.
func TestOptionsMatchLibjr(t *testing.T) {
	lib := map[string]OptionInfo{}
	for _, o := range DescribeOptions() {
		if _, dup := lib[o.Name]; dup {
			t.Errorf("libjr describes %q twice", o.Name)
		}
		lib[o.Name] = o
	}
	if len(lib) == 0 {
		t.Fatal("DescribeOptions returned nothing")
	}
	if kv := (&Options{}).typedSettings(); len(kv) != 0 {
		t.Errorf("a zero Options sets %v; zero fields must leave libjr's defaults", kv)
	}
	reached := map[string]string{} // key -> field
	all := &Options{}
	typ := reflect.TypeOf(Options{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if _, ok := optionFieldsWithoutKey[f.Name]; ok {
			continue
		}
		sample, ok := optionSample(f)
		if !ok {
			t.Errorf("field %s (%s): no sample value in optionSample", f.Name, f.Type)
			continue
		}
		one := &Options{}
		reflect.ValueOf(one).Elem().Field(i).Set(sample)
		reflect.ValueOf(all).Elem().Field(i).Set(sample)
		kv := one.typedSettings()
		if len(kv) == 0 {
			t.Errorf("field %s sets no key: map it, or list it in optionFieldsWithoutKey", f.Name)
		}
		for _, p := range kv {
			key, val := p[0], p[1]
			reached[key] = f.Name
			info, ok := lib[key]
			if !ok {
				t.Errorf("field %s sets %q, which libjr does not know", f.Name, key)
				continue
			}
			switch info.Type {
			case "int", "bool":
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil || n < info.Min || n > info.Max {
					t.Errorf("field %s sets %s=%q: libjr's range for this %s is %d..%d", f.Name, key, val,
						info.Type, info.Min, info.Max)
				}
			case "string", "enum":
			default:
				t.Errorf("libjr key %s has type %q, which this test does not know", key, info.Type)
			}
		}
	}
	// libjr takes the samples together (an unknown key or a bad value fails);
	// Sentinel and Endpoints/URL exclude each other only at NewClient.
	if err := all.Validate(); err != nil {
		t.Errorf("libjr rejects the sample options: %v", err)
	}
	for name := range lib {
		_, typed := reached[name]
		why, listed := keysWithoutField[name]
		switch {
		case typed && listed:
			t.Errorf("key %s is set by field %s but listed in keysWithoutField (%s)", name,
				reached[name], why)
		case !typed && !listed:
			t.Errorf("libjr key %s has no field in Options: add one, or a reason in "+
				"keysWithoutField", name)
		}
	}
	for name := range keysWithoutField {
		if _, ok := lib[name]; !ok {
			t.Errorf("keysWithoutField lists %s, which libjr does not know", name)
		}
	}
}

func TestValidateReportsLibjrErrors(t *testing.T) {
	for _, o := range []*Options{
		{Settings: map[string]string{"no_such_key": "1"}},
		{Settings: map[string]string{"max_queued": "0"}},
		{ConnectTimeout: -time.Second}, // 0 ms: libjr's minimum is 1
		{URL: "http://x"},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want libjr's error", o)
		}
	}
}

// ClientCacheTTL follows CommandTimeout: 0 leaves libjr's default (60 s),
// a negative one means no limit (libjr's 0), a positive one is rounded up
// to whole milliseconds. The other cache fields map one to one.
func TestClientCacheMapping(t *testing.T) {
	for d, want := range map[time.Duration]string{-1: "0", -time.Hour: "0", time.Microsecond: "1",
		1500 * time.Millisecond: "1500"} {
		kv := (&Options{ClientCacheTTL: d}).typedSettings()
		if len(kv) != 1 || kv[0] != [2]string{"client_cache_ttl_ms", want} {
			t.Errorf("ClientCacheTTL %v sets %v, want client_cache_ttl_ms=%s", d, kv, want)
		}
	}
	kv := (&Options{ClientCacheBytes: 4096, ClientCachePrefixes: []string{"a:", "b:"}}).typedSettings()
	want := [][2]string{{"client_cache_bytes", "4096"}, {"client_cache_prefix", "a:"}, {"client_cache_prefix", "b:"}}
	if !reflect.DeepEqual(kv, want) {
		t.Errorf("cache fields set %v, want %v", kv, want)
	}
	if err := (&Options{ClientCacheBytes: -1}).Validate(); err == nil {
		t.Error("ClientCacheBytes -1: Validate = nil, want libjr's range error")
	}
}

// ConnectRetries follows go-redis's MaxRetries: 0 leaves libjr's default,
// -1 (any negative) means no retry.
func TestConnectRetriesMapping(t *testing.T) {
	for n, want := range map[int]string{-1: "0", -5: "0", 1: "1", 7: "7"} {
		kv := (&Options{ConnectRetries: n}).typedSettings()
		if len(kv) != 1 || kv[0] != [2]string{"connect_retry", want} {
			t.Errorf("ConnectRetries %d sets %v, want connect_retry=%s", n, kv, want)
		}
	}
}

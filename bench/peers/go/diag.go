// SPDX-License-Identifier: MIT

package main

// -diag: where a cell's time went, from /proc (Linux): the CPU time of
// each thread of this process and its read/write system calls, while
// measuring. Threads are named by id: libjr's loop thread is the one that
// works in jr's cells only. Elsewhere the line says "n/a".

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

type diagSnap struct {
	ticks         map[string]int64 // thread id -> utime+stime (clock ticks)
	reads, writes int64
	ok            bool
}

func statTicks(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0, false
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	return u + k, err1 == nil && err2 == nil
}

func takeDiag() diagSnap {
	d := diagSnap{ticks: map[string]int64{}}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return d
	}
	for _, e := range ents {
		if t, ok := statTicks("/proc/self/task/" + e.Name() + "/stat"); ok {
			d.ticks[e.Name()] = t
		}
	}
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return d
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscr: "); ok {
			d.reads, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			d.writes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	d.ok = true
	return d
}

// diagLine describes a..b over ops commands.
func diagLine(a, b diagSnap, ops float64) string {
	if !a.ok || !b.ok || ops <= 0 {
		return "n/a"
	}
	type th struct {
		id string
		ms float64
	}
	var ths []th
	for id, t := range b.ticks {
		if d := t - a.ticks[id]; d > 0 {
			ths = append(ths, th{id, float64(d) * 10}) // USER_HZ 100
		}
	}
	sort.Slice(ths, func(i, j int) bool { return ths[i].ms > ths[j].ms })
	var sb strings.Builder
	fmt.Fprintf(&sb, "sys_reads_per_op=%.3f sys_writes_per_op=%.3f thread_cpu_ms=", float64(b.reads-a.reads)/ops, float64(b.writes-a.writes)/ops)
	for i, t := range ths {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%s:%.0f", t.id, t.ms)
	}
	return sb.String()
}

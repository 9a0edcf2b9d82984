package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// summary describes a set of durations. Quantiles are nearest-rank: p50 of
// 20 samples is the 10th smallest, p95 the 19th.
type summary struct {
	N                       int
	Min, P50, P95, Max, Avg time.Duration
}

func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return summary{N: len(s), Min: s[0], P50: rank(s, 0.50), P95: rank(s, 0.95), Max: s[len(s)-1], Avg: sum / time.Duration(len(s))}
}

func rank(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// secs renders a duration in whole seconds.
func secs(d time.Duration) string { return fmt.Sprintf("%.0f", d.Seconds()) }

// ms renders a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }

// table prints aligned columns: the first row is the header.
func table(w io.Writer, rows [][]string) {
	widths := make([]int, 0)
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 3)
			}
			widths[i] = max(widths[i], len(c))
		}
	}
	for ri, r := range rows {
		var b strings.Builder
		b.WriteString("| ")
		for i, c := range r {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s | ", widths[i], c)
			} else {
				fmt.Fprintf(&b, "%*s | ", widths[i], c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if ri == 0 {
			b.Reset()
			b.WriteString("|")
			for i := range widths {
				if i == 0 {
					b.WriteString(" " + strings.Repeat("-", widths[i]) + " |")
				} else {
					b.WriteString(" " + strings.Repeat("-", widths[i]-1) + ": |")
				}
			}
			fmt.Fprintln(w, b.String())
		}
	}
}

// latencyRow renders a summary as a row of a latency table.
func latencyRow(name string, s summary) []string {
	return []string{name, fmt.Sprint(s.N), ms(s.Min), ms(s.P50), ms(s.P95), ms(s.Max)}
}

var latencyHeader = []string{"measure (ms)", "n", "min", "p50", "p95", "max"}

// mib renders KiB as MiB.
func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

// median is the nearest-rank median of vs.
func median(vs []int64) int64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[(len(s)+1)/2-1]
}

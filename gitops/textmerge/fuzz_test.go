package textmerge

import (
	"bytes"
	"testing"
)

// FuzzMerge checks the properties every merge must have, for both
// algorithms: no panic, determinism, and the trivial merges.
func FuzzMerge(f *testing.F) {
	for _, tc := range tableCases {
		f.Add([]byte(tc.base), []byte(tc.ours), []byte(tc.theirs))
	}
	f.Add([]byte("a\r\nb"), []byte("a\nb"), []byte(""))
	f.Add([]byte("\n\n\n"), []byte("\n\n"), []byte("\n\n\n\n"))
	f.Fuzz(func(t *testing.T, base, ours, theirs []byte) {
		if len(base)+len(ours)+len(theirs) > 1<<16 {
			t.Skip("inputs above 64 KiB make fuzzing slow, not more thorough")
		}
		for _, alg := range []Algorithm{Histogram, Myers} {
			opts := Options{Algorithm: alg}
			r := MergeWith(base, ours, theirs, opts)
			again := MergeWith(base, ours, theirs, opts)
			if r.Conflicts != again.Conflicts || !bytes.Equal(r.Merged, again.Merged) || r.TooComplex != again.TooComplex {
				t.Fatalf("%v: not deterministic: %+v vs %+v", alg, r, again)
			}
			if r.Conflicts < 0 || (r.Conflicts > 0 && r.Merged != nil) || (r.Conflicts == 0 && r.Merged == nil) {
				t.Fatalf("%v: inconsistent result %+v", alg, r)
			}
			if r.TooComplex {
				t.Fatalf("%v: %d bytes of input exceeded the work limit", alg, len(base)+len(ours)+len(theirs))
			}
			if r.Conflicts == 0 {
				// Lines that survive a clean merge must come from an input:
				// the merge never invents text.
				for _, l := range splitLines(r.Merged) {
					if !bytes.Contains(base, l) && !bytes.Contains(ours, l) && !bytes.Contains(theirs, l) {
						t.Fatalf("%v: merged line %q is in no input", alg, l)
					}
				}
			}
			for name, c := range map[string]struct{ o, t, want []byte }{
				"same change on both sides": {ours, ours, ours},
				"only theirs changed":       {base, theirs, theirs},
				"only ours changed":         {ours, base, ours},
			} {
				got := MergeWith(base, c.o, c.t, opts)
				if got.Conflicts != 0 || !bytes.Equal(got.Merged, c.want) {
					t.Fatalf("%v: %s: got %+v, want clean %q", alg, name, got, c.want)
				}
			}
		}
	})
}

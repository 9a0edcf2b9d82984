package textmerge

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// yamlFile builds an n-line deployment-like YAML file with many repeated
// lines, and two sides with edits in every step-th block of four lines
// (ours changes a tag, theirs inserts a line and deletes another
// elsewhere), so that the merge is clean.
func yamlFile(n, step int) (base, ours, theirs []byte) {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(step)))
	var b, o, t bytes.Buffer
	for k := 0; k < n/4; k++ {
		block := []string{
			"  - name: app\n",
			fmt.Sprintf("    image: registry.local/app-%d\n", k%97),
			"    newTag: v1\n",
			"\n",
		}
		for j, l := range block {
			b.WriteString(l)
			if k%step == 0 && j == 2 {
				fmt.Fprintf(&o, "    newTag: v%d\n", 2+rng.IntN(9))
			} else {
				o.WriteString(l)
			}
			switch {
			case k%step == step/2 && j == 1:
				t.WriteString(l)
				t.WriteString("    imagePullPolicy: Always\n")
			case k%step == step/2+2 && j == 3:
				// deleted by theirs
			default:
				t.WriteString(l)
			}
		}
	}
	return b.Bytes(), o.Bytes(), t.Bytes()
}

func benchMerge(b *testing.B, base, ours, theirs []byte) {
	for _, alg := range []Algorithm{Histogram, Myers} {
		b.Run(alg.String(), func(b *testing.B) {
			r := MergeWith(base, ours, theirs, Options{Algorithm: alg})
			if r.Conflicts != 0 {
				b.Fatalf("benchmark input conflicts (%d); the generator is broken", r.Conflicts)
			}
			b.SetBytes(int64(len(base)))
			b.ReportAllocs()
			for b.Loop() {
				MergeWith(base, ours, theirs, Options{Algorithm: alg})
			}
		})
	}
}

func BenchmarkMergeKustomization(b *testing.B) {
	base := []byte(blocks("v1", "v1", "v2", "v1", "v1", "v1", "v3", "v1", "v1", "v1"))
	ours := []byte(blocks("v1", "v1", "v2", "v1", "v1", "v1", "v3", "v1", "v1", "v9"))
	theirs := []byte(blocks("v5", "v1", "v2", "v1", "v1", "v1", "v3", "v1", "v1", "v1"))
	benchMerge(b, base, ours, theirs)
}

func BenchmarkMerge5000Lines(b *testing.B) {
	base, ours, theirs := yamlFile(5000, 25)
	benchMerge(b, base, ours, theirs)
}

func BenchmarkMerge100kLines(b *testing.B) {
	base, ours, theirs := yamlFile(100_000, 25)
	benchMerge(b, base, ours, theirs)
}

// BenchmarkMergePathological measures the cost of giving up on an input
// where git's histogram diff is quadratic.
func BenchmarkMergePathological(b *testing.B) {
	base, ours, theirs := interleaved(100_000)
	for b.Loop() {
		if r := Merge(base, ours, theirs); !r.TooComplex {
			b.Fatal("expected TooComplex")
		}
	}
}

// interleaved returns n unique lines, the same with a new line after each
// (ours), and the same with the first line changed (theirs).
func interleaved(n int) (base, ours, theirs []byte) {
	var b, o bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "l%d\n", i)
		fmt.Fprintf(&o, "l%d\nx\n", i)
	}
	theirs = append([]byte("changed\n"), b.Bytes()[bytes.IndexByte(b.Bytes(), '\n')+1:]...)
	return b.Bytes(), o.Bytes(), theirs
}

package textmerge

import (
	"bytes"
	"fmt"
	"math/rand/v2"
)

// Inputs for the differential tests: YAML-like files full of repeated
// lines (kustomization image lists, container blocks, blank lines,
// comments), edited at random on each side. Repetition is what makes
// insertion points ambiguous and what separates a git-exact merge from an
// approximate one.

var yamlPool = []string{
	"apiVersion: kustomize.config.k8s.io/v1beta1\n",
	"kind: Kustomization\n",
	"resources:\n",
	"  - deployment.yaml\n",
	"  - service.yaml\n",
	"images:\n",
	"  - name: app\n",
	"    newTag: v1\n",
	"    newTag: v2\n",
	"    newName: registry.local/app\n",
	"  - name: sidecar\n",
	"    digest: sha256:0123abcd\n",
	"\n",
	"\n",
	"# comment\n",
	"---\n",
	"  - name: x\n",
	"    image: y\n",
	"      image: y\n",
	"patches:\n",
	"  - path: patch.yaml\n",
	"}\n",
	"  }\n",
}

type edit struct {
	op    int
	pos   int
	n     int
	lines [][]byte
}

const (
	opInsert = iota
	opDelete
	opReplace
	opDuplicate
	opRetag
	opToggleEOL
	opCRLF
	numOps
)

type caseGen struct {
	rng    *rand.Rand
	serial int
}

func newCaseGen(seed uint64) *caseGen {
	return &caseGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *caseGen) line() []byte {
	if g.rng.IntN(6) == 0 {
		g.serial++
		return fmt.Appendf(nil, "  - name: app%d\n", g.serial)
	}
	return []byte(yamlPool[g.rng.IntN(len(yamlPool))])
}

// base builds one of several file shapes.
func (g *caseGen) base() [][]byte {
	var out [][]byte
	switch g.rng.IntN(6) {
	case 0, 1: // kustomization with a long, repetitive images list
		out = append(out, []byte(yamlPool[0]), []byte(yamlPool[1]), []byte("resources:\n"), []byte("  - deployment.yaml\n"), []byte("images:\n"))
		for n := g.rng.IntN(12); n >= 0; n-- {
			out = append(out, []byte("  - name: app\n"), []byte("    newTag: v1\n"))
			switch g.rng.IntN(5) {
			case 0:
				out = append(out, []byte("\n"))
			case 1:
				out = append(out, []byte("# comment\n"))
			}
		}
	case 2: // tiny alphabet, maximal repetition
		for n := g.rng.IntN(40); n > 0; n-- {
			c := "abc\n"[g.rng.IntN(4)]
			if c == '\n' {
				out = append(out, []byte{c})
			} else {
				out = append(out, []byte{c, '\n'})
			}
		}
	case 3: // random pool lines
		for n := g.rng.IntN(60); n > 0; n-- {
			out = append(out, g.line())
		}
	case 4: // mostly unique lines with repeated separators
		for i, n := 0, g.rng.IntN(80); i < n; i++ {
			if g.rng.IntN(3) == 0 {
				out = append(out, []byte(yamlPool[12+g.rng.IntN(4)]))
			} else {
				out = append(out, fmt.Appendf(nil, "key%d: value\n", i))
			}
		}
	case 5: // deployment-like container blocks
		out = append(out, []byte("spec:\n"), []byte("  containers:\n"))
		for n := g.rng.IntN(15); n >= 0; n-- {
			out = append(out, []byte("  - name: x\n"), []byte("    image: y\n"))
			if g.rng.IntN(3) == 0 {
				out = append(out, []byte("    ports: []\n"))
			}
		}
	}
	if len(out) > 0 && len(out[len(out)-1]) > 1 && g.rng.IntN(8) == 0 {
		last := out[len(out)-1]
		out[len(out)-1] = last[:len(last)-1]
	}
	return out
}

// bigBase is a long file for exercising xdiff's cost heuristics and the
// histogram fallback (records repeated more than 64 times).
func (g *caseGen) bigBase() [][]byte {
	n := 500 + g.rng.IntN(2500)
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		switch g.rng.IntN(4) {
		case 0:
			out = append(out, []byte("  - name: app\n"))
		case 1:
			out = append(out, []byte("    newTag: v1\n"))
		default:
			out = append(out, fmt.Appendf(nil, "line %d\n", g.rng.IntN(n)))
		}
	}
	return out
}

func (g *caseGen) pos(n int) int {
	switch g.rng.IntN(10) {
	case 0:
		return 0
	case 1:
		return n
	}
	return g.rng.IntN(n + 1)
}

func (g *caseGen) edit(n int) edit {
	e := edit{op: g.rng.IntN(numOps), pos: g.pos(n), n: 1 + g.rng.IntN(3)}
	if e.op == opToggleEOL || e.op == opCRLF {
		if g.rng.IntN(3) != 0 { // keep these rarer than plain edits
			e.op = opReplace
		}
	}
	for i := 0; i < e.n; i++ {
		e.lines = append(e.lines, g.line())
	}
	if e.op == opDuplicate {
		e.n = 1 + g.rng.IntN(6)
	}
	return e
}

func apply(lines [][]byte, e edit) [][]byte {
	n := len(lines)
	pos := e.pos
	if pos > n {
		pos = n
	}
	out := make([][]byte, 0, n+len(e.lines)+e.n)
	switch e.op {
	case opInsert:
		out = append(append(append(out, lines[:pos]...), e.lines...), lines[pos:]...)
	case opDelete:
		end := min(pos+e.n, n)
		out = append(append(out, lines[:pos]...), lines[end:]...)
	case opReplace:
		end := min(pos+min(e.n, 2), n)
		out = append(append(append(out, lines[:pos]...), e.lines[:min(e.n, 2)]...), lines[end:]...)
	case opDuplicate:
		end := min(pos+e.n, n)
		out = append(append(append(out, lines[:end]...), lines[pos:end]...), lines[end:]...)
	case opRetag:
		out = append(out, lines...)
		for i := pos; i < n; i++ {
			if bytes.Contains(out[i], []byte("newTag")) || bytes.Contains(out[i], []byte("image: ")) {
				out[i] = fmt.Appendf(nil, "    newTag: v%d\n", 2+e.n)
				break
			}
		}
	case opToggleEOL:
		out = append(out, lines...)
		if n > 0 {
			last := out[n-1]
			if len(last) > 1 && last[len(last)-1] == '\n' {
				out[n-1] = last[:len(last)-1]
			} else if len(last) > 0 && last[len(last)-1] != '\n' {
				out[n-1] = append(bytes.Clone(last), '\n')
			}
		}
	case opCRLF:
		out = append(out, lines...)
		if pos < n && bytes.HasSuffix(out[pos], []byte("\n")) && !bytes.HasSuffix(out[pos], []byte("\r\n")) {
			l := out[pos]
			out[pos] = append(bytes.Clone(l[:len(l)-1]), '\r', '\n')
		}
	}
	return fixEOL(out)
}

// fixEOL restores the invariant that only the last line may lack '\n'.
func fixEOL(lines [][]byte) [][]byte {
	for i := 0; i+1 < len(lines); i++ {
		if l := lines[i]; len(l) == 0 || l[len(l)-1] != '\n' {
			lines[i] = append(bytes.Clone(l), '\n')
		}
	}
	return lines
}

// threeWay returns a base and two edited sides. Some edits are shared by
// both sides (identical changes), and the first edit of theirs is often
// placed on or next to the first edit of ours (touching changes).
func (g *caseGen) threeWay() (base, ours, theirs []byte) {
	var b [][]byte
	nEdits := 4
	if g.rng.IntN(40) == 0 {
		b = g.bigBase()
		nEdits = 20 + g.rng.IntN(300)
	} else {
		b = g.base()
	}
	var shared []edit
	if g.rng.IntN(3) == 0 {
		for n := 1 + g.rng.IntN(2); n > 0; n-- {
			shared = append(shared, g.edit(len(b)))
		}
	}
	mine := g.edits(len(b), nEdits)
	yours := g.edits(len(b), nEdits)
	if len(mine) > 0 && len(yours) > 0 && g.rng.IntN(3) == 0 {
		yours[0].pos = max(0, mine[0].pos+g.rng.IntN(4)-1)
	}
	o, t := b, b
	for _, e := range shared {
		o = apply(o, e)
		if g.rng.IntN(4) != 0 {
			t = apply(t, e)
		}
	}
	for _, e := range mine {
		o = apply(o, e)
	}
	for _, e := range yours {
		t = apply(t, e)
	}
	return bytes.Join(b, nil), bytes.Join(o, nil), bytes.Join(t, nil)
}

func (g *caseGen) edits(n, most int) []edit {
	var es []edit
	for k := g.rng.IntN(most + 1); k > 0; k-- {
		es = append(es, g.edit(n))
	}
	return es
}

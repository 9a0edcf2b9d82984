package textmerge

// splitLines cuts data into records the way xdiff does: every record ends
// with its '\n', except a last line without a trailing newline. A record is
// compared byte for byte, so "a\r\n", "a\n" and a final "a" all differ.
func splitLines(data []byte) [][]byte {
	if len(data) == 0 {
		return nil
	}
	n := 0
	for _, c := range data {
		if c == '\n' {
			n++
		}
	}
	if data[len(data)-1] != '\n' {
		n++
	}
	lines := make([][]byte, 0, n)
	start := 0
	for i, c := range data {
		if c == '\n' {
			lines = append(lines, data[start:i+1:i+1])
			start = i + 1
		}
	}
	if start < len(data) {
		lines = append(lines, data[start:len(data):len(data)])
	}
	return lines
}

// classifier gives every distinct record a small integer id, so that the
// diff algorithms compare ids instead of bytes. xdiff does the same with
// its record classifier; only equality of ids matters.
type classifier struct {
	ids map[string]int32
}

// newClassifier sizes the table for sizeHint records, capped because
// configuration files repeat lines a lot and the map grows on demand.
func newClassifier(sizeHint int) *classifier {
	return &classifier{ids: make(map[string]int32, min(sizeHint, 1024))}
}

func (c *classifier) classify(lines [][]byte) []int32 {
	out := make([]int32, len(lines))
	for i, l := range lines {
		id, ok := c.ids[string(l)]
		if !ok {
			id = int32(len(c.ids))
			c.ids[string(l)] = id
		}
		out[i] = id
	}
	return out
}

func (c *classifier) count() int { return len(c.ids) }

package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "version")
	if code != 0 {
		t.Fatalf("ensign version: exit %d", code)
	}
	for _, want := range []string{"ensign " + version, "commit ", "go     " + runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("ensign version prints %q; want it to contain %q", out, want)
		}
	}
	if code, _, _ := cli(t, "version", "extra"); code != 2 {
		t.Errorf("ensign version extra: exit %d, want 2", code)
	}
}

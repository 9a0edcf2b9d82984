package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoTypedClientset keeps client-go's typed clientset, its
// scheme of every API group and its leader election out of the binary: they
// cost 16 MB of its 50 and about 9 MiB of resident memory (BENCHMARKS.md,
// "A smaller binary and cheaper history walks"). ensign reaches the
// clusters through the dynamic client and elects its leader itself
// (package leader).
func TestBinaryLinksNoTypedClientset(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps listed %d packages; want ensign's whole graph", len(deps))
	}
	for _, p := range deps {
		switch {
		case p == "k8s.io/client-go/kubernetes", p == "k8s.io/client-go/kubernetes/scheme",
			strings.HasPrefix(p, "k8s.io/client-go/kubernetes/typed/"),
			strings.HasPrefix(p, "k8s.io/client-go/informers"),
			strings.HasPrefix(p, "k8s.io/client-go/tools/leaderelection"):
			t.Errorf("ensign links %s", p)
		}
	}
}

package policy

import (
	"strings"
	"testing"
)

func TestLoadBoundsSizeAndFields(t *testing.T) {
	base := "apiVersion: ensign.dev/v1alpha1\napps:\n  - name: podinfo\n    stages:\n      - name: staging\n        overlay: apps/podinfo/staging\n        canary: {namespace: podinfo}\n"
	tests := []struct {
		name, text, want string
	}{
		{"oversized file", base + "# " + strings.Repeat("x", MaxFileBytes) + "\n", "a policy may be at most"},
		{"huge identity name", base + "identity: {name: " + strings.Repeat("n", 10<<20) + ", email: a@b}\n", "a policy may be at most"},
		{"long identity name", base + "identity: {name: " + strings.Repeat("n", 200) + ", email: a@b}\n", "at most 128"},
		{"long window description", base + "windows:\n  - {name: w, type: allow, schedule: \"0 9 * * *\", duration: 1h, description: " + strings.Repeat("d", 2000) + "}\n", "at most 1024"},
		{"overlay in .GIT", strings.Replace(base, "apps/podinfo/staging", "apps/.GIT/hooks", 1), ".git"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(".ensign.yaml", []byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := Load(".ensign.yaml", []byte(base)); err != nil {
		t.Fatalf("the base policy: %v", err)
	}
}

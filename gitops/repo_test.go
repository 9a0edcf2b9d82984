package gitops

import (
	"context"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://ensign:s3cret@git.example.com/o/r.git": "https://REDACTED@git.example.com/o/r.git",
		"https://git.example.com/o/r.git":               "https://git.example.com/o/r.git",
		"http://tok@127.0.0.1:3000/o/r.git":             "http://REDACTED@127.0.0.1:3000/o/r.git",
		"https://u:p@host/%zz":                          "https://REDACTED@host/%zz",
	}
	for in, want := range cases {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "ssh://git@host/r.git", "file:///tmp/r", "https://user:s3cret@host/r.git", "http://"} {
		_, err := Open(context.Background(), Options{Dir: t.TempDir(), URL: u})
		if err == nil {
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
)

func TestDecodePullRequest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    PullRequestEvent
		wantErr bool
	}{
		{"merged", `{"action":"closed","number":5,"pull_request":{"number":5,"merged":true,"merge_commit_sha":"abc",
			"head":{"ref":"ensign/promote","sha":"def"},"base":{"ref":"main"}},"repository":{"name":"gitops","owner":{"login":"acme"}},
			"sender":{"login":"alice"}}`,
			PullRequestEvent{Delivery: "d", Action: "closed", Owner: "acme", Repo: "gitops", Number: 5, Merged: true,
				MergeCommitSHA: "abc", HeadBranch: "ensign/promote", HeadSHA: "def", BaseBranch: "main", Sender: "alice"}, false},
		{"number only at top", `{"action":"opened","number":6,"pull_request":{"merge_commit_sha":null},"repository":{"name":"r","owner":{"login":"o"}}}`,
			PullRequestEvent{Delivery: "d", Action: "opened", Owner: "o", Repo: "r", Number: 6}, false},
		{"no repository", `{"action":"opened","number":6}`, PullRequestEvent{}, true},
		{"no number", `{"action":"opened","repository":{"name":"r","owner":{"login":"o"}}}`, PullRequestEvent{}, true},
		{"not json", `action=opened`, PullRequestEvent{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePullRequest("d", []byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v does not wrap ErrMalformed", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodePush(t *testing.T) {
	got, err := DecodePush("d", []byte(`{"ref":"refs/heads/main","before":"a","after":"b","repository":{"name":"r","owner":{"login":"o"}},"pusher":{"login":"p"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := PushEvent{Delivery: "d", Owner: "o", Repo: "r", Ref: "refs/heads/main", Before: "a", After: "b", Pusher: "p"}
	if got != want {
		t.Fatalf("got %+v want %+v", got, want)
	}
	if _, err := DecodePush("d", []byte(`{"ref":"refs/heads/main"}`)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("missing repository: err = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	payload, err := readPayload()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(payload)
	f.Add([]byte(`{"action":"created","is_pull":true,"issue":{"number":1},"comment":{"id":1,"body":"/hold","user":{"login":"a"}},"repository":{"name":"r","owner":{"login":"o"}}}`))
	f.Add([]byte(`{"action":"closed","number":5,"pull_request":{"merged":true},"repository":{"name":"r","owner":{"login":"o"}}}`))
	f.Add([]byte(`{"ref":"refs/heads/main","after":"b","repository":{"name":"r","owner":{"login":"o"}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"action":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, relevant, err := DecodeComment("d", body)
		if err != nil && (relevant || !errors.Is(err, ErrMalformed)) {
			t.Fatalf("comment: relevant=%v err=%v", relevant, err)
		}
		if relevant && (ev.Owner == "" || ev.Repo == "" || ev.Number <= 0 || ev.CommentID <= 0 || ev.Author == "") {
			t.Fatalf("relevant comment event with missing fields: %+v", ev)
		}
		if pr, err := DecodePullRequest("d", body); err == nil && (pr.Owner == "" || pr.Number <= 0 || pr.Action == "") {
			t.Fatalf("pull request event with missing fields: %+v", pr)
		} else if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("pull request: %v", err)
		}
		if p, err := DecodePush("d", body); err == nil && (p.Owner == "" || p.Ref == "" || p.After == "") {
			t.Fatalf("push event with missing fields: %+v", p)
		} else if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("push: %v", err)
		}
	})
}

// FuzzReceive sends arbitrary signed and unsigned bodies through the
// checks of the handler (everything but queueing, whose worker goroutines
// would make coverage nondeterministic): they must never panic and only
// answer with the documented codes.
func FuzzReceive(f *testing.F) {
	payload, err := readPayload()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(payload, EventIssueComment, true)
	f.Add(payload, EventIssueComment, false)
	f.Add([]byte(`{}`), EventPullRequest, true)
	f.Add([]byte(`{"ref":1}`), EventPush, true)
	f.Add([]byte(`x`), "unknown", true)
	s, err := New(Config{
		Secret: secret, BotLogin: "ensign", MaxBodyBytes: 64 << 10, QueueSize: 4096,
		Handlers: Handlers{
			Comment:     func(ctx context.Context, ev CommentEvent) error { return nil },
			PullRequest: func(ctx context.Context, ev PullRequestEvent) error { return nil },
			Push:        func(ctx context.Context, ev PushEvent) error { return nil },
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	f.Fuzz(func(t *testing.T, body []byte, event string, sign bool) {
		n++
		req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
		req.Header.Set("X-Gitea-Event", event)
		req.Header.Set("X-Gitea-Delivery", "fuzz-"+strconv.Itoa(n))
		req.Header.Set("Content-Type", "application/json")
		if sign {
			req.Header.Set("X-Gitea-Signature", Sign(secret, body))
		}
		j, code, _ := s.check(httptest.NewRecorder(), req)
		if j != nil {
			code = http.StatusAccepted
		}
		switch code {
		case http.StatusRequestEntityTooLarge:
			if len(body) <= 64<<10 {
				t.Fatalf("small body got 413")
			}
		case http.StatusAccepted, http.StatusBadRequest:
			if !sign {
				t.Fatalf("unsigned delivery got %d", code)
			}
		case http.StatusUnauthorized:
			if sign {
				t.Fatalf("signed delivery got 401")
			}
		default:
			t.Fatalf("unexpected status %d", code)
		}
	})
}

func readPayload() ([]byte, error) {
	return os.ReadFile("testdata/pull_request_comment.json")
}

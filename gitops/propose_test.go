package gitops

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestProposeTarget(t *testing.T) {
	tests := []struct {
		name    string
		target  Target
		ref     string
		invalid bool
	}{
		{"a topic", Target{Branch: "promote/app/prod/abc", Base: "main", Mode: Propose}, "refs/for/main/promote/app/prod/abc", false},
		{"no base", Target{Branch: "promote/app", Mode: Propose}, "", true},
		{"a bad topic", Target{Branch: "promote/a..b", Base: "main", Mode: Propose}, "", true},
		{"an option with a newline", Target{Branch: "t", Base: "main", Mode: Propose, PushOptions: []string{"title=a\nb"}}, "", true},
		{"options on a branch push", Target{Branch: "main", PushOptions: []string{"ci.skip"}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.target.validate()
			if (err != nil) != tt.invalid {
				t.Fatalf("validate: %v, want invalid %v", err, tt.invalid)
			}
			if err == nil && tt.target.ref().String() != tt.ref {
				t.Fatalf("ref %s, want %s", tt.target.ref(), tt.ref)
			}
		})
	}
}

func TestProposedStatus(t *testing.T) {
	tests := []struct {
		status string
		want   bool
	}{
		{"ok", true},
		{"new commit is same with old commit", true},
		{"request `force-push` push option", false},
		{"hook declined", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := proposed(tt.status); got != tt.want {
			t.Errorf("proposed(%q) = %v, want %v", tt.status, got, tt.want)
		}
	}
}

func TestTakeProposals(t *testing.T) {
	p := func(topic string, opts ...string) *proposal {
		return &proposal{target: Target{Branch: topic, Base: "main", Mode: Propose, PushOptions: opts}}
	}
	a1, b, a2, c := p("a", "force-push=true", "title=A"), p("b", "force-push=true", "title=B"), p("a", "force-push=true"), p("c", "force-push=true", "title=A")
	batch, rest := takeProposals([]*proposal{a1, b, a2, c})
	if !slices.Equal(batch, []*proposal{a1, b, c}) || !slices.Equal(rest, []*proposal{a2}) {
		t.Fatalf("batch %v, rest %v; want a, b, c and then a's second commit", batch, rest)
	}
	tests := []struct {
		name  string
		batch []*proposal
		want  []string
	}{
		{"one proposal keeps its options", []*proposal{a1}, []string{"force-push=true", "title=A"}},
		{"several keep what they share", []*proposal{a1, b}, []string{"force-push=true"}},
		{"the same title twice is kept", []*proposal{a1, c}, []string{"force-push=true", "title=A"}},
		{"nothing shared", []*proposal{a1, p("d")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sharedOptions(tt.batch); !slices.Equal(got, tt.want) {
				t.Fatalf("sharedOptions = %q, want %q", got, tt.want)
			}
		})
	}
}

// gather waits for a proposal on its way however long the quiet lasts,
// up to its limit, and returns once it has arrived and the quiet is over.
func TestGatherWaitsForOneComing(t *testing.T) {
	ctx := context.Background()
	b := proposer{arrived: make(chan struct{}, 1)}
	a := b.expect()
	returned := make(chan struct{})
	go func() {
		gather(ctx, b.arrived, b.expecting, time.Millisecond, time.Hour)
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("gather returned while a proposal was on its way")
	case <-time.After(100 * time.Millisecond):
	}
	b.mu.Lock()
	a.arriveLocked()
	b.mu.Unlock()
	select {
	case <-returned:
	case <-time.After(time.Minute):
		t.Fatal("gather still waits after the proposal arrived")
	}

	// One that never comes holds the burst up to the limit only.
	b.expect()
	limited := make(chan struct{})
	go func() {
		gather(ctx, b.arrived, b.expecting, time.Millisecond, 20*time.Millisecond)
		close(limited)
	}()
	select {
	case <-limited:
	case <-time.After(time.Minute):
		t.Fatal("gather outlived its limit")
	}

	// One that gives up wakes the gatherer, as an arrival does.
	b = proposer{arrived: make(chan struct{}, 1)}
	a = b.expect()
	cancelled := make(chan struct{})
	go func() {
		gather(ctx, b.arrived, b.expecting, time.Millisecond, time.Hour)
		close(cancelled)
	}()
	a.cancel()
	a.cancel() // twice is harmless
	select {
	case <-cancelled:
	case <-time.After(time.Minute):
		t.Fatal("gather still waits after the proposal gave up")
	}
	if b.coming != 0 {
		t.Fatalf("%d proposals counted as coming, want 0", b.coming)
	}
}

// An announced proposal is counted once: its Update's first attempt takes
// the announcement over, a retry after it arrived counts anew, and a
// cancelled announcement is not used again.
func TestResumeAnnouncement(t *testing.T) {
	b := &proposer{arrived: make(chan struct{}, 1)}
	e := &Expected{b.expect()}
	if a := b.resume(e); a != e.a || b.coming != 1 {
		t.Fatalf("the first attempt: arrival %p (announced %p), %d coming, want the announced one and 1", a, e.a, b.coming)
	}
	b.mu.Lock()
	e.a.arriveLocked()
	b.mu.Unlock()
	if a := b.resume(e); a == e.a || b.coming != 1 {
		t.Fatalf("a retry after the arrival: %d coming, new arrival %v; want a new one, 1 coming", b.coming, a != e.a)
	}
	other := &Expected{(&proposer{arrived: make(chan struct{}, 1)}).expect()}
	if a := b.resume(other); a == other.a || b.coming != 2 {
		t.Fatalf("another repository's announcement was used here (%d coming)", b.coming)
	}
	c := &Expected{b.expect()}
	c.Cancel()
	c.Cancel()
	if b.coming != 2 {
		t.Fatalf("after cancelling an announcement twice: %d coming, want 2", b.coming)
	}
	if a := b.resume(c); a == c.a {
		t.Fatal("a cancelled announcement was taken over")
	}
	var none *Expected
	none.Cancel() // nil is harmless
}

package webhook

import (
	"container/list"
	"sync"
	"time"
)

// seenSet remembers recent delivery ids: at most max of them, each for at
// most ttl. Safe for concurrent use.
type seenSet struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	order *list.List // of seenEntry, oldest at the front
	index map[string]*list.Element
}

type seenEntry struct {
	id   string
	when time.Time
}

func newSeenSet(max int, ttl time.Duration) *seenSet {
	return &seenSet{max: max, ttl: ttl, order: list.New(), index: make(map[string]*list.Element)}
}

// add records id, reporting false if it was already there.
func (s *seenSet) add(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if _, ok := s.index[id]; ok {
		return false
	}
	s.index[id] = s.order.PushBack(seenEntry{id: id, when: now})
	for s.order.Len() > s.max {
		s.drop(s.order.Front())
	}
	return true
}

// remove forgets id, so a delivery that could not be queued can be retried.
func (s *seenSet) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.index[id]; ok {
		s.drop(e)
	}
}

func (s *seenSet) expire(now time.Time) {
	for e := s.order.Front(); e != nil && now.Sub(e.Value.(seenEntry).when) > s.ttl; e = s.order.Front() {
		s.drop(e)
	}
}

func (s *seenSet) drop(e *list.Element) {
	delete(s.index, e.Value.(seenEntry).id)
	s.order.Remove(e)
}

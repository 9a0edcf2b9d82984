package leader

import (
	"net"
	"net/http"
	"net/http/httputil"
	"time"
)

// Campaign is what a Forwarder asks of the election; *Elector implements it.
type Campaign interface {
	Leading() bool
	LeaderAddress() string
}

// ForwardedHeader marks a delivery one replica passed on to another, so a
// replica that stopped leading in between never passes it on again.
const ForwardedHeader = "X-Ensign-Forwarded"

// Forwarder serves webhook deliveries on the leader and passes them on,
// unchanged, from the other replicas to the leader: Gitea's signature
// covers the body, so the leader checks it as if Gitea had delivered there.
// A replica that knows no leader answers 503, as Gitea sees any failed
// delivery.
type Forwarder struct {
	// Campaign says whether this replica leads and where the leader is.
	Campaign Campaign
	// Next serves deliveries on the leader.
	Next http.Handler
	// MaxBodyBytes bounds what a follower passes on (the leader checks the
	// exact limit).
	MaxBodyBytes int64

	proxy *httputil.ReverseProxy
}

// NewForwarder returns a Forwarder whose connections to the leader time out
// like every other network call of ensign.
func NewForwarder(c Campaign, next http.Handler, maxBody int64) *Forwarder {
	f := &Forwarder{Campaign: c, Next: next, MaxBodyBytes: maxBody}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = c.LeaderAddress()
			pr.Out.Host = pr.Out.URL.Host
			pr.Out.Header.Set(ForwardedHeader, "1")
		},
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			ResponseHeaderTimeout: 10 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "the leader did not answer; Gitea may redeliver", http.StatusBadGateway)
		},
	}
	return f
}

// ServeHTTP serves or passes on one delivery.
func (f *Forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.Campaign.Leading() {
		f.Next.ServeHTTP(w, r)
		return
	}
	if r.Header.Get(ForwardedHeader) != "" || f.Campaign.LeaderAddress() == "" {
		http.Error(w, "no ensign replica leads right now; Gitea may redeliver", http.StatusServiceUnavailable)
		return
	}
	if f.MaxBodyBytes > 0 {
		r.Body = http.MaxBytesReader(w, r.Body, f.MaxBodyBytes)
	}
	f.proxy.ServeHTTP(w, r)
}

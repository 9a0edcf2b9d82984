package faults

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Mode is what the Proxy does with traffic.
type Mode int

const (
	// Forward passes bytes both ways, as if the proxy were not there.
	Forward Mode = iota
	// Partition forwards nothing and closes nothing: bytes, ends of stream
	// and new connections wait inside the proxy until the mode changes, as
	// packets would be lost in a network partition and retransmitted after
	// it heals. A client sees its calls hang, not fail.
	Partition
	// Unavailable closes every open connection and answers every request
	// on a new one with 503 Service Unavailable, as a failing load balancer
	// in front of Gitea would.
	Unavailable
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Partition:
		return "partition"
	case Unavailable:
		return "503"
	}
	return "forward"
}

// Proxy is a TCP proxy on 127.0.0.1 between ensign and Gitea whose mode
// the suite switches to inject network faults. Safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	mode   Mode
	healed chan struct{} // closed while forwarding; a new one per partition
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewProxy listens on a free port of 127.0.0.1 and forwards to target
// (host:port).
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, healed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.healed)
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetMode switches the proxy's mode. Leaving Partition releases what
// waited; entering Unavailable closes every open connection.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m == p.mode {
		return
	}
	if p.mode == Partition {
		close(p.healed)
	}
	if m == Partition {
		p.healed = make(chan struct{})
	}
	if m == Unavailable {
		for c := range p.conns {
			_ = c.Close()
		}
	}
	p.mode = m
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.SetMode(Forward)
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			_ = c.Close()
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// track registers a connection so a mode change or Close can close it.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// state returns the mode and the channel that is closed once a partition
// heals.
func (p *Proxy) state() (Mode, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode, p.healed
}

// pass waits until the network is not partitioned; false means the
// connection must be dropped (the proxy now answers 503, or is closed).
func (p *Proxy) pass() bool {
	for {
		mode, healed := p.state()
		switch mode {
		case Forward:
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			return !closed
		case Unavailable:
			return false
		}
		<-healed
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.untrack(client)
	if mode, _ := p.state(); mode == Unavailable {
		refuse(client)
		return
	}
	if !p.pass() { // a connection made during a partition waits for it to heal
		if mode, _ := p.state(); mode == Unavailable {
			refuse(client)
		}
		return
	}
	upstream, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return // the client sees its connection closed, as from a dead server
	}
	if !p.track(upstream) {
		_ = upstream.Close()
		return
	}
	defer p.untrack(upstream)
	done := make(chan struct{}, 2)
	go func() { p.pump(upstream, client); done <- struct{}{} }()
	go func() { p.pump(client, upstream); done <- struct{}{} }()
	<-done
	<-done
}

// pump copies src to dst, holding each chunk and the end of the stream
// while the network is partitioned.
func (p *Proxy) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass() {
				_ = dst.Close()
				_ = src.Close()
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				_ = src.Close()
				return
			}
		}
		if err != nil {
			if p.pass() && errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
					return
				}
			}
			_ = dst.Close()
			return
		}
	}
}

// refuse reads one request head and answers 503, then closes.
func refuse(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
		return
	}
	_, _ = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nConnection: close\r\n\r\nservice unavailable\n")
}

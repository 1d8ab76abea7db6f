package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progressLine writes log lines and, on a terminal, one live status line
// that is redrawn in place while a run is going.
type progressLine struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	live bool // a status line is currently drawn
}

func newProgressLine(f *os.File) *progressLine {
	st, err := f.Stat()
	return &progressLine{w: f, tty: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

// Printf prints a permanent line (clearing the live line first).
func (p *progressLine) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.live = false
	}
	fmt.Fprintf(p.w, format, args...)
}

// Live redraws status(elapsed) every 250 ms until the returned stop is
// called. Off a terminal it draws nothing.
func (p *progressLine) Live(status func(elapsed time.Duration) string) (stop func()) {
	if !p.tty {
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s := status(time.Since(start))
				p.mu.Lock()
				fmt.Fprintf(p.w, "\r\x1b[K%s", s)
				p.live = true
				p.mu.Unlock()
			}
		}
	}()
	return func() { close(done); <-finished }
}

package engine

import (
	"fmt"
	"slices"
	"sync"
)

var (
	regMu     sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes an engine available under name. It is meant to be called
// from an engine package's init function and panics if name is empty, f is
// nil, or name is already registered.
func Register(name string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if name == "" || f == nil {
		panic("engine: Register with empty name or nil factory")
	}
	if _, dup := factories[name]; dup {
		panic("engine: Register called twice for " + name)
	}
	factories[name] = f
}

// Names returns the registered engine names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New builds the engine registered as name. An unknown name yields an error
// that lists the engines compiled into this binary.
func New(name string, cfg Config) (Engine, error) {
	regMu.RLock()
	f, ok := factories[name]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("engine: unknown engine %q (compiled in: %v)", name, Names())
	}
	return f(cfg)
}

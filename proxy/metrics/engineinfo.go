package metrics

import "github.com/ccproxy/ccproxy/engine"

// FromEngine fills Info from an engine's optional interfaces: Describe()
// output is merged into Settings (existing keys win, so proxy settings can
// override), and PoolStats becomes Pool. Engines implementing neither
// leave Info unchanged.
func (i *Info) FromEngine(e engine.Engine) {
	if d, ok := e.(engine.Describer); ok {
		desc := d.Describe()
		if i.Settings == nil {
			i.Settings = make(map[string]any, len(desc))
		}
		for k, v := range desc {
			if _, set := i.Settings[k]; !set {
				i.Settings[k] = v
			}
		}
	}
	if s, ok := e.(engine.StatsReporter); ok && i.Pool == nil {
		i.Pool = func() (engine.PoolStats, bool) { return s.PoolStats(), true }
	}
}

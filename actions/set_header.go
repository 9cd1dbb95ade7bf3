package actions

import (
	"github.com/xformd/xformd/engine"
)

func setHeaderSpec() engine.Spec {
	return headerWriteSpec("set_header", "Set a header: replace every instance, or add it when absent.", func(w headerWrite) engine.Action { return &setHeader{w} })
}

type setHeader struct{ headerWrite }

func (a *setHeader) Run(c *engine.Call) engine.Outcome {
	v := a.value.Render(c)
	n, err := a.field.Set(c.Request, v)
	if err != nil {
		return engine.Fail("set_header %s: %v", a.name, err)
	}
	if c.Tracing {
		if n == 0 {
			c.Notef("added %s: %s", a.name, v)
		} else {
			c.Notef("set %s: %s (replaced %d)", a.name, v, n)
		}
	}
	return engine.Done()
}

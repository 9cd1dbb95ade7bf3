package actions

import (
	"github.com/xformd/xformd/engine"
)

func addHeaderSpec() engine.Spec {
	return headerWriteSpec("add_header", "Append a header, keeping any existing instances.", func(w headerWrite) engine.Action { return &addHeader{w} })
}

type addHeader struct{ headerWrite }

func (a *addHeader) Run(c *engine.Call) engine.Outcome {
	v := a.value.Render(c)
	if err := a.field.Add(c.Request, v); err != nil {
		return engine.Fail("add_header %s: %v", a.name, err)
	}
	if c.Tracing {
		c.Notef("added %s: %s", a.name, v)
	}
	return engine.Done()
}

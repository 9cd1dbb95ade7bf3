package server

import (
	"github.com/xformd/xformd/actions"
	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/engine"
)

// buildRegistry makes the action registry the rules compile against.
func buildRegistry(cfg *config.Config, m *metrics) (*engine.Registry, error) {
	return actions.Builtin(actions.Options{}), nil
}

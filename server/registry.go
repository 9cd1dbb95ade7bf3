package server

import (
	"github.com/xformd/xformd/actions"
	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/stir"
)

// stirServices builds the STIR/SHAKEN verifier (always: rules may use
// stir_validate) and the signer (when a key is configured), counting
// certificate cache events in the metrics.
func stirServices(cfg *config.Config, m *metrics) (*stir.Verifier, *stir.Signer, error) {
	c := cfg.STIR
	v, err := stir.NewVerifier(stir.Config{
		TrustDir:     c.TrustDir,
		Static:       c.StaticCerts,
		AllowFetch:   c.Fetch,
		AllowHTTP:    c.AllowHTTP,
		AllowPrivate: c.AllowPrivate,
		FetchTimeout: c.FetchTimeout,
		MaxCertSize:  c.MaxCertSize,
		Window:       c.Window,
		CacheEntries: c.CacheEntries,
		FailureTTL:   c.FailureTTL,
		Hooks: stir.Hooks{
			CacheHit:   m.certHits.Inc,
			CacheMiss:  m.certMisses.Inc,
			FetchError: m.certFetchErr.Inc,
		},
	})
	if err != nil {
		return nil, nil, err
	}
	var signer *stir.Signer
	if c.SignKey != "" {
		signer, err = stir.LoadSigner(c.SignKey, c.SignX5U)
		if err != nil {
			v.Close()
			return nil, nil, err
		}
	}
	return v, signer, nil
}

// buildRegistry makes the action registry the rules compile against.
func buildRegistry(v *stir.Verifier, sg *stir.Signer) *engine.Registry {
	return actions.Builtin(actions.Options{Verifier: v, Signer: sg})
}

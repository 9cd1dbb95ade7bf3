// Package actions holds xformd's built-in actions, one file each, and the
// registry that hands them to the engine.
//
// Each action is a Spec whose Build function validates the operands when the
// rule file is compiled (operand count, regex syntax, header names, status
// codes) and returns an engine.Action that does no parsing per call.
package actions

import (
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/stir"
)

// Options carries what some actions need from the outside world: the STIR
// verification and signing services. The zero value is valid for checking
// rule files.
type Options struct {
	// Verifier is the STIR/SHAKEN verification service of stir_validate;
	// nil verifies with no trust anchors (unsigned calls read
	// No-TN-Validation, signed ones fail with 437).
	Verifier *stir.Verifier
	// Signer is the authentication service of stir_sign; nil makes
	// stir_sign fail the step at run time.
	Signer *stir.Signer
}

// Builtin returns the registry of every built-in action.
func Builtin(opts Options) *engine.Registry {
	return engine.NewRegistry(
		setHeaderSpec(),
		addHeaderSpec(),
		removeHeaderSpec(),
		rewriteFromSpec(),
		rewriteToSpec(),
		rewriteFromHeaderParamSpec(),
		rewriteToHeaderParamSpec(),
		setVariableSpec(),
		ifMatchSpec(),
		ifNotMatchSpec(),
		rejectSpec(),
		redirectSpec(),
		routeSpec(),
		stopSpec(),
		logSpec(),
		stirValidateSpec(opts),
		stirSignSpec(opts),
	)
}

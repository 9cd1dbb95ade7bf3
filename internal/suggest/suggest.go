// Package suggest finds the closest known spelling of a mistyped name, for
// "did you mean" hints in error messages.
package suggest

import (
	"strings"

	"github.com/agnivade/levenshtein"
)

// Closest returns the candidate nearest to name by edit distance, or "" when
// none is near enough to be a plausible typo (at most a third of the name's
// length, and never more than 3 edits).
func Closest(name string, candidates []string) string {
	lname := strings.ToLower(name)
	best, bestD := "", 1<<30
	limit := len(name) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(lname, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD > limit {
		return ""
	}
	return best
}

// Hint formats a "did you mean" hint, or "" when there is no close candidate.
func Hint(name string, candidates []string) string {
	if c := Closest(name, candidates); c != "" {
		return "did you mean " + c + "?"
	}
	return ""
}

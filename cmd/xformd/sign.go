package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xformd/xformd/stir"
)

// runSign prints a SHAKEN Identity header value signed with a private key:
// the authentication service of stir_sign, from the command line, for
// tests, load generators and checking a key against a verifier.
func runSign(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sign", stderr)
	key := fs.String("key", "", "P-256 private key PEM file, PKCS#8 or SEC 1 (required)")
	x5u := fs.String("x5u", "", "https URL of the signing certificate chain (required)")
	attest := fs.String("attest", "", "attestation level: A, B or C (required)")
	orig := fs.String("orig", "", "calling number, orig.tn (required; + and separators are removed)")
	var dest []string
	fs.Func("dest", "called number, dest.tn (required; repeat or separate with commas for several)", func(s string) error {
		for _, d := range strings.Split(s, ",") {
			if d = strings.TrimSpace(d); d != "" {
				dest = append(dest, d)
			}
		}
		return nil
	})
	origID := fs.String("origid", "", "origination identifier (default: a random UUID)")
	iatFlag := fs.String("iat", "", "issued-at time: Unix seconds or RFC 3339 (default: now)")
	header := fs.Bool("header", false, "print a whole header line, \"Identity: ...\"")
	setUsage(fs, stderr,
		"usage: xformd sign --key FILE --x5u URL --attest A|B|C --orig TN --dest TN [--origid ID] [--iat T] [--header]",
		"\nPrints the value of a SHAKEN Identity header (token;info=<x5u>;alg=ES256;ppt=shaken).",
		"\nflags:")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	var missing []string
	for _, f := range []struct {
		name, val string
	}{{"--key", *key}, {"--x5u", *x5u}, {"--attest", *attest}, {"--orig", *orig}} {
		if f.val == "" {
			missing = append(missing, f.name)
		}
	}
	if len(dest) == 0 {
		missing = append(missing, "--dest")
	}
	if len(missing) > 0 || fs.NArg() > 0 {
		if len(missing) > 0 {
			fmt.Fprintf(stderr, "xformd sign: missing %s\n", strings.Join(missing, ", "))
		} else {
			fmt.Fprintf(stderr, "xformd sign: unexpected argument %q\n", fs.Arg(0))
		}
		fs.Usage()
		return 2
	}
	iat := time.Now()
	if *iatFlag != "" {
		t, err := parseIAT(*iatFlag)
		if err != nil {
			fmt.Fprintf(stderr, "xformd sign: --iat: %v\n", err)
			return 2
		}
		iat = t
	}
	signer, err := stir.LoadSigner(*key, *x5u)
	if err != nil {
		fmt.Fprintf(stderr, "xformd sign: %v\n", err)
		return 1
	}
	id, err := signer.Sign(stir.Claims{Attest: strings.ToUpper(*attest), Orig: *orig, Dest: dest, IAT: iat, OrigID: *origID})
	if err != nil {
		fmt.Fprintf(stderr, "xformd sign: %v\n", err)
		return 1
	}
	if *header {
		fmt.Fprintf(stdout, "Identity: %s\n", id)
	} else {
		fmt.Fprintln(stdout, id)
	}
	return 0
}

// parseIAT reads Unix seconds or an RFC 3339 time.
func parseIAT(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 {
			return time.Time{}, fmt.Errorf("%d is not a positive Unix time", n)
		}
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither Unix seconds nor RFC 3339", s)
	}
	return t, nil
}

#!/usr/bin/env bash
# bench/run.sh: start xformd (redirect mode, the CarrierX STIR rules) and
# Kamailio (bench/kamailio/kamailio.cfg, doing the same work) on 127.0.0.1,
# sweep INVITE rates against both with bench/loadgen, and print a table plus
# the highest rate each handled with zero failed calls. See bench/README.md.
#
# Everything it starts listens on 127.0.0.1 only, every load run is bounded
# by DURATION, and the daemons are stopped on exit.
#
# Knobs (environment):
#   SYSTEMS      "xformd kamailio"      which systems to measure; kamailio-nocert is
#                                       Kamailio without certificate chain checks
#   RATES        "1000 2000 ... 10000"  offered INVITE rates, ascending
#   DURATION     10s                    length of each load run
#   CONNS        4                      loadgen UDP sockets
#   KAM_CHILDREN 8                      Kamailio UDP worker processes (8 did best of 4/8/16)
#   XFORMD_LOG   warn                   xformd --log-level during the runs
#   XFORMD_ENV   (unset)                environment for xformd only, e.g. "GOGC=400"
#   STOP_AFTER   2                      drop a system after this many failing rates in a row
#   PAUSE        2                      seconds of rest between runs
#   CONFIRM      (unset)                e.g. 30s: re-run each system's best rate this long
#   PROFILE_RATE (unset)                after the sweep, profile xformd at this rate
#   PROFILE_SECS 10                     length of that profile
#   UDP_BUF      (unset)                e.g. 4194304: Kamailio's UDP receive buffer (maxbuffer;
#                                       xformd sets its own, sip.udp_read_buffer, 4 MiB by
#                                       default) and net.core.rmem_default, restored on exit
#   NICE         (unset)                e.g. -10: run the systems and the load generator at
#                                       this nice level, ahead of background compiles
#   SMOKE        (unset)                1: one short low-rate run per system (for CI)
#   OUT          /tmp/xformd-bench      work directory (PKI, logs, binaries, results)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/xformd-bench}
SYSTEMS=${SYSTEMS:-"xformd kamailio"}
RATES=${RATES:-"1000 2000 3000 4000 5000 6000 7000 8000 9000 10000"}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-4}
KAM_CHILDREN=${KAM_CHILDREN:-8}
XFORMD_LOG=${XFORMD_LOG:-warn}
STOP_AFTER=${STOP_AFTER:-2}
PAUSE=${PAUSE:-2}
CONFIRM=${CONFIRM:-}
PROFILE_RATE=${PROFILE_RATE:-}
PROFILE_SECS=${PROFILE_SECS:-10}
if [[ -n "${SMOKE:-}" ]]; then
	RATES=${SMOKE_RATE:-200}
	DURATION=${SMOKE_DURATION:-2s}
	PAUSE=0
fi

XFORMD_ADDR=127.0.0.1:5070
XFORMD_ADMIN=127.0.0.1:9070
KAM_ADDR=127.0.0.1:5080
KAM_NOCERT_ADDR=127.0.0.1:5081
X5U_ADDR=127.0.0.1:8089
X5U="http://$X5U_ADDR/shaken.pem"
WANT='X-StirResult: TN-Validation-Passed-A'

mkdir -p "$OUT/bin"
prio=()
[[ -z "${NICE:-}" ]] || prio=(nice -n "$NICE")
PKI=$OUT/pki
CACHE=$OUT/kamailio-cache
RESULTS=$OUT/results.txt
LG=$OUT/bin/loadgen
CLK_TCK=$(getconf CLK_TCK)

pids=()
rmem_default_saved=
cleanup() {
	if [[ -n "$rmem_default_saved" ]]; then
		sysctl -q -w "net.core.rmem_default=$rmem_default_saved" || true
	fi
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
	done
}
trap cleanup EXIT

log() { echo "run.sh: $*" >&2; }

# cpu_ticks PID...: user+system clock ticks used by the processes and
# their live children (Kamailio's workers).
cpu_ticks() {
	local total=0 p c
	for p in "$@"; do
		for c in "$p" $(pgrep -P "$p" 2>/dev/null || true); do
			[[ -r /proc/$c/stat ]] || continue
			# Fields 14 and 15 after the ")" that ends the command name.
			total=$((total + $(sed 's/.*) //' "/proc/$c/stat" | awk '{print $12 + $13}')))
		done
	done
	echo "$total"
}

# field LINE KEY: the value of key=value in a loadgen summary line.
field() { sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<" $1"; }

log "building loadgen and xformd"
(cd "$ROOT" && go build -o "$LG" ./bench/loadgen)
if [[ " $SYSTEMS " == *" xformd "* ]]; then
	(cd "$ROOT" && go build -o "$OUT/bin/xformd" ./cmd/xformd)
fi

rm -rf "$PKI"
"$LG" -gen-pki "$PKI" >/dev/null

xformd_flags=(
	--listen "udp:$XFORMD_ADDR" --admin "$XFORMD_ADMIN" --mode redirect
	--rules "$ROOT/examples/carrierx-stir/rules.json"
	--trust "$PKI/trust" --x5u "$X5U=$PKI/shaken.pem"
	--log-level "$XFORMD_LOG"
)
# Profiles come from the admin API's /debug/pprof (loopback, off by default).
[[ -z "$PROFILE_RATE" ]] || xformd_flags+=(--pprof)

kam_buf=()
if [[ -n "${UDP_BUF:-}" ]]; then
	rmem_default_saved=$(sysctl -n net.core.rmem_default)
	sysctl -q -w "net.core.rmem_max=$((UDP_BUF > $(sysctl -n net.core.rmem_max) ? UDP_BUF : $(sysctl -n net.core.rmem_max)))"
	sysctl -q -w "net.core.rmem_default=$UDP_BUF"
	kam_buf=(-A "MAXBUFFER=$UDP_BUF")
	log "UDP receive buffers: $UDP_BUF bytes (rmem_default was $rmem_default_saved)"
fi

declare -A pid_of target_of
for sys in $SYSTEMS; do
	case $sys in
	xformd)
		# shellcheck disable=SC2086 # XFORMD_ENV is a list of NAME=VALUE words
		"${prio[@]}" env ${XFORMD_ENV:-} "$OUT/bin/xformd" serve "${xformd_flags[@]}" >"$OUT/xformd.log" 2>&1 &
		pid_of[xformd]=$!
		target_of[xformd]=$XFORMD_ADDR
		;;
	kamailio | kamailio-nocert)
		command -v kamailio >/dev/null || {
			log "kamailio not installed: apt-get install kamailio kamailio-secsipid-modules"
			exit 1
		}
		addr=$KAM_ADDR
		certopts=(-A 'CERT_VERIFY="CertVerify=13"' -A "CERT_CA_FILE=\"CertCAFile=$PKI/trust/root.pem\""
			-A "CERT_CA_INTER=\"CertCAInter=$PKI/intermediate.pem\"")
		if [[ $sys == kamailio-nocert ]]; then
			# Signature and claims only, no certificate checks: an upper
			# bound for Kamailio, doing less than xformd.
			addr=$KAM_NOCERT_ADDR
			certopts=()
		fi
		rm -rf "$CACHE-$sys"
		mkdir -p "$CACHE-$sys"
		"${prio[@]}" kamailio -f "$ROOT/bench/kamailio/kamailio.cfg" -DD -E -n "$KAM_CHILDREN" \
			-A "LISTEN=udp:$addr" -A "CACHE_DIR=\"$CACHE-$sys\"" "${certopts[@]}" "${kam_buf[@]}" \
			-P "$OUT/$sys.pid" >"$OUT/$sys.log" 2>&1 &
		pid_of[$sys]=$!
		target_of[$sys]=$addr
		;;
	*)
		log "unknown system $sys"
		exit 1
		;;
	esac
	pids+=("${pid_of[$sys]}")
done

for sys in $SYSTEMS; do
	if ! "$LG" -probe -target "${target_of[$sys]}" -timeout 10s >/dev/null; then
		log "$sys does not answer on ${target_of[$sys]}; its log:"
		tail -20 "$OUT/$sys.log" >&2
		exit 1
	fi
	# Warm-up: fills the certificate caches (Kamailio fetches the x5u URL
	# from the loadgen's local HTTP server once) and checks that every
	# kind of call gets the right answer before anything is measured.
	if ! line=$("$LG" -target "${target_of[$sys]}" -rate 200 -duration 2s -conns "$CONNS" \
		-key "$PKI/shaken-key.pem" -x5u "$X5U" -serve-x5u "$X5U_ADDR" -x5u-file "$PKI/shaken.pem" \
		-unsigned-pct 10 -badsig-pct 10 -want-header "$WANT"); then
		log "$sys warm-up failed: $line"
		exit 1
	fi
	log "$sys warm-up ok (signed, unsigned, bad signature): $(field "$line" statuses)"
done

{
	echo "# $(date -u +%FT%TZ) $(nproc) cores; loadavg before: $(cut -d' ' -f1-3 /proc/loadavg); xformd built from $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "# RATES=$RATES DURATION=$DURATION CONNS=$CONNS KAM_CHILDREN=$KAM_CHILDREN XFORMD_LOG=$XFORMD_LOG XFORMD_ENV=${XFORMD_ENV:-none} UDP_BUF=${UDP_BUF:-default} NICE=${NICE:-0}"
} >>"$RESULTS"

printf '%-15s %8s %10s %7s %8s %8s %8s %9s %9s %9s %8s %7s\n' system rate calls/s failed p50_ms p90_ms p99_ms max_ms sut_cores us/call lg_cores load1
declare -A fails best best_line best_note
for sys in $SYSTEMS; do fails[$sys]=0; done
for rate in $RATES; do
	for sys in $SYSTEMS; do
		((fails[$sys] < STOP_AFTER)) || continue
		load1=$(cut -d' ' -f1 /proc/loadavg)
		t0=$(cpu_ticks "${pid_of[$sys]}")
		s0=$(date +%s.%N)
		line=$("${prio[@]}" "$LG" -target "${target_of[$sys]}" -rate "$rate" -duration "$DURATION" -conns "$CONNS" \
			-key "$PKI/shaken-key.pem" -x5u "$X5U" -want-header "$WANT") || true
		s1=$(date +%s.%N)
		t1=$(cpu_ticks "${pid_of[$sys]}")
		if [[ -z "$line" ]]; then
			log "$sys at $rate/s: loadgen produced no summary"
			exit 1
		fi
		cores=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v a="$s0" -v b="$s1" 'BEGIN{printf "%.2f", d/hz/(b-a)}')
		percall=$(awk -v c="$cores" -v r="$(field "$line" calls_per_s)" 'BEGIN{if (r > 0) printf "%.0f", c*1e6/r; else print "-"}')
		echo "system=$sys sut_cores=$cores sut_us_per_call=$percall load1=$load1 $line" >>"$RESULTS"
		failed=$(field "$line" failed)
		printf '%-15s %8s %10s %7s %8s %8s %8s %9s %9s %9s %8s %7s\n' "$sys" "$rate" "$(field "$line" calls_per_s)" "$failed" \
			"$(field "$line" p50_ms)" "$(field "$line" p90_ms)" "$(field "$line" p99_ms)" "$(field "$line" max_ms)" \
			"$cores" "$percall" "$(field "$line" loadgen_cpu)" "$load1"
		if [[ "$failed" == 0 ]]; then
			fails[$sys]=0
			best[$sys]=$rate
			best_line[$sys]=$line
		else
			fails[$sys]=$((fails[$sys] + 1))
		fi
		sleep "$PAUSE"
	done
done

if [[ -n "$CONFIRM" ]]; then
	echo
	echo "confirmation runs of ${CONFIRM} at each system's best rate:"
	for sys in $SYSTEMS; do
		[[ -n "${best[$sys]:-}" ]] || continue
		line=$("${prio[@]}" "$LG" -target "${target_of[$sys]}" -rate "${best[$sys]}" -duration "$CONFIRM" -conns "$CONNS" \
			-key "$PKI/shaken-key.pem" -x5u "$X5U" -want-header "$WANT") || true
		echo "system=$sys confirm=$CONFIRM $line" >>"$RESULTS"
		printf '%-15s %8s %10s %7s %8s %8s %8s %9s\n' "$sys" "${best[$sys]}" "$(field "$line" calls_per_s)" "$(field "$line" failed)" \
			"$(field "$line" p50_ms)" "$(field "$line" p90_ms)" "$(field "$line" p99_ms)" "$(field "$line" max_ms)"
		if [[ "$(field "$line" failed)" != 0 ]]; then
			best_note[$sys]=" (failed calls in the ${CONFIRM} confirmation run)"
		fi
		sleep "$PAUSE"
	done
fi

echo
for sys in $SYSTEMS; do
	if [[ -n "${best[$sys]:-}" ]]; then
		l=${best_line[$sys]}
		echo "$sys: highest zero-failure rate ${best[$sys]}/s (calls/s $(field "$l" calls_per_s), p50 $(field "$l" p50_ms) ms, p99 $(field "$l" p99_ms) ms)${best_note[$sys]:-}"
	else
		echo "$sys: no rate without failed calls"
	fi
done | tee -a "$RESULTS"
if [[ -z "${SMOKE:-}" && -n "${best[xformd]:-}" && -n "${best[kamailio]:-}" ]]; then
	awk -v a="${best[xformd]}" -v b="${best[kamailio]}" 'BEGIN{printf "ratio xformd/kamailio: %.2f\n", a/b}' | tee -a "$RESULTS"
fi

if [[ -n "$PROFILE_RATE" && -n "${pid_of[xformd]:-}" ]]; then
	prof=$OUT/xformd-cpu.pprof
	log "profiling xformd at $PROFILE_RATE/s for ${PROFILE_SECS}s"
	curl -sf -o "$prof" "http://$XFORMD_ADMIN/debug/pprof/profile?seconds=$PROFILE_SECS" &
	curl_pid=$!
	sleep 0.5
	"${prio[@]}" "$LG" -target "$XFORMD_ADDR" -rate "$PROFILE_RATE" -duration "$((PROFILE_SECS - 1))s" -conns "$CONNS" \
		-key "$PKI/shaken-key.pem" -x5u "$X5U" -want-header "$WANT" | sed 's/^/profile run: /' | tee -a "$RESULTS" || true
	if wait "$curl_pid"; then
		go tool pprof -top -nodecount=40 "$OUT/bin/xformd" "$prof" >"$OUT/xformd-pprof-top.txt" 2>&1
		go tool pprof -top -cum -nodecount=300 "$OUT/bin/xformd" "$prof" >"$OUT/xformd-pprof-cum.txt" 2>&1
		log "profile: $prof; flat: $OUT/xformd-pprof-top.txt, cumulative: $OUT/xformd-pprof-cum.txt"
	else
		log "no profile from http://$XFORMD_ADMIN/debug/pprof/profile (xformd built without --pprof?)"
	fi
fi

if [[ -n "${SMOKE:-}" ]]; then
	for sys in $SYSTEMS; do
		[[ -n "${best[$sys]:-}" ]] || {
			log "smoke: $sys failed calls"
			exit 1
		}
	done
fi

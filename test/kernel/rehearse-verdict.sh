# Sourced by test/kernel/run.sh after a rehearsal boot (make rehearse,
# make rehearse-catalogue): copies each job's run folder out of the guest's
# console to REHEARSAL_OUT, prints its table and checks it with
# `checkrun -rehearsal`. Returns non-zero when the guest gave no verdict or
# any job's run failed a point.
grep -aE '^wgbench-guest:' "$console" || true
if ! grep -aq '^WGBENCH-GUEST-VERDICT:' "$console"; then
	echo "--- $console, results block left out:"
	sed '/^=== wgbench-guest: results begin$/,/^=== wgbench-guest: results end$/d' "$console" | tail -n 60
	die "the guest gave no verdict (crashed or timed out after $guest_s s); see $console"
fi
out=$work/out
rm -rf "$out"
mkdir -p "$out"
guest_results "$out" || echo "$me: the guest's run folders did not come out whole" >&2
(cd "$repo" && "$GO" build -o "$work/checkrun" ./test/kernel/checkrun) || die "build checkrun"
if [ "$mode" = rehearse ]; then
	base=${REHEARSAL_OUT:-$repo/.cache/rehearsal/run}
else
	base=${REHEARSAL_OUT:-$repo/.cache/rehearsal/catalogue}
fi
failed=0
summary=()
while IFS=$'\t' read -r name file flags; do
	dest=$base
	[ "$mode" = rehearse ] || dest=$base/$name
	took=$(grep -a "^wgbench-guest: rehearsal $name: " "$console" | sed -n 's/.* in \([0-9]*\) s$/\1/p' | tail -1) || true
	timedout=$(grep -a "^wgbench-guest: rehearsal $name: timed out" "$console" | sed 's/^wgbench-guest: rehearsal [^:]*: //' | tail -1) || true
	rm -rf "$dest"
	mkdir -p "$(dirname "$dest")"
	if [ ! -f "$out/runs/$name/run.json" ]; then
		summary+=("$(printf '%-28s FAIL  %5ss  %s' "$name" "${took:-?}" "${timedout:-no run folder came out of the guest${took:+ (the run exited)}${took:- (the guest never ran it: it crashed or timed out before)}}")")
		failed=1
		continue
	fi
	mv "$out/runs/$name" "$dest"
	[ -f "$out/runs/$name.log" ] && mv "$out/runs/$name.log" "$dest/rehearsal.log"
	if [ "$mode" = rehearse ]; then
		echo "--- wgbench run in the guest ($dest/rehearsal.log):"
		cat "$dest/rehearsal.log" 2>/dev/null || true
	fi
	if check=$("$work/checkrun" -rehearsal "$dest" 2>&1); then
		skips=$(echo "$check" | grep -c 'SKIP' || true)
		points=$(echo "$check" | sed -n 's#.*: \([0-9]*\)/\([0-9]*\) points measured$#\1 \2#p' | awk '{m += $1; n += $2} END {printf "%d/%d points measured", m, n}')
		summary+=("$(printf '%-28s PASS  %5ss  %s' "$name" "${took:-?}" "$points$([ "$skips" -gt 0 ] && echo ", $skips series skipped for the patched module"), WAN on node 1")")
	else
		why=$(echo "$check" | grep 'FAIL' | head -1 | sed 's/^checkrun: FAIL: //') || true
		[ -n "$why" ] || why=$(echo "$check" | tail -1)
		nfail=$(echo "$check" | grep -c 'FAIL' || true)
		[ "$nfail" -gt 1 ] && why="$why (+$((nfail - 1)) more)"
		summary+=("$(printf '%-28s FAIL  %5ss  %s' "$name" "${took:-?}" "${timedout:+$timedout: }$why")")
		failed=1
	fi
	echo "$check" | sed "s/^checkrun: /$name: /"
	echo "$name: run folder $dest"
done <"$root/etc/wgbench/rehearse/jobs"
echo "=== rehearsal: $(grep -a '^wgbench-guest: layout:' "$console" | head -1 | sed 's/^wgbench-guest: layout: //')"
printf '%-28s %-5s %6s  %s\n' scenario verdict guest why
printf '%s\n' "${summary[@]}"
verdict=$(grep -a '^WGBENCH-GUEST-VERDICT:' "$console" | tail -1 | awk '{print $2}')
[ "$verdict" = PASS ] || { echo "$me: the guest's verdict is $verdict" >&2; failed=1; }
if [ $failed != 0 ]; then
	echo "$me: FAIL after $(( $(date +%s) - t0 )) s (guest $guest_s s); console: $console" >&2
	return 1
fi
log "PASS in $(( $(date +%s) - t0 )) s (guest $guest_s s)"
return 0

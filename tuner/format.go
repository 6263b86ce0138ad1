package tuner

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteText writes the report as tuned and mlnx_tune do: one line per
// check, "OK       <fact>", "Info:    <fact>" or "Warning: <fact> >>>
// <advice>", warnings ranked and first, each followed by its evidence,
// expected effect, commands and verifying scenario change. header lines
// (what was analysed) come first.
func (rep *Report) WriteText(w io.Writer, header []string) error {
	var b strings.Builder
	for _, h := range header {
		b.WriteString(h + "\n")
	}
	if len(header) > 0 {
		b.WriteString("\n")
	}
	byRank := map[int]*Suggestion{}
	for i := range rep.Suggestions {
		byRank[rep.Suggestions[i].Rank] = &rep.Suggestions[i]
	}
	const ind = "         "
	counts := map[Status]int{}
	for _, c := range rep.Checks {
		counts[c.Status]++
		host := ""
		if c.Host != "" {
			host = c.Host + ": "
		}
		switch c.Status {
		case StatusOK:
			fmt.Fprintf(&b, "OK       %s%s\n", host, c.Fact)
		case StatusInfo:
			fmt.Fprintf(&b, "Info:    %s%s\n", host, c.Fact)
		case StatusWarning:
			s := byRank[c.Suggestion]
			fmt.Fprintf(&b, "Warning: %s%s >>> %s\n", host, c.Fact, s.Advice)
			fmt.Fprintf(&b, "%s#%d %s · %s · %s\n", ind, s.Rank, s.Severity, s.ID, s.Title)
			for _, e := range s.Evidence {
				fmt.Fprintf(&b, "%s%-9s %s", ind, e.Kind+":", e.Text)
				if e.Where != "" {
					fmt.Fprintf(&b, " [%s]", e.Where)
				}
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "%sexpected: %s [%s]\n", ind, s.Effect.Text, s.Effect.Source)
			fmt.Fprintf(&b, "%ssource:   %s\n", ind, s.Source)
			writeCommands(&b, ind+"apply:    ", s.Apply)
			writeCommands(&b, ind+"undo:     ", s.Undo)
			if v := s.Verify; v != nil {
				fmt.Fprintf(&b, "%sverify:   %s\n", ind, v.describe())
			} else {
				fmt.Fprintf(&b, "%sverify:   no scenario knob; apply, then re-run the scenario and compare\n", ind)
			}
		}
	}
	fmt.Fprintf(&b, "\n%d warning(s), %d info, %d OK\n", counts[StatusWarning], counts[StatusInfo], counts[StatusOK])
	_, err := io.WriteString(w, b.String())
	return err
}

func writeCommands(b *strings.Builder, label string, cmds []string) {
	pad := strings.Repeat(" ", len([]rune(label)))
	for i, c := range cmds {
		if i == 0 {
			b.WriteString(label)
		} else {
			b.WriteString(pad)
		}
		b.WriteString(c + "\n")
	}
}

// describe says what scenario change verifies a suggestion.
func (v *Verify) describe() string {
	var parts []string
	if v.Datapath != "" {
		parts = append(parts, "datapath: "+string(v.Datapath))
	}
	for _, k := range v.Tuning.Set() {
		parts = append(parts, k)
	}
	if len(v.Tunnels) > 0 {
		parts = append(parts, fmt.Sprintf("sweep tunnels %v × flows %v", v.Tunnels, v.Flows))
	}
	s := "a variant series with " + strings.Join(parts, ", ")
	if len(v.Tunnels) > 0 {
		s = strings.Join(parts, ", ")
	}
	if len(v.On) > 0 {
		on := make([]string, len(v.On))
		for i, d := range v.On {
			on[i] = string(d)
		}
		s += " (on " + strings.Join(on, ", ") + " series)"
	}
	if v.Note != "" {
		s += "; " + v.Note
	}
	return s + " — wgbench tune … --format scenario"
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteScript writes a shell script that applies the suggestions' commands
// and undoes them, for a person to review and run: `sh SCRIPT apply
// [ROLE]` and `sh SCRIPT undo [ROLE]`. wgbench never runs it.
func (rep *Report) WriteScript(w io.Writer, header []string) error {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString("# Tuning suggestions of `wgbench tune`, as commands to REVIEW before running.\n")
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	b.WriteString(`#
# wgbench never runs this script. Read every command, adapt the ones marked
# "by hand", and run it as root on the host each section names:
#   sh tune.sh apply [ROLE]   apply the changes (ROLE: gw1, gw2, host; default all)
#   sh tune.sh undo [ROLE]    undo them, in reverse order
# The undo section restores the values read with the facts; changes made
# since then are not known to it. Nothing here survives a reboot.
set -eu

role="${2:-all}"

# want ROLES: whether a section for ROLES (comma-separated) runs.
want() {
	[ "$role" = all ] && return 0
	for r in $(echo "$1" | tr ',' ' '); do
		if [ "$r" = "$role" ]; then return 0; fi
	done
	return 1
}

apply() {
`)
	if len(rep.Suggestions) == 0 {
		b.WriteString("\techo \"wgbench tune: nothing to apply\"\n")
	}
	for _, s := range rep.Suggestions {
		fmt.Fprintf(&b, "\t# %d. [%s] %s — %s (on %s)\n", s.Rank, s.Severity, s.ID, s.Title, s.Host)
		fmt.Fprintf(&b, "\t#    finding:  %s\n", comment(s.Fact))
		for _, e := range s.Evidence {
			fmt.Fprintf(&b, "\t#    %-9s %s\n", e.Kind+":", comment(e.Text))
		}
		fmt.Fprintf(&b, "\t#    expected: %s [%s]\n", comment(s.Effect.Text), comment(s.Effect.Source))
		fmt.Fprintf(&b, "\tif want %s; then\n", shellQuote(s.Host))
		fmt.Fprintf(&b, "\t\techo %s\n", shellQuote(fmt.Sprintf("wgbench tune: apply %d. %s (%s)", s.Rank, s.ID, s.Host)))
		writeShell(&b, s.Apply)
		b.WriteString("\tfi\n\n")
	}
	b.WriteString("}\n\nundo() {\n")
	if len(rep.Suggestions) == 0 {
		b.WriteString("\techo \"wgbench tune: nothing to undo\"\n")
	}
	for _, s := range slices.Backward(rep.Suggestions) {
		fmt.Fprintf(&b, "\t# %d. %s (on %s)\n", s.Rank, s.ID, s.Host)
		fmt.Fprintf(&b, "\tif want %s; then\n", shellQuote(s.Host))
		fmt.Fprintf(&b, "\t\techo %s\n", shellQuote(fmt.Sprintf("wgbench tune: undo %d. %s (%s)", s.Rank, s.ID, s.Host)))
		if len(s.Undo) == 0 {
			b.WriteString("\t\t# nothing to undo\n")
		}
		writeShell(&b, s.Undo)
		b.WriteString("\tfi\n\n")
	}
	b.WriteString(`}

case "${1:-}" in
apply) apply ;;
undo) undo ;;
*)
	echo "usage: $0 apply|undo [gw1|gw2|host]" >&2
	exit 2
	;;
esac
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeShell writes commands; lines starting with "#" become comments
// marked as steps to do by hand.
func writeShell(b *strings.Builder, cmds []string) {
	for _, c := range cmds {
		if strings.HasPrefix(c, "#") {
			fmt.Fprintf(b, "\t\t# by hand: %s\n", comment(strings.TrimSpace(strings.TrimPrefix(c, "#"))))
			continue
		}
		fmt.Fprintf(b, "\t\t%s\n", c)
	}
}

// comment makes text safe inside a shell comment (one line).
func comment(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", " "), "\n", " ")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

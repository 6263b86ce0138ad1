package facts

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Files of a snapshot's wgbench/ethtool/<dev>/ folder, each in the text
// format of the ethtool command named beside it, so one can also be saved
// by hand on a machine without wgbench.
const (
	featuresFile = "features"   // ethtool -k DEV
	indirFile    = "rxfh-indir" // ethtool -x DEV
	udp4HashFile = "udp4-hash"  // ethtool -n DEV rx-flow-hash udp4
	ntupleFile   = "ntuple"     // ethtool -n DEV
	errorsFile   = "rss-errors" // what could not be read, one line each
)

// ethtoolInfo is what ethtool tells about a link.
type ethtoolInfo struct {
	features    map[string]string // every feature, "on", "off [fixed]", …
	featuresErr error
	rings       int
	indir       []int
	udp4Hash    string // ethtool letters; "" unknown
	rules       int    // -1 unknown
	rssErrs     []string
}

// featureAliases maps the names `ethtool -k` prints to the kernel's.
var featureAliases = map[string]string{
	"generic-receive-offload":      FeatureGRO,
	"generic-segmentation-offload": FeatureGSO,
	"large-receive-offload":        FeatureLRO,
	"ntuple-filters":               FeatureNTuple,
	"receive-hashing":              FeatureRXHash,
	"rx-checksumming":              FeatureRXCsum,
}

// aggregateFeatures are the summary lines of `ethtool -k`.
var aggregateFeatures = map[string]bool{
	"tcp-segmentation-offload": true, "tx-checksumming": true, "scatter-gather": true,
}

// readEthtool fills a link's offloads and RSS: over the ethtool ioctl on
// the live host (stored in the snapshot when recording), else from the
// snapshot's files.
func readEthtool(t *tree, l *Link, live bool) {
	dir := path.Join(extraDir, "ethtool", l.Name)
	var info ethtoolInfo
	if live {
		info = ethtoolQuery(l.Name, l.Kind == KindPhysical)
		if info.featuresErr == nil {
			t.rec.extra(path.Join("ethtool", l.Name, featuresFile), []byte(formatFeatures(l.Name, info.features)))
		}
		if l.Kind == KindPhysical {
			if len(info.indir) > 0 {
				t.rec.extra(path.Join("ethtool", l.Name, indirFile), []byte(formatIndir(l.Name, info.rings, info.indir)))
			}
			if info.udp4Hash != "" {
				t.rec.extra(path.Join("ethtool", l.Name, udp4HashFile), []byte(formatUDP4Hash(info.udp4Hash)))
			}
			if info.rules >= 0 || info.rings > 0 {
				t.rec.extra(path.Join("ethtool", l.Name, ntupleFile), []byte(formatNtuple(info.rings, info.rules)))
			}
			if len(info.rssErrs) > 0 {
				t.rec.extra(path.Join("ethtool", l.Name, errorsFile), []byte(strings.Join(info.rssErrs, "\n")+"\n"))
			}
		}
		l.Offloads.Source = "ethtool ioctl"
	} else {
		info = ethtoolInfo{rules: -1}
		if s, err := t.read(path.Join(dir, featuresFile)); err == nil {
			info.features = parseFeatures(s)
		} else {
			info.featuresErr = fmt.Errorf("not in the snapshot (%s/%s: save `ethtool -k %s` there)", dir, featuresFile, l.Name)
		}
		if s, err := t.read(path.Join(dir, indirFile)); err == nil {
			info.rings, info.indir = parseIndir(s)
		}
		if s, err := t.read(path.Join(dir, udp4HashFile)); err == nil {
			info.udp4Hash = parseUDP4Hash(s)
		}
		if s, err := t.read(path.Join(dir, ntupleFile)); err == nil {
			rings, rules := parseNtuple(s)
			info.rules = rules
			if info.rings == 0 {
				info.rings = rings
			}
		}
		if s, err := t.read(path.Join(dir, errorsFile)); err == nil && s != "" {
			info.rssErrs = strings.Split(s, "\n")
		} else if info.indir == nil && info.udp4Hash == "" && info.rules < 0 && info.rings == 0 {
			info.rssErrs = append(info.rssErrs, fmt.Sprintf("RSS not in the snapshot (save `ethtool -x %s` as %s/%s)", l.Name, dir, indirFile))
		}
		l.Offloads.Source = path.Join(dir, featuresFile)
	}
	if info.featuresErr != nil {
		l.Offloads.Source = ""
		l.Offloads.Error = "cannot read offloads: " + info.featuresErr.Error()
	} else {
		for _, f := range Features {
			if v, ok := info.features[f]; ok {
				if l.Offloads.Features == nil {
					l.Offloads.Features = map[string]string{}
				}
				l.Offloads.Features[f] = v
			}
		}
	}
	if l.Kind != KindPhysical {
		return
	}
	l.RSS = &RSS{Rings: info.rings, Indirection: info.indir, UDP4Hash: info.udp4Hash, NTupleRules: info.rules}
	if len(info.rssErrs) > 0 {
		l.RSS.Error = strings.Join(info.rssErrs, "; ")
	}
}

// parseFeatures reads `ethtool -k` output.
func parseFeatures(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || strings.HasPrefix(line, "Features for") {
			continue
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !strings.HasPrefix(val, "on") && !strings.HasPrefix(val, "off") {
			continue
		}
		if a, ok := featureAliases[name]; ok {
			name = a
		}
		if aggregateFeatures[name] {
			continue // `ethtool -k` sums up the indented lines that follow
		}
		out[name] = val
	}
	return out
}

// formatFeatures writes features as `ethtool -k` does, by kernel name.
func formatFeatures(dev string, f map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Features for %s:\n", dev)
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s: %s\n", n, f[n])
	}
	return b.String()
}

var (
	ringsRe    = regexp.MustCompile(`with (\d+) RX ring`)
	indirRowRe = regexp.MustCompile(`^\s*\d+:((\s+\d+)+)\s*$`)
	rulesRe    = regexp.MustCompile(`Total (\d+) rules`)
	ringsAvRe  = regexp.MustCompile(`(\d+) RX rings available`)
)

// parseIndir reads `ethtool -x` output: the ring count and the table.
func parseIndir(s string) (rings int, table []int) {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "RSS hash") {
			break
		}
		if m := ringsRe.FindStringSubmatch(line); m != nil {
			rings, _ = strconv.Atoi(m[1])
			continue
		}
		if m := indirRowRe.FindStringSubmatch(line); m != nil {
			for _, f := range strings.Fields(m[1]) {
				n, _ := strconv.Atoi(f)
				table = append(table, n)
			}
		}
	}
	return rings, table
}

// formatIndir writes the table as `ethtool -x` does.
func formatIndir(dev string, rings int, table []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "RX flow hash indirection table for %s with %d RX ring(s):\n", dev, rings)
	for i := 0; i < len(table); i += 8 {
		fmt.Fprintf(&b, "%5d:", i)
		for _, q := range table[i:min(i+8, len(table))] {
			fmt.Fprintf(&b, "%6d", q)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// hashFields are the RXH bits of a flow hash and how ethtool shows them.
var hashFields = []struct {
	bit    uint64
	letter string
	text   string
}{
	{0x02, "m", "L2DA"},
	{0x04, "v", "VLAN tag"},
	{0x08, "t", "L3 proto"},
	{0x10, "s", "IP SA"},
	{0x20, "d", "IP DA"},
	{0x40, "f", "L4 bytes 0 & 1 [TCP/UDP src port]"},
	{0x80, "n", "L4 bytes 2 & 3 [TCP/UDP dst port]"},
}

// hashLetters turns RXH bits into ethtool letters.
func hashLetters(bitsV uint64) string {
	var b strings.Builder
	for _, h := range hashFields {
		if bitsV&h.bit != 0 {
			b.WriteString(h.letter)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// parseUDP4Hash reads `ethtool -n DEV rx-flow-hash udp4` output.
func parseUDP4Hash(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		for _, h := range hashFields {
			key, _, _ := strings.Cut(h.text, " [")
			if line != "" && strings.HasPrefix(line, key) {
				b.WriteString(h.letter)
			}
		}
	}
	if b.Len() == 0 {
		if strings.Contains(s, "None") {
			return "none"
		}
		return ""
	}
	return b.String()
}

// formatUDP4Hash writes hashed fields as `ethtool -n DEV rx-flow-hash
// udp4` does.
func formatUDP4Hash(letters string) string {
	var b strings.Builder
	b.WriteString("UDP over IPV4 flows use these fields for computing Hash flow key:\n")
	if letters == "none" {
		b.WriteString("None\n")
		return b.String()
	}
	for _, h := range hashFields {
		if strings.Contains(letters, h.letter) {
			b.WriteString(h.text + "\n")
		}
	}
	return b.String()
}

// parseNtuple reads the head of `ethtool -n DEV` output.
func parseNtuple(s string) (rings, rules int) {
	rules = -1
	if m := ringsAvRe.FindStringSubmatch(s); m != nil {
		rings, _ = strconv.Atoi(m[1])
	}
	if m := rulesRe.FindStringSubmatch(s); m != nil {
		rules, _ = strconv.Atoi(m[1])
	}
	return rings, rules
}

// formatNtuple writes the head of `ethtool -n DEV` output; a negative
// rule count (unknown) is left out.
func formatNtuple(rings, rules int) string {
	s := fmt.Sprintf("%d RX rings available\n", rings)
	if rules >= 0 {
		s += fmt.Sprintf("Total %d rules\n", rules)
	}
	return s
}

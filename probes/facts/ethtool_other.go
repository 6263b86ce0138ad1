//go:build !linux

package facts

import "errors"

// ethtoolQuery reports that ethtool is Linux-only.
func ethtoolQuery(name string, physical bool) ethtoolInfo {
	info := ethtoolInfo{rules: -1, featuresErr: errors.New("the ethtool ioctl exists on Linux only")}
	if physical {
		info.rssErrs = []string{"the ethtool ioctl exists on Linux only"}
	}
	return info
}

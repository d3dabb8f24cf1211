// Package bytesize formats byte counts for people, in IEC units (KiB, MiB,
// GiB, ...), the same way in every message and report kensa writes.
package bytesize

import "fmt"

// Format returns n as "512 B", "3.4 MiB", "1.2 GiB".
func Format(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f, exp := float64(n)/unit, 0
	for (f >= unit || f <= -unit) && exp < 5 {
		f /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTPE"[exp])
}

package provider

import (
	"crypto/sha256"
	"encoding/hex"
)

// SpecHash hashes the parts that define a server (image, type, user data,
// volumes, ...) for TagSpec: equal hashes mean an instance needs no
// replacement. Parts are length-prefixed, so ("ab","c") != ("a","bc").
func SpecHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		for i, l := 0, len(p); i < 8; i, l = i+1, l>>8 {
			n[i] = byte(l)
		}
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

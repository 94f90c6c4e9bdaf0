package render

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"math/rand"
	"strings"
	"testing"
)

func TestPack(t *testing.T) {
	small := strings.Repeat("x", MaxPlainUserData)
	if got, err := Pack(small); err != nil || got != small {
		t.Fatalf("a script of %d characters is sent as is", MaxPlainUserData)
	}
	// Python's len counts characters: 16000 'é' are 32000 bytes and still plain.
	if got, _ := Pack(strings.Repeat("é", MaxPlainUserData)); !strings.HasPrefix(got, "éé") {
		t.Errorf("characters, not bytes, decide")
	}

	script := "#!/bin/bash\n" + strings.Repeat("echo hello world\n", 1000)
	packed, err := Pack(script)
	if err != nil {
		t.Fatal(err)
	}
	const prefix, suffix = "#!/bin/bash\necho '", "' | base64 -d | gunzip | /bin/bash"
	if !strings.HasPrefix(packed, prefix) || !strings.HasSuffix(packed, suffix) {
		t.Fatalf("wrapper differs from the original's: %.60q", packed)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(packed, prefix), suffix))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(zr)
	if string(back) != script {
		t.Error("the packed script does not decode to the rendered one")
	}
	again, _ := Pack(script)
	if again != packed {
		t.Error("packing must be deterministic (the launch spec hash depends on it)")
	}

	// Incompressible content cannot fit: the error gives the sizes.
	rnd := rand.New(rand.NewSource(1))
	b := make([]byte, 40000)
	for i := range b {
		b[i] = byte('a' + rnd.Intn(26))
	}
	_, err = Pack(string(b))
	if !errors.Is(err, ErrUserDataTooLarge) || !strings.Contains(err.Error(), "the boot script is 40000 bytes") || !strings.Contains(err.Error(), "EC2 allows 16384 bytes") {
		t.Errorf("want a size error, got %v", err)
	}
}

func TestUnpackRoundTrip(t *testing.T) {
	for _, script := range []string{"#!/bin/bash\necho small\n", "#!/bin/bash\n" + strings.Repeat("echo a line that repeats\n", 2000)} {
		packed, err := Pack(script)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unpack(packed)
		if err != nil || got != script {
			t.Fatalf("round trip of %d bytes: %v (got %d bytes)", len(script), err, len(got))
		}
	}
}

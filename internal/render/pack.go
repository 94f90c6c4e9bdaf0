package render

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"unicode/utf8"
)

// MaxPlainUserData is the length (in characters, as Python's len) above
// which the original gzipped the boot script.
const MaxPlainUserData = 16000

// MaxUserDataBytes is EC2's limit on user data before base64 encoding.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html
const MaxUserDataBytes = 16384

// ErrUserDataTooLarge is wrapped by Pack's error when even the packed script
// does not fit.
var ErrUserDataTooLarge = fmt.Errorf("user data too large")

// Pack returns the user data for a boot script: the script itself, or, over
// MaxPlainUserData characters, the original's wrapper
// `#!/bin/bash\necho '<base64 of gzip>' | base64 -d | gunzip | /bin/bash`.
// The gzip header carries no time stamp, so the same script always packs
// to the same bytes (the launch spec hash depends on it).
func Pack(script string) (string, error) {
	if utf8.RuneCountInString(script) <= MaxPlainUserData {
		return script, nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write([]byte(script))
	if err := zw.Close(); err != nil {
		return "", err
	}
	packed := "#!/bin/bash\necho '" + base64.StdEncoding.EncodeToString(buf.Bytes()) + "' | base64 -d | gunzip | /bin/bash"
	if len(packed) > MaxUserDataBytes {
		return "", fmt.Errorf("%w: the boot script is %d bytes, %d after gzip and base64; EC2 allows %d bytes of user data: move large files out of the templates (download them at boot)",
			ErrUserDataTooLarge, len(script), len(packed), MaxUserDataBytes)
	}
	return packed, nil
}

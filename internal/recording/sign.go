package recording

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// URLSigner makes and checks the short-lived download links of recordings. A link is bound to
// one recording and one expiry; anyone holding it may download until then, so links go only to
// supervisors and admins and live minutes.
type URLSigner struct {
	base string
	key  []byte
}

// ErrBadLink means a download link is forged, altered or expired.
var ErrBadLink = errors.New("download link is invalid or expired")

// NewURLSigner returns a signer for links under publicURL (supportsvc's public base URL) keyed
// by key (at least 32 bytes, the same on every replica).
func NewURLSigner(publicURL string, key []byte) (*URLSigner, error) {
	if len(key) < 32 {
		return nil, errors.New("recording: download link key must be at least 32 bytes")
	}
	return &URLSigner{base: strings.TrimRight(publicURL, "/"), key: key}, nil
}

// AudioPath is the HTTP path of a recording's audio.
func AudioPath(id string) string { return "/recordings/" + id + "/audio" }

// Sign returns the link to id's audio, valid until expires.
func (s *URLSigner) Sign(id string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	q := url.Values{"expires": {exp}, "sig": {s.mac(id, exp)}}
	return s.base + AudioPath(id) + "?" + q.Encode()
}

// Verify checks a link's expires and sig query values for id at now. Errors: ErrBadLink.
func (s *URLSigner) Verify(id, expires, sig string, now time.Time) error {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || now.Unix() > exp {
		return ErrBadLink
	}
	want := s.mac(id, expires)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return ErrBadLink
	}
	return nil
}

func (s *URLSigner) mac(id, expires string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("recording-audio\x00" + id + "\x00" + expires))
	return hex.EncodeToString(m.Sum(nil))
}

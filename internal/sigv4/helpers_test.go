package sigv4_test

import (
	"crypto/hmac"
	"crypto/sha256"
)

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

package web

import (
	"io/fs"
	"strings"
)

func readStatic(c *Console, name string) ([]byte, error) {
	if name == "" || strings.Contains(name, "..") {
		return nil, fs.ErrNotExist
	}
	return fs.ReadFile(c.static, name)
}

// Package syncclient is the tablet's HTTP client of the server: enrollment
// now, push and pull of the sync protocol later. Every answer that is not a
// success is returned as the server's coded error.
package syncclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"villagesync/syncproto"
)

// Client talks to one server.
type Client struct {
	base *url.URL
	http *http.Client
}

// New returns a client of the server at baseURL (http or https).
func New(baseURL string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, syncproto.Errorf(syncproto.CodeInvalidInput,
			fmt.Sprintf("server address %q is not an http(s) URL", baseURL), "服务器地址不是有效的 http(s) 网址")
	}
	return &Client{base: u, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// BaseURL is the server's address.
func (c *Client) BaseURL() string { return c.base.String() }

// Enroll registers this tablet with a one-time code.
func (c *Client) Enroll(ctx context.Context, req syncproto.EnrollRequest) (syncproto.Enrollment, error) {
	var out syncproto.Enrollment
	err := c.do(ctx, http.MethodPost, "/api/v1/devices/enroll", "", req, &out)
	return out, err
}

// do sends a JSON request and decodes a JSON answer, or the server's
// coded error.
func (c *Client) do(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return syncproto.Wrap(err, syncproto.CodeUnavailable, "cannot reach the server: "+err.Error(), "无法连接服务器，请检查网络")
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return syncproto.Wrap(err, syncproto.CodeUnavailable, "the server's answer was cut off", "服务器响应中断，请重试")
	}
	if res.StatusCode >= 300 {
		var e syncproto.ErrorBody
		if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
			return syncproto.Errorf(e.Error.Code, e.Error.Message, e.Error.MessageZH)
		}
		return syncproto.Errorf(syncproto.CodeUnavailable, fmt.Sprintf("server answered %s", res.Status), "服务器返回错误："+res.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("syncclient: decode answer of %s: %w", path, err)
	}
	return nil
}

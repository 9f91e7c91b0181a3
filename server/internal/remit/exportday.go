package remit

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/store"
)

// ExportDay exports every batch of a day in a state (approved when empty)
// as one ZIP of files in format (csv when empty), each downloaded as
// Export does; it returns the ZIP and its file name.
func (s *Service) ExportDay(ctx context.Context, p auth.Principal, day time.Time, state, format string) ([]byte, string, error) {
	if state == "" {
		state = StateApproved
	}
	if format == "" {
		format = FormatCSV
	}
	bs, err := s.List(ctx, p, store.BatchFilter{State: state, Day: &day})
	if err != nil {
		return nil, "", err
	}
	files := map[string][]byte{}
	for _, b := range bs {
		data, _, _, err := s.Export(ctx, p, b.ID, format)
		if err != nil {
			return nil, "", err
		}
		files[fmt.Sprintf("%s-%s-r%d-%s.%s", b.BusinessDay, b.TownshipCode, b.Revision, b.ID, format)] = data
	}
	var buf bytes.Buffer
	if err := WriteZIP(&buf, files, s.db.Now()); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), "batches-" + day.Format(time.DateOnly) + ".zip", nil
}

package roster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// Service imports roster files into the database. It is the part of this
// package that does I/O; the parsing and validation above do none.
type Service struct {
	db       *store.DB
	settings *settings.Service
	log      *slog.Logger
}

// NewService returns the roster import service.
func NewService(db *store.DB, set *settings.Service, log *slog.Logger) *Service {
	return &Service{db: db, settings: set, log: log.With("component", "roster")}
}

// KindOf is the insurance kind a role's rosters are of: pension for HRSS,
// medical for medical security.
func KindOf(role auth.Role) (syncproto.Kind, bool) {
	switch role {
	case auth.RoleHRSS:
		return syncproto.KindPension, true
	case auth.RoleMedsec:
		return syncproto.KindMedical, true
	}
	return "", false
}

// Result is the outcome of an upload.
type Result struct {
	store.RosterImport
	RowErrors []RowError `json:"row_errors,omitempty"`
}

// ErrRefused is returned (with the Result) when a file is refused.
var ErrRefused = syncproto.Errorf(syncproto.Code("roster_refused"),
	"the roster was refused: nothing was stored; download the error report, correct the rows and upload again",
	"征收清册未通过校验，未保存任何数据；请下载错误报告，改正后重新上传")

// Import validates a roster file and, unless dryRun, applies it as a diff
// in one transaction. A file with any bad row is refused whole (recorded
// with its row-level report, nothing else stored). Re-uploading a file
// already applied changes nothing. A dry run reports the exact diff the
// file would make and stores nothing but its history line.
func (s *Service) Import(ctx context.Context, p auth.Principal, filename string, data []byte, dryRun bool) (Result, error) {
	kind, ok := KindOf(p.Role)
	if !ok {
		return Result{}, auth.ErrForbidden
	}
	sum := sha256.Sum256(data)
	now := s.db.Now()
	imp := store.RosterImport{ID: s.db.NewID(), Kind: string(kind), Filename: filename, ContentSHA256: sum[:],
		UploadedBy: p.UserID, UploadedAt: now}
	if !dryRun {
		prev, err := s.db.AppliedImportWithHash(ctx, s.db.Pool, string(kind), sum[:])
		if err != nil {
			return Result{}, err
		}
		if prev != "" {
			imp.Status = store.ImportUnchanged
			return Result{RosterImport: imp}, s.record(ctx, imp)
		}
	}
	rows, err := Parse(bytes.NewReader(data), filename)
	if err != nil {
		var ce *syncproto.Error
		if !errors.As(err, &ce) {
			return Result{}, err
		}
		return s.refuse(ctx, imp, []RowError{{Code: ce.Code, Message: ce.Message, MessageZH: ce.MessageZH}})
	}
	imp.Rows = len(rows)
	resolve, err := s.settings.Resolver(ctx, s.db.Pool, kind)
	if err != nil {
		return Result{}, err
	}
	vs, err := s.db.Villages(ctx, "")
	if err != nil {
		return Result{}, err
	}
	index := make([]Village, len(vs))
	for i, v := range vs {
		index[i] = Village{Code: v.Code, TownshipCode: v.TownshipCode, Name: v.Name}
	}
	entries, rowErrs := Validate(rows, ValidateContext{Now: now, Kind: kind, Settings: resolve, Villages: NewVillageIndex(index)})
	if len(rowErrs) > 0 {
		return s.refuse(ctx, imp, rowErrs)
	}
	stored := make([]store.RosterRow, len(entries))
	for i, e := range entries {
		stored[i] = store.RosterRow{ID: s.db.NewID(), Kind: string(e.Kind), Year: e.Year, ResidentID: string(e.ResidentID),
			Name: e.Name, Initials: e.Initials, VillageCode: e.VillageCode, TownshipCode: e.TownshipCode,
			Category: string(e.Category), DueFen: int64(e.Due), SubsidyFen: int64(e.Subsidy),
			FullySubsidised: e.FullySubsidised, Note: e.Note}
	}
	imp.Status = store.ImportApplied
	if dryRun {
		imp.Status = store.ImportDryRun
	}
	audit := auth.Audited(ctx, store.AuditEntry{Action: "roster_imported", TargetType: "roster_import", TargetID: imp.ID,
		After: map[string]any{"kind": kind, "filename": filename, "rows": len(rows), "dry_run": dryRun}})
	diff, err := s.db.ApplyRoster(ctx, imp, stored, audit, dryRun)
	if err != nil {
		return Result{}, err
	}
	imp.Diff = diff
	if dryRun {
		if err := s.record(ctx, imp); err != nil {
			return Result{}, err
		}
	}
	s.log.InfoContext(ctx, "roster imported", "import", imp.ID, "kind", kind, "rows", imp.Rows,
		"added", diff.Added, "updated", diff.Updated, "removed", diff.Removed, "flagged", diff.Flagged, "dry_run", dryRun)
	return Result{RosterImport: imp}, nil
}

func (s *Service) record(ctx context.Context, imp store.RosterImport) error {
	return s.db.InsertRosterImport(ctx, s.db.Pool, imp)
}

func (s *Service) refuse(ctx context.Context, imp store.RosterImport, errs []RowError) (Result, error) {
	imp.Status = store.ImportRefused
	imp.ErrorCount = len(errs)
	b, err := json.Marshal(errs)
	if err != nil {
		return Result{}, err
	}
	imp.Errors = b
	if err := s.record(ctx, imp); err != nil {
		return Result{}, err
	}
	return Result{RosterImport: imp, RowErrors: errs}, ErrRefused
}

// ImportErrors returns the row errors of a refused import, for its
// downloadable report.
func (s *Service) ImportErrors(ctx context.Context, p auth.Principal, id string) (store.RosterImport, []RowError, error) {
	imp, err := s.db.RosterImportByID(ctx, id)
	if err != nil {
		return imp, nil, err
	}
	// A bureau reads its own kind's imports only, as in its history: the
	// reports carry names and ID numbers of the other bureau's insured.
	if k, ok := KindOf(p.Role); ok && string(k) != imp.Kind {
		return store.RosterImport{}, nil, auth.ErrForbidden
	}
	var errs []RowError
	if len(imp.Errors) > 0 {
		if err := json.Unmarshal(imp.Errors, &errs); err != nil {
			return imp, nil, fmt.Errorf("roster: stored report of %s: %w", id, err)
		}
	}
	return imp, errs, nil
}

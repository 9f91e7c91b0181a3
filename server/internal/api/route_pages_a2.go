package api

// pageRoutesA2 are the HRSS/medical security, admin and district
// dashboard pages (filled by their author).
func (s *Server) pageRoutesA2() []Route { return nil }

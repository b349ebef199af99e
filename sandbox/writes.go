package sandbox

import "net/http"

func notYet(w http.ResponseWriter) { refuse(w, "not implemented yet") }

func (s *Server) createRFI(w http.ResponseWriter, r *http.Request, c *call)        { notYet(w) }
func (s *Server) updateRFI(w http.ResponseWriter, r *http.Request, c *call)        { notYet(w) }
func (s *Server) replyRFI(w http.ResponseWriter, r *http.Request, c *call)         { notYet(w) }
func (s *Server) advanceRFI(w http.ResponseWriter, r *http.Request, c *call)       { notYet(w) }
func (s *Server) forwardRFI(w http.ResponseWriter, r *http.Request, c *call)       { notYet(w) }
func (s *Server) createSubmittal(w http.ResponseWriter, r *http.Request, c *call)  { notYet(w) }
func (s *Server) updateSubmittal(w http.ResponseWriter, r *http.Request, c *call)  { notYet(w) }
func (s *Server) respondSubmittal(w http.ResponseWriter, r *http.Request, c *call) { notYet(w) }
func (s *Server) createCommitment(w http.ResponseWriter, r *http.Request, c *call, k string) {
	notYet(w)
}
func (s *Server) updateCommitment(w http.ResponseWriter, r *http.Request, c *call, k string) {
	notYet(w)
}
func (s *Server) createLineItem(w http.ResponseWriter, r *http.Request, c *call, k string) { notYet(w) }
func (s *Server) createChangeOrder(w http.ResponseWriter, r *http.Request, c *call)        { notYet(w) }
func (s *Server) createInvoice(w http.ResponseWriter, r *http.Request, c *call)            { notYet(w) }
func (s *Server) updateInvoice(w http.ResponseWriter, r *http.Request, c *call)            { notYet(w) }
func (s *Server) createObservation(w http.ResponseWriter, r *http.Request, c *call)        { notYet(w) }

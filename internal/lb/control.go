package lb

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// Info is what GET /health answers: the proxy is alive, where it listens.
type Info struct {
	PID     int    `json:"pid"`
	Listen  string `json:"listen"` // IP:PORT, as bound
	Targets int    `json:"targets"`
}

// errorBody is the body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// controlHandler serves the control API (see the package comment) for lb,
// which listens on listen.
func controlHandler(lb *LoadBalancer, listen string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		lb.mu.Lock()
		n := len(lb.ring)
		lb.mu.Unlock()
		writeJSON(w, http.StatusOK, Info{PID: os.Getpid(), Listen: listen, Targets: n})
	})
	mux.HandleFunc("GET /targets", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, lb.Targets())
	})
	mux.HandleFunc("PUT /targets/{addr}", func(w http.ResponseWriter, r *http.Request) {
		wait, err := durationParam(r, "wait")
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		st, err := lb.Register(r.Context(), r.PathValue("addr"), wait)
		switch {
		case errors.Is(err, ErrBadAddress):
			writeError(w, http.StatusBadRequest, err)
		case errors.Is(err, ErrNotHealthy):
			writeError(w, http.StatusGatewayTimeout, err)
		case err != nil:
			writeError(w, http.StatusInternalServerError, err)
		case st.State != StateHealthy:
			writeJSON(w, http.StatusAccepted, st) // registered, not healthy yet (no wait)
		default:
			writeJSON(w, http.StatusOK, st)
		}
	})
	mux.HandleFunc("DELETE /targets/{addr}", func(w http.ResponseWriter, r *http.Request) {
		drain, err := durationParam(r, "drain")
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		res, err := lb.Deregister(r.Context(), r.PathValue("addr"), drain)
		switch {
		case errors.Is(err, ErrBadAddress):
			writeError(w, http.StatusBadRequest, err)
		case errors.Is(err, ErrReregistered):
			writeError(w, http.StatusConflict, err)
		case err != nil:
			writeError(w, http.StatusInternalServerError, err)
		default:
			writeJSON(w, http.StatusOK, res)
		}
	})
	return mux
}

// durationParam reads query parameter name as a Go duration ("5s"); 0
// when absent.
func durationParam(r *http.Request, name string) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: not a duration like 5s", name, v)
	}
	return d, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorBody{Error: err.Error()})
}
